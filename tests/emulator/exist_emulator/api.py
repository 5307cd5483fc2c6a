"""The Exist API v2 endpoints, as pure functions of the world (callers hold the world lock)."""

from __future__ import annotations

import copy
import datetime
import math
import re
import secrets
import unicodedata
from typing import Any, Callable
from urllib.parse import urlencode

import zoneinfo

from .templates import (
    ALL_SCOPES,
    CUSTOM_PRIORITY,
    GROUPS,
    LOW_PRIORITY,
    TEMPLATE_JSON,
    TEMPLATES,
    VALUE_TYPES,
    check_value,
)
from .world import Attribute, Token, User, World, parse_moment, utc_now

MAX_ITEMS = 35
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_DAYS = 31
# An issued access token lives 365 days; its expires_in is counted from the moment of issue to that expiry in
# whole seconds (so 31535999 as recorded, unless issued on a whole second).
TOKEN_LIFETIME = 31536000
TRUE_WORDS = frozenset(("", "1", "true", "yes", "on", "t", "y"))
NOT_INCREMENTABLE = frozenset((2, 4, 6, 8))


class ApiError(Exception):
    """An error answered with an HTTP status and a JSON body: {"detail": ...}, or the `body` given."""

    def __init__(self, status: int, detail: str, headers: dict | None = None, body: dict | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.body = body if body is not None else {"detail": detail}


def computed_error(status: int, error: str) -> ApiError:
    """An error of the averages, correlations and insights endpoints: {"error": ...}, as the recorded 404
    {"error": "not_found"} of the combination endpoint (not DRF's {"detail": ...})."""
    return ApiError(status, error, body={"error": error})


class Context:
    """One authenticated API request."""

    def __init__(
        self,
        world: World,
        token: Token,
        query: dict[str, str],
        host: str,
        path: str,
        scheme: str = "http",
        now: datetime.datetime | None = None,
    ) -> None:
        self.world = world
        # The emulator's clock (UTC) when the request arrived: the real time unless the admin API moved it.
        self.utc_now = utc_now() if now is None else now
        self.token = token
        self.user: User = world.users[token.user]
        self.query = query
        self.host = host
        self.path = path
        self.scheme = scheme

    def flag(self, name: str) -> bool:
        """A truthy query flag."""
        value = self.query.get(name)
        return value is not None and value.strip().lower() in TRUE_WORDS

    def tristate(self, name: str) -> bool | None:
        """A boolean query parameter that may be absent."""
        if name not in self.query:
            return None
        return self.flag(name)

    def names(self, name: str) -> set[str] | None:
        """A comma-separated query list, or None when absent."""
        value = self.query.get(name)
        if value is None:
            return None
        return {part.strip() for part in value.split(",") if part.strip()}

    def can_read(self, attribute: Attribute) -> bool:
        """Whether the token's read scopes cover the attribute."""
        scopes = self.token.expanded
        return f"{attribute.group}_read" in scopes or (attribute.manual and "manual_read" in scopes)

    def can_read_name(self, name: str) -> bool:
        """Whether the token may read an attribute named in an average, correlation or insight: the user's
        attribute of that name as can_read() decides, else its template's group (a name that is neither: no)."""
        attribute = self.user.attributes.get(name)
        if attribute is not None:
            return self.can_read(attribute)
        group = self.user.group_of(name)
        return group is not None and f"{group}_read" in self.token.expanded

    def can_write(self, group: str, manual: bool) -> bool:
        """Whether the token's write scopes cover a group (or manual_write a manual attribute)."""
        scopes = self.token.expanded
        return f"{group}_write" in scopes or (manual and "manual_write" in scopes)

    def now(self) -> datetime.datetime:
        """The user's local time, by the emulator's clock."""
        try:
            zone: datetime.tzinfo = zoneinfo.ZoneInfo(self.user.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = datetime.timezone.utc
        return self.utc_now.astimezone(zone)

    def today(self) -> datetime.date:
        """Today in the user's timezone."""
        return self.now().date()

    def page(self, items: list) -> dict:
        """One page of a list endpoint, with absolute next/previous URLs; 404 past the last page."""
        try:
            limit = int(self.query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if limit < 1:
            raise ApiError(400, "limit must be a positive integer.")
        try:
            page = int(self.query.get("page", 1))
        except ValueError as exc:
            raise ApiError(404, "Invalid page.") from exc
        limit = min(limit, MAX_LIMIT)
        pages = max(1, math.ceil(len(items) / limit))
        if page < 1 or page > pages:
            raise ApiError(404, "Invalid page.")
        return {
            "count": len(items),
            "next": self._page_url(page + 1) if page < pages else None,
            "previous": self._page_url(page - 1) if page > 1 else None,
            "results": items[(page - 1) * limit : page * limit],
        }

    def _page_url(self, page: int) -> str:
        query = dict(self.query)
        query["page"] = str(page)
        # In alphabetical order, as the recorded next links have them.
        return f"{self.scheme}://{self.host}{self.path}?{urlencode(sorted(query.items()))}"


def _parse_date(value: Any) -> datetime.date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def slugify(label: str) -> str:
    """The name Exist gives a custom attribute: an ASCII slug of its label."""
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


# ---- reading ----


def profile(ctx: Context) -> dict:
    """GET /accounts/profile/."""
    user = ctx.user
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "avatar": "",
        "timezone": user.timezone,
        "local_time": ctx.now().isoformat(timespec="seconds"),
        # As in the recorded responses: weekly_email and yearly_email, and no imperial_units.
        "weekly_email": True,
        "yearly_email": True,
        "imperial_distance": False,
        "imperial_weight": False,
        "imperial_energy": False,
        "imperial_liquid": False,
        "imperial_temperature": False,
        "trial": False,
        "delinquent": False,
    }


def templates(ctx: Context) -> dict:
    """GET /attributes/templates/ (priority >= 10 only with include_low_priority)."""
    groups = ctx.names("groups")
    include_low = ctx.flag("include_low_priority")
    items = [
        t
        for t in TEMPLATE_JSON
        if (groups is None or t["group"]["name"] in groups) and (include_low or t["priority"] < LOW_PRIORITY)
    ]
    return ctx.page(items)


def _select(
    ctx: Context, owned_only: bool, include_inactive: bool, by_name: bool, hides_low_priority: bool = True
) -> list[Attribute]:
    """The attributes a list endpoint answers, in list order.

    Low priority attributes (priority >= 10) are left out unless include_low_priority is set, on the lists that
    hide them (hides_low_priority: with-values does not, as recorded); inactive ones are left out unless
    include_inactive says otherwise (the caller decides whether the endpoint honours it). by_name: whether the
    `attributes` name filter applies (GET /attributes/ ignores it, as the real service did in a recording).
    """
    groups = ctx.names("groups")
    names = ctx.names("attributes") if by_name else None
    template_names = ctx.names("templates")
    manual = ctx.tristate("manual")
    exclude_custom = ctx.flag("exclude_custom")
    include_low = ctx.flag("include_low_priority") or not hides_low_priority
    service = ctx.token.service
    selected = []
    for attribute in sorted(ctx.user.attributes.values(), key=Attribute.sort_key):
        if owned_only:
            # Ownership implies a write scope, so the owned list ignores read scopes.
            if service is None or attribute.service != service:
                continue
        elif not ctx.can_read(attribute):
            continue
        if not attribute.active and not include_inactive:
            continue
        if attribute.priority >= LOW_PRIORITY and not include_low:
            continue
        if groups is not None and attribute.group not in groups:
            continue
        if names is not None and attribute.name not in names:
            continue
        if template_names is not None and attribute.template not in template_names:
            continue
        if manual is not None and attribute.manual != manual:
            continue
        if exclude_custom and attribute.template is None:
            continue
        selected.append(attribute)
    return selected


def attributes(ctx: Context) -> dict:
    """GET /attributes/ (owned=true lists what /attributes/owned/ does); the `attributes` filter is ignored."""
    selected = _select(ctx, ctx.flag("owned"), ctx.flag("include_inactive"), by_name=False)
    return ctx.page([ctx.world.attribute_json(a) for a in selected])


def owned(ctx: Context) -> dict:
    """GET /attributes/owned/."""
    selected = _select(ctx, True, ctx.flag("include_inactive"), by_name=True)
    return ctx.page([ctx.world.attribute_json(a) for a in selected])


def _date_max(ctx: Context) -> datetime.date:
    if "date_max" not in ctx.query:
        return ctx.today()
    day = _parse_date(ctx.query["date_max"])
    if day is None:
        raise ApiError(400, "date_max must be a date in YYYY-MM-DD format.")
    return day


def with_values(ctx: Context) -> dict:
    """GET /attributes/with-values/: each attribute with the values of its last `days` days, newest first.

    Only days that have data are listed (a null row, as a new scale attribute has, is not data: values/ lists it,
    with-values does not); inactive attributes are always left out; low priority ones are listed without
    include_low_priority (a recording listed steps_goal, priority 11, without it).
    """
    try:
        days = int(ctx.query.get("days", 1))
    except ValueError as exc:
        raise ApiError(400, "days must be an integer.") from exc
    days = max(1, min(days, MAX_DAYS))
    date_max = _date_max(ctx)
    dates = [(date_max - datetime.timedelta(days=n)).isoformat() for n in range(days)]
    results = []
    for attribute in _select(ctx, False, False, by_name=True, hides_low_priority=False):
        item = ctx.world.attribute_json(attribute, with_services=False)
        item["values"] = [
            {"date": day, "value": attribute.values[day]} for day in dates if attribute.values.get(day) is not None
        ]
        results.append(item)
    return ctx.page(results)


def values(ctx: Context) -> dict:
    """GET /attributes/values/: every stored row of one attribute (null rows too), newest first."""
    name = ctx.query.get("attribute")
    if not name:
        raise ApiError(400, "The attribute parameter is required.")
    date_max = _date_max(ctx).isoformat()
    attribute = ctx.user.attributes.get(name)
    items = []
    # Too few read scopes gives an empty list, never an error.
    if attribute is not None and ctx.can_read(attribute):
        items = [
            {"date": day, "value": value}
            # Sorted by date only: a value may be null.
            for day, value in sorted(attribute.values.items(), key=lambda row: row[0], reverse=True)
            if day <= date_max
        ]
    return ctx.page(items)


# ---- averages, correlations, insights (seeded, never computed) ----


def _date_bound(ctx: Context, name: str) -> str | None:
    """An optional YYYY-MM-DD bound (inclusive), as text that compares like the dates; 400 when unparsable."""
    if name not in ctx.query:
        return None
    day = _parse_date(ctx.query[name])
    if day is None:
        raise computed_error(400, f"{name} must be a date in YYYY-MM-DD format.")
    return day.isoformat()


def _within(day: str, date_min: str | None, date_max: str | None) -> bool:
    return (date_min is None or day >= date_min) and (date_max is None or day <= date_max)


def averages(ctx: Context) -> dict:
    """GET /averages/: without include_historical the newest record of each attribute within the date bounds, with
    it every record; by attribute name, then newest first; only attributes the token may read."""
    names = ctx.names("attributes")
    groups = ctx.names("groups")
    date_min, date_max = _date_bound(ctx, "date_min"), _date_bound(ctx, "date_max")
    historical = ctx.flag("include_historical")
    chosen = [
        record
        for record in ctx.user.averages
        if (names is None or record["attribute"] in names)
        and (groups is None or ctx.user.group_of(record["attribute"]) in groups)
        and _within(record["date"], date_min, date_max)
        and ctx.can_read_name(record["attribute"])
    ]
    chosen.sort(key=lambda record: record["date"], reverse=True)
    chosen.sort(key=lambda record: record["attribute"])
    if not historical:
        newest: dict[str, dict] = {}
        for record in chosen:
            newest.setdefault(record["attribute"], record)
        chosen = list(newest.values())
    return ctx.page([dict(record) for record in chosen])


# ASSUMPTION: the docs say only "above a certain relationship strength" for `strong`.
STRONG_CORRELATION = 0.3


def correlations(ctx: Context) -> dict:
    """GET /correlations/: `attribute` (either side), `strong` (|value| >= 0.3), `confident` (5 stars); only
    correlations whose two attributes the token may read; newest date first, then attribute, attribute2."""
    name = ctx.query.get("attribute")
    strong, confident = ctx.flag("strong"), ctx.flag("confident")
    chosen = [
        record
        for record in ctx.user.correlations
        if (not name or name in (record["attribute"], record["attribute2"]))
        and (not strong or abs(record["value"]) >= STRONG_CORRELATION)
        and (not confident or record["stars"] == 5)
        and ctx.can_read_name(record["attribute"])
        and ctx.can_read_name(record["attribute2"])
    ]
    chosen.sort(key=lambda record: (record["attribute"], record["attribute2"]))
    chosen.sort(key=lambda record: record["date"], reverse=True)
    return ctx.page([dict(record) for record in chosen])


def correlation_combo(ctx: Context) -> dict:
    """GET /correlations/combo/?attribute=A&attribute2=B: the correlation of A and B, named in either order; 404
    {"error": "not_found"} when there is none or the token may read neither attribute (the docs: a result needs
    one of the two in the read scopes)."""
    first, second = ctx.query.get("attribute", "").strip(), ctx.query.get("attribute2", "").strip()
    if not first or not second:
        # ASSUMPTION: the docs and the recordings show no answer to a missing parameter.
        raise computed_error(400, "attribute and attribute2 are both required.")
    pair = {first, second}
    for record in ctx.user.correlations:
        if {record["attribute"], record["attribute2"]} == pair and len(pair) == 2:
            if ctx.can_read_name(first) or ctx.can_read_name(second):
                return dict(record)
            break
    raise computed_error(404, "not_found")


def _insight_priority(ctx: Context) -> int | None:
    value = ctx.query.get("priority")
    if value is None:
        return None
    try:
        priority = int(value)
    except ValueError:
        priority = 0
    if priority not in (1, 2, 3, 4):
        # ASSUMPTION: the docs list 1 (today) to 4 (last month) and say nothing of other values.
        raise computed_error(400, "priority must be 1, 2, 3 or 4.")
    return priority


def _insight_readable(ctx: Context, record: dict) -> bool:
    attribute = record["type"].get("attribute")
    return attribute is None or ctx.can_read_name(attribute["name"])


def insights(ctx: Context) -> dict:
    """GET /insights/: date_min and date_max (inclusive, on target_date), priority (1-4); newest `created` first;
    an insight about an attribute the token may not read is left out."""
    date_min, date_max = _date_bound(ctx, "date_min"), _date_bound(ctx, "date_max")
    priority = _insight_priority(ctx)
    chosen = [
        record
        for record in ctx.user.insights
        if _within(record["target_date"], date_min, date_max)
        and (priority is None or record["type"]["priority"] == priority)
        and _insight_readable(ctx, record)
    ]
    # `created` may carry any offset: ordered by the moment, not the text.
    chosen.sort(key=lambda record: parse_moment(record["created"]), reverse=True)
    return ctx.page([copy.deepcopy(record) for record in chosen])


# ---- writing ----


def _failed(item: dict, code: str, error: str) -> dict:
    return {**item, "error_code": code, "error": error}


def _missing(item: dict, index: int, fields: tuple[str, ...]) -> dict | None:
    missing = [field for field in fields if field not in item]
    if not missing:
        return None
    listed = ", ".join(f"'{field}'" for field in missing)
    return _failed(item, "missing_field", f"Object at index {index} missing field(s) {listed}")


def _not_found(item: dict) -> dict:
    return _failed(item, "not_found", "Attribute matching query does not exist.")


def _not_allowed(item: dict, group: str) -> dict:
    return _failed(item, "not_allowed", f"No permission to write to attributes in group '{group}'")


def _unauthorised(item: dict, name: str) -> dict:
    return _failed(item, "unauthorised", f"Attribute '{name}' does not belong to this service")


def _new_from_template(name: str) -> Attribute:
    template = TEMPLATES[name]
    return Attribute(
        name=template.name,
        label=template.label,
        group=template.group,
        value_type=template.value_type,
        priority=template.priority,
        template=template.name,
    )


def _acquire_one(ctx: Context, index: int, item: dict) -> tuple[bool, dict]:
    if "template" not in item and "name" not in item:
        return False, _missing(item, index, ("name",))
    manual = item.get("manual")
    if manual is not None and not isinstance(manual, bool):
        return False, _failed(item, "validation", "Field 'manual' must be a boolean")
    if "template" in item:
        template = item["template"]
        if not isinstance(template, str) or template not in TEMPLATES:
            return False, _failed(item, "not_found", f"Template '{template}' does not exist.")
        attribute = ctx.user.attributes.get(template)
        group = TEMPLATES[template].group
    else:
        attribute = ctx.user.attributes.get(item["name"]) if isinstance(item["name"], str) else None
        if attribute is None:
            return False, _not_found(item)
        group = attribute.group
    if manual is None:
        manual = attribute.manual if attribute is not None else False
    if not ctx.can_write(group, manual):
        return False, _not_allowed(item, group)
    if attribute is None:
        attribute = _new_from_template(item["template"])
        ctx.user.attributes[attribute.name] = attribute
    attribute.service = ctx.token.service
    attribute.active = True
    attribute.manual = manual
    return True, ctx.world.attribute_json(attribute) if ctx.flag("success_objects") else dict(item)


def _release_one(ctx: Context, index: int, item: dict) -> tuple[bool, dict]:
    failed = _missing(item, index, ("name",))
    if failed:
        return False, failed
    name = item["name"]
    attribute = ctx.user.attributes.get(name) if isinstance(name, str) else None
    if attribute is None:
        return False, _not_found(item)
    service = ctx.token.service
    if service is None or attribute.service != service:
        return False, _unauthorised(item, name)
    successor = next((s for s in attribute.available_services if s != service and s in ctx.world.services), None)
    attribute.service = successor
    if successor is None:
        attribute.active = False
    if ctx.flag("success_objects"):
        return True, ctx.world.attribute_json(attribute)
    if successor is None:
        return True, {"name": name, "service": "", "active": False}
    return True, {"name": name, "service": successor}


def _first_values(ctx: Context, attribute: Attribute) -> None:
    """The rows a new attribute starts with, as in the recorded responses: today's 0 for an integer attribute
    (custom or template) and today's null for a custom scale attribute (the user's local day)."""
    today = ctx.today().isoformat()
    if attribute.value_type == 0:
        attribute.values[today] = 0
    elif attribute.value_type == 8 and attribute.template is None:
        attribute.values[today] = None


def _from_template(ctx: Context, item: dict, manual: bool) -> tuple[Attribute | None, dict | None]:
    template = item["template"]
    if not isinstance(template, str) or template not in TEMPLATES:
        return None, _failed(item, "not_found", f"Template '{template}' does not exist.")
    if template in ctx.user.attributes:
        return None, _failed(item, "exists", f"Attribute '{template}' already exists")
    group = TEMPLATES[template].group
    if not ctx.can_write(group, manual):
        return None, _not_allowed(item, group)
    return _new_from_template(template), None


def _custom_attribute(ctx: Context, index: int, item: dict, manual: bool) -> tuple[Attribute | None, dict | None]:
    failed = _missing(item, index, ("label", "group", "value_type"))
    if failed:
        return None, failed
    label, group, value_type = item["label"], item["group"], item["value_type"]
    if not isinstance(label, str) or not slugify(label):
        return None, _failed(item, "validation", "Field 'label' must be a non-empty string")
    if group not in GROUPS:
        return None, _failed(item, "validation", f"Unknown group '{group}'")
    if isinstance(value_type, bool) or value_type not in VALUE_TYPES or value_type == 6:
        return None, _failed(item, "validation", f"Value type {value_type!r} cannot be used for a new attribute")
    if group == "custom" and value_type != 7:
        return None, _failed(item, "validation", "Custom tags must have value type 7 (boolean)")
    name = slugify(label)
    if name in ctx.user.attributes:
        return None, _failed(item, "exists", f"Attribute '{name}' already exists")
    if not ctx.can_write(group, manual):
        return None, _not_allowed(item, group)
    return Attribute(name=name, label=label, group=group, value_type=value_type, priority=CUSTOM_PRIORITY), None


def _create_one(ctx: Context, index: int, item: dict) -> tuple[bool, dict]:
    manual = item.get("manual", True)
    if not isinstance(manual, bool):
        return False, _failed(item, "validation", "Field 'manual' must be a boolean")
    if "template" in item:
        attribute, failed = _from_template(ctx, item, manual)
    else:
        attribute, failed = _custom_attribute(ctx, index, item, manual)
    if failed:
        return False, failed
    attribute.manual = manual
    attribute.service = ctx.token.service
    attribute.active = True
    _first_values(ctx, attribute)
    ctx.user.attributes[attribute.name] = attribute
    if ctx.flag("success_objects"):
        return True, ctx.world.attribute_json(attribute)
    return True, {**item, "name": attribute.name, "active": True}


def _writable(ctx: Context, item: dict) -> tuple[Attribute | None, dict | None]:
    name = item["name"]
    attribute = ctx.user.attributes.get(name) if isinstance(name, str) else None
    if attribute is None:
        return None, _not_found(item)
    if not ctx.can_write(attribute.group, attribute.manual):
        return None, _not_allowed(item, attribute.group)
    if ctx.token.service is None or attribute.service != ctx.token.service:
        return None, _unauthorised(item, name)
    return attribute, None


def _update_one(ctx: Context, index: int, item: dict) -> tuple[bool, dict]:
    failed = _missing(item, index, ("name", "date", "value"))
    if failed:
        return False, failed
    day = _parse_date(item["date"])
    if day is None:
        return False, _failed(item, "validation", f"Invalid date {item['date']!r}, expected YYYY-MM-DD")
    attribute, failed = _writable(ctx, item)
    if failed:
        return False, failed
    key = day.isoformat()
    if item["value"] is None:
        # A day with no row or a null row stays as it is; a non-null value cannot become null again.
        if attribute.values.get(key) is not None:
            return False, _failed(item, "validation", "A value cannot be set back to null")
        return True, dict(item)
    value, error = check_value(attribute.value_type, item["value"])
    if error:
        return False, _failed(item, "validation", error)
    attribute.values[key] = value
    return True, dict(item)


def _increment_one(ctx: Context, index: int, item: dict) -> tuple[bool, dict]:
    failed = _missing(item, index, ("name", "value"))
    if failed:
        return False, failed
    day = _parse_date(item["date"]) if "date" in item else ctx.today()
    if day is None:
        return False, _failed(item, "validation", f"Invalid date {item['date']!r}, expected YYYY-MM-DD")
    attribute, failed = _writable(ctx, item)
    if failed:
        return False, failed
    if attribute.value_type in NOT_INCREMENTABLE:
        return False, _failed(
            item,
            "validation",
            f"Attribute '{attribute.name}' of value type {attribute.value_type} cannot be incremented",
        )
    delta = item["value"]
    if (
        isinstance(delta, bool)
        or not isinstance(delta, (int, float))
        or (isinstance(delta, float) and attribute.value_type in (0, 3, 7))
    ):
        return False, _failed(
            item, "validation", f"Value {delta!r} is not a valid increment for value type {attribute.value_type}"
        )
    key = day.isoformat()
    # A day without a row, or with a null row, counts as 0.
    current = attribute.values.get(key)
    value, error = check_value(attribute.value_type, (0 if current is None else current) + delta)
    if error:
        return False, _failed(item, "validation", error)
    attribute.values[key] = value
    return True, {**item, "current": value}


def check_items(body: Any) -> list[dict]:
    """A write body: a JSON array of at most 35 objects, else 400 with nothing applied."""
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise ApiError(400, "Expected a JSON array of objects.")
    if len(body) > MAX_ITEMS:
        raise ApiError(400, f"Too many objects: at most {MAX_ITEMS} are allowed per request, got {len(body)}.")
    return body


def _batch(one: Callable[[Context, int, dict], tuple[bool, dict]]) -> Callable[[Context, Any], tuple[int, dict]]:
    def run(ctx: Context, body: Any) -> tuple[int, dict]:
        result: dict[str, list] = {"success": [], "failed": []}
        for index, item in enumerate(check_items(body)):
            ok, entry = one(ctx, index, item)
            result["success" if ok else "failed"].append(entry)
        return (202 if result["failed"] else 200), result

    run.__doc__ = one.__doc__
    return run


acquire = _batch(_acquire_one)
release = _batch(_release_one)
create = _batch(_create_one)
update = _batch(_update_one)
increment = _batch(_increment_one)

READ_ROUTES: dict[str, Callable[[Context], dict]] = {
    "/api/2/accounts/profile/": profile,
    "/api/2/attributes/templates/": templates,
    "/api/2/attributes/": attributes,
    "/api/2/attributes/owned/": owned,
    "/api/2/attributes/with-values/": with_values,
    "/api/2/attributes/values/": values,
    "/api/2/averages/": averages,
    "/api/2/correlations/": correlations,
    "/api/2/correlations/combo/": correlation_combo,
    "/api/2/insights/": insights,
}
WRITE_ROUTES: dict[str, Callable[[Context, Any], tuple[int, dict]]] = {
    "/api/2/attributes/acquire/": acquire,
    "/api/2/attributes/release/": release,
    "/api/2/attributes/create/": create,
    "/api/2/attributes/update/": update,
    "/api/2/attributes/increment/": increment,
}


# ---- OAuth2 ----


def _same(secret: str, given: str) -> bool:
    return secrets.compare_digest(secret.encode("utf-8"), given.encode("utf-8"))


def _issue(world: World, user: str, service: str, scopes: list[str], now: datetime.datetime) -> dict:
    expires_at = (now + datetime.timedelta(seconds=TOKEN_LIFETIME)).replace(microsecond=0)
    token = Token(
        token=secrets.token_hex(20),
        user=user,
        service=service,
        scopes=scopes,
        refresh_token=secrets.token_hex(20),
        kind="oauth2",
        expires_at=expires_at,
    )
    world.add_token(token)
    return {
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": int((expires_at - now).total_seconds()),
        "refresh_token": token.refresh_token,
        "scope": " ".join(scopes),
    }


def access_token(world: World, form: dict[str, str], now: datetime.datetime | None = None) -> tuple[int, dict]:
    """POST /oauth2/access_token for authorization_code and refresh_token grants.

    `now` (aware, UTC; default the real time) is the emulator's clock: the new token expires TOKEN_LIFETIME later.
    A client unknown or with the wrong secret is 401 invalid_client. A code is one-time and belongs to one client:
    another client's code, a used or unknown one, or a redirect_uri that differs from the one the code was issued
    for (given or not) is 400 invalid_grant, and such a refusal leaves the code usable by its rightful exchange.
    A refresh token works once, whether its access token has expired or not (refresh tokens do not expire); the
    old access and refresh tokens stop working at once.
    """
    now = utc_now() if now is None else now
    client = world.clients.get(form.get("client_id", ""))
    if client is None or not _same(client.client_secret, form.get("client_secret", "")):
        return 401, {"error": "invalid_client"}
    grant = form.get("grant_type")
    if grant == "authorization_code":
        code = client.codes.get(form.get("code", ""))
        if code is None:
            return 400, {"error": "invalid_grant"}
        if code.get("redirect_uri") is not None and form.get("redirect_uri") != code["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        del client.codes[form["code"]]
        return 200, _issue(world, code["user"], client.service, list(code["scopes"]), now)
    if grant == "refresh_token":
        old = world.token_for_refresh(client.service, form.get("refresh_token", ""))
        if old is None:
            return 400, {"error": "invalid_grant"}
        # Refreshing invalidates the old access and refresh tokens.
        world.remove_token(old)
        return 200, _issue(world, old.user, client.service, list(old.scopes), now)
    return 400, {"error": "unsupported_grant_type"}


def authorize(world: World, data: Any) -> str:
    """A one-time code for `client_id`, as if `username` had allowed `scopes` on /oauth2/authorize.

    data: {"client_id", "username", "scopes": [...], "redirect_uri"?}. Raises ValueError when it is malformed or
    names an unknown client or user.
    """
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object with client_id, username and scopes")
    unknown = set(data) - {"client_id", "username", "scopes", "redirect_uri"}
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    client = world.clients.get(data.get("client_id")) if isinstance(data.get("client_id"), str) else None
    if client is None:
        raise ValueError(f"unknown client_id {data.get('client_id')!r}")
    username = data.get("username")
    if not isinstance(username, str) or username not in world.users:
        raise ValueError(f"unknown username {username!r}")
    scopes = data.get("scopes")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) and s for s in scopes):
        raise ValueError("scopes must be a non-empty list of scope names")
    unknown_scopes = sorted(set(scopes) - ALL_SCOPES - {"all"})
    if unknown_scopes:
        raise ValueError(f"unknown scope(s): {', '.join(unknown_scopes)}")
    redirect_uri = data.get("redirect_uri")
    if redirect_uri is not None and not isinstance(redirect_uri, str):
        raise ValueError("redirect_uri must be a string")
    code = secrets.token_urlsafe(24)
    client.codes[code] = {"user": username, "scopes": list(scopes), "redirect_uri": redirect_uri}
    return code
