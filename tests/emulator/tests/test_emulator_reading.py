"""The read endpoints: profile, templates, attributes (filters, scopes, order), owned, with-values, values, paging."""

from __future__ import annotations

import datetime

import zoneinfo
from emulator_helpers import seed_with


def names(response) -> list[str]:
    """Attribute names of a list response."""
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["results"]]


def test_profile(exist):
    """The profile of the token's user."""
    body = exist.get("accounts/profile/").json()
    assert body["username"] == "demo" and body["timezone"] == "Europe/London"
    assert exist.get("accounts/profile/", "reader-simple-token", scheme="Token").json()["username"] == "reader"


def test_templates_all_published_and_group_filter(exist):
    """All 87 templates with include_low_priority (80 without); groups filters; limit 100 gives one page."""
    body = exist.get("attributes/templates/", params={"limit": 100, "include_low_priority": "true"}).json()
    assert body["count"] == 87 and len(body["results"]) == 87 and body["next"] is None
    steps = body["results"][0]
    assert steps == {
        "name": "steps",
        "label": "Steps",
        "group": {"name": "activity", "label": "Activity", "priority": 1},
        "priority": 1,
        "value_type": 0,
        "value_type_description": "Integer",
    }
    location = next(t for t in body["results"] if t["name"] == "location")
    assert location["value_type_description"] == 'String ("lat,lng" format where lat and lng are floats)'
    mood = exist.get("attributes/templates/", params={"groups": "mood"}).json()
    assert [t["name"] for t in mood["results"]] == ["mood", "mood_note", "energy_level", "stress_level"]


def test_paging_default_20_max_100_next_previous_and_404(exist):
    """Default page size 20, limit capped at 100, absolute next/previous following the Host, 404 past the end.

    Without include_low_priority there are 80 templates: exactly 4 full pages.
    """
    first = exist.get("attributes/templates/").json()
    assert len(first["results"]) == 20 and first["previous"] is None
    assert first["next"] == f"{exist.base}/api/2/attributes/templates/?page=2"
    seen = [t["name"] for t in first["results"]]
    url = first["next"]
    pages = 1
    while url:
        page = exist.get(url).json()
        seen += [t["name"] for t in page["results"]]
        assert page["previous"]
        url = page["next"]
        pages += 1
    assert pages == 4 and len(seen) == 80 and len(set(seen)) == 80
    assert len(exist.get("attributes/templates/", params={"limit": 500}).json()["results"]) == 80
    everything = exist.get("attributes/templates/", params={"limit": 500, "include_low_priority": "1"}).json()
    assert len(everything["results"]) == 87
    assert exist.get("attributes/templates/", params={"page": 5}).status_code == 404
    assert exist.get("attributes/templates/", params={"page": 5, "include_low_priority": "1"}).status_code == 200
    assert exist.get("attributes/templates/", params={"page": 6, "include_low_priority": "1"}).status_code == 404
    assert exist.get("attributes/templates/", params={"page": 2, "limit": 100}).status_code == 404
    assert exist.get("attributes/templates/", params={"page": 0}).status_code == 404
    assert exist.get("attributes/templates/", params={"page": "x"}).status_code == 404
    assert exist.get("attributes/templates/", params={"limit": 0}).status_code == 400
    headers = {"Authorization": "Bearer demo-token", "Host": "exist.example:9"}
    custom_host = exist.http.get(exist.url("attributes/templates/"), headers=headers).json()
    assert custom_host["next"] == "http://exist.example:9/api/2/attributes/templates/?page=2"


def test_paging_keeps_filters_in_next(exist):
    """next carries the other query parameters along, in alphabetical order (as the recorded next links)."""
    body = exist.get("attributes/", params={"limit": 2, "include_inactive": "true"}).json()
    assert body["next"] == f"{exist.base}/api/2/attributes/?include_inactive=true&limit=2&page=2"
    assert body["count"] == 10


def test_empty_list_first_page_is_200(exist):
    """An empty result is a 200 page 1, not a 404."""
    exist.post("attributes/release/", [{"name": "coffees"}])
    body = exist.get("attributes/owned/").json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def test_attributes_order_and_inactive_excluded(exist):
    """Ordered by group priority, then attribute priority, then name; inactive only with include_inactive."""
    assert names(exist.get("attributes/")) == [
        "steps",
        "productive_min",
        "mood",
        "mood_note",
        "sleep",
        "coffees",
        "weight",
        "reading_time",
        "meditation",
    ]
    assert "pages_read" in names(exist.get("attributes/", params={"include_inactive": "1"}))


def test_attributes_filters(exist):
    """groups, exclude_custom and manual filter the list; `attributes` does not on /attributes/ (recordings)."""
    assert names(exist.get("attributes/", params={"groups": "mood,sleep"})) == ["mood", "mood_note", "sleep"]
    assert names(exist.get("attributes/", params={"attributes": "steps,weight,nope"})) == names(
        exist.get("attributes/")
    )
    assert "reading_time" not in names(exist.get("attributes/", params={"exclude_custom": "true"}))
    assert names(exist.get("attributes/", params={"manual": "true"})) == [
        "mood",
        "mood_note",
        "coffees",
        "reading_time",
        "meditation",
    ]
    assert names(exist.get("attributes/", params={"manual": "false"})) == ["steps", "productive_min", "sleep", "weight"]


