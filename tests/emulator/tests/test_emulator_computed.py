"""What Exist computes, seeded: /averages/, /correlations/, /correlations/combo/ and /insights/ (paging, filters,
read scopes, errors), their seed lists and the state round trip."""

from __future__ import annotations

import copy

import pytest
from emulator_helpers import seed_with

from exist_emulator.admin import AdminError

WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EMPTY_PAGE = {"count": 0, "next": None, "previous": None, "results": []}


def average(attribute: str, day: str, overall: float) -> dict:
    """An average record in the API's shape (each weekday a little off the overall)."""
    return {"attribute": attribute, "date": day, "overall": overall, **{d: overall + i for i, d in enumerate(WEEK)}}


def correlation(attribute: str, attribute2: str, day: str, value: float, stars: int) -> dict:
    """A correlation record with every key of the API's object."""
    return {
        "date": day,
        "period": 309,
        "offset": 0,
        "attribute": attribute,
        "attribute2": attribute2,
        "value": value,
        "p": 0.001,
        "percentage": abs(value) * 100,
        "stars": stars,
        "second_person": f"{attribute} goes with {attribute2}.",
        "second_person_elements": [attribute, "with", attribute2],
        "attribute_category": None,
        "strength_description": "Quite often go together",
        "stars_description": "Certain to be related",
        "description": None,
        "occurrence": None,
        "rating": None,
    }


def insight(created: str, target_date: str, priority: int, attribute: str | None, text: str) -> dict:
    """An insight record; `attribute` None: an insight about no attribute in particular."""
    about = None
    if attribute is not None:
        about = {"name": attribute, "label": attribute.title(), "group": {"name": "x", "label": "X", "priority": 1}}
    return {
        "created": created,
        "target_date": target_date,
        "type": {"name": f"kind_{text}", "period": 1, "priority": priority, "attribute": about},
        "html": f"<div>{text}</div>",
        "text": text,
    }


AVERAGES = [
    average("steps", "2026-11-15", 4000.0),
    average("steps", "2026-11-29", 4174.0),
    average("steps", "2026-11-22", 4100.0),
    average("sleep", "2026-11-29", 420.0),
    average("sleep", "2026-11-22", 410.0),
    average("mood", "2026-11-22", 6.0),
    # floors: a template the user lacks (the template's group, activity, decides who reads it).
    average("floors", "2026-11-29", 13.0),
]
CORRELATIONS = [
    correlation("sleep", "sleep_start", "2026-11-30", -0.5577, 5),
    correlation("steps", "mood", "2026-11-29", 0.3, 4),
    correlation("mood", "sleep", "2026-11-30", 0.2999, 5),
    correlation("steps", "sleep", "2026-11-30", -0.3, 3),
    correlation("floors", "productive_min", "2026-11-28", 0.8, 5),
]
INSIGHTS = [
    insight("2026-11-30T13:17:03+00:00", "2026-11-30", 1, "sleep", "a"),
    # 2026-11-30T20:00+08:00 is 12:00 UTC: earlier than "a", though its text sorts later.
    insight("2026-11-30T20:00:00+08:00", "2026-11-30", 1, "steps", "b"),
    insight("2026-11-29T09:00:00+00:00", "2026-11-29", 2, None, "c"),
    insight("2026-11-20T09:00:00Z", "2026-11-16", 4, "mood", "d"),
    insight("2026-11-25T09:00:00+00:00", "2026-11-23", 3, "productive_min", "e"),
]


def token(name: str, scopes: list[str], kind: str = "oauth2") -> dict:
    """A further token of demo."""
    return {"token": name, "service": "demo_service", "scopes": scopes, "refresh_token": name + "-r", "kind": kind}


