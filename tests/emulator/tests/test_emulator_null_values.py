"""Null rows, as seen in real recorded responses: a new custom scale attribute starts with a null row for today, a
new integer attribute with a 0; seeds and the admin API take null; with-values leaves null rows out, values/ lists
them; update with null and increment on a null row."""

from __future__ import annotations

import datetime
import json

import pytest
import zoneinfo
from emulator_helpers import seed_with

from exist_emulator.admin import AdminError
from exist_emulator.world import world_from_seed

ZONE = "Europe/London"  # the timezone of user demo in seed_with() and in the default world

NULL_ROWS = [
    {
        "name": "focus",
        "label": "Focus",
        "group": "productivity",
        "value_type": 8,
        "service": "demo_service",
        "values": {"2026-11-25": 4, "2026-11-26": None, "2026-11-27": None},
    },
    {"template": "coffees", "service": "demo_service", "values": {"2026-11-26": None, "2026-11-27": 2}},
    {"template": "weight", "service": "demo_service", "values": {"2026-11-27": None}},
    {"template": "steps", "service": "withings", "values": {"2026-11-27": None}},
]


def local_today(zone: str = ZONE) -> str:
    """Today's date (YYYY-MM-DD) in a timezone."""
    return datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date().isoformat()


def only_day(values: dict, before: str, after: str) -> str:
    """The one day of a state's values, checked to be the user's today (taken before and after the request)."""
    assert len(values) == 1, values
    (day,) = values
    assert day in (before, after), (day, before, after)
    return day


