"""The admin API: reset, state, the request log, faults, config, and the loopback-only rule."""

from __future__ import annotations

import json
import os
import time

import pytest
import requests
from emulator_helpers import seed_with

from exist_emulator import default_seed, is_loopback
from exist_emulator.admin import AdminError
from exist_emulator.world import load_seed_file, world_from_seed

EXAMPLE_SEED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "example-seed.yml")


def test_reset_with_seed_and_empty_body(exist):
    """A seed body replaces the world; an empty body brings back the default world."""
    exist.admin.reset(seed_with([{"template": "water", "service": "demo_service"}]))
    assert exist.owned_names() == ["water"]
    assert exist.get("attributes/", "withings-token").status_code == 401
    exist.admin.reset()
    assert exist.owned_names() == ["coffees"]


def test_reset_accepts_yaml_example_seed(exist):
    """The shipped example seed loads (as YAML text) and serves what it describes."""
    with open(EXAMPLE_SEED, encoding="utf-8") as handle:
        exist.admin.reset(handle.read())  # raises AdminError unless 200
    body = exist.get("attributes/with-values/", params={"date_max": "2026-11-27", "attributes": "reading_time"}).json()
    assert body["results"][0]["values"] == [{"date": "2026-11-27", "value": 42}]
    assert body["results"][0]["service"] is None
    assert exist.attribute("steps")["service"] == "withings"


def test_reset_invalid_seed_is_400_and_keeps_world(exist):
    """A malformed seed is refused with a detail and the world stays as it was."""
    for seed in (
        {"users": [{"username": "x", "attributes": [{"template": "nope"}]}]},
        {"users": [{"tokens": []}]},
        {"services": [], "users": [{"username": "x", "attributes": [{"template": "steps", "service": "ghost"}]}]},
        {"users": [{"username": "x", "timezone": "Mars/Olympus"}]},
        {"users": [{"username": "x", "attributes": [{"template": "mood", "values": {"2026-11-27": 12}}]}]},
        {"users": [{"username": "x", "attributes": [{"template": "mood"}, {"template": "mood"}]}]},
        {"users": [{"username": "x", "tokens": [{"token": "t"}, {"token": "t"}]}]},
        json.dumps("- just a list"),
    ):  # text: the JSON of a string
        with pytest.raises(AdminError) as refused:
            exist.admin.reset(seed)
        assert refused.value.status == 400 and refused.value.detail
    assert exist.owned_names() == ["coffees"]


def test_state_round_trips_as_seed(exist):
    """After changes, GET state loaded as a seed gives the same state and the same answers."""
    exist.post("attributes/acquire/", [{"name": "steps"}, {"template": "water", "manual": True}])
    exist.post("attributes/create/", [{"label": "Deep work", "group": "productivity", "value_type": 3}])
    exist.post("attributes/update/", [{"name": "deep_work", "date": "2026-11-27", "value": 90}])
    exist.post("attributes/release/", [{"name": "coffees"}])
    before = exist.admin.state()
    listing = exist.get("attributes/", params={"include_inactive": "1", "limit": 100}).json()
    exist.admin.reset(before)
    assert exist.admin.state() == before
    assert exist.get("attributes/", params={"include_inactive": "1", "limit": 100}).json() == listing
    assert before["users"][0]["attributes"][0]["template"] == "steps"


def test_default_world_and_example_seed_round_trip():
    """The default world's state and the example seed both load back to themselves."""
    for seed in (load_seed_file(EXAMPLE_SEED), default_seed()):
        world = world_from_seed(seed)
        assert world_from_seed(world.as_seed()).as_seed() == world.as_seed()


