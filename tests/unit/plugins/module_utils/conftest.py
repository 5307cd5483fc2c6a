# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""client: an ExistClient of https://exist.example (tests/unit/plugins/http_boundary.py) that warns and sleeps
into `rec`, for the tests that answer with `responses`."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import BASE, TOKEN


@pytest.fixture
def client(rec):
    return ExistClient.connect(BASE, TOKEN, rate_limit_wait=60, warn=rec.warn, sleep=rec.sleep)