def rows(exist, name: str, **params) -> list[dict]:
    """Every row of GET /attributes/values/ for one attribute (one page of up to 100)."""
    response = exist.get("attributes/values/", params={"attribute": name, "limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def with_values(exist, **params) -> dict[str, list[dict]]:
    """{name: values} of GET /attributes/with-values/."""
    response = exist.get("attributes/with-values/", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return {item["name"]: item["values"] for item in response.json()["results"]}


# ---- create ----


def test_create_custom_scale_adds_null_row_for_today(exist):
    """A custom scale attribute (value type 8) starts with a null row for the user's today: values/ lists it."""
    before = local_today()
    response = exist.post("attributes/create/", [{"label": "Focus", "group": "productivity", "value_type": 8}])
    after = local_today()
    assert response.status_code == 200, response.text
    values = exist.attribute("focus")["values"]
    day = only_day(values, before, after)
    assert values[day] is None
    assert rows(exist, "focus") == [{"date": day, "value": None}]


@pytest.mark.parametrize(
    "item, name",
    [
        ({"label": "Late snacks", "group": "food", "value_type": 0}, "late_snacks"),
        ({"template": "water"}, "water"),
    ],
    ids=["custom", "template"],
)
def test_create_integer_adds_zero_for_today(exist, item, name):
    """An integer attribute (value type 0), custom or template, starts with a 0 for today; 0 is data for with-values."""
    before = local_today()
    response = exist.post("attributes/create/", [item], params={"success_objects": "1"})
    after = local_today()
    assert response.status_code == 200, response.text
    assert response.json()["success"][0]["value_type"] == 0
    values = exist.attribute(name)["values"]
    day = only_day(values, before, after)
    assert values[day] == 0 and not isinstance(values[day], bool)
    assert rows(exist, name) == [{"date": day, "value": 0}]
    assert with_values(exist, attributes=name, date_max=day)[name] == [{"date": day, "value": 0}]


def test_create_first_row_uses_the_users_local_day(exist):
    """The first row's date is today in the user's timezone: UTC+14 and UTC-11 (25 hours apart) give other dates."""
    days = {}
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        seed = seed_with([])
        seed["users"][0]["timezone"] = zone
        exist.admin.reset(seed)
        before = local_today(zone)
        response = exist.post(
            "attributes/create/",
            [{"label": "Calm", "group": "mood", "value_type": 8}, {"label": "Naps", "group": "sleep", "value_type": 0}],
        )
        after = local_today(zone)
        assert response.status_code == 200, response.text
        calm, naps = exist.attribute("calm")["values"], exist.attribute("naps")["values"]
        days[zone] = only_day(calm, before, after)
        assert calm == {days[zone]: None} and naps == {days[zone]: 0}
    assert days["Pacific/Kiritimati"] > days["Pacific/Pago_Pago"]


def test_create_other_value_types_and_acquire_add_no_row(exist):
    """Other value types, a scale template (the null row is for custom scale attributes) and an acquire that
    creates its attribute start without any row."""
    response = exist.post(
        "attributes/create/",
        [
            {"label": "Reading", "group": "media", "value_type": 3},
            {"label": "Distance", "group": "activity", "value_type": 1},
            {"label": "Quote", "group": "media", "value_type": 2},
            {"label": "Bedtime", "group": "sleep", "value_type": 4},
            {"label": "Hydration", "group": "food", "value_type": 5},
            {"label": "Went out", "group": "custom", "value_type": 7},
            {"template": "energy_level"},
        ],
    )
    assert response.status_code == 200, response.text
    acquired = exist.post("attributes/acquire/", [{"template": "floors"}])
    assert acquired.status_code == 200, acquired.text
    for name in ("reading", "distance", "quote", "bedtime", "hydration", "went_out", "energy_level", "floors"):
        assert "values" not in exist.attribute(name), name
        assert rows(exist, name) == [], name


def test_create_failure_adds_no_row(exist):
    """A refused create (exists) leaves the existing attribute's values alone."""
    exist.admin.reset(seed_with([{"template": "coffees", "service": "demo_service", "values": {"2026-11-27": 2}}]))
    body = exist.post("attributes/create/", [{"template": "coffees"}]).json()
    assert body["failed"][0]["error_code"] == "exists"
    assert exist.attribute("coffees")["values"] == {"2026-11-27": 2}


# ---- seeds and the admin API ----


def test_seed_null_values_load_and_state_keeps_them(exist):
    """The admin reset takes null day values (JSON); the state keeps them as null and loads back unchanged."""
    exist.admin.reset(seed_with(NULL_ROWS))
    state = exist.admin.state()
    assert exist.attribute("focus")["values"] == {"2026-11-25": 4, "2026-11-26": None, "2026-11-27": None}
    assert exist.attribute("coffees")["values"] == {"2026-11-26": None, "2026-11-27": 2}
    assert exist.attribute("weight")["values"] == {"2026-11-27": None}
    assert exist.admin.owned("demo", "demo_service") == {"focus": True, "coffees": False, "weight": False}
    exist.admin.reset(state)
    assert exist.admin.state() == state


def test_seed_null_values_as_yaml_text(exist):
    """A YAML seed with null (and ~) day values loads through the admin API and is served as null rows."""
    exist.admin.reset(
        """
services: [{name: demo_service, label: Demo Service}]
users:
  - username: demo
    timezone: Europe/London
    tokens: [{token: demo-token, service: demo_service, scopes: [all]}]
    attributes:
      - name: focus
        label: Focus
        group: productivity
        value_type: 8
        service: demo_service
        values: {2026-11-25: 3, 2026-11-26: ~, "2026-11-27": null}
"""
    )
    assert exist.attribute("focus")["values"] == {"2026-11-25": 3, "2026-11-26": None, "2026-11-27": None}
    assert rows(exist, "focus", date_max="2026-11-27") == [
        {"date": "2026-11-27", "value": None},
        {"date": "2026-11-26", "value": None},
        {"date": "2026-11-25", "value": 3},
    ]


def test_seed_null_value_with_bad_date_is_refused(exist):
    """A null value still needs a valid date: the reset is refused with 400 and the world stays as it was."""
    seed = seed_with([{"template": "coffees", "service": "demo_service", "values": {"27/11/2026": None}}])
    with pytest.raises(AdminError) as refused:
        exist.admin.reset(seed)
    assert refused.value.status == 400 and "bad date" in refused.value.detail
    assert exist.owned_names() == ["coffees"]
    assert exist.attribute("coffees")["values"] == {"2026-11-27": 2}


def test_world_with_null_values_round_trips_as_seed():
    """world_from_seed keeps null rows and as_seed() writes them (as JSON null), loadable again."""
    world = world_from_seed(seed_with(NULL_ROWS))
    attributes = world.users["demo"].attributes
    assert attributes["focus"].values == {"2026-11-25": 4, "2026-11-26": None, "2026-11-27": None}
    assert attributes["steps"].values == {"2026-11-27": None}
    dumped = world.as_seed()
    assert '"2026-11-26": null' in json.dumps(dumped)
    assert world_from_seed(json.loads(json.dumps(dumped))).as_seed() == dumped


# ---- reading ----


def test_values_lists_null_rows_newest_first(exist):
    """values/ lists null rows like any other, newest first, with date_max and paging."""
    exist.admin.reset(seed_with(NULL_ROWS))
    assert rows(exist, "focus", date_max="2026-11-27") == [
        {"date": "2026-11-27", "value": None},
        {"date": "2026-11-26", "value": None},
        {"date": "2026-11-25", "value": 4},
    ]
    assert rows(exist, "focus", date_max="2026-11-26") == [
        {"date": "2026-11-26", "value": None},
        {"date": "2026-11-25", "value": 4},
    ]
    page = exist.get("attributes/values/", params={"attribute": "focus", "date_max": "2026-11-27", "limit": 1}).json()
    assert page["count"] == 3 and page["results"] == [{"date": "2026-11-27", "value": None}] and page["next"]
    assert rows(exist, "steps", date_max="2026-11-27") == [{"date": "2026-11-27", "value": None}]


def test_with_values_leaves_null_rows_out(exist):
    """with-values lists only days with data: null rows are left out (an attribute with only those has [])."""
    exist.admin.reset(seed_with(NULL_ROWS))
    by_name = with_values(exist, days=7, date_max="2026-11-27")
    assert by_name["focus"] == [{"date": "2026-11-25", "value": 4}]
    assert by_name["coffees"] == [{"date": "2026-11-27", "value": 2}]
    assert by_name["weight"] == []
    assert by_name["steps"] == []
    assert all(row["value"] is not None for values in by_name.values() for row in values)


def test_with_values_leaves_out_a_new_scale_attributes_null_row(exist):
    """Right after creating a custom scale attribute, values/ has today's null row and with-values has no day."""
    before = local_today()
    exist.post("attributes/create/", [{"label": "Focus", "group": "productivity", "value_type": 8}])
    after = local_today()
    day = only_day(exist.attribute("focus")["values"], before, after)
    assert rows(exist, "focus") == [{"date": day, "value": None}]
    assert with_values(exist, attributes="focus", date_max=day) == {"focus": []}


# ---- writing ----


def test_update_null_on_null_row_or_empty_day_succeeds_without_change(exist):
    """update with null on a null row or on a day without a row succeeds and changes nothing."""
    exist.admin.reset(seed_with(NULL_ROWS))
    items = [
        {"name": "focus", "date": "2026-11-27", "value": None},
        {"name": "focus", "date": "2026-11-24", "value": None},
        {"name": "coffees", "date": "2026-11-26", "value": None},
    ]
    response = exist.post("attributes/update/", items)
    assert response.status_code == 200 and response.json() == {"success": items, "failed": []}
    assert exist.attribute("focus")["values"] == {"2026-11-25": 4, "2026-11-26": None, "2026-11-27": None}
    assert exist.attribute("coffees")["values"] == {"2026-11-26": None, "2026-11-27": 2}


def test_update_null_over_a_value_is_refused(exist):
    """update with null on a day with a non-null value fails with validation and keeps the value."""
    exist.admin.reset(seed_with(NULL_ROWS))
    item = {"name": "focus", "date": "2026-11-25", "value": None}
    response = exist.post("attributes/update/", [item])
    assert response.status_code == 202
    assert response.json()["failed"] == [
        {**item, "error_code": "validation", "error": "A value cannot be set back to null"}
    ]
    assert exist.attribute("focus")["values"]["2026-11-25"] == 4


def test_update_value_on_null_row_then_null_is_refused(exist):
    """A null row takes a value (checked by type); once it has one, null is refused."""
    exist.admin.reset(seed_with(NULL_ROWS))
    bad = exist.post("attributes/update/", [{"name": "focus", "date": "2026-11-27", "value": 12}]).json()
    assert bad["failed"][0]["error_code"] == "validation"
    assert exist.attribute("focus")["values"]["2026-11-27"] is None
    ok = exist.post("attributes/update/", [{"name": "focus", "date": "2026-11-27", "value": 7}])
    assert ok.status_code == 200
    assert rows(exist, "focus", date_max="2026-11-27")[0] == {"date": "2026-11-27", "value": 7}
    again = exist.post("attributes/update/", [{"name": "focus", "date": "2026-11-27", "value": None}]).json()
    assert again["failed"][0]["error"] == "A value cannot be set back to null"
    assert exist.attribute("focus")["values"]["2026-11-27"] == 7


def test_increment_on_null_row_counts_from_zero(exist):
    """increment on a null row treats it as 0: current is the delta, for integer and float attributes."""
    exist.admin.reset(seed_with(NULL_ROWS))
    response = exist.post(
        "attributes/increment/",
        [{"name": "coffees", "date": "2026-11-26", "value": 3}, {"name": "weight", "date": "2026-11-27", "value": 0.5}],
    )
    assert response.status_code == 200, response.text
    assert [item["current"] for item in response.json()["success"]] == [3, 0.5]
    assert exist.attribute("coffees")["values"] == {"2026-11-26": 3, "2026-11-27": 2}
    assert exist.attribute("weight")["values"] == {"2026-11-27": 0.5}
    assert with_values(exist, days=2, date_max="2026-11-27")["coffees"] == [
        {"date": "2026-11-27", "value": 2},
        {"date": "2026-11-26", "value": 3},
    ]


def test_increment_after_create_adds_to_todays_zero(exist):
    """A new integer attribute's 0 for today is what a dateless increment adds to."""
    before = local_today()
    exist.post("attributes/create/", [{"label": "Naps", "group": "sleep", "value_type": 0}])
    response = exist.post("attributes/increment/", [{"name": "naps", "value": 2}])
    after = local_today()
    assert response.status_code == 200 and response.json()["success"][0]["current"] == 2
    values = exist.attribute("naps")["values"]
    assert values[only_day(values, before, after)] == 2


def test_increment_on_scale_null_row_still_refused(exist):
    """A scale attribute's null row does not make it incrementable: validation, and the row stays null."""
    exist.admin.reset(seed_with(NULL_ROWS))
    body = exist.post("attributes/increment/", [{"name": "focus", "date": "2026-11-27", "value": 1}]).json()
    assert body["failed"][0]["error_code"] == "validation"
    assert exist.attribute("focus")["values"]["2026-11-27"] is None