def test_request_log_fields_and_clear(exist):
    """The log lists API requests oldest first with method, path, query, status, user, service; admin excluded."""
    exist.admin.clear_requests()
    exist.get("attributes/", params={"groups": "mood"})
    exist.post("attributes/acquire/", [{"name": "steps"}], params={"success_objects": "1"})
    exist.get("attributes/", token="bad")
    exist.get("attributes/", "reader-simple-token", scheme="Token")
    exist.admin.state()
    log = exist.admin.requests()
    assert log == [
        {
            "method": "GET",
            "path": "/api/2/attributes/",
            "query": {"groups": "mood"},
            "status": 200,
            "user": "demo",
            "service": "demo_service",
        },
        {
            "method": "POST",
            "path": "/api/2/attributes/acquire/",
            "query": {"success_objects": "1"},
            "status": 200,
            "user": "demo",
            "service": "demo_service",
        },
        {"method": "GET", "path": "/api/2/attributes/", "query": {}, "status": 401, "user": None, "service": None},
        {"method": "GET", "path": "/api/2/attributes/", "query": {}, "status": 200, "user": "reader", "service": None},
    ]
    exist.admin.clear_requests()  # raises AdminError unless 200
    assert exist.admin.requests() == []


def test_fault_status_path_prefix_and_method(exist):
    """A status fault matches method and path prefix once, is logged with its status, and then normal service resumes."""
    exist.admin.faults([{"method": "GET", "path": "/api/2/attributes/", "status": 503}])  # raises AdminError unless 200
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code == 200
    response = exist.get("attributes/owned/")
    assert response.status_code == 503 and response.json()["detail"]
    assert exist.get("attributes/owned/").status_code == 200
    assert [entry["status"] for entry in exist.admin.requests()] == [200, 503, 200]
    assert exist.admin.requests()[1]["user"] == "demo"


def test_fault_retry_after_and_body(exist):
    """A fault can answer with its own body and a Retry-After header."""
    exist.admin.faults([{"path": "/api/2/", "status": 429, "retry_after": 7, "body": {"detail": "slow down"}}])
    response = exist.get("accounts/profile/")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"detail": "slow down"}


def test_fault_times(exist):
    """times: N fails the next N matching requests only."""
    exist.admin.faults([{"method": "POST", "path": "/api/2/attributes/acquire/", "status": 500, "times": 2}])
    statuses = [exist.post("attributes/acquire/", [{"name": "steps"}]).status_code for dummy in range(3)]
    assert statuses == [500, 500, 200]
    assert exist.admin.faults() == []


def test_fault_delay_then_normal(exist):
    """delay waits, then answers normally."""
    exist.admin.faults([{"path": "/api/2/accounts/", "delay": 0.6}])
    start = time.monotonic()
    response = exist.get("accounts/profile/")
    assert response.status_code == 200
    assert time.monotonic() - start >= 0.6
    start = time.monotonic()
    exist.get("accounts/profile/")
    assert time.monotonic() - start < 0.5
    assert [entry["status"] for entry in exist.admin.requests()] == [200, 200]


def test_fault_delay_causes_client_timeout(exist):
    """A delay longer than the client's timeout makes it time out."""
    exist.admin.faults([{"path": "/api/2/accounts/", "delay": 1.0, "status": 200}])
    with pytest.raises(requests.exceptions.ReadTimeout):
        exist.http.get(exist.url("accounts/profile/"), headers={"Authorization": "Bearer demo-token"}, timeout=0.3)
    # The server still finishes (and logs) that request after its delay: wait for it, so that it cannot land in
    # the request log of a later test.
    deadline = time.monotonic() + 5
    while not exist.admin.requests() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [entry["status"] for entry in exist.admin.requests()] == [200]


def test_fault_trickle_sends_the_whole_answer_a_byte_at_a_time(exist):
    """trickle: status line, headers and body arrive one byte per pause, so no single socket read times out."""
    exist.admin.faults([{"path": "/api/2/accounts/", "trickle": 0.002}])
    start = time.monotonic()
    # A per-read timeout far below the answer's total time: a trickle never trips it.
    response = exist.http.get(exist.url("accounts/profile/"), headers={"Authorization": "Bearer demo-token"}, timeout=1)
    elapsed = time.monotonic() - start
    assert response.status_code == 200
    assert response.json()["username"] == "demo"
    # The server closes after a trickle; without saying so a keep-alive client would reuse the closing socket.
    assert response.headers["Connection"] == "close"
    assert elapsed >= 0.002 * len(response.content)
    assert [entry["status"] for entry in exist.admin.requests()] == [200]
    start = time.monotonic()
    assert exist.get("accounts/profile/").status_code == 200
    assert time.monotonic() - start < 0.5


