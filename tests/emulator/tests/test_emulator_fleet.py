"""The fleet: exist_emulator.fleet (fleet_seed, fleet_store, write_store), the CLI's --fleet, and load on it."""

from __future__ import annotations

import datetime
import os
import re
import signal
import stat
import subprocess
import sys
import threading

import pytest
import requests
import yaml

from exist_emulator.fleet import (
    FLEET_SCOPES,
    OTHER_SERVICES,
    TEMPLATE_POOL,
    fleet_seed,
    fleet_store,
    fleet_username,
    write_store,
)
from exist_emulator.templates import ALL_SCOPES, LOW_PRIORITY, TEMPLATES
from exist_emulator.testing import BackgroundEmulator
from exist_emulator.world import world_from_seed

EMULATOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOW = "2027-03-01T12:00:00Z"
START = datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.timezone.utc)
LIST_ALL = {"include_inactive": "true", "include_low_priority": "true", "limit": "100"}


def moment(text: str) -> datetime.datetime:
    """An ISO 8601 UTC text with Z as a datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_fleet_seed_shape():
    """Users user0001..., one fleet token each (deterministic values, every scope listed), the same templates."""
    seed = fleet_seed(users=30, attributes=20, now=NOW)
    assert [u["username"] for u in seed["users"]] == [f"user{n:04d}" for n in range(1, 31)]
    assert [s["name"] for s in seed["services"]] == ["fleet_service", *OTHER_SERVICES]
    assert seed["clients"] == [
        {"client_id": "fleet-client", "client_secret": "fleet-secret", "service": "fleet_service", "codes": []}
    ]
    assert FLEET_SCOPES == sorted(ALL_SCOPES)
    owners, with_values = set(), 0
    for number, user in enumerate(seed["users"], start=1):
        [token] = user["tokens"]
        assert token["token"] == f"fleet-token-{number:04d}"
        assert token["refresh_token"] == f"fleet-refresh-{number:04d}"
        assert (token["service"], token["kind"], token["scopes"]) == ("fleet_service", "oauth2", FLEET_SCOPES)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", token["expires_at"])
        assert [a["template"] for a in user["attributes"]] == TEMPLATE_POOL[:20]
        for attribute in user["attributes"]:
            owners.add(attribute["service"])
            # An attribute with no owner is inactive; another service's is that service's only available one.
            assert attribute["active"] == (attribute["service"] is not None)
            if attribute["service"] in OTHER_SERVICES:
                assert attribute["available_services"] == [attribute["service"]]
            if "values" in attribute:
                with_values += 1
                assert list(attribute["values"]) == ["2027-02-26", "2027-02-27", "2027-02-28"]
    assert owners == {"fleet_service", None, *OTHER_SERVICES}
    assert 0 < with_values < 30 * 20
    assert all(TEMPLATES[name].priority < LOW_PRIORITY for name in TEMPLATE_POOL)
    # Twenty templates span most groups.
    assert len({TEMPLATES[name].group for name in TEMPLATE_POOL[:20]}) >= 13
    world = world_from_seed(seed)
    assert len(world.users) == 30 and len(world.tokens) == 30


def test_fleet_seed_is_deterministic():
    """The same arguments give the same seed; another `seed` another one; a user is the same in any size of fleet."""
    assert fleet_seed(users=40, now=NOW) == fleet_seed(users=40, now=NOW)
    assert fleet_seed(users=40, now=NOW, seed=1) != fleet_seed(users=40, now=NOW)
    small, large = fleet_seed(users=10, now=NOW), fleet_seed(users=40, now=NOW)
    assert small["users"] == large["users"][:10]
    fewer = fleet_seed(users=10, attributes=5, now=NOW)
    assert [u["attributes"] for u in fewer["users"]] == [u["attributes"][:5] for u in small["users"]]


def test_fleet_usernames_widen_past_9999():
    """Four digits up to 9,999 users, then as many as the largest number needs."""
    assert fleet_username(7, 1000) == "user0007"
    assert fleet_username(7, 10000) == "user00007"
    assert fleet_seed(users=3, attributes=0, now=NOW)["users"][2]["username"] == "user0003"


def test_fleet_expiring_tokens_every_tenth_user():
    """expires_within_days: user0001, user0011, ... expire strictly within it; everyone else strictly after."""
    seed = fleet_seed(users=100, attributes=1, expires_within_days=30, now=NOW)
    window = START + datetime.timedelta(days=30)
    soon = []
    for user in seed["users"]:
        expires = moment(user["tokens"][0]["expires_at"])
        assert START < expires <= START + datetime.timedelta(days=396)
        if expires < window:
            soon.append(user["username"])
        else:
            assert expires > window
    assert soon == [f"user{n:04d}" for n in range(1, 101, 10)]


def test_fleet_without_expiring_tokens_all_expire_after_30_days():
    """Without expires_within_days every token expires 30 to 365 days after now."""
    for user in fleet_seed(users=50, attributes=1, now=NOW)["users"]:
        expires = moment(user["tokens"][0]["expires_at"])
        assert START + datetime.timedelta(days=30) <= expires <= START + datetime.timedelta(days=365)


def test_fleet_default_now_is_the_current_hour():
    """Without `now`, expiries count from the start of the current UTC hour."""
    before = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    seed = fleet_seed(users=11, attributes=0, expires_within_days=1)
    expires = moment(seed["users"][0]["tokens"][0]["expires_at"])
    # user0001: 5% of the one-day window after the hour.
    assert expires - before in (datetime.timedelta(hours=1.2), datetime.timedelta(hours=2.2))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"users": 0},
        {"users": "10"},
        {"attributes": -1},
        {"attributes": len(TEMPLATE_POOL) + 1},
        {"expires_within_days": 0},
        {"expires_within_days": "7"},
        {"service": "withings"},
    ],
)
def test_fleet_seed_refuses_bad_arguments(kwargs):
    """Bad sizes, windows or a service that is one of the others: ValueError."""
    with pytest.raises(ValueError):
        fleet_seed(**kwargs)


def test_fleet_store_matches_the_seed():
    """fleet_store: one entry per user with exactly the token module's keys, expires_at with Z, scope as text."""
    seed = fleet_seed(users=12, attributes=2, expires_within_days=7, now=NOW)
    store = fleet_store(seed)
    assert list(store) == [u["username"] for u in seed["users"]]
    for user in seed["users"]:
        token = user["tokens"][0]
        assert store[user["username"]] == {
            "username": user["username"],
            "access_token": token["token"],
            "refresh_token": token["refresh_token"],
            "expires_at": token["expires_at"],
            "scope": " ".join(FLEET_SCOPES),
        }
    assert store["user0001"]["scope"].split() == FLEET_SCOPES


