"""GET /_emulator/stats: API requests answered, the process's CPU time and the wall time since the start."""

from __future__ import annotations

import time

import pytest

from exist_emulator.admin import AdminError
from exist_emulator.testing import BackgroundEmulator


def test_stats_counts_api_requests_only(exist):
    """Every API request counts (200, 401, faulted); admin requests do not, and a reset does not clear the count."""
    before = exist.admin.stats()
    assert set(before) == {"requests", "cpu_seconds", "wall_seconds"}
    assert exist.get("accounts/profile/").status_code == 200
    assert exist.get("accounts/profile/", "wrong").status_code == 401
    exist.admin.faults({"path": "/api/2/attributes/", "status": 503})
    assert exist.get("attributes/").status_code == 503
    exist.admin.state()
    exist.admin.clock()
    exist.admin.reset()
    assert exist.admin.stats()["requests"] - before["requests"] == 3


def test_stats_cpu_seconds_is_the_process_cpu_time():
    """cpu_seconds is time.process_time() of the emulator's process (here the test's own), between two readings."""
    with BackgroundEmulator() as emulator:
        low = time.process_time()
        cpu = emulator.admin.stats()["cpu_seconds"]
        high = time.process_time()
    assert low <= cpu <= high


def test_stats_wall_seconds_since_the_emulator_started():
    """wall_seconds counts from the emulator's start and grows."""
    started = time.monotonic()
    with BackgroundEmulator() as emulator:
        first = emulator.admin.stats()["wall_seconds"]
        time.sleep(0.2)
        second = emulator.admin.stats()["wall_seconds"]
    assert 0 <= first <= time.monotonic() - started
    assert second - first >= 0.2


def test_stats_is_get_only(exist):
    """POST /_emulator/stats is not a route (404)."""
    with pytest.raises(AdminError) as info:
        exist.admin.call("POST", "stats", {})
    assert info.value.status == 404
