"""Behaviour taken from real recorded responses: low priority and inactive hiding, the ignored `attributes`
filter on /attributes/, `subgroup`, with-values days, new custom attribute priority, group label, profile keys."""

from __future__ import annotations

from emulator_helpers import seed_with

LOW_PRIORITY_TEMPLATES = {
    "keystrokes",
    "sodium",
    "cholesterol",
    "caffeine",
    "sexual_activity",
    "twitter_username",
    "steps_goal",
}

MIXED_PRIORITIES = [
    {"template": "steps", "service": "demo_service", "values": {"2026-11-27": 100}},
    {"template": "steps_goal", "service": "demo_service", "values": {"2026-11-27": 10000}},
    {"template": "keystrokes", "service": "demo_service"},
    {"template": "caffeine", "service": "withings", "values": {"2026-11-27": 95.0}},
    {
        "name": "edge_nine",
        "label": "Edge nine",
        "group": "media",
        "value_type": 0,
        "priority": 9,
        "service": "demo_service",
    },
    {
        "name": "edge_ten",
        "label": "Edge ten",
        "group": "media",
        "value_type": 0,
        "priority": 10,
        "service": "demo_service",
    },
]
LOW = {"steps_goal", "keystrokes", "caffeine", "edge_ten"}


def names(response) -> list[str]:
    """Attribute names of a list response."""
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["results"]]


def test_low_priority_hidden_on_attribute_lists_unless_flag(exist):
    """Priority >= 10 is left out of /attributes/, ?owned=true and /owned/ unless include_low_priority."""
    exist.admin.reset(seed_with(MIXED_PRIORITIES))
    for path, params, everything in (
        ("attributes/", {}, {"steps", "steps_goal", "keystrokes", "caffeine", "edge_nine", "edge_ten"}),
        ("attributes/", {"owned": "true"}, {"steps", "steps_goal", "keystrokes", "edge_nine", "edge_ten"}),
        ("attributes/owned/", {}, {"steps", "steps_goal", "keystrokes", "edge_nine", "edge_ten"}),
    ):
        hidden = names(exist.get(path, params=params))
        assert set(hidden) == everything - LOW, (path, params, hidden)
        shown = names(exist.get(path, params={**params, "include_low_priority": "true"}))
        assert set(shown) == everything, (path, params, shown)
        assert len(shown) == len(set(shown))


def test_with_values_lists_low_priority_without_the_flag(exist):
    """with-values lists priority >= 10 attributes with or without include_low_priority: a recording (days=31, no
    flag) listed steps_goal, priority 11."""
    exist.admin.reset(seed_with(MIXED_PRIORITIES))
    everything = {"steps", "steps_goal", "keystrokes", "caffeine", "edge_nine", "edge_ten"}
    for flag in ({}, {"include_low_priority": "false"}, {"include_low_priority": "1"}):
        params = {"date_max": "2026-11-27", "days": "31", **flag}
        with_values = exist.get("attributes/with-values/", params=params).json()["results"]
        assert {item["name"] for item in with_values} == everything, flag
        goal = next(item for item in with_values if item["name"] == "steps_goal")
        assert goal["priority"] == 11 and goal["values"] == [{"date": "2026-11-27", "value": 10000}]


def test_low_priority_flag_is_truthy_words_only(exist):
    """include_low_priority is read like every flag: false/0/no hide, 1/TRUE/yes/empty show."""
    exist.admin.reset(seed_with(MIXED_PRIORITIES))
    for value in ("false", "0", "no", "off", "maybe"):
        assert "steps_goal" not in names(exist.get("attributes/", params={"include_low_priority": value})), value
    for value in ("1", "TRUE", "yes", ""):
        assert "steps_goal" in names(exist.get("attributes/", params={"include_low_priority": value})), value


def test_templates_low_priority_hidden_and_steps_goal(exist):
    """Templates with priority >= 10 (the 6 published ones and steps_goal) need include_low_priority."""
    default = exist.get("attributes/templates/", params={"limit": 100}).json()
    assert default["count"] == 80
    assert all(t["priority"] < 10 for t in default["results"])
    assert not LOW_PRIORITY_TEMPLATES & {t["name"] for t in default["results"]}
    full = exist.get("attributes/templates/", params={"limit": 100, "include_low_priority": "true"}).json()["results"]
    assert {t["name"] for t in full if t["priority"] >= 10} == LOW_PRIORITY_TEMPLATES
    assert next(t for t in full if t["name"] == "steps_goal") == {
        "name": "steps_goal",
        "label": "Steps goal",
        "group": {"name": "activity", "label": "Activity", "priority": 1},
        "priority": 11,
        "value_type": 0,
        "value_type_description": "Integer",
    }
    activity = exist.get("attributes/templates/", params={"groups": "activity"}).json()["results"]
    assert "steps_goal" not in [t["name"] for t in activity] and activity[-1]["name"] == "active_energy"
    activity = exist.get("attributes/templates/", params={"groups": "activity", "include_low_priority": "1"}).json()
    assert activity["results"][-1]["name"] == "steps_goal"


