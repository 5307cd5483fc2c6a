# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The token task's fixtures (tests/unit/plugins/token_task.py) for the tests in this folder."""

from __future__ import annotations

from ansible_collections.existio.exist.tests.unit.plugins.token_task import emulator, store, world

# pytest finds a fixture by its name in a conftest.py: these are here to be found.
__all__ = ['emulator', 'store', 'world']
