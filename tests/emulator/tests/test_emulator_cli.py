"""The real command: python -m exist_emulator (the console script runs the same main)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import requests

EMULATOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=EMULATOR_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "exist_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline().rstrip("\n")
    return proc, line


def test_module_prints_address_and_stops_on_sigterm():
    """The first stdout line is the address (with the real port); requests work; SIGTERM exits 0."""
    proc, line = _start("--seed", os.path.join(EMULATOR_DIR, "example-seed.yml"), "--rate-limit", "2")
    try:
        match = re.fullmatch(r"exist-emulator listening on (http://127\.0\.0\.1:(\d+))", line)
        assert match, line
        assert int(match.group(2)) > 0
        base = match.group(1)
        headers = {"Authorization": "Bearer demo-token"}
        owned = requests.get(base + "/api/2/attributes/", headers=headers, timeout=10).json()
        assert [a["name"] for a in owned["results"]] == ["steps", "reading_time"]
        assert requests.get(base + "/api/2/accounts/profile/", headers=headers, timeout=10).status_code == 200
        assert requests.get(base + "/api/2/accounts/profile/", headers=headers, timeout=10).status_code == 429
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        # Off by default: no request logging, and so no token can leak into the log.
        assert proc.stderr.read() == ""
        proc.stdout.close()
        proc.stderr.close()


def test_default_world_and_sigint():
    """Without --seed the demo world is served; SIGINT exits 0 too."""
    proc, line = _start()
    try:
        base = line.rsplit(" ", 1)[1]
        owned = requests.get(
            base + "/api/2/attributes/owned/", headers={"Authorization": "Bearer demo-token"}, timeout=10
        )
        assert [a["name"] for a in owned.json()["results"]] == ["coffees"]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()


def test_verbose_logs_requests_without_tokens():
    """--verbose logs each request line to stderr, and never the token."""
    proc, line = _start("--verbose")
    try:
        base = line.rsplit(" ", 1)[1]
        response = requests.get(
            base + "/api/2/attributes/owned/?limit=5", headers={"Authorization": "Bearer demo-token"}, timeout=10
        )
        assert response.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert "GET /api/2/attributes/owned/?limit=5" in stderr and " 200 " in stderr
    assert "demo-token" not in stderr


def test_bad_seed_exits_2():
    """An unreadable or invalid seed is reported on stderr with exit status 2."""
    env = dict(os.environ, PYTHONPATH=EMULATOR_DIR)
    result = subprocess.run(
        [sys.executable, "-m", "exist_emulator", "--port", "0", "--seed", "/nonexistent.yml"],
        capture_output=True,
        text=True,
        env=env,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2 and "cannot load seed" in result.stderr


def test_console_script_points_at_main():
    """pyproject's exist-emulator script is the same main that python -m runs."""
    with open(os.path.join(EMULATOR_DIR, "pyproject.toml"), encoding="utf-8") as handle:
        assert 'exist-emulator = "exist_emulator.cli:main"' in handle.read()
    with open(os.path.join(EMULATOR_DIR, "exist_emulator", "__main__.py"), encoding="utf-8") as handle:
        assert "from .cli import main" in handle.read()
