"""create, update and increment: slugs, exists, value-type checks, ownership and scopes."""

from __future__ import annotations

import pytest
from emulator_helpers import seed_with

from exist_emulator.api import check_value, slugify

OWNED = [
    {"template": "coffees", "service": "demo_service", "values": {"2026-11-27": 2}},
    {"template": "weight", "service": "demo_service"},
    {"template": "mood", "service": "demo_service", "manual": True},
    {"template": "mood_note", "service": "demo_service", "manual": True},
    {"template": "body_fat", "service": "demo_service"},
    {"template": "sleep_end", "service": "demo_service"},
    {"template": "sleep", "service": "demo_service"},
    {"name": "meditation", "label": "Meditation", "group": "custom", "value_type": 7, "service": "demo_service"},
    {"template": "steps", "service": "withings"},
]


def test_create_custom_slug_name_and_exists(exist):
    """A custom label becomes a slug name, read from the response; creating it again fails with exists."""
    item = {"label": "Reading Time: Fiction 📚", "group": "media", "value_type": 3}
    response = exist.post("attributes/create/", [item])
    assert response.status_code == 200
    success = response.json()["success"][0]
    assert success["name"] == "reading_time_fiction" and success["label"] == item["label"]
    created = exist.attribute("reading_time_fiction")
    assert created["service"] == "demo_service" and created["manual"] is True and created["group"] == "media"
    again = exist.post("attributes/create/", [{"label": "reading time fiction", "group": "media", "value_type": 3}])
    assert again.status_code == 202
    assert again.json()["failed"][0]["error_code"] == "exists"