def test_fault_trickle_with_status_and_after_apply(exist):
    """trickle with after_apply and a status: the write happens, its (fault) answer trickles."""
    exist.admin.faults(
        [{"method": "POST", "path": "/api/2/attributes/acquire/", "trickle": 0.001, "status": 502, "after_apply": True}]
    )
    response = exist.post("attributes/acquire/", [{"name": "steps"}])
    assert response.status_code == 502
    assert exist.attribute("steps")["service"] == "demo_service"


@pytest.mark.parametrize(
    "fault, fragment",
    [
        ({"trickle": -1}, "trickle must be"),
        ({"trickle": 61}, "trickle must be"),
        ({"trickle": True}, "trickle must be"),
        ({"trickle": 0.1, "drop": True}, "mutually exclusive"),
    ],
)
def test_fault_trickle_is_checked(exist, fault, fragment):
    """A trickle that is not a pause of 0-60 s, or with a drop, is refused."""
    with pytest.raises(AdminError, match=fragment):
        exist.admin.faults([fault])


def test_fault_drop_without_answer_and_not_applied(exist):
    """drop closes the connection without answering; the write is not applied; the log says status 0."""
    exist.admin.faults([{"method": "POST", "path": "/api/2/attributes/acquire/", "drop": True}])
    with pytest.raises(requests.exceptions.ConnectionError):
        exist.post("attributes/acquire/", [{"name": "steps"}])
    assert exist.attribute("steps")["service"] == "withings"
    assert exist.admin.requests()[-1]["status"] == 0
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code == 200


def test_fault_after_apply_status(exist):
    """after_apply: the write happens and the client still sees the error."""
    exist.admin.faults([{"method": "POST", "path": "/api/2/attributes/acquire/", "status": 502, "after_apply": True}])
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code == 502
    assert exist.attribute("steps")["service"] == "demo_service"
    assert exist.admin.requests()[-1]["status"] == 502


def test_fault_after_apply_drop(exist):
    """after_apply with drop: applied, then the connection is dropped."""
    exist.admin.faults([{"method": "POST", "path": "/api/2/attributes/release/", "drop": True, "after_apply": True}])
    with pytest.raises(requests.exceptions.ConnectionError):
        exist.post("attributes/release/", [{"name": "coffees"}])
    assert exist.attribute("coffees")["active"] is False
    assert exist.admin.requests()[-1]["status"] == 0


def test_fault_skip_lets_first_matching_requests_through(exist):
    """skip: N lets the first N matching requests through untouched (and logged normally), then fails `times`."""
    exist.admin.faults([{"method": "POST", "path": "/api/2/attributes/acquire/", "skip": 2, "times": 2, "status": 500}])
    pending = exist.admin.faults()
    assert pending[0]["skip"] == 2 and pending[0]["times"] == 2
    assert exist.get("attributes/owned/").status_code == 200
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code == 200
    assert exist.admin.faults()[0]["skip"] == 1
    statuses = [exist.post("attributes/acquire/", [{"name": "sleep"}]).status_code for dummy in range(4)]
    assert statuses == [200, 500, 500, 200]
    assert [entry["status"] for entry in exist.admin.requests()] == [200, 200, 200, 500, 500, 200]
    assert exist.admin.faults() == []


def test_fault_skip_counts_every_matching_request(exist):
    """A skipping fault counts a matching request even when an earlier fault applies to it."""
    exist.admin.faults(
        [{"path": "/api/2/accounts/", "status": 500}, {"path": "/api/2/accounts/", "skip": 1, "status": 502}]
    )
    assert [exist.get("accounts/profile/").status_code for dummy in range(3)] == [500, 502, 200]