def computed_seed(**lists) -> dict:
    """demo with steps, sleep and a manual mood, tokens of a few scopes, and the given lists (default: all three)."""
    seed = seed_with(
        [
            {"template": "steps", "service": "withings"},
            {"template": "sleep", "service": "fitbit"},
            {"template": "mood", "service": "exist_ios", "manual": True},
        ],
        extra_tokens=[
            token("activity-token", ["activity_read"]),
            token("sleep-token", ["sleep_read"]),
            token("manual-token", ["manual_read"]),
            token("write-only-token", ["activity_write", "sleep_write", "mood_write"]),
            token("simple-token", ["all"], kind="simple"),
        ],
    )
    defaults = {"averages": AVERAGES, "correlations": CORRELATIONS, "insights": INSIGHTS}
    for key, records in {**defaults, **lists}.items():
        seed["users"][0][key] = copy.deepcopy(records)
    return seed


@pytest.fixture
def computed(exist):
    """The emulator reset to computed_seed()."""
    exist.admin.reset(computed_seed())
    return exist


def ok(response) -> dict:
    """The JSON of a 200 answer."""
    assert response.status_code == 200, response.text
    return response.json()


def every_page(exist, path: str, params: dict, tok: str = "demo-token") -> tuple[list, int]:
    """(all results, number of pages) following next to the end; checks count and previous on the way."""
    body = ok(exist.get(path, tok, params=params))
    results, pages, count = list(body["results"]), 1, body["count"]
    assert body["previous"] is None
    while body["next"]:
        body = ok(exist.get(body["next"], tok))
        assert body["count"] == count and body["previous"]
        results += body["results"]
        pages += 1
    assert len(results) == count
    return results, pages


def pairs(results: list[dict]) -> list[tuple]:
    """(attribute, date) of average records."""
    return [(r["attribute"], r["date"]) for r in results]


# ---- a new account ----


@pytest.mark.parametrize(
    "path, params",
    [
        ("averages/", {}),
        ("averages/", {"include_historical": "1"}),
        ("correlations/", {}),
        ("insights/", {}),
    ],
)
def test_a_new_account_gets_an_empty_page(exist, path, params):
    """As recorded for a new account: 200 with count 0, no links, no results (the default world seeds none)."""
    assert ok(exist.get(path, params=params)) == EMPTY_PAGE


def test_a_new_account_has_no_combination(exist):
    """As recorded: 404 {"error": "not_found"} for steps and mood."""
    response = exist.get("correlations/combo/", params={"attribute": "steps", "attribute2": "mood"})
    assert response.status_code == 404 and response.json() == {"error": "not_found"}


# ---- averages ----


def test_averages_newest_per_attribute_by_name(computed):
    """Without include_historical: each attribute's newest record, ordered by attribute name, objects as seeded."""
    results = ok(computed.get("averages/"))["results"]
    assert pairs(results) == [
        ("floors", "2026-11-29"),
        ("mood", "2026-11-22"),
        ("sleep", "2026-11-29"),
        ("steps", "2026-11-29"),
    ]
    assert results[-1] == average("steps", "2026-11-29", 4174.0)


def test_averages_historical_every_record_newest_first_per_attribute(computed):
    """include_historical: every record, by attribute name, then newest first."""
    for flag in ("1", "true"):
        results = ok(computed.get("averages/", params={"include_historical": flag}))["results"]
        assert pairs(results) == [
            ("floors", "2026-11-29"),
            ("mood", "2026-11-22"),
            ("sleep", "2026-11-29"),
            ("sleep", "2026-11-22"),
            ("steps", "2026-11-29"),
            ("steps", "2026-11-22"),
            ("steps", "2026-11-15"),
        ]
    assert len(ok(computed.get("averages/", params={"include_historical": "0"}))["results"]) == 4


