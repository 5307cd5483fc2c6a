"""Static Exist tables: groups, value types, scopes and the published templates."""

from __future__ import annotations

import dataclasses
from importlib import resources
from typing import Any

# Group name, label; the sort priority is the position (the docs show activity as 1).
# The custom group's label is the one seen in recorded responses ("Daily tags"; the docs say "Custom tags").
GROUPS: dict[str, dict] = {}
for _priority, (_name, _label) in enumerate(
    (
        ("activity", "Activity"),
        ("productivity", "Productivity"),
        ("mood", "Mood"),
        ("sleep", "Sleep"),
        ("workouts", "Workouts"),
        ("events", "Events"),
        ("finance", "Finance"),
        ("food", "Food and drink"),
        ("health", "Health and body"),
        ("location", "Location"),
        ("media", "Media"),
        ("social", "Social"),
        ("weather", "Weather"),
        ("symptoms", "Symptoms"),
        ("medication", "Medication"),
        ("custom", "Daily tags"),
    ),
    start=1,
):
    GROUPS[_name] = {"name": _name, "label": _label, "priority": _priority}

VALUE_TYPES: dict[int, str] = {
    0: "Integer",
    1: "Float",
    2: "String",
    3: "Period (minutes as integer)",
    4: "Time of day (minutes from midnight as integer)",
    5: "Float (percentage, 0.0 to 1.0)",
    6: "Time of day (minutes from midday as integer)",
    7: "Boolean",
    8: "Integer scale (between 1 and 9)",
}

READ_SCOPES = frozenset([f"{group}_read" for group in GROUPS] + ["manual_read"])
WRITE_SCOPES = frozenset([f"{group}_write" for group in GROUPS] + ["manual_write"])
ALL_SCOPES = READ_SCOPES | WRITE_SCOPES

# Attributes and templates with a priority at or above this are "low priority": list endpoints leave them
# out unless the query has include_low_priority=true.
LOW_PRIORITY = 10
# The priority a new custom attribute gets in its group (seen in recorded responses): below LOW_PRIORITY,
# so a new attribute is never hidden from default listings.
CUSTOM_PRIORITY = 9


@dataclasses.dataclass(frozen=True)
class Template:
    """One published attribute template."""

    name: str
    group: str
    value_type: int
    priority: int
    value_type_description: str

    @property
    def label(self) -> str:
        """A readable default label: the CSV has none."""
        return self.name.replace("_", " ").capitalize()

    def as_json(self) -> dict:
        """The object served by GET /attributes/templates/."""
        return {
            "name": self.name,
            "label": self.label,
            "group": dict(GROUPS[self.group]),
            "priority": self.priority,
            "value_type": self.value_type,
            "value_type_description": self.value_type_description,
        }


def _parse_csv(text: str) -> dict[str, Template]:
    # Parsed by hand: one description holds unescaped quotes ("lat,lng"), which the csv module splits wrongly.
    table: dict[str, Template] = {}
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        name, group, value_type, priority, description = line.split(",", 4)
        if description.startswith('"') and description.endswith('"'):
            description = description[1:-1]
        table[name] = Template(name, group, int(value_type), int(priority), description)
    return table


def _load() -> dict[str, Template]:
    text = resources.files("exist_emulator").joinpath("data/templates.csv").read_text(encoding="utf-8")
    table = _parse_csv(text)
    return dict(sorted(table.items(), key=lambda item: (GROUPS[item[1].group]["priority"], item[1].priority, item[0])))


# Computed once at import so requests never parse the CSV.
TEMPLATES: dict[str, Template] = _load()
TEMPLATE_JSON: list[dict] = [template.as_json() for template in TEMPLATES.values()]


def expand_scopes(scopes: list[str]) -> frozenset[str]:
    """Scopes as given in a seed, with `all` standing for every read and write scope."""
    result = set(scopes)
    if "all" in result:
        result |= ALL_SCOPES
    return frozenset(result)


def check_value(value_type: int, value: Any) -> tuple[Any, str | None]:
    """Validate a day's value for a value type: (normalised value, error sentence or None)."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_number = is_int or isinstance(value, float)
    if value_type == 0 and is_int:
        return value, None
    if value_type == 1 and is_number:
        return float(value), None
    if value_type == 2 and isinstance(value, str):
        if len(value) > 1000:
            return value, "String values are limited to 1000 characters"
        return value, None
    if value_type == 3 and is_int and value >= 0:
        return value, None
    if value_type in (4, 6) and is_int and 0 <= value < 1440:
        return value, None
    if value_type == 5 and is_number and 0.0 <= value <= 1.0:
        return float(value), None
    if value_type == 7 and (isinstance(value, bool) or (is_int and value in (0, 1))):
        return int(value), None
    if value_type == 8 and is_int and 1 <= value <= 9:
        return value, None
    return value, f"Value {value!r} is not valid for value type {value_type} ({VALUE_TYPES.get(value_type, '?')})"