def test_fault_skip_then_drop_after_apply(exist):
    """The Nth matching write can be applied and then dropped; the ones before it are normal."""
    exist.admin.faults(
        [{"method": "POST", "path": "/api/2/attributes/update/", "skip": 1, "drop": True, "after_apply": True}]
    )
    assert exist.post("attributes/update/", [{"name": "coffees", "date": "2026-11-26", "value": 1}]).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        exist.post("attributes/update/", [{"name": "coffees", "date": "2026-11-27", "value": 4}])
    assert exist.attribute("coffees")["values"] == {"2026-11-26": 1, "2026-11-27": 4}
    assert [entry["status"] for entry in exist.admin.requests()] == [200, 0]


def test_fault_raw_body_exact_bytes_and_content_type(exist):
    """raw_body answers exactly those UTF-8 bytes with the fault's status, text/html unless content_type says."""
    page = "<html><body><h1>502 Bad Gateway</h1><p>nginx – café</p></body></html>"
    exist.admin.faults(
        [
            {"path": "/api/2/attributes/", "status": 502, "raw_body": page, "retry_after": 3},
            {"path": "/api/2/accounts/", "status": 200, "raw_body": "not json", "content_type": "text/plain"},
        ]
    )
    response = exist.get("attributes/owned/")
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert response.headers["Retry-After"] == "3"
    assert response.content == page.encode("utf-8")
    assert response.headers["Content-Length"] == str(len(page.encode("utf-8")))
    profile = exist.get("accounts/profile/")
    assert profile.status_code == 200 and profile.content == b"not json"
    assert profile.headers["Content-Type"] == "text/plain"
    assert [entry["status"] for entry in exist.admin.requests()] == [502, 200]
    assert exist.get("attributes/owned/").json()["count"] == 1


def test_fault_raw_body_keeps_connection_usable(exist):
    """After a raw_body answer the same keep-alive connection serves the next request normally."""
    exist.admin.faults([{"path": "/api/2/accounts/", "status": 503, "raw_body": ""}])
    first = exist.get("accounts/profile/")
    assert first.status_code == 503 and first.content == b""
    assert exist.get("accounts/profile/").json()["username"] == "demo"


def test_fault_after_apply_200_empty_object(exist):
    """after_apply with status 200 and body {}: the acquire happens, the client only sees 200 {}."""
    exist.admin.faults(
        [{"method": "POST", "path": "/api/2/attributes/acquire/", "status": 200, "body": {}, "after_apply": True}]
    )
    response = exist.post("attributes/acquire/", [{"name": "steps"}], params={"success_objects": "1"})
    assert response.status_code == 200 and response.json() == {}
    assert exist.attribute("steps")["service"] == "demo_service"
    assert "steps" in exist.owned_names()
    assert (
        exist.admin.requests()[0]["status"] == 200 and exist.admin.requests()[0]["path"] == "/api/2/attributes/acquire/"
    )


def test_fault_after_apply_202_and_html_200(exist):
    """after_apply allows any status: 202 with a made-up body, or 200 with an HTML page; both writes happen."""
    exist.admin.faults(
        [
            {
                "method": "POST",
                "path": "/api/2/attributes/create/",
                "status": 202,
                "after_apply": True,
                "body": {"success": [], "failed": []},
            },
            {
                "method": "POST",
                "path": "/api/2/attributes/release/",
                "status": 200,
                "after_apply": True,
                "raw_body": "<html>Moved</html>",
            },
        ]
    )
    created = exist.post("attributes/create/", [{"label": "Naps", "group": "sleep", "value_type": 3}])
    assert created.status_code == 202 and created.json() == {"success": [], "failed": []}
    assert exist.attribute("naps")["service"] == "demo_service"
    released = exist.post("attributes/release/", [{"name": "coffees"}])
    assert released.status_code == 200 and released.text == "<html>Moved</html>"
    assert released.headers["Content-Type"] == "text/html"
    assert exist.attribute("coffees")["active"] is False
    assert [entry["status"] for entry in exist.admin.requests()] == [202, 200]


def test_fault_delay_with_after_apply_drop(exist):
    """delay + after_apply + drop: waits, applies, then drops; logged as 0."""
    exist.admin.faults(
        [{"method": "POST", "path": "/api/2/attributes/release/", "delay": 0.4, "drop": True, "after_apply": True}]
    )
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        exist.post("attributes/release/", [{"name": "coffees"}])
    assert time.monotonic() - start >= 0.4
    assert exist.attribute("coffees")["active"] is False
    assert exist.admin.requests()[-1]["status"] == 0