def test_averages_date_bounds_are_inclusive(computed):
    """date_min and date_max bound `date`, both inclusive; the newest record is the newest within them."""
    newest = ok(computed.get("averages/", params={"date_max": "2026-11-22"}))["results"]
    assert pairs(newest) == [("mood", "2026-11-22"), ("sleep", "2026-11-22"), ("steps", "2026-11-22")]
    window = {"date_min": "2026-11-16", "date_max": "2026-11-22", "include_historical": "1"}
    assert pairs(ok(computed.get("averages/", params=window))["results"]) == [
        ("mood", "2026-11-22"),
        ("sleep", "2026-11-22"),
        ("steps", "2026-11-22"),
    ]
    since = ok(computed.get("averages/", params={"date_min": "2026-11-29", "include_historical": "1"}))["results"]
    assert pairs(since) == [("floors", "2026-11-29"), ("sleep", "2026-11-29"), ("steps", "2026-11-29")]
    assert ok(computed.get("averages/", params={"date_max": "2026-11-14"})) == EMPTY_PAGE


def test_averages_attributes_and_groups_filters(computed):
    """attributes and groups are comma lists; a group covers the template's group of an attribute the user lacks."""
    named = {"attributes": "steps,mood", "include_historical": "1"}
    assert [r["attribute"] for r in ok(computed.get("averages/", params=named))["results"]] == [
        "mood",
        "steps",
        "steps",
        "steps",
    ]
    activity = ok(computed.get("averages/", params={"groups": "activity"}))["results"]
    assert pairs(activity) == [("floors", "2026-11-29"), ("steps", "2026-11-29")]
    both = ok(computed.get("averages/", params={"groups": "sleep,mood"}))["results"]
    assert [r["attribute"] for r in both] == ["mood", "sleep"]
    crossed = {"groups": "activity", "attributes": "sleep,steps"}
    assert pairs(ok(computed.get("averages/", params=crossed))["results"]) == [("steps", "2026-11-29")]
    assert ok(computed.get("averages/", params={"attributes": "nope"})) == EMPTY_PAGE


def test_averages_read_scopes(computed):
    """Only attributes the token may read: activity_read gives steps and floors; manual_read the manual mood; a
    token without read scopes an empty page."""
    activity = ok(computed.get("averages/", "activity-token"))["results"]
    assert [r["attribute"] for r in activity] == ["floors", "steps"]
    assert [r["attribute"] for r in ok(computed.get("averages/", "manual-token"))["results"]] == ["mood"]
    assert ok(computed.get("averages/", "write-only-token")) == EMPTY_PAGE


def test_averages_paging_every_page(computed):
    """limit 2: four pages of the seven historical records, next links in alphabetical order, 404 past the end."""
    params = {"include_historical": "1", "limit": "2"}
    first = ok(computed.get("averages/", params=params))
    assert first["next"] == f"{computed.base}/api/2/averages/?include_historical=1&limit=2&page=2"
    results, pages = every_page(computed, "averages/", params)
    assert pages == 4
    assert results == ok(computed.get("averages/", params={"include_historical": "1", "limit": "100"}))["results"]
    assert computed.get("averages/", params={**params, "page": "5"}).status_code == 404


# ---- correlations ----


def test_correlations_order_and_objects(computed):
    """Newest date first, then attribute, then attribute2; the objects as seeded."""
    results = ok(computed.get("correlations/"))["results"]
    assert [(r["date"], r["attribute"], r["attribute2"]) for r in results] == [
        ("2026-11-30", "mood", "sleep"),
        ("2026-11-30", "sleep", "sleep_start"),
        ("2026-11-30", "steps", "sleep"),
        ("2026-11-29", "steps", "mood"),
        ("2026-11-28", "floors", "productive_min"),
    ]
    assert results[1] == CORRELATIONS[0]


def test_correlations_attribute_matches_either_side(computed):
    """attribute=sleep finds it as attribute and as attribute2."""
    results = ok(computed.get("correlations/", params={"attribute": "sleep"}))["results"]
    assert [(r["attribute"], r["attribute2"]) for r in results] == [
        ("mood", "sleep"),
        ("sleep", "sleep_start"),
        ("steps", "sleep"),
    ]
    assert ok(computed.get("correlations/", params={"attribute": "weight"})) == EMPTY_PAGE


