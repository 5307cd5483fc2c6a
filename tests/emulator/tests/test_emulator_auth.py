"""Tokens, simple tokens, rate limiting and the OAuth2 token endpoint."""

from __future__ import annotations

import time

import requests


def oauth(exist, **form) -> requests.Response:
    """POST form fields to /oauth2/access_token."""
    return exist.http.post(exist.base + "/oauth2/access_token", data=form, timeout=10)


def test_missing_or_invalid_token_is_401(exist):
    """No token, an unknown token, or a bad scheme: 401 {"detail": "Invalid token."}."""
    for token, scheme in ((None, "Bearer"), ("wrong", "Bearer"), ("demo-token", "Basic")):
        response = exist.get("attributes/", token, scheme=scheme)
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid token."}
    assert exist.post("attributes/acquire/", [{"name": "steps"}], token="wrong").status_code == 401


def test_simple_token_reads_but_never_writes(exist):
    """A simple token reads (with its Token prefix) but every write gets 403 with a detail, nothing applied."""
    reader = exist.get("attributes/", "reader-simple-token", scheme="Token")
    assert reader.status_code == 200 and reader.json()["count"] == 2
    for path in ("acquire", "release", "create", "update", "increment"):
        response = exist.post(f"attributes/{path}/", [{"name": "steps"}], token="reader-simple-token", scheme="Token")
        assert response.status_code == 403, path
        assert response.json()["detail"]
    assert exist.attribute("steps", user="reader")["service"] == "withings"


def test_simple_token_with_bearer_prefix_is_401(exist):
    """A simple token sent as "Bearer" is refused exactly like an unknown token, for reads and writes."""
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = exist.get("accounts/profile/", "reader-simple-token", scheme=scheme)
        assert response.status_code == 401, scheme
        assert response.json() == {"detail": "Invalid token."}
    write = exist.post("attributes/acquire/", [{"name": "steps"}], token="reader-simple-token", scheme="Bearer")
    assert write.status_code == 401 and write.json() == {"detail": "Invalid token."}
    # The right prefix, in any case, still works.
    for scheme in ("Token", "token", "TOKEN"):
        assert exist.get("accounts/profile/", "reader-simple-token", scheme=scheme).json()["username"] == "reader"


def test_oauth2_token_with_token_prefix_is_401(exist):
    """An OAuth2 access token sent as "Token" is refused exactly like an unknown token; nothing is applied."""
    for scheme in ("Token", "token", "TOKEN"):
        response = exist.get("accounts/profile/", "demo-token", scheme=scheme)
        assert response.status_code == 401, scheme
        assert response.json() == {"detail": "Invalid token."}
    write = exist.post("attributes/acquire/", [{"name": "steps"}], scheme="Token")
    assert write.status_code == 401 and write.json() == {"detail": "Invalid token."}
    assert exist.attribute("steps")["service"] == "withings"
    # A token issued by the OAuth2 endpoint follows the same rule.
    issued = oauth(
        exist,
        grant_type="refresh_token",
        refresh_token="withings-refresh",
        client_id="withings-client",
        client_secret="withings-secret",
    ).json()["access_token"]
    assert exist.get("accounts/profile/", issued, scheme="Token").status_code == 401
    assert exist.get("accounts/profile/", issued, scheme="Bearer").status_code == 200
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert exist.get("accounts/profile/", "demo-token", scheme=scheme).status_code == 200


def test_wrong_prefix_is_logged_anonymously_and_not_counted(exist):
    """A wrong-prefix request is logged with no user or service, and does not count against the token's limit."""
    exist.admin.config(rate_limit=1)
    mark = {"probe": "wrong-prefix"}  # this test's requests, whatever else the shared server logs meanwhile
    assert exist.get("accounts/profile/", "demo-token", scheme="Token", params=mark).status_code == 401
    assert exist.get("accounts/profile/", "reader-simple-token", scheme="Bearer", params=mark).status_code == 401
    assert exist.get("accounts/profile/", "demo-token", params=mark).status_code == 200
    assert exist.get("accounts/profile/", "reader-simple-token", scheme="Token", params=mark).status_code == 200
    assert [(e["status"], e["user"], e["service"]) for e in exist.admin.requests() if e["query"] == mark] == [
        (401, None, None),
        (401, None, None),
        (200, "demo", "demo_service"),
        (200, "reader", None),
    ]


def test_faulted_request_identified_only_with_right_prefix(exist):
    """A faulted request is logged with its user and service when the prefix fits the token kind, else anonymously."""
    exist.admin.faults({"path": "/api/2/accounts/", "status": 503, "times": 4})
    mark = {"probe": "faulted-prefix"}
    for token, scheme in (
        ("demo-token", "Bearer"),
        ("demo-token", "Token"),
        ("reader-simple-token", "Token"),
        ("reader-simple-token", "Bearer"),
    ):
        assert exist.get("accounts/profile/", token, scheme=scheme, params=mark).status_code == 503
    assert [(e["status"], e["user"], e["service"]) for e in exist.admin.requests() if e["query"] == mark] == [
        (503, "demo", "demo_service"),
        (503, None, None),
        (503, "reader", None),
        (503, None, None),
    ]