def test_fleet_store_of_any_seed():
    """For another seed: the first client's service, tokens without expiry get the far-future one, others skipped."""
    seed = {
        "services": [{"name": "svc"}, {"name": "other"}],
        "clients": [{"client_id": "c", "client_secret": "s", "service": "svc"}],
        "users": [
            {
                "username": "a",
                "tokens": [{"token": "ta", "service": "svc", "scopes": ["mood_read"], "refresh_token": "ra"}],
            },
            {"username": "b", "tokens": [{"token": "tb", "service": "other", "scopes": [], "refresh_token": "rb"}]},
            {"username": "c", "tokens": [{"token": "tc", "service": "svc", "scopes": [], "kind": "simple"}]},
        ],
    }
    store = fleet_store(seed)
    assert store == {
        "a": {
            "username": "a",
            "access_token": "ta",
            "refresh_token": "ra",
            "expires_at": "9999-12-31T23:59:59Z",
            "scope": "mood_read",
        }
    }
    assert list(fleet_store(seed, service="other")) == ["b"]


def test_write_store_yaml_mode_0600(tmp_path):
    """write_store writes the store as YAML with mode 0600, also over an existing file with wider permissions."""
    store = fleet_store(fleet_seed(users=3, attributes=0, now=NOW))
    path = tmp_path / "tokens.yml"
    path.write_text("old: {}\n", encoding="utf-8")
    os.chmod(path, 0o644)
    write_store(store, str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == store
    assert sorted(os.listdir(tmp_path)) == ["tokens.yml"]


def test_fleet_tokens_from_the_store_work_and_expire(exist):
    """Loaded in the emulator, each store entry's token reads its user's profile and 20 attributes, refreshes with
    the fleet client, and an expiring one gets 401 once the clock reaches its expires_at."""
    seed = fleet_seed(users=12, attributes=20, expires_within_days=3)
    exist.admin.reset(seed)
    store = fleet_store(seed)
    for username, entry in store.items():
        assert exist.get("accounts/profile/", entry["access_token"]).json()["username"] == username
    listed = exist.get("attributes/", store["user0002"]["access_token"], params=LIST_ALL).json()
    assert listed["count"] == 20
    owned = exist.get("attributes/owned/", store["user0002"]["access_token"], params=LIST_ALL).json()["results"]
    assert {a["name"] for a in owned} == {
        a["template"] for a in seed["users"][1]["attributes"] if a["service"] == "fleet_service"
    }
    exist.admin.set_now(store["user0001"]["expires_at"])
    assert exist.get("accounts/profile/", store["user0001"]["access_token"]).status_code == 401
    assert exist.get("accounts/profile/", store["user0002"]["access_token"]).status_code == 200
    response = exist.http.post(
        exist.base + "/oauth2/access_token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": store["user0001"]["refresh_token"],
            "client_id": "fleet-client",
            "client_secret": "fleet-secret",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert exist.get("accounts/profile/", response.json()["access_token"]).json()["username"] == "user0001"


def test_fleet_of_1000_under_25_concurrent_clients():
    """1,000 users x 20 attributes, 25 client threads each reading users' full lists: every answer is that user's."""
    seed = fleet_seed(users=1000, attributes=20)
    store = fleet_store(seed)
    names = list(store)
    failures: list = []

    def client(offset: int) -> None:
        with requests.Session() as session:
            for index in range(offset, len(names), 25):
                entry = store[names[index]]
                headers = {"Authorization": f"Bearer {entry['access_token']}"}
                profile = session.get(emulator.url + "/api/2/accounts/profile/", headers=headers, timeout=30)
                listed = session.get(emulator.url + "/api/2/attributes/", params=LIST_ALL, headers=headers, timeout=30)
                if profile.json().get("username") != names[index] or listed.json().get("count") != 20:
                    failures.append(names[index])

    with BackgroundEmulator(seed=seed) as emulator:
        threads = [threading.Thread(target=client, args=(offset,)) for offset in range(25)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        stats = emulator.admin.stats()
    assert failures == []
    assert stats["requests"] == 2000


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


def test_cli_fleet_serves_and_writes_the_store(tmp_path):
    """--fleet 12,5 --fleet-expiring 7 --write-fleet-store PATH: the store (0600) is written before serving and
    its tokens work against the fleet being served."""
    path = tmp_path / "store.yml"
    proc, line = _start("--fleet", "12,5", "--fleet-expiring", "7", "--write-fleet-store", str(path))
    try:
        base = line.rsplit(" ", 1)[1]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        store = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert list(store) == [f"user{n:04d}" for n in range(1, 13)]
        now = datetime.datetime.now(datetime.timezone.utc)
        expiring = [u for u, e in store.items() if moment(e["expires_at"]) < now + datetime.timedelta(days=7)]
        assert expiring == ["user0001", "user0011"]
        headers = {"Authorization": f"Bearer {store['user0012']['access_token']}"}
        listed = requests.get(base + "/api/2/attributes/", params=LIST_ALL, headers=headers, timeout=10).json()
        assert [a["name"] for a in listed["results"]] and listed["count"] == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()


def test_cli_fleet_defaults_to_20_attributes():
    """--fleet N alone: N users with 20 attributes each."""
    proc, line = _start("--fleet", "3")
    try:
        base = line.rsplit(" ", 1)[1]
        headers = {"Authorization": "Bearer fleet-token-0003"}
        assert (
            requests.get(base + "/api/2/attributes/", params=LIST_ALL, headers=headers, timeout=10).json()["count"]
            == 20
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize(
    "args",
    [
        ("--fleet", "0"),
        ("--fleet", "ten"),
        ("--fleet", "10,500"),
        ("--fleet", "10", "--seed", os.path.join(EMULATOR_DIR, "example-seed.yml")),
        ("--write-fleet-store", "/tmp/never-written.yml"),
        ("--fleet-expiring", "7"),
        ("--fleet", "10", "--fleet-expiring", "0"),
    ],
)
def test_cli_fleet_misuse_exits_2(args):
    """Bad fleet sizes, --fleet with --seed, store or expiry options without --fleet: exit 2 with a message."""
    proc = subprocess.run(
        [sys.executable, "-m", "exist_emulator", "--port", "0", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=EMULATOR_DIR),
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == "" and "error" in proc.stderr
    assert not os.path.exists("/tmp/never-written.yml")


def test_cli_unwritable_fleet_store_exits_2(tmp_path):
    """A store path that cannot be written: exit 2 naming it, nothing served."""
    target = tmp_path / "missing-dir" / "store.yml"
    proc = subprocess.run(
        [sys.executable, "-m", "exist_emulator", "--port", "0", "--fleet", "2", "--write-fleet-store", str(target)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=EMULATOR_DIR),
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert str(target) in proc.stderr and proc.stdout == ""
