# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests of the client at the HTTP boundary share (requests' transport replaced by `responses`).

Internal to this collection, not a stable API. The fixtures `rec` (tests/unit/conftest.py) and `client`
(tests/unit/plugins/module_utils/conftest.py) are built from these.
"""

from __future__ import annotations

from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute

BASE = 'https://exist.example'
TOKEN = 's3cr3t-t0ken-value'
OWNED = BASE + '/api/2/attributes/owned/'
ACQUIRE = BASE + '/api/2/attributes/acquire/'
A = listed_attribute('a')  # a whole attribute object, as Exist's lists give it


class Recorder:
    """The client's warn and sleep, recorded instead of said and waited."""

    def __init__(self):
        self.warnings = []
        self.sleeps = []

    def warn(self, message):
        self.warnings.append(message)

    def sleep(self, seconds):
        self.sleeps.append(seconds)


def page(results, next_url=None):
    return {'count': len(results), 'next': next_url, 'previous': None, 'results': results}


def assert_no_token(*texts):
    for text in texts:
        assert TOKEN not in str(text)
