"""The Python helpers: exist_emulator.testing (BackgroundEmulator, InProcessAdapter) and exist_emulator.admin (Admin)."""

from __future__ import annotations

import socket

import pytest
import requests
from emulator_helpers import seed_with

from exist_emulator import Emulator, world_from_seed
from exist_emulator.admin import Admin, AdminError
from exist_emulator.testing import BackgroundEmulator, InProcessAdapter

AUTH = {"Authorization": "Bearer demo-token"}


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_background_emulator_serves_a_seed_and_stops(tmp_path):
    """A seed (dict or file) is served on a free loopback port with rate limiting off; stop() closes the port."""
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(
        '{"services": [{"name": "demo_service", "label": "Demo"}], "users": [{"username": "demo", '
        '"tokens": [{"token": "demo-token", "service": "demo_service", "scopes": ["all"]}], '
        '"attributes": [{"template": "water", "service": "demo_service"}]}]}',
        encoding="utf-8",
    )
    for seed in (seed_with([{"template": "water", "service": "demo_service"}]), str(seed_file), seed_file):
        with BackgroundEmulator(seed=seed) as running:
            assert running.url.startswith("http://127.0.0.1:")
            assert running.admin.config() == {"rate_limit": 0}
            owned = requests.get(running.url + "/api/2/attributes/owned/", headers=AUTH, timeout=10).json()
            assert [a["name"] for a in owned["results"]] == ["water"]
            assert running.admin.owned("demo", "demo_service") == {"water": False}
            port = running.server.server_address[1]
        assert _refused(port)
        running.stop()  # a second stop is a no-op


def test_background_emulator_options_and_misuse():
    """The default world and a rate limit; world and seed together, or a second start, are refused."""
    with BackgroundEmulator(rate_limit=5) as running:
        assert running.admin.config() == {"rate_limit": 5}
        assert running.emulator.rate_limit == 5
        assert running.admin.owned("demo", "demo_service") == {"coffees": True}
        with pytest.raises(RuntimeError):
            running.start()
    with pytest.raises(RuntimeError, match="not running"):
        assert running.url is None  # not reached: reading it raises
    with pytest.raises(ValueError):
        BackgroundEmulator(world=world_from_seed(seed_with([])), seed=seed_with([]))


def test_admin_round_trip_and_errors(exist):
    """Every admin call; a refusal raises AdminError with the status and the server's detail."""
    admin = exist.admin
    assert admin.faults({"path": "/api/2/accounts/", "status": 503})[0]["status"] == 503
    assert len(admin.faults()) == 1
    admin.clear_faults()
    assert admin.faults() == []
    assert exist.get("accounts/profile/").status_code == 200
    assert [entry["path"] for entry in admin.requests()] == ["/api/2/accounts/profile/"]
    admin.clear_requests()
    assert admin.requests() == []
    with pytest.raises(AdminError) as refused:
        admin.faults([{"status": 500, "oops": 1}])
    assert refused.value.status == 400 and "oops" in refused.value.detail and "400" in str(refused.value)


def test_admin_ignores_proxy_settings(server, monkeypatch):  # pylint: disable=redefined-outer-name
    """The admin API answers loopback clients only: the client never goes through a proxy from the environment."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert Admin(server.url, timeout=10).config() == {"rate_limit": 0}


def test_admin_times_out():
    """Every call has a timeout: a server that never answers raises instead of hanging."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(OSError):
            Admin("http://127.0.0.1:%d" % silent.getsockname()[1], timeout=0.5).state()


def test_in_process_adapter_serves_without_sockets():
    """A requests Session with the adapter mounted talks to an Emulator in this thread; writes are counted."""
    emulator = Emulator(world_from_seed(seed_with([{"template": "water", "service": "demo_service"}])), rate_limit=0)
    adapter = InProcessAdapter(emulator)
    with requests.Session() as session:
        session.mount("http://", adapter)
        owned = session.get("http://emulator.invalid/api/2/attributes/owned/", headers=AUTH, timeout=10)
        assert owned.status_code == 200 and [a["name"] for a in owned.json()["results"]] == ["water"]
        assert owned.json()["next"] is None
        acquired = session.post(
            "http://emulator.invalid/api/2/attributes/acquire/", json=[{"template": "steps"}], headers=AUTH, timeout=10
        )
        assert acquired.status_code == 200 and adapter.writes == 1
        assert session.get("http://emulator.invalid/api/2/attributes/owned/", timeout=10).status_code == 401
    assert emulator.world.users["demo"].attributes["steps"].service == "demo_service"
