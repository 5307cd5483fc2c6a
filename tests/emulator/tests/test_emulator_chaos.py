"""Chaos mode: seeded random faults on a share of the API requests, and the log of what was injected."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from exist_emulator.admin import AdminError
from exist_emulator.chaos import KINDS, Chaos, validate_chaos
from exist_emulator.fleet import fleet_seed
from exist_emulator.world import world_from_seed

EMULATOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The kinds that answer at once (no delay, no trickle) and leave the token alone.
QUICK = ["429", "429_retry_after", "5xx_before", "drop_before", "5xx_after", "drop_after"]


def _try(call):
    """A request's status, or 0 when the connection was dropped without an answer."""
    try:
        return call().status_code
    except requests.exceptions.ConnectionError:
        return 0


def _fleet(exist, users=3):
    exist.admin.reset(fleet_seed(users, 2, now="2026-11-28T10:00:00Z"))


def _fleet_get(exist, number, path="accounts/profile/"):
    return _try(lambda: exist.get(path, token=f"fleet-token-{number:04d}"))


def test_chaos_is_off_by_default_and_after_reset(exist):
    """No chaos until it is set; a reset turns it off and empties its log."""
    assert exist.admin.chaos() == {"chaos": None, "requests": 0, "injected": 0, "by_kind": {}}
    exist.admin.chaos({"rate": 1, "kinds": ["5xx_before"]})
    assert exist.get("accounts/profile/").status_code in (500, 502, 503, 504)
    exist.admin.reset()
    assert exist.admin.chaos()["chaos"] is None
    assert exist.admin.chaos_log() == []
    assert exist.get("accounts/profile/").status_code == 200


def test_chaos_configuration_is_normalised(exist):
    """Defaults are filled in and kinds become {kind: weight} in the README's order."""
    answer = exist.admin.chaos({"kinds": ["revoke_pair", "429"], "seed": 4})
    assert answer["chaos"] == {
        "rate": 0.05,
        "seed": 4,
        "kinds": {"429": 1, "revoke_pair": 1},
        "retry_after": 1,
        "delay": 35.0,
        "trickle": 60.0,
        "paths": [""],
    }
    assert answer["requests"] == 0 and answer["injected"] == 0


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"rate": 1.5}, "rate must be"),
        ({"rate": "0.1"}, "rate must be"),
        ({"seed": "x"}, "seed must be an integer"),
        ({"seed": True}, "seed must be an integer"),
        ({"kinds": ["teapot"]}, "unknown chaos kind"),
        ({"kinds": []}, "kinds must be"),
        ({"kinds": {"429": -1}}, "weight of kind 429"),
        ({"kinds": {"429": 0}}, "at least one kind"),
        ({"retry_after": 1.5}, "retry_after must be"),
        ({"delay": 0}, "delay and trickle must be more than 0"),
        ({"trickle": 601}, "trickle must be"),
        ({"paths": "/api/2/"}, "paths must be"),
        ({"speed": 3}, "unknown chaos key"),
        ([], "chaos must be a JSON object"),
    ],
)
def test_chaos_configuration_is_checked(exist, config, fragment):
    """A bad configuration is a 400 naming the key, and leaves chaos as it was."""
    with pytest.raises(AdminError, match=fragment):
        exist.admin.chaos(config)
    assert exist.admin.chaos()["chaos"] is None


def test_chaos_faults_every_request_at_rate_1_and_logs_each(exist):
    """rate 1: every API request is faulted, none of the admin requests; the log has one line per fault."""
    exist.admin.chaos({"rate": 1, "kinds": ["5xx_before"]})
    statuses = [exist.get("accounts/profile/").status_code for dummy in range(3)]
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code in (500, 502, 503, 504)
    assert exist.attribute("steps")["service"] == "withings"  # not applied
    assert all(status in (500, 502, 503, 504) for status in statuses)
    log = exist.admin.chaos_log()
    assert [(e["n"], e["user"], e["user_request"], e["kind"], e["applied"]) for e in log] == [
        (1, "demo", 1, "5xx_before", False),
        (2, "demo", 2, "5xx_before", False),
        (3, "demo", 3, "5xx_before", False),
        (4, "demo", 4, "5xx_before", False),
    ]
    assert [e["sent"] for e in log] == statuses + [log[3]["status"]]
    assert all(e["finished"] and e["answer"] is None and e["status"] == e["sent"] for e in log)
    assert log[3]["method"] == "POST" and log[3]["path"] == "/api/2/attributes/acquire/"
    assert exist.admin.chaos()["injected"] == 4
    assert exist.admin.chaos()["by_kind"] == {"5xx_before": 4}