def test_low_priority_template_can_be_acquired_and_stays_hidden_by_default(exist):
    """Acquiring steps_goal creates it with its template priority 11: owned, but only listed with the flag."""
    response = exist.post("attributes/acquire/", [{"template": "steps_goal"}], params={"success_objects": "1"})
    assert response.status_code == 200 and response.json()["success"][0]["priority"] == 11
    assert "steps_goal" not in exist.owned_names()
    assert "steps_goal" in names(exist.get("attributes/owned/", params={"include_low_priority": "true"}))


def test_owned_list_hides_inactive_unless_include_inactive(exist):
    """/owned/ and ?owned=true leave out inactive attributes like /attributes/ does; with-values always does."""
    exist.admin.reset(
        seed_with(
            [
                {"template": "steps", "service": "demo_service", "values": {"2026-11-27": 1}},
                {"template": "water", "service": "demo_service", "active": False, "values": {"2026-11-27": 500}},
            ]
        )
    )
    assert names(exist.get("attributes/owned/")) == ["steps"]
    assert names(exist.get("attributes/", params={"owned": "true"})) == ["steps"]
    assert names(exist.get("attributes/")) == ["steps"]
    assert names(exist.get("attributes/owned/", params={"include_inactive": "true"})) == ["steps", "water"]
    assert names(exist.get("attributes/", params={"owned": "1", "include_inactive": "1"})) == ["steps", "water"]
    assert names(exist.get("attributes/owned/", params={"include_inactive": "false"})) == ["steps"]
    with_values = {"date_max": "2026-11-27", "include_inactive": "true", "include_low_priority": "true"}
    assert names(exist.get("attributes/with-values/", params=with_values)) == ["steps"]


def test_attributes_name_filter_ignored_on_attributes_but_not_on_owned_or_with_values(exist):
    """GET /attributes/ answers everything readable whatever `attributes` says; owned/ and with-values filter."""
    everything = names(exist.get("attributes/"))
    assert len(everything) == 9
    assert names(exist.get("attributes/", params={"attributes": "steps"})) == everything
    assert names(exist.get("attributes/", params={"attributes": "nope"})) == everything
    assert names(exist.get("attributes/", params={"attributes": "steps", "groups": "mood"})) == ["mood", "mood_note"]
    assert names(exist.get("attributes/", params={"attributes": "steps", "owned": "true"})) == ["coffees"]
    assert names(exist.get("attributes/owned/", params={"attributes": "steps"})) == []
    assert names(exist.get("attributes/owned/", params={"attributes": "steps,coffees"})) == ["coffees"]
    assert names(exist.get("attributes/with-values/", params={"attributes": "steps,nope"})) == ["steps"]


def test_subgroup_null_on_every_attribute_object(exist):
    """subgroup: null in lists, the owned list, with-values and acquire/create/release success_objects."""
    objects = []
    objects += exist.get("attributes/", params={"include_inactive": "1", "limit": 100}).json()["results"]
    objects += exist.get("attributes/owned/").json()["results"]
    objects += exist.get("attributes/with-values/").json()["results"]
    for path, items in (
        ("acquire", [{"name": "steps"}]),
        ("create", [{"label": "Naps", "group": "sleep", "value_type": 3}]),
        ("release", [{"name": "steps"}]),
    ):
        response = exist.post(f"attributes/{path}/", items, params={"success_objects": "1"})
        assert response.status_code == 200, response.text
        objects += response.json()["success"]
    assert len(objects) == 10 + 1 + 9 + 3
    for item in objects:
        assert "subgroup" in item and item["subgroup"] is None, item


def test_with_values_items_have_no_available_services(exist):
    """with-values items are attribute objects without available_services; the lists keep it."""
    items = exist.get("attributes/with-values/", params={"date_max": "2026-11-27"}).json()["results"]
    assert items and all("available_services" not in item for item in items)
    steps = next(item for item in items if item["name"] == "steps")
    assert steps["service"] == {"name": "withings", "label": "Withings"} and steps["values"]
    listed = exist.get("attributes/").json()["results"]
    assert all("available_services" in item for item in listed)