def test_create_template_and_exists(exist):
    """Creating a template the user lacks works (owned by the creator); one the user has fails with exists."""
    response = exist.post(
        "attributes/create/",
        [{"template": "water", "manual": False}, {"template": "steps"}],
        params={"success_objects": "1"},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["success"][0]["name"] == "water" and body["success"][0]["service"]["name"] == "demo_service"
    assert body["success"][0]["manual"] is False
    assert body["failed"][0]["error_code"] == "exists"
    assert exist.post("attributes/create/", [{"template": "nope"}]).json()["failed"][0]["error_code"] == "not_found"


def test_create_custom_tag_and_validation(exist):
    """Custom tags are booleans; missing fields, unknown groups and value type 6 are refused."""
    ok = exist.post("attributes/create/", [{"label": "Went running", "group": "custom", "value_type": 7}])
    assert ok.json()["success"][0]["name"] == "went_running"
    body = exist.post(
        "attributes/create/",
        [
            {"label": "Tag", "group": "custom", "value_type": 0},
            {"label": "X"},
            {"label": "Y", "group": "nope", "value_type": 0},
            {"label": "Z", "group": "sleep", "value_type": 6},
            {"label": "!!!", "group": "media", "value_type": 0},
        ],
    ).json()
    codes = [item["error_code"] for item in body["failed"]]
    assert codes == ["validation", "missing_field", "validation", "validation", "validation"]
    assert body["failed"][1]["error"] == "Object at index 1 missing field(s) 'group', 'value_type'"


def test_create_needs_write_scope(exist):
    """Creating a non-manual attribute in a group without its write scope fails with not_allowed; manual_write covers manual."""
    exist.admin.reset(seed_with([], scopes=["manual_write"]))
    body = exist.post(
        "attributes/create/",
        [
            {"label": "Auto", "group": "media", "value_type": 0, "manual": False},
            {"label": "Hand", "group": "media", "value_type": 0},
        ],
    ).json()
    assert body["failed"][0]["error"] == "No permission to write to attributes in group 'media'"
    assert body["success"][0]["name"] == "hand"


def test_update_sets_day_total_and_echoes(exist):
    """update sets a day's value; reading it back gives the new value."""
    exist.admin.reset(seed_with(OWNED))
    items = [
        {"name": "coffees", "date": "2026-11-27", "value": 5},
        {"name": "weight", "date": "2026-11-27", "value": 70},
    ]
    response = exist.post("attributes/update/", items)
    assert response.status_code == 200 and response.json()["success"] == items
    values = exist.get("attributes/values/", params={"attribute": "coffees"}).json()["results"]
    assert values == [{"date": "2026-11-27", "value": 5}]
    assert exist.attribute("weight")["values"] == {"2026-11-27": 70.0}


@pytest.mark.parametrize(
    "name, good, bad",
    [
        ("coffees", 3, 2.5),
        ("weight", 70.5, "heavy"),
        ("mood_note", "calm", 5),
        ("sleep", 420, -1),
        ("sleep_end", 450, 1440),
        ("body_fat", 0.2, 1.5),
        ("meditation", 1, 2),
        ("mood", 9, 10),
    ],
)
def test_update_value_type_checks(exist, name, good, bad):
    """Each value type accepts a good value and refuses a bad one with validation."""
    exist.admin.reset(seed_with(OWNED))
    assert exist.post("attributes/update/", [{"name": name, "date": "2026-11-20", "value": good}]).status_code == 200
    failed = exist.post("attributes/update/", [{"name": name, "date": "2026-11-21", "value": bad}]).json()["failed"]
    assert failed[0]["error_code"] == "validation"
    assert "2026-11-21" not in (exist.attribute(name).get("values") or {})


def test_update_null_rules_and_bad_date(exist):
    """null cannot replace a value; null on an empty day is a no-op; a bad date is validation; fields are required."""
    exist.admin.reset(seed_with(OWNED))
    body = exist.post(
        "attributes/update/",
        [
            {"name": "coffees", "date": "2026-11-27", "value": None},
            {"name": "coffees", "date": "2026-11-26", "value": None},
            {"name": "coffees", "date": "27/11/2026", "value": 1},
            {"name": "coffees", "value": 1},
        ],
    ).json()
    assert [f["error_code"] for f in body["failed"]] == ["validation", "validation", "missing_field"]
    assert body["success"] == [{"name": "coffees", "date": "2026-11-26", "value": None}]
    assert exist.attribute("coffees")["values"] == {"2026-11-27": 2}


def test_update_ownership_and_unknown(exist):
    """Writing another service's attribute is unauthorised; an unknown name not_found."""
    exist.admin.reset(seed_with(OWNED))
    body = exist.post(
        "attributes/update/",
        [{"name": "steps", "date": "2026-11-27", "value": 1}, {"name": "nope", "date": "2026-11-27", "value": 1}],
    ).json()
    assert body["failed"][0]["error"] == "Attribute 'steps' does not belong to this service"
    assert body["failed"][1]["error_code"] == "not_found"


def test_update_needs_write_scope(exist):
    """An owned attribute outside the token's write scopes fails with not_allowed."""
    exist.admin.reset(seed_with(OWNED, scopes=["mood_write"]))
    body = exist.post(
        "attributes/update/",
        [{"name": "coffees", "date": "2026-11-27", "value": 1}, {"name": "mood", "date": "2026-11-27", "value": 1}],
    ).json()
    assert body["failed"][0]["error"] == "No permission to write to attributes in group 'food'"
    assert body["success"][0]["name"] == "mood"


def test_increment_adds_and_reports_current(exist):
    """increment adds a delta to the day's total and reports current."""
    exist.admin.reset(seed_with(OWNED))
    response = exist.post(
        "attributes/increment/",
        [{"name": "coffees", "value": 3, "date": "2026-11-27"}, {"name": "weight", "value": 0.5, "date": "2026-11-27"}],
    )
    assert response.status_code == 200
    assert [item["current"] for item in response.json()["success"]] == [5, 0.5]
    assert exist.attribute("coffees")["values"]["2026-11-27"] == 5


def test_increment_refused_types_and_values(exist):
    """increment is refused for string, scale and time-of-day types, for non-numbers and out-of-range totals."""
    exist.admin.reset(seed_with(OWNED))
    body = exist.post(
        "attributes/increment/",
        [
            {"name": "mood_note", "value": 1},
            {"name": "mood", "value": 1},
            {"name": "sleep_end", "value": 1},
            {"name": "coffees", "value": "1"},
            {"name": "coffees", "value": 0.5},
            {"name": "body_fat", "value": 2.0},
            {"name": "steps", "value": 1},
            {"name": "nope", "value": 1},
            {"value": 1},
        ],
    ).json()
    assert [f["error_code"] for f in body["failed"]] == [
        "validation",
        "validation",
        "validation",
        "validation",
        "validation",
        "validation",
        "unauthorised",
        "not_found",
        "missing_field",
    ]
    assert body["success"] == []


def test_slugify_and_check_value_units():
    """The slug and the value checks as pure functions."""
    assert slugify("  Hello, World! ") == "hello_world"
    assert slugify("Café au lait") == "cafe_au_lait"
    assert check_value(0, True)[1] is not None
    assert check_value(7, True) == (1, None)
    assert check_value(2, "x" * 1001)[1] is not None