def test_correlations_strong_and_confident(computed):
    """strong: |value| >= 0.3 (0.3 and -0.3 in, 0.2999 out); confident: five stars; both together."""
    strong = ok(computed.get("correlations/", params={"strong": "1"}))["results"]
    assert sorted(r["value"] for r in strong) == [-0.5577, -0.3, 0.3, 0.8]
    confident = ok(computed.get("correlations/", params={"confident": "true"}))["results"]
    assert sorted(r["value"] for r in confident) == [-0.5577, 0.2999, 0.8]
    both = ok(computed.get("correlations/", params={"strong": "true", "confident": "1"}))["results"]
    assert sorted(r["value"] for r in both) == [-0.5577, 0.8]
    narrowed = {"strong": "1", "confident": "1", "attribute": "sleep_start"}
    assert [r["value"] for r in ok(computed.get("correlations/", params=narrowed))["results"]] == [-0.5577]
    assert ok(computed.get("correlations/", params={"strong": "0", "confident": "false"}))["count"] == 5


def test_correlations_need_both_attributes_readable(computed):
    """sleep_read: only sleep with sleep_start (both in sleep); activity_read: nothing, as every correlation with
    steps or floors has its other side in a group it cannot read."""
    sleep = ok(computed.get("correlations/", "sleep-token"))["results"]
    assert [(r["attribute"], r["attribute2"]) for r in sleep] == [("sleep", "sleep_start")]
    assert ok(computed.get("correlations/", "activity-token")) == EMPTY_PAGE
    assert ok(computed.get("correlations/", "write-only-token")) == EMPTY_PAGE


def test_correlations_paging_every_page(computed):
    """limit 2: three pages, the same records in the same order as one page of 100."""
    results, pages = every_page(computed, "correlations/", {"limit": "2"})
    assert pages == 3
    assert results == ok(computed.get("correlations/", params={"limit": "100"}))["results"]


# ---- the combination ----


def test_combination_in_either_order(computed):
    """The one correlation of two attributes, whichever is named first."""
    one = ok(computed.get("correlations/combo/", params={"attribute": "sleep", "attribute2": "sleep_start"}))
    other = ok(computed.get("correlations/combo/", params={"attribute": "sleep_start", "attribute2": "sleep"}))
    assert one == other == CORRELATIONS[0]


@pytest.mark.parametrize(
    "first, second",
    [("steps", "weight"), ("sleep", "sleep"), ("nope", "steps"), ("mood", "sleep_start")],
)
def test_combination_not_found(computed, first, second):
    """No such combination (an attribute with itself, an unknown name): 404 {"error": "not_found"}."""
    response = computed.get("correlations/combo/", params={"attribute": first, "attribute2": second})
    assert response.status_code == 404 and response.json() == {"error": "not_found"}


def test_combination_needs_one_readable_attribute(computed):
    """The docs: a result only if at least one of the two is readable. sleep_read sees steps with sleep; a token
    that reads neither gets 404 not_found."""
    params = {"attribute": "steps", "attribute2": "sleep"}
    assert ok(computed.get("correlations/combo/", "sleep-token", params=params))["value"] == -0.3
    assert ok(computed.get("correlations/combo/", "activity-token", params=params))["value"] == -0.3
    hidden = computed.get("correlations/combo/", "write-only-token", params=params)
    assert hidden.status_code == 404 and hidden.json() == {"error": "not_found"}
    unreadable = {"attribute": "productive_min", "attribute2": "floors"}
    assert ok(computed.get("correlations/combo/", "activity-token", params=unreadable))["value"] == 0.8
    neither = computed.get("correlations/combo/", "sleep-token", params=unreadable)
    assert neither.status_code == 404 and neither.json() == {"error": "not_found"}


@pytest.mark.parametrize(
    "params",
    [{}, {"attribute": "sleep"}, {"attribute2": "sleep"}, {"attribute": "", "attribute2": "sleep"}],
)
def test_combination_without_both_parameters_is_400(computed, params):
    """A missing (or empty) parameter: 400 with a JSON {"error": ...}."""
    response = computed.get("correlations/combo/", params=params)
    assert response.status_code == 400 and "attribute2" in response.json()["error"]


