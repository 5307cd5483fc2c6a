"""Fixtures: one in-process emulator on a free port, reset to the default world before each test."""

from __future__ import annotations

import os
import sys

import pytest

EMULATOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if EMULATOR_DIR not in sys.path:
    sys.path.insert(0, EMULATOR_DIR)

from emulator_helpers import Exist  # noqa: E402  pylint: disable=wrong-import-position

from exist_emulator.testing import BackgroundEmulator  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def server():
    """The emulator, serving in a background thread for the whole session (rate limit off)."""
    with BackgroundEmulator(admin_timeout=10) as running:
        yield running


@pytest.fixture
def exist(server):  # pylint: disable=redefined-outer-name
    """A client of a freshly reset emulator with rate limiting off."""
    client = Exist(server.url, server.admin)
    client.admin.reset()
    client.admin.config(rate_limit=0)
    yield client
    client.http.close()
