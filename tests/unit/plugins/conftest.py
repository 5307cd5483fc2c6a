# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.token task's fixtures (its helpers: token_task.py), for its tests in action/ and plugin_utils/.

- emulator: an emulator over HTTP, one per test module (a test module may define its own);
- world(**seed options): reset the emulator to token_task.seed(...) and return it;
- store(entries=None, **store_entries options): write a token store and return its path (store.path).
"""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.plugin_utils._token_store import TokenStore
from ansible_collections.existio.exist.tests.unit.plugins.token_task import seed, store_entries
from exist_emulator.testing import BackgroundEmulator


@pytest.fixture(scope='module')
def emulator():
    with BackgroundEmulator() as running:
        yield running


@pytest.fixture
def world(emulator):
    """Load a seed; returns the emulator."""

    def load(**kwargs):
        emulator.admin.reset(seed(**kwargs))
        return emulator

    return load


@pytest.fixture
def store(tmp_path):
    path = str(tmp_path / 'tokens.yml')

    def write(entries=None, **kwargs):
        TokenStore(path).save(entries if entries is not None else store_entries(**kwargs))
        return path

    write.path = path
    return write