# ---- insights ----


def test_insights_newest_created_first(computed):
    """Ordered by the moment `created` names (offsets count), objects as seeded."""
    results = ok(computed.get("insights/"))["results"]
    assert [r["text"] for r in results] == ["a", "b", "c", "e", "d"]
    assert results[0] == INSIGHTS[0]


def test_insights_date_bounds_and_priority(computed):
    """date_min and date_max bound target_date, inclusive; priority picks one priority."""
    window = {"date_min": "2026-11-23", "date_max": "2026-11-29"}
    assert [r["text"] for r in ok(computed.get("insights/", params=window))["results"]] == ["c", "e"]
    assert [r["text"] for r in ok(computed.get("insights/", params={"date_min": "2026-11-30"}))["results"]] == [
        "a",
        "b",
    ]
    assert [r["text"] for r in ok(computed.get("insights/", params={"date_max": "2026-11-16"}))["results"]] == ["d"]
    for priority, texts in (("1", ["a", "b"]), ("2", ["c"]), ("3", ["e"]), ("4", ["d"])):
        assert [r["text"] for r in ok(computed.get("insights/", params={"priority": priority}))["results"]] == texts
    both = {"priority": "1", "date_max": "2026-11-29"}
    assert ok(computed.get("insights/", params=both)) == EMPTY_PAGE


def test_insights_read_scopes(computed):
    """An insight about an unreadable attribute is left out; one about no attribute is always shown."""
    assert [r["text"] for r in ok(computed.get("insights/", "sleep-token"))["results"]] == ["a", "c"]
    assert [r["text"] for r in ok(computed.get("insights/", "activity-token"))["results"]] == ["b", "c"]
    assert [r["text"] for r in ok(computed.get("insights/", "manual-token"))["results"]] == ["c", "d"]
    assert [r["text"] for r in ok(computed.get("insights/", "write-only-token"))["results"]] == ["c"]


def test_insights_paging_every_page(computed):
    """limit 2: three pages, the same records as one page."""
    results, pages = every_page(computed, "insights/", {"limit": "2", "date_min": "2026-11-01"})
    assert pages == 3 and [r["text"] for r in results] == ["a", "b", "c", "e", "d"]


# ---- errors, authentication, rate limits, faults, the log ----


@pytest.mark.parametrize(
    "path, params, named",
    [
        ("averages/", {"date_min": "2026-13-01"}, "date_min"),
        ("averages/", {"date_max": "yesterday"}, "date_max"),
        ("insights/", {"date_min": "2026-11"}, "date_min"),
        ("insights/", {"date_max": ""}, "date_max"),
        ("insights/", {"priority": "x"}, "priority"),
        ("insights/", {"priority": "0"}, "priority"),
        ("insights/", {"priority": "5"}, "priority"),
    ],
)
def test_unparsable_parameters_are_400(computed, path, params, named):
    """A date or number the server cannot use: 400 with a JSON {"error": ...} naming the parameter."""
    response = computed.get(path, params=params)
    assert response.status_code == 400 and named in response.json()["error"]


@pytest.mark.parametrize("path", ["averages/", "correlations/", "correlations/combo/", "insights/"])
def test_authenticated_like_every_read(computed, path):
    """No token, an unknown one, or an OAuth2 token sent as a simple one: 401 Invalid token. A simple token reads."""
    params = {"attribute": "sleep", "attribute2": "sleep_start"}
    for tok, scheme in ((None, "Bearer"), ("nope", "Bearer"), ("demo-token", "Token")):
        response = computed.get(path, tok, params=params, scheme=scheme)
        assert response.status_code == 401 and response.json() == {"detail": "Invalid token."}
    assert computed.get(path, "simple-token", params=params, scheme="Token").status_code == 200
    assert computed.get(path, "demo-token", params=params).status_code == 200