def test_chaos_rate_0_draws_for_every_request_and_injects_nothing(exist):
    """rate 0: requests are counted, nothing is injected."""
    exist.admin.chaos({"rate": 0})
    for dummy in range(5):
        assert exist.get("accounts/profile/").status_code == 200
    assert exist.admin.chaos()["requests"] == 5
    assert exist.admin.chaos_log() == []


def test_chaos_429_with_and_without_retry_after(exist):
    """429: no Retry-After; 429_retry_after: Retry-After is the configured seconds. Neither is applied."""
    exist.admin.chaos({"rate": 1, "kinds": ["429"]})
    response = exist.post("attributes/acquire/", [{"name": "steps"}])
    assert response.status_code == 429 and "Retry-After" not in response.headers
    exist.admin.chaos({"rate": 1, "kinds": ["429_retry_after"], "retry_after": 7})
    response = exist.post("attributes/acquire/", [{"name": "steps"}])
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert exist.attribute("steps")["service"] == "withings"
    (entry,) = exist.admin.chaos_log()
    assert entry["kind"] == "429_retry_after" and entry["retry_after"] == 7 and entry["applied"] is False


def test_chaos_5xx_after_applies_and_loses_the_answer(exist):
    """5xx_after: the write happens, the client gets a 5xx (502 and 504 as an HTML page); the log says applied and
    what the emulator itself answered."""
    exist.admin.chaos({"rate": 1, "kinds": ["5xx_after"]})
    response = exist.post("attributes/acquire/", [{"name": "steps"}, {"name": "nope"}])
    assert response.status_code in (500, 502, 503, 504)
    if response.status_code in (502, 504):
        assert response.headers["Content-Type"].startswith("text/html")
    else:
        assert response.json()["detail"].startswith("Injected chaos")
    assert exist.attribute("steps")["service"] == "demo_service"
    (entry,) = exist.admin.chaos_log()
    assert entry["applied"] is True and entry["answer"] == 202 and entry["sent"] == response.status_code
    assert entry["items"] == {"success": 1, "failed": 1}


def test_chaos_after_apply_of_a_refused_request_is_not_applied(exist):
    """applied means the emulator's own answer was 2xx: a 5xx_after of a request it refused (401) applied nothing."""
    exist.admin.chaos({"rate": 1, "kinds": ["5xx_after"]})
    assert exist.post("attributes/acquire/", [{"name": "steps"}], token="nobody").status_code >= 500
    (entry,) = exist.admin.chaos_log()
    assert entry["user"] is None and entry["answer"] == 401 and entry["applied"] is False


def test_chaos_drops_before_and_after_apply(exist):
    """drop_before: no answer, not applied; drop_after: no answer, applied. Both log sent 0."""
    exist.admin.chaos({"rate": 1, "kinds": ["drop_before"]})
    assert _try(lambda: exist.post("attributes/acquire/", [{"name": "steps"}])) == 0
    assert exist.attribute("steps")["service"] == "withings"
    exist.admin.chaos({"rate": 1, "kinds": ["drop_after"]})
    assert _try(lambda: exist.post("attributes/acquire/", [{"name": "steps"}])) == 0
    assert exist.attribute("steps")["service"] == "demo_service"
    (entry,) = exist.admin.chaos_log()
    assert (entry["kind"], entry["applied"], entry["sent"], entry["answer"]) == ("drop_after", True, 0, 200)