def test_with_values_only_days_with_data_newest_first(exist):
    """Only days with a value are listed, newest first, within days/date_max; no data gives an empty list."""
    exist.admin.reset(
        seed_with(
            [
                {
                    "template": "steps",
                    "service": "withings",
                    "values": {"2026-11-20": 1, "2026-11-27": 4, "2026-11-22": 2, "2026-11-25": 3, "2026-11-28": 5},
                },
                {"template": "mood", "service": "exist_ios", "manual": True},
            ]
        )
    )
    body = exist.get("attributes/with-values/", params={"days": 7, "date_max": "2026-11-27"}).json()
    by_name = {item["name"]: item["values"] for item in body["results"]}
    assert by_name["steps"] == [
        {"date": "2026-11-27", "value": 4},
        {"date": "2026-11-25", "value": 3},
        {"date": "2026-11-22", "value": 2},
    ]
    assert by_name["mood"] == []
    one_day = exist.get("attributes/with-values/", params={"date_max": "2026-11-26", "attributes": "steps"}).json()
    assert one_day["results"][0]["values"] == []
    month = exist.get("attributes/with-values/", params={"days": 31, "date_max": "2026-12-15"}).json()["results"]
    assert [v["date"] for v in month[0]["values"]] == [
        "2026-11-28",
        "2026-11-27",
        "2026-11-25",
        "2026-11-22",
        "2026-11-20",
    ]


def test_new_custom_attribute_gets_priority_9_and_stays_visible(exist):
    """create gives a custom attribute priority 9 even in groups whose templates reach 10 or more."""
    response = exist.post(
        "attributes/create/",
        [
            {"label": "Late snacks", "group": "food", "value_type": 0},
            {"label": "Focus blocks", "group": "productivity", "value_type": 0},
            {"label": "Went swimming", "group": "custom", "value_type": 7},
        ],
        params={"success_objects": "1"},
    )
    assert response.status_code == 200
    assert [item["priority"] for item in response.json()["success"]] == [9, 9, 9]
    listed = names(exist.get("attributes/", params={"limit": 100}))
    assert {"late_snacks", "focus_blocks", "went_swimming"} <= set(listed)
    assert {"late_snacks", "focus_blocks", "went_swimming", "coffees"} == set(exist.owned_names())
    assert exist.attribute("late_snacks")["priority"] == 9
    second = exist.post(
        "attributes/create/",
        [{"label": "More snacks", "group": "food", "value_type": 0}],
        params={"success_objects": "1"},
    )
    assert second.json()["success"][0]["priority"] == 9


def test_seeded_custom_attribute_defaults_to_priority_9(exist):
    """A custom attribute seeded without a priority gets 9 too; a given priority is kept."""
    exist.admin.reset(
        seed_with(
            [
                {"name": "snacks", "label": "Snacks", "group": "food", "value_type": 0, "service": "demo_service"},
                {
                    "name": "late",
                    "label": "Late",
                    "group": "food",
                    "value_type": 0,
                    "service": "demo_service",
                    "priority": 12,
                },
            ]
        )
    )
    assert exist.attribute("snacks")["priority"] == 9
    assert exist.attribute("late")["priority"] == 12
    assert exist.owned_names() == ["snacks"]


def test_templated_attribute_priority_override_round_trips(exist):
    """A seeded priority on a templated attribute is served and kept in the state (so it stays hidden after a reload)."""
    exist.admin.reset(
        seed_with(
            [
                {"template": "steps", "service": "demo_service", "priority": 12},
                {"template": "water", "service": "demo_service"},
            ]
        )
    )
    assert exist.owned_names() == ["water"]
    state = exist.admin.state()
    assert exist.attribute("steps")["priority"] == 12 and "priority" not in exist.attribute("water")
    exist.admin.reset(state)
    assert exist.admin.state() == state
    assert exist.owned_names() == ["water"]


def test_custom_group_label_daily_tags(exist):
    """The custom group is labelled "Daily tags" (name custom), still sorted after every other group."""
    meditation = next(item for item in exist.get("attributes/").json()["results"] if item["name"] == "meditation")
    assert meditation["group"] == {"name": "custom", "label": "Daily tags", "priority": 16}
    assert names(exist.get("attributes/"))[-1] == "meditation"


def test_profile_email_flags_and_no_imperial_units(exist):
    """The profile has weekly_email and yearly_email booleans, no imperial_units, and the other imperial_* keys."""
    body = exist.get("accounts/profile/").json()
    assert isinstance(body["weekly_email"], bool) and isinstance(body["yearly_email"], bool)
    assert "imperial_units" not in body
    for key in ("imperial_distance", "imperial_weight", "imperial_energy", "imperial_liquid", "imperial_temperature"):
        assert body[key] is False, key