def test_rate_limited_faultable_and_logged(computed):
    """The new paths count against the rate limit, take queued faults, and are logged with their query."""
    computed.admin.clear_requests()
    computed.get("averages/", params={"include_historical": "1"})
    computed.get("correlations/combo/", params={"attribute": "steps", "attribute2": "mood"})
    log = computed.admin.requests()
    assert [(r["path"], r["query"], r["status"], r["user"]) for r in log] == [
        ("/api/2/averages/", {"include_historical": "1"}, 200, "demo"),
        ("/api/2/correlations/combo/", {"attribute": "steps", "attribute2": "mood"}, 200, "demo"),
    ]
    computed.admin.faults({"path": "/api/2/insights/", "status": 503})
    assert computed.get("insights/").status_code == 503
    assert computed.get("insights/").status_code == 200
    computed.admin.config(rate_limit=2)
    assert computed.get("averages/").status_code == 200
    assert computed.get("correlations/").status_code == 200
    throttled = computed.get("insights/")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]


def test_only_get(computed):
    """They are reads: another method is 405."""
    assert computed.post("averages/", []).status_code == 405


# ---- the seed and the state ----


def test_state_round_trip(computed):
    """state() holds the three lists as seeded; loading it again gives the same state and the same answers."""
    state = computed.admin.state()
    demo = state["users"][0]
    assert demo["averages"] == AVERAGES and demo["correlations"] == CORRELATIONS and demo["insights"] == INSIGHTS
    answers = [ok(computed.get(p, params={"limit": "100"})) for p in ("averages/", "correlations/", "insights/")]
    computed.admin.reset(state)
    assert computed.admin.state() == state
    assert [
        ok(computed.get(p, params={"limit": "100"})) for p in ("averages/", "correlations/", "insights/")
    ] == answers


def test_state_leaves_out_empty_lists(exist):
    """A user without records has no such keys in the state (like an attribute without values)."""
    for user in exist.admin.state()["users"]:
        assert not {"averages", "correlations", "insights"} & set(user)


def test_short_records_are_filled_with_null(exist):
    """Keys a seed leaves out are served as null, so every object has the API's keys."""
    seed = computed_seed(
        averages=[{"attribute": "steps", "date": "2026-11-29", "overall": 1.0}],
        correlations=[{"date": "2026-11-30", "attribute": "steps", "attribute2": "sleep", "value": 0.5, "stars": 2}],
        insights=[
            {"created": "2026-11-30T10:00:00Z", "target_date": "2026-11-30", "type": {"name": "t", "priority": 1}}
        ],
    )
    exist.admin.reset(seed)
    assert ok(exist.get("averages/"))["results"] == [
        {"attribute": "steps", "date": "2026-11-29", "overall": 1.0, **dict.fromkeys(WEEK)}
    ]
    (found,) = ok(exist.get("correlations/"))["results"]
    assert set(found) == set(CORRELATIONS[0]) and found["p"] is None and found["second_person_elements"] is None
    (shown,) = ok(exist.get("insights/"))["results"]
    assert shown["type"]["attribute"] is None and shown["html"] is None and shown["text"] is None