def test_rate_limit_429_with_retry_after(exist):
    """Over the limit a token gets 429 with Retry-After and a detail; other tokens and the admin API are unaffected."""
    exist.admin.config(rate_limit=3)
    for dummy in range(3):
        assert exist.get("accounts/profile/").status_code == 200
        exist.admin.state()
    response = exist.get("attributes/")
    assert response.status_code == 429
    assert 3500 <= int(response.headers["Retry-After"]) <= 3600
    assert response.json()["detail"]
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code == 429
    assert exist.attribute("steps")["service"] == "withings"
    assert exist.get("attributes/", "withings-token").status_code == 200
    assert [entry["status"] for entry in exist.admin.requests()][-3:] == [429, 429, 200]


def test_rate_limit_zero_is_off(exist):
    """rate_limit 0 turns limiting off."""
    exist.admin.config(rate_limit=0)
    statuses = {exist.get("accounts/profile/").status_code for dummy in range(30)}
    assert statuses == {200}


def test_rate_limit_window_rolls(exist, server, monkeypatch):
    """Requests older than an hour no longer count."""
    exist.admin.config(rate_limit=2)
    now = time.monotonic()
    monkeypatch.setattr(server.emulator, "clock", lambda: now)
    assert exist.get("accounts/profile/").status_code == 200
    assert exist.get("accounts/profile/").status_code == 200
    assert exist.get("accounts/profile/").status_code == 429
    monkeypatch.setattr(server.emulator, "clock", lambda: now + 3601)
    assert exist.get("accounts/profile/").status_code == 200
    assert server.emulator.rate_limit == 2


def test_oauth2_code_exchange(exist):
    """A seeded code becomes a working token pair with its scopes; the code works once."""
    response = oauth(
        exist,
        grant_type="authorization_code",
        code="demo-code",
        client_id="demo-client",
        client_secret="demo-secret",
        redirect_uri="http://localhost/cb",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "all" and body["expires_in"] > 30000000
    assert body["access_token"] and body["refresh_token"]
    assert exist.get("accounts/profile/", body["access_token"]).json()["username"] == "demo"
    assert exist.post("attributes/acquire/", [{"name": "coffees"}], token=body["access_token"]).status_code == 200
    again = oauth(
        exist, grant_type="authorization_code", code="demo-code", client_id="demo-client", client_secret="demo-secret"
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_oauth2_refresh_invalidates_old_pair(exist):
    """Refreshing gives a new pair; the old access token gets 401 and the old refresh token is refused."""
    response = oauth(
        exist,
        grant_type="refresh_token",
        refresh_token="demo-refresh",
        client_id="demo-client",
        client_secret="demo-secret",
    )
    assert response.status_code == 200
    new = response.json()
    assert new["access_token"] != "demo-token"
    assert exist.get("accounts/profile/", new["access_token"]).status_code == 200
    assert exist.get("accounts/profile/", "demo-token").status_code == 401
    old = oauth(
        exist,
        grant_type="refresh_token",
        refresh_token="demo-refresh",
        client_id="demo-client",
        client_secret="demo-secret",
    )
    assert old.status_code == 400
    newer = oauth(
        exist,
        grant_type="refresh_token",
        refresh_token=new["refresh_token"],
        client_id="demo-client",
        client_secret="demo-secret",
    )
    assert newer.status_code == 200
    assert exist.get("accounts/profile/", new["access_token"]).status_code == 401
    tokens = [t["token"] for t in exist.admin.state()["users"][0]["tokens"]]
    assert newer.json()["access_token"] in tokens and new["access_token"] not in tokens


def test_oauth2_bad_client_and_grant(exist):
    """A wrong secret is invalid_client (401); another client's refresh token and unknown grants are 400."""
    assert (
        oauth(
            exist,
            grant_type="refresh_token",
            refresh_token="demo-refresh",
            client_id="demo-client",
            client_secret="nope",
        ).status_code
        == 401
    )
    other = oauth(
        exist,
        grant_type="refresh_token",
        refresh_token="demo-refresh",
        client_id="withings-client",
        client_secret="withings-secret",
    )
    assert other.status_code == 400
    assert oauth(exist, grant_type="password", client_id="demo-client", client_secret="demo-secret").status_code == 400
    assert exist.http.get(exist.base + "/oauth2/access_token", timeout=10).status_code == 405
    assert exist.get("accounts/profile/").status_code == 200