def test_chaos_delay_answers_past_the_client_timeout_and_applies(exist):
    """delay: the client times out; the request is applied all the same, later."""
    exist.admin.chaos({"rate": 1, "kinds": ["delay"], "delay": 0.6})
    with pytest.raises(requests.exceptions.ReadTimeout):
        exist.http.post(
            exist.url("attributes/acquire/"),
            json=[{"name": "steps"}],
            headers={"Authorization": "Bearer demo-token"},
            timeout=0.2,
        )
    (entry,) = exist.admin.chaos_log()
    assert entry["kind"] == "delay" and entry["delay"] == 0.6 and entry["finished"] is False
    deadline = time.monotonic() + 5
    while not exist.admin.chaos_log()[0]["finished"] and time.monotonic() < deadline:
        time.sleep(0.05)
    exist.admin.chaos_off()
    assert exist.attribute("steps")["service"] == "demo_service"
    (entry,) = exist.admin.chaos_log()
    assert entry["applied"] is True and entry["answer"] == 200


def test_chaos_trickle_spreads_the_whole_answer_over_its_seconds(exist):
    """trickle: the whole answer takes the configured seconds, however long it is; a client that waits gets it."""
    exist.admin.chaos({"rate": 1, "kinds": ["trickle"], "trickle": 0.5})
    start = time.monotonic()
    response = exist.http.get(exist.url("accounts/profile/"), headers={"Authorization": "Bearer demo-token"}, timeout=5)
    assert response.status_code == 200 and response.json()["username"] == "demo"
    assert 0.4 <= time.monotonic() - start < 3
    deadline = time.monotonic() + 5
    while not exist.admin.chaos_log()[0]["finished"] and time.monotonic() < deadline:
        time.sleep(0.05)
    (entry,) = exist.admin.chaos_log()
    assert (entry["kind"], entry["trickle"], entry["applied"], entry["completed"]) == ("trickle", 0.5, True, True)


def test_chaos_trickle_says_when_the_client_gave_up(exist):
    """A client that leaves during a trickle: the log says the answer was not completed."""
    exist.admin.chaos({"rate": 1, "kinds": ["trickle"], "trickle": 3})
    host, port = exist.base.split("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /api/2/accounts/profile/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer demo-token\r\n\r\n")
        assert sock.recv(1) == b"H"
    deadline = time.monotonic() + 10
    while not exist.admin.chaos_log()[0]["finished"] and time.monotonic() < deadline:
        time.sleep(0.05)
    (entry,) = exist.admin.chaos_log()
    assert entry["finished"] and entry["completed"] is False and entry["applied"] is True