def test_fault_validation_of_new_keys(exist):
    """skip, raw_body and content_type are checked; good combinations are queued normalised."""
    for bad in (
        [{"status": 500, "skip": -1}],
        [{"status": 500, "skip": "1"}],
        [{"status": 500, "skip": True}],
        [{"status": 500, "skip": 1.5}],
        [{"raw_body": "<html/>"}],
        [{"drop": True, "raw_body": "x"}],
        [{"status": 500, "raw_body": "x", "body": {}}],
        [{"status": 500, "raw_body": 5}],
        [{"status": 500, "content_type": "text/plain"}],
        [{"status": 500, "raw_body": "x", "content_type": ""}],
        [{"status": 500, "raw_body": "x", "content_type": 1}],
    ):
        with pytest.raises(AdminError) as refused:
            exist.admin.faults(bad)
        assert refused.value.status == 400 and refused.value.detail, bad
    assert exist.admin.faults() == []
    queued = exist.admin.faults(
        [
            {"status": 500},
            {"status": 200, "skip": 0, "raw_body": "", "after_apply": True},
            {"status": 202, "after_apply": True, "body": {}},
        ]
    )
    assert [fault["skip"] for fault in queued] == [0, 0, 0]
    assert queued[1]["raw_body"] == "" and "content_type" not in queued[1]


def test_faults_clear_validate_and_skip_admin(exist):
    """DELETE clears faults; bad faults are 400; faults never hit the admin API."""
    exist.admin.faults([{"path": "/", "status": 500, "times": 5}])
    assert exist.admin.state()["users"]
    exist.admin.clear_faults()  # raises AdminError unless 200
    assert exist.get("accounts/profile/").status_code == 200
    for bad in ([{"path": "/"}], [{"status": "x"}], [{"status": 500, "times": 0}], '"x"', [{"status": 500, "oops": 1}]):
        with pytest.raises(AdminError) as refused:
            exist.admin.faults(bad)
        assert refused.value.status == 400


def test_oauth_fault(exist):
    """Faults apply to the OAuth2 token endpoint too."""
    exist.admin.faults([{"path": "/oauth2/", "status": 503}])
    response = exist.http.post(exist.base + "/oauth2/access_token", data={"grant_type": "refresh_token"}, timeout=10)
    assert response.status_code == 503


def test_is_loopback_unit():
    """Only loopback addresses (IPv4, IPv6, IPv4-mapped) count as loopback."""
    for address in ("127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"):
        assert is_loopback(address), address
    for address in (
        "10.0.0.1",
        "192.168.1.5",
        "172.16.0.1",
        "8.8.8.8",
        "::ffff:10.0.0.1",
        "fe80::1%eth0",
        "",
        "localhost",
    ):
        assert not is_loopback(address), address


def test_admin_refused_to_non_loopback(exist, monkeypatch):
    """When the client is not loopback the admin API answers 403 while the API still serves."""
    monkeypatch.setattr("exist_emulator.server.is_loopback", lambda address: False)
    with pytest.raises(AdminError) as refused:
        exist.admin.state()
    assert refused.value.status == 403 and refused.value.detail
    with pytest.raises(AdminError) as refused:
        exist.admin.reset()
    assert refused.value.status == 403
    assert exist.get("accounts/profile/").status_code == 200


def test_config_and_unknown_admin_path(exist):
    """GET/POST config reads and sets the rate limit; unknown admin paths are 404."""
    assert exist.admin.config(rate_limit=5) == {"rate_limit": 5}
    assert exist.admin.config() == {"rate_limit": 5}
    assert exist.admin.config(rate_limit="7") == {"rate_limit": 7}
    for bad in (-1, "x"):
        with pytest.raises(AdminError) as refused:
            exist.admin.config(rate_limit=bad)
        assert refused.value.status == 400
    with pytest.raises(AdminError) as refused:
        exist.admin.call("GET", "nothing")
    assert refused.value.status == 404