def test_yaml_seed_with_unquoted_dates(exist):
    """The contract's YAML, with unquoted dates and timestamps, loads; dates are served as YYYY-MM-DD text."""
    exist.admin.reset(
        """
services: [{name: demo_service, label: Demo}]
users:
  - username: alice
    tokens: [{token: alice-token, service: demo_service, scopes: [all], refresh_token: r}]
    attributes: [{template: steps}, {template: sleep}]
    averages:
      - {attribute: steps, date: 2026-11-29, overall: 4174.0, monday: 4057.0, tuesday: 6614.0,
         wednesday: 4001.0, thursday: 3923.0, friday: 4528.0, saturday: 3649.0, sunday: 3904.0}
    correlations:
      - {date: 2026-11-30, period: 309, offset: 0, attribute: sleep, attribute2: sleep_start,
         value: -0.5577, p: 1.15e-26, percentage: 55.77, stars: 5,
         second_person: 'you spend more time asleep when you go to bed earlier.',
         second_person_elements: ['you spend more time asleep', 'when', 'you go to bed earlier'],
         attribute_category: null, strength_description: 'Quite often go together',
         stars_description: 'Certain to be related', description: null, occurrence: null, rating: null}
    insights:
      - {created: 2026-11-30T13:17:03+00:00, target_date: 2026-11-30,
         type: {name: dow_sleep, period: 1, priority: 1,
                attribute: {name: sleep, label: 'Time asleep', group: {name: sleep, label: Sleep, priority: 3},
                            priority: 1, value_type: 3, value_type_description: 'Period (min)'}},
         html: '<div>...</div>', text: "Last night's sleep was surprisingly long."}
"""
    )
    assert ok(exist.get("averages/", "alice-token"))["results"][0]["date"] == "2026-11-29"
    assert ok(exist.get("correlations/", "alice-token"))["results"][0]["p"] == 1.15e-26
    (shown,) = ok(exist.get("insights/", "alice-token"))["results"]
    assert shown["target_date"] == "2026-11-30" and shown["created"].startswith("2026-11-30")


BAD_RECORDS = [
    ("averages", [{"date": "2026-11-29"}], "users[0].averages[0]: missing key 'attribute'"),
    ("averages", [{"attribute": "steps", "date": "2026-11-31"}], "bad date"),
    ("averages", [{"attribute": "steps", "date": "2026-11-29", "overall": "many"}], "overall must be a number"),
    ("averages", [{"attribute": "steps", "date": "2026-11-29", "weekly": 1}], "unknown key(s) weekly"),
    ("averages", [{"attribute": "nope", "date": "2026-11-29"}], "'nope' is neither"),
    ("averages", [average("steps", "2026-11-29", 1.0)] * 2, "averages[1]: a second average"),
    ("averages", {"attribute": "steps"}, "users[0].averages: must be a list"),
    ("correlations", [{**CORRELATIONS[0], "value": 1.5}], "value must be a number from -1 to 1"),
    ("correlations", [{**CORRELATIONS[0], "stars": 6}], "stars must be an integer from 0 to 5"),
    ("correlations", [{**CORRELATIONS[0], "attribute2": "sleep"}], "must differ"),
    ("correlations", [{**CORRELATIONS[0], "second_person_elements": "x"}], "second_person_elements"),
    ("correlations", [{**CORRELATIONS[0], "period": 1.5}], "period must be an integer"),
    (
        "correlations",
        [CORRELATIONS[0], {**CORRELATIONS[0], "attribute": "sleep_start", "attribute2": "sleep"}],
        "correlations[1]: a second correlation",
    ),
    ("correlations", [{k: v for k, v in CORRELATIONS[0].items() if k != "stars"}], "missing key 'stars'"),
    ("insights", [{**INSIGHTS[0], "created": "soon"}], "created 'soon' is not an ISO 8601"),
    ("insights", [{**INSIGHTS[0], "type": {"name": "t", "priority": 5}}], "type.priority must be 1, 2, 3 or 4"),
    ("insights", [{**INSIGHTS[0], "type": {"priority": 1}}], "type.name"),
    ("insights", [{**INSIGHTS[0], "type": {"name": "t", "priority": 1, "attribute": {"name": "nope"}}}], "nope"),
    ("insights", [{**INSIGHTS[0], "text": 3}], "text must be a string or null"),
]


@pytest.mark.parametrize("key, records, message", BAD_RECORDS)
def test_bad_records_refuse_the_seed(exist, key, records, message):
    """A malformed record refuses the whole seed with a 400 that says where and what; the world stays as it was."""
    before = exist.admin.state()
    with pytest.raises(AdminError) as refused:
        exist.admin.reset(computed_seed(**{key: records}))
    assert refused.value.status == 400 and message in refused.value.detail
    assert exist.admin.state() == before