def test_chaos_revoke_token_kills_the_access_token_only(exist):
    """revoke_token: the request and every later use of that access token get 401; its refresh token still
    refreshes; the state says access_revoked."""
    exist.admin.chaos({"rate": 1, "kinds": ["revoke_token"]})
    assert exist.get("accounts/profile/").status_code == 401
    exist.admin.chaos_off()
    assert exist.get("accounts/profile/").status_code == 401
    demo = next(u for u in exist.admin.state()["users"] if u["username"] == "demo")
    token = next(t for t in demo["tokens"] if t["token"] == "demo-token")
    assert token["access_revoked"] is True
    (entry,) = exist.admin.chaos_log()
    assert (entry["kind"], entry["user"], entry["applied"], entry["answer"]) == ("revoke_token", "demo", False, 401)
    answer = requests.post(
        exist.url("/oauth2/access_token"),
        data={
            "grant_type": "refresh_token",
            "refresh_token": "demo-refresh",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert exist.get("accounts/profile/", token=answer.json()["access_token"]).status_code == 200


def test_chaos_revoke_pair_kills_access_and_refresh_token(exist):
    """revoke_pair: the pair is gone, as when the user revokes the app: 401, then invalid_grant on refresh."""
    exist.admin.chaos({"rate": 1, "kinds": ["revoke_pair"]})
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code == 401
    exist.admin.chaos_off()
    assert exist.attribute("steps")["service"] == "withings"
    answer = requests.post(
        exist.url("/oauth2/access_token"),
        data={
            "grant_type": "refresh_token",
            "refresh_token": "demo-refresh",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
        },
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json() == {"error": "invalid_grant"}
    demo = next(u for u in exist.admin.state()["users"] if u["username"] == "demo")
    assert "demo-token" not in [t["token"] for t in demo["tokens"]]


def test_chaos_on_the_token_endpoint_names_the_user_of_the_refresh_token(exist):
    """A refresh is the refresh token's user's request: revoke_pair makes it invalid_grant; 5xx_after issues a pair
    whose answer is lost (the old pair is gone, the new one is in the state)."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "demo-refresh",
        "client_id": "demo-client",
        "client_secret": "demo-secret",
    }
    exist.admin.chaos({"rate": 1, "kinds": ["5xx_after"]})
    assert requests.post(exist.url("/oauth2/access_token"), data=form, timeout=10).status_code >= 500
    (entry,) = exist.admin.chaos_log()
    assert (entry["user"], entry["path"], entry["applied"], entry["answer"]) == (
        "demo",
        "/oauth2/access_token",
        True,
        200,
    )
    demo = next(u for u in exist.admin.state()["users"] if u["username"] == "demo")
    assert [t["token"] for t in demo["tokens"] if t["service"] == "demo_service"] != ["demo-token"]
    exist.admin.reset()
    exist.admin.chaos({"rate": 1, "kinds": ["revoke_pair"]})
    answer = requests.post(exist.url("/oauth2/access_token"), data=form, timeout=10)
    assert answer.status_code == 400 and answer.json() == {"error": "invalid_grant"}
    (entry,) = exist.admin.chaos_log()
    assert (entry["user"], entry["kind"], entry["applied"]) == ("demo", "revoke_pair", False)


def test_chaos_revoke_without_a_live_pair_injects_nothing(exist):
    """A request with no live OAuth2 pair (an unknown token, a simple token) has nothing to revoke: no fault."""
    exist.admin.chaos({"rate": 1, "kinds": ["revoke_pair", "revoke_token"]})
    assert exist.get("accounts/profile/", token="nobody").status_code == 401
    assert exist.get("accounts/profile/", token="reader-simple-token", scheme="Token").status_code == 200
    assert exist.admin.chaos_log() == []
    assert exist.admin.chaos()["requests"] == 2


def test_chaos_counts_a_revoked_token_as_its_user(exist):
    """After a revocation, requests with the dead token still count as the user's (same draws on a rerun)."""
    exist.admin.chaos({"rate": 1, "kinds": ["revoke_pair", "429"]})
    for dummy in range(6):
        exist.get("accounts/profile/")
    log = exist.admin.chaos_log()
    assert log[0]["kind"] == "revoke_pair" and len(log) > 1
    # A revoke_pair drawn for the dead token has nothing left to revoke and injects nothing; a 429 does.
    assert {entry["user"] for entry in log} == {"demo"}
    assert {entry["kind"] for entry in log[1:]} == {"429"}


def test_chaos_paths_and_queued_faults(exist):
    """Only the configured path prefixes are drawn for; a queued fault takes its request before chaos draws."""
    exist.admin.chaos({"rate": 1, "kinds": ["5xx_before"], "paths": ["/api/2/attributes/acquire/"]})
    assert exist.get("accounts/profile/").status_code == 200
    exist.admin.faults({"path": "/api/2/attributes/acquire/", "status": 418})
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code == 418
    assert exist.post("attributes/acquire/", [{"name": "steps"}]).status_code >= 500
    assert exist.admin.chaos()["requests"] == 1
    assert len(exist.admin.chaos_log()) == 1


def test_chaos_off_keeps_the_log(exist):
    """DELETE /_emulator/chaos stops injecting and keeps the log for a checker to read."""
    exist.admin.chaos({"rate": 1, "kinds": ["429"]})
    assert exist.get("accounts/profile/").status_code == 429
    assert exist.admin.chaos_off()["chaos"] is None
    assert exist.get("accounts/profile/").status_code == 200
    assert [entry["kind"] for entry in exist.admin.chaos_log()] == ["429"]


def _kinds_per_user(exist, order, seed):
    """Run requests of fleet users in `order`; each user's sequence of (request number, kind)."""
    _fleet(exist)
    exist.admin.chaos({"rate": 0.5, "seed": seed, "kinds": QUICK})
    for number in order:
        _fleet_get(exist, number)
    per_user: dict[str, list] = {}
    for entry in exist.admin.chaos_log():
        per_user.setdefault(entry["user"], []).append((entry["user_request"], entry["kind"], entry.get("status")))
    return per_user


def test_chaos_is_reproducible_from_its_seed_whatever_the_interleaving(exist):
    """The same seed gives each user the same faults on the same requests, in whatever order users' requests come;
    another seed gives others."""
    first = _kinds_per_user(exist, [1, 2, 3] * 8, seed=11)
    again = _kinds_per_user(exist, [3] * 8 + [1] * 8 + [2] * 8, seed=11)
    assert first == again
    assert sum(len(kinds) for kinds in first.values()) > 0
    other = _kinds_per_user(exist, [1, 2, 3] * 8, seed=12)
    assert other != first


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(),
    rate=st.floats(min_value=0, max_value=1),
    order=st.permutations([user for user in ("a", "b", "c") for dummy in range(6)]),
    weights=st.dictionaries(st.sampled_from(KINDS), st.integers(min_value=1, max_value=5), min_size=1),
)
def test_chaos_draws_depend_on_seed_user_and_request_number_only(seed, rate, order, weights):
    """Property: for any seed, rate, kinds and interleaving of users' requests, each user's draws are the same."""
    config = validate_chaos({"seed": seed, "rate": rate, "kinds": weights})
    reference, shuffled = Chaos(config), Chaos(config)
    expected = {user: [reference.draw(user) for dummy in range(6)] for user in ("a", "b", "c")}
    got: dict[str, list] = {}
    for user in order:
        got.setdefault(user, []).append(shuffled.draw(user))
    assert got == expected
    for draws in got.values():
        assert all(kind is None or kind in weights for dummy, kind, dummy2 in draws)
        assert [number for number, dummy, dummy2 in draws] == [1, 2, 3, 4, 5, 6]


def test_chaos_rate_is_about_the_share_of_requests_faulted():
    """Over many requests the share faulted is close to the rate, and every kind with a weight comes up."""
    chaos = Chaos(validate_chaos({"rate": 0.1, "seed": 3}))
    draws = [chaos.draw(f"user{n % 50}")[1] for n in range(20000)]
    faulted = [kind for kind in draws if kind is not None]
    assert 0.09 < len(faulted) / len(draws) < 0.11
    assert set(faulted) == set(KINDS)


def test_access_revoked_round_trips_in_a_seed(exist):
    """A seed may say access_revoked: the token gets 401; the state writes it back."""
    seed = fleet_seed(1, 1, now="2026-11-28T10:00:00Z")
    seed["users"][0]["tokens"][0]["access_revoked"] = True
    exist.admin.reset(seed)
    assert exist.get("accounts/profile/", token="fleet-token-0001").status_code == 401
    assert exist.admin.state()["users"][0]["tokens"][0]["access_revoked"] is True
    seed["users"][0]["tokens"][0]["access_revoked"] = "yes"
    with pytest.raises(Exception, match="access_revoked must be true or false"):
        world_from_seed(seed)


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=EMULATOR_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "exist_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, proc.stdout.readline().rstrip("\n")


def test_chaos_from_the_command_line():
    """--chaos RATE and its flags set chaos mode from the start."""
    proc, line = _start("--chaos", "1", "--chaos-seed", "5", "--chaos-kinds", "429_retry_after=2,429=0")
    try:
        base = re.fullmatch(r"exist-emulator listening on (\S+)", line).group(1)
        response = requests.get(base + "/api/2/accounts/profile/", headers={"Authorization": "Bearer demo-token"})
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
        config = requests.get(base + "/_emulator/chaos", timeout=10).json()["chaos"]
        assert config["seed"] == 5 and config["kinds"] == {"429": 0, "429_retry_after": 2}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--chaos-seed", "3"], "need --chaos RATE"),
        (["--chaos", "2"], "rate must be"),
        (["--chaos", "0.1", "--chaos-kinds", "teapot"], "unknown chaos kind"),
        (["--chaos", "0.1", "--chaos-kinds", "429=x"], "KIND=WEIGHT"),
    ],
)
def test_chaos_command_line_misuse_exits_2(args, fragment):
    """A bad chaos flag exits 2 with a message naming it."""
    proc, dummy = _start(*args)
    try:
        assert proc.wait(timeout=10) == 2
        assert fragment in proc.stderr.read()
    finally:
        proc.stdout.close()
        proc.stderr.close()
