"""The emulator's clock (GET/POST /_emulator/clock) and token expiry by that clock."""

from __future__ import annotations

import datetime

import pytest
import requests
from emulator_helpers import seed_with

from exist_emulator.admin import AdminError

UTC = datetime.timezone.utc


def moment(text: str) -> datetime.datetime:
    """An ISO 8601 UTC text with Z as a datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def oauth(exist, **form) -> requests.Response:
    """POST form fields to /oauth2/access_token."""
    return exist.http.post(exist.base + "/oauth2/access_token", data=form, timeout=10)


def expiring_seed(**expiry) -> dict:
    """The minimal seed, with demo-token given `expiry` (expires_at or expires_in_days)."""
    seed = seed_with([{"template": "coffees", "service": "demo_service"}])
    seed["users"][0]["tokens"][0].update(expiry)
    return seed


def test_clock_starts_at_real_time_with_zero_offset(exist):
    """GET /_emulator/clock answers the real time in UTC (ISO 8601 with Z) and offset 0."""
    before = datetime.datetime.now(UTC).replace(microsecond=0)
    clock = exist.admin.clock()
    after = datetime.datetime.now(UTC)
    assert set(clock) == {"now", "offset_seconds"}
    assert clock["offset_seconds"] == 0
    assert clock["now"].endswith("Z")
    assert before <= moment(clock["now"]) <= after


def test_advance_seconds_and_days_add_up(exist):
    """advance_seconds and advance_days move the clock forward by that much, one call after another."""
    assert exist.admin.advance(seconds=90)["offset_seconds"] == 90
    clock = exist.admin.advance(days=1)
    assert clock["offset_seconds"] == 86490
    real = datetime.datetime.now(UTC)
    assert abs((moment(clock["now"]) - real).total_seconds() - 86490) < 5
    assert exist.admin.call("POST", "clock", {"advance_days": 1, "advance_seconds": -90})["offset_seconds"] == 172800
    assert exist.admin.advance(days=-2)["offset_seconds"] == 0


def test_set_now_moves_the_clock_to_that_moment(exist):
    """{"now": ISO 8601} sets the clock there (Z, an offset, or a datetime); it runs on from there."""
    clock = exist.admin.set_now("2027-11-28T10:00:00Z")
    assert clock["now"] in ("2027-11-28T10:00:00Z", "2027-11-28T10:00:01Z")
    assert abs(clock["offset_seconds"] - (moment(clock["now"]) - datetime.datetime.now(UTC)).total_seconds()) < 5
    assert exist.admin.set_now("2027-11-28T12:00:00+02:00")["now"].startswith("2027-11-28T10:00:0")
    assert exist.admin.set_now(datetime.datetime(2030, 1, 2, 3, 4, 5))["now"].startswith("2030-01-02T03:04:0")
    assert exist.admin.clock()["now"].startswith("2030-01-02T03:04:")


def test_reset_resets_the_clock(exist):
    """POST /_emulator/reset puts the clock back to the real time."""
    exist.admin.advance(days=400)
    exist.admin.reset()
    assert exist.admin.clock()["offset_seconds"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"now": "tomorrow"},
        {"now": 5},
        {"now": "2027-01-01T00:00:00Z", "advance_days": 1},
        {"advance_days": "1"},
        {"advance_seconds": True},
        {"advance_minutes": 5},
        {"advance_days": 10**9},
    ],
)
def test_clock_bad_bodies_are_400_and_leave_the_clock(exist, body):
    """A clock body that is not one of the three forms (or moves it out of range) is 400; the clock stays."""
    with pytest.raises(AdminError) as info:
        exist.admin.call("POST", "clock", body)
    assert info.value.status == 400 and info.value.detail
    assert exist.admin.clock()["offset_seconds"] == 0


def test_clock_moves_the_users_today(exist):
    """The profile's local_time and the default date of increment follow the clock, in the user's timezone."""
    exist.admin.set_now("2027-11-28T23:30:00Z")  # Europe/London is UTC in November
    assert exist.get("accounts/profile/").json()["local_time"].startswith("2027-11-28T23:30")
    assert exist.post("attributes/increment/", [{"name": "coffees", "value": 1}]).status_code == 200
    exist.admin.advance(seconds=3600)
    assert exist.get("accounts/profile/").json()["local_time"].startswith("2027-11-29T00:30")
    assert exist.post("attributes/increment/", [{"name": "coffees", "value": 2}]).status_code == 200
    values = exist.attribute("coffees")["values"]
    assert values["2027-11-28"] == 1 and values["2027-11-29"] == 2
    with_values = exist.get("attributes/with-values/", params={"attributes": "coffees", "days": 2}).json()
    assert with_values["results"][0]["values"] == [
        {"date": "2027-11-29", "value": 2},
        {"date": "2027-11-28", "value": 1},
    ]


def test_expired_token_is_401_from_expires_at_on(exist):
    """A token works until the second before expires_at and gets 401 {"detail": "Invalid token."} from it on."""
    exist.admin.reset(expiring_seed(expires_at="2027-01-01T00:00:00Z"))
    exist.admin.set_now("2026-12-31T23:59:58Z")
    assert exist.get("accounts/profile/").status_code == 200
    exist.admin.set_now("2027-01-01T00:00:00Z")
    response = exist.get("accounts/profile/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    write = exist.post("attributes/increment/", [{"name": "coffees", "value": 1}])
    assert write.status_code == 401 and write.json() == {"detail": "Invalid token."}
    assert "values" not in exist.attribute("coffees")
    # Logged like an unknown token: no user, no service.
    assert [(e["status"], e["user"]) for e in exist.admin.requests()] == [(200, "demo"), (401, None), (401, None)]
    # Moving the clock back revives it (expiry is only a comparison with the clock).
    exist.admin.set_now("2026-12-31T23:59:58Z")
    assert exist.get("accounts/profile/").status_code == 200


def test_expired_token_does_not_count_against_the_rate_limit(exist):
    """Requests with an expired token are refused before the rate limit counts them."""
    exist.admin.reset(expiring_seed(expires_at="2027-01-01T00:00:00Z"))
    exist.admin.config(rate_limit=1)
    exist.admin.set_now("2027-01-01T00:00:00Z")
    for dummy in range(3):
        assert exist.get("accounts/profile/").status_code == 401
    exist.admin.set_now("2026-12-31T12:00:00Z")
    assert exist.get("accounts/profile/").status_code == 200


def test_expires_in_days_counts_from_the_reset(exist):
    """expires_in_days: the token expires that many days after the seed is loaded (state shows expires_at)."""
    before = datetime.datetime.now(UTC).replace(microsecond=0)
    exist.admin.reset(expiring_seed(expires_in_days=2))
    after = datetime.datetime.now(UTC)
    expires_at = moment(exist.admin.state()["users"][0]["tokens"][0]["expires_at"])
    assert before + datetime.timedelta(days=2) <= expires_at <= after + datetime.timedelta(days=2)
    exist.admin.set_now(expires_at - datetime.timedelta(seconds=2))
    assert exist.get("accounts/profile/").status_code == 200
    exist.admin.set_now(expires_at)
    assert exist.get("accounts/profile/").status_code == 401


def test_seeded_tokens_without_expiry_never_expire(exist):
    """A token seeded without an expiry has the far-future one: it still works a century on; state omits it."""
    exist.admin.advance(days=36500)
    assert exist.get("accounts/profile/").status_code == 200
    assert exist.get("accounts/profile/", "reader-simple-token", scheme="Token").status_code == 200
    tokens = [t for u in exist.admin.state()["users"] for t in u["tokens"]]
    assert tokens and all("expires_at" not in t for t in tokens)


def test_state_round_trips_expiry(exist):
    """A seeded expires_at comes back from the state as ISO 8601 UTC with Z and loads again unchanged."""
    exist.admin.reset(expiring_seed(expires_at="2027-06-01T14:00:00+02:00"))
    state = exist.admin.state()
    assert state["users"][0]["tokens"][0]["expires_at"] == "2027-06-01T12:00:00Z"
    exist.admin.reset(state)
    assert exist.admin.state() == state


@pytest.mark.parametrize(
    "expiry",
    [
        {"expires_at": "soon"},
        {"expires_at": 5},
        {"expires_in_days": "2"},
        {"expires_in_days": True},
        {"expires_at": "2027-01-01T00:00:00Z", "expires_in_days": 1},
    ],
)
def test_bad_expiry_in_a_seed_is_400(exist, expiry):
    """A seed with an expiry that is not a moment or a number of days (or both) is refused, the world kept."""
    with pytest.raises(AdminError) as info:
        exist.admin.reset(expiring_seed(**expiry))
    assert info.value.status == 400 and "expires" in info.value.detail
    assert exist.get("accounts/profile/").status_code == 200


def test_issued_token_expires_a_year_after_issue_by_the_clock(exist):
    """expires_in is the whole seconds to an expiry 365 days after issue (by the clock); 401 from then on."""
    exist.admin.set_now("2027-03-01T12:00:00Z")
    response = oauth(
        exist, grant_type="authorization_code", code="demo-code", client_id="demo-client", client_secret="demo-secret"
    )
    body = response.json()
    assert 31535998 <= body["expires_in"] <= 31536000
    token = next(t for t in exist.admin.state()["users"][0]["tokens"] if t["token"] == body["access_token"])
    expires_at = moment(token["expires_at"])
    assert expires_at in (moment("2028-02-29T12:00:00Z"), moment("2028-02-29T12:00:01Z"))
    exist.admin.set_now(expires_at - datetime.timedelta(seconds=2))
    assert exist.get("accounts/profile/", body["access_token"]).status_code == 200
    exist.admin.set_now(expires_at)
    assert exist.get("accounts/profile/", body["access_token"]).status_code == 401


def test_expired_access_token_still_refreshes(exist):
    """Refresh tokens do not expire: an expired pair refreshes, and the new token expires a year after that."""
    exist.admin.reset(expiring_seed(expires_at="2027-01-01T00:00:00Z"))
    exist.admin.set_now("2028-06-01T00:00:00Z")
    assert exist.get("accounts/profile/").status_code == 401
    response = oauth(
        exist,
        grant_type="refresh_token",
        refresh_token="demo-refresh",
        client_id="demo-client",
        client_secret="demo-secret",
    )
    assert response.status_code == 200
    new = response.json()
    assert exist.get("accounts/profile/", new["access_token"]).status_code == 200
    token = next(t for t in exist.admin.state()["users"][0]["tokens"] if t["token"] == new["access_token"])
    assert token["expires_at"] in ("2029-06-01T00:00:00Z", "2029-06-01T00:00:01Z")


def test_rate_window_follows_the_clock(exist):
    """The rolling hour of the rate limit is measured by the clock: advancing an hour frees the token."""
    exist.admin.config(rate_limit=2)
    assert [exist.get("accounts/profile/").status_code for dummy in range(3)] == [200, 200, 429]
    exist.admin.advance(seconds=3601)
    assert exist.get("accounts/profile/").status_code == 200


def test_moving_the_clock_back_clears_the_rate_counters(exist):
    """Moving the clock back forgets the counted requests (they would lie in the future)."""
    exist.admin.config(rate_limit=1)
    assert [exist.get("accounts/profile/").status_code for dummy in range(2)] == [200, 429]
    exist.admin.advance(seconds=-60)
    assert exist.get("accounts/profile/").status_code == 200