def test_attributes_owned_flag_and_owned_endpoint(exist):
    """owned=true and /attributes/owned/ list only what this client owns."""
    assert names(exist.get("attributes/", params={"owned": "true"})) == ["coffees"]
    assert names(exist.get("attributes/owned/")) == ["coffees"]
    assert names(exist.get("attributes/owned/", "withings-token")) == ["steps"]


def test_read_scopes_filter_silently(exist):
    """Too few read scopes give fewer results, never an error; manual_read covers manual attributes."""
    exist.admin.reset(
        seed_with(
            [
                {"template": "steps", "service": "withings"},
                {"template": "mood", "service": "exist_ios", "manual": True, "values": {"2026-11-27": 5}},
                {"template": "sleep", "service": "fitbit", "manual": False},
            ],
            scopes=["activity_read"],
        )
    )
    assert names(exist.get("attributes/")) == ["steps"]
    assert exist.get("attributes/values/", params={"attribute": "mood"}).json()["results"] == []
    exist.admin.reset(
        seed_with(
            [
                {"template": "steps", "service": "withings"},
                {"template": "mood", "service": "exist_ios", "manual": True},
            ],
            scopes=["manual_read"],
        )
    )
    assert names(exist.get("attributes/")) == ["mood"]


def test_owned_ignores_read_scopes(exist):
    """The owned list shows owned attributes even without any read scope."""
    exist.admin.reset(seed_with([{"template": "steps", "service": "demo_service"}], scopes=["activity_write"]))
    assert names(exist.get("attributes/")) == []
    assert names(exist.get("attributes/owned/")) == ["steps"]
    assert names(exist.get("attributes/", params={"owned": "1"})) == ["steps"]


def test_with_values_days_and_date_max(exist):
    """with-values gives the values of each attribute's last `days` days, newest first, only days that have one."""
    body = exist.get(
        "attributes/with-values/", params={"days": 3, "date_max": "2026-11-27", "attributes": "steps,sleep"}
    ).json()
    by_name = {item["name"]: item["values"] for item in body["results"]}
    assert by_name["steps"] == [
        {"date": "2026-11-27", "value": 6540},
        {"date": "2026-11-26", "value": 10456},
        {"date": "2026-11-25", "value": 8123},
    ]
    assert by_name["sleep"] == [{"date": "2026-11-27", "value": 405}, {"date": "2026-11-26", "value": 431}]
    default = exist.get("attributes/with-values/", params={"attributes": "steps", "date_max": "2026-11-26"}).json()
    assert default["results"][0]["values"] == [{"date": "2026-11-26", "value": 10456}]
    daily = {f"2026-10-{day:02d}": day for day in range(1, 32)}
    daily.update({f"2026-11-{day:02d}": 100 + day for day in range(1, 28)})
    exist.admin.reset(seed_with([{"template": "steps", "service": "withings", "values": daily}]))
    capped = exist.get("attributes/with-values/", params={"days": 90, "date_max": "2026-11-27"}).json()["results"][0]
    assert len(capped["values"]) == 31
    assert capped["values"][0] == {"date": "2026-11-27", "value": 127}
    assert capped["values"][-1] == {"date": "2026-10-28", "value": 28}
    exist.admin.reset()
    assert names(exist.get("attributes/with-values/", params={"templates": "mood", "date_max": "2026-11-27"})) == [
        "mood"
    ]
    assert names(exist.get("attributes/with-values/", params={"groups": "sleep", "manual": "false"})) == ["sleep"]


def test_values_newest_first_with_paging_and_date_max(exist):
    """values lists one attribute's stored values newest first; date_max cuts; paging applies."""
    body = exist.get("attributes/values/", params={"attribute": "steps"}).json()
    assert body["results"] == [
        {"date": "2026-11-27", "value": 6540},
        {"date": "2026-11-26", "value": 10456},
        {"date": "2026-11-25", "value": 8123},
    ]
    assert exist.get("attributes/values/", params={"attribute": "steps", "date_max": "2026-11-26"}).json()["count"] == 2
    page = exist.get("attributes/values/", params={"attribute": "steps", "limit": 2, "page": 2}).json()
    assert page["results"] == [{"date": "2026-11-25", "value": 8123}] and page["next"] is None
    assert exist.get("attributes/values/").status_code == 400


def test_unknown_path_and_wrong_method(exist):
    """Unknown API paths answer 404; a GET on a write endpoint 405."""
    assert exist.get("attributes/nothing/").status_code == 404
    assert exist.get("attributes/acquire/").status_code == 405


def test_today_follows_user_timezone(exist):
    """Increment without a date writes to today in the user's timezone."""
    exist.admin.reset(seed_with([{"template": "coffees", "service": "demo_service"}]))
    body = exist.post("attributes/increment/", [{"name": "coffees", "value": 1}]).json()
    assert body["success"][0]["current"] == 1
    values = exist.get("attributes/values/", params={"attribute": "coffees"}).json()["results"]
    london = datetime.datetime.now(datetime.timezone.utc).astimezone(zoneinfo.ZoneInfo("Europe/London"))
    assert values == [{"date": london.date().isoformat(), "value": 1}]
