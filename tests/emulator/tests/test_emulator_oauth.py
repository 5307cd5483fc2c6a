"""Authorising without a browser (POST /_emulator/authorize), what the code exchange checks, and refresh rotation."""

from __future__ import annotations

import pytest
import requests

from exist_emulator import api
from exist_emulator.admin import AdminError
from exist_emulator.world import default_seed, world_from_seed

CALLBACK = "https://app.example/callback"


def oauth(exist, **form) -> requests.Response:
    """POST form fields to /oauth2/access_token."""
    return exist.http.post(exist.base + "/oauth2/access_token", data=form, timeout=10)


def exchange(exist, code: str, client: str = "demo", **extra) -> requests.Response:
    """Exchange a code as `client` (demo or withings, with its right secret unless `client_secret` is given)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": f"{client}-client",
        "client_secret": f"{client}-secret",
    }
    form.update(extra)
    return oauth(exist, **form)


def refresh(exist, refresh_token: str) -> requests.Response:
    """Refresh as demo-client."""
    return oauth(
        exist,
        grant_type="refresh_token",
        refresh_token=refresh_token,
        client_id="demo-client",
        client_secret="demo-secret",
    )


def test_authorize_code_exchanges_once(exist):
    """A code from Admin.authorize becomes a pair for that user with those scopes; a second exchange is refused."""
    code = exist.admin.authorize("demo-client", "reader", ["mood_read", "mood_write"])
    assert isinstance(code, str) and code
    response = exchange(exist, code)
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "mood_read mood_write" and body["token_type"] == "Bearer"
    assert exist.get("accounts/profile/", body["access_token"]).json()["username"] == "reader"
    # Its scopes are the ones granted: mood is readable, steps (activity) is not.
    names = [a["name"] for a in exist.get("attributes/", body["access_token"]).json()["results"]]
    assert names == ["mood"]
    again = exchange(exist, code)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}


def test_authorize_codes_differ_and_stay_pending(exist):
    """Every authorize call makes a new code; pending codes show in the state (with redirect_uri when given)."""
    first = exist.admin.authorize("demo-client", "demo", ["all"])
    second = exist.admin.authorize("demo-client", "demo", ["all"], redirect_uri=CALLBACK)
    assert first != second
    codes = {c["code"]: c for c in exist.admin.state()["clients"][0]["codes"]}
    assert codes[first] == {"code": first, "user": "demo", "scopes": ["all"]}
    assert codes[second] == {"code": second, "user": "demo", "scopes": ["all"], "redirect_uri": CALLBACK}
    # The state loads again with its pending codes.
    exist.admin.reset(exist.admin.state())
    assert exchange(exist, second, redirect_uri=CALLBACK).status_code == 200


def test_code_of_another_client_is_invalid_grant_and_stays_usable(exist):
    """Another client (with its right secret) presenting the code gets 400 invalid_grant; its own client still can."""
    code = exist.admin.authorize("demo-client", "demo", ["all"])
    response = exchange(exist, code, client="withings")
    assert response.status_code == 400 and response.json() == {"error": "invalid_grant"}
    assert exchange(exist, code).status_code == 200


def test_redirect_uri_must_match_the_authorisation(exist):
    """A code issued with a redirect_uri is refused (400 invalid_grant) with another one or none; the right one works."""
    code = exist.admin.authorize("demo-client", "demo", ["all"], redirect_uri=CALLBACK)
    for extra in ({"redirect_uri": "https://evil.example/callback"}, {}, {"redirect_uri": CALLBACK + "/"}):
        response = exchange(exist, code, **extra)
        assert response.status_code == 400, extra
        assert response.json() == {"error": "invalid_grant"}
    assert exchange(exist, code, redirect_uri=CALLBACK).status_code == 200


def test_code_without_redirect_uri_takes_any(exist):
    """A code authorised without a redirect_uri (like the seeded ones) is exchanged whatever redirect_uri is sent."""
    code = exist.admin.authorize("demo-client", "demo", ["all"])
    assert exchange(exist, code, redirect_uri="http://localhost/anything").status_code == 200


def test_wrong_secret_or_unknown_client_is_invalid_client_and_keeps_the_code(exist):
    """A wrong client_secret or an unknown client_id is 401 invalid_client, and the code is not spent."""
    code = exist.admin.authorize("demo-client", "demo", ["all"])
    wrong = exchange(exist, code, client_secret="nope")
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
    unknown = exchange(exist, code, client_id="nobody")
    assert unknown.status_code == 401 and unknown.json() == {"error": "invalid_client"}
    missing = oauth(exist, grant_type="authorization_code", code=code, client_id="demo-client")
    assert missing.status_code == 401
    assert exchange(exist, code).status_code == 200


def test_unknown_code_is_invalid_grant(exist):
    """A code nobody issued is 400 invalid_grant."""
    response = exchange(exist, "made-up")
    assert response.status_code == 400 and response.json() == {"error": "invalid_grant"}


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "nobody", "username": "demo", "scopes": ["all"]},
        {"client_id": "demo-client", "username": "nobody", "scopes": ["all"]},
        {"client_id": "demo-client", "username": "demo", "scopes": []},
        {"client_id": "demo-client", "username": "demo", "scopes": "all"},
        {"client_id": "demo-client", "username": "demo", "scopes": ["mood_read", "moods_write"]},
        {"client_id": "demo-client", "username": "demo", "scopes": ["all"], "redirect_uri": 5},
        {"client_id": "demo-client", "username": "demo", "scopes": ["all"], "state": "x"},
        {"username": "demo", "scopes": ["all"]},
        ["demo-client"],
    ],
)
def test_authorize_refuses_malformed_requests(exist, body):
    """Unknown client, user or scope, missing or mistyped fields, unknown keys: 400 with a detail, no code made."""
    with pytest.raises(AdminError) as info:
        exist.admin.call("POST", "authorize", body)
    assert info.value.status == 400 and info.value.detail
    assert [c["code"] for c in exist.admin.state()["clients"][0]["codes"]] == ["demo-code"]


def test_refresh_rotates_both_tokens_at_once(exist):
    """One refresh: both old tokens stop working at once, the new pair differs from the old in both halves."""
    response = refresh(exist, "demo-refresh")
    assert response.status_code == 200
    new = response.json()
    assert new["access_token"] != "demo-token" and new["refresh_token"] != "demo-refresh"
    assert exist.get("accounts/profile/", "demo-token").status_code == 401
    old = refresh(exist, "demo-refresh")
    assert old.status_code == 400 and old.json() == {"error": "invalid_grant"}
    assert exist.get("accounts/profile/", new["access_token"]).status_code == 200
    demo_tokens = [t for t in exist.admin.state()["users"][0]["tokens"] if t["service"] == "demo_service"]
    assert [(t["token"], t["refresh_token"]) for t in demo_tokens] == [(new["access_token"], new["refresh_token"])]
    # Same scopes as the old pair; the new refresh token works once in turn.
    assert new["scope"] == "all"
    assert refresh(exist, new["refresh_token"]).status_code == 200
    assert refresh(exist, new["refresh_token"]).status_code == 400


def test_refresh_of_an_issued_pair_after_an_authorize(exist):
    """The whole flow: authorize, exchange, refresh; every superseded token is refused."""
    code = exist.admin.authorize("demo-client", "demo", ["all"], redirect_uri=CALLBACK)
    first = exchange(exist, code, redirect_uri=CALLBACK).json()
    second = refresh(exist, first["refresh_token"]).json()
    assert exist.get("accounts/profile/", first["access_token"]).status_code == 401
    assert refresh(exist, first["refresh_token"]).status_code == 400
    assert exist.get("accounts/profile/", second["access_token"]).json()["username"] == "demo"
    # The seeded pair of the same user and service is untouched: pairs rotate one by one.
    assert exist.get("accounts/profile/", "demo-token").status_code == 200


def test_refresh_token_lookup_is_by_dict_not_a_scan():
    """Refreshing finds the token through the (service, refresh token) index, never by iterating every token."""

    class NoScan(dict):
        def values(self):
            raise AssertionError("the tokens were scanned")

        def __iter__(self):
            raise AssertionError("the tokens were scanned")

    world = world_from_seed(default_seed())
    world.tokens = NoScan(world.tokens)
    status, body = api.access_token(
        world,
        {
            "grant_type": "refresh_token",
            "refresh_token": "demo-refresh",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
        },
    )
    assert status == 200
    assert world.refresh_index[("demo_service", body["refresh_token"])] == body["access_token"]
    assert ("demo_service", "demo-refresh") not in world.refresh_index
    assert "demo-token" not in dict.keys(world.tokens)
