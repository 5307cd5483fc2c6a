# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place that knows how few requests the API allows, and the one check of a count against it.

Every part that counts requests (requests per run, scale) describes its run in the numbers `minimum` takes and
hands what the emulator logged to `check`.
"""

from __future__ import annotations

import math

PAGE = 100
BATCH = 35


def minimum(owned_before, not_owned, acquires, releases, visible, check_mode):
    """The fewest requests the API allows (computed from the scenario, not from the module).

    Learning who owns what this client does not own takes the user's attribute
    list: Exist was seen ignoring its name filter, so that is every attribute the
    token can see, whatever the number of names.
    """
    gets = max(1, int(math.ceil(owned_before / float(PAGE))))
    if not_owned:
        gets += max(1, int(math.ceil(visible / float(PAGE))))
    if check_mode:
        return gets
    return gets + int(math.ceil(acquires / float(BATCH))) + int(math.ceil(releases / float(BATCH)))


def classify(requests):
    """{'owned', 'lookup', 'acquire', 'release', 'other': count} of logged requests."""
    counts = {'owned': 0, 'lookup': 0, 'acquire': 0, 'release': 0, 'other': 0}
    for r in requests:
        if r['method'] == 'GET' and r['path'] == '/api/2/attributes/owned/':
            counts['owned'] += 1
        elif r['method'] == 'GET' and r['path'] == '/api/2/attributes/':
            counts['lookup'] += 1
        elif r['method'] == 'POST' and r['path'] in ('/api/2/attributes/acquire/', '/api/2/attributes/create/'):
            # A template the user lacks is created (create never takes over): it counts as an acquire.
            counts['acquire'] += 1
        elif r['method'] == 'POST' and r['path'] == '/api/2/attributes/release/':
            counts['release'] += 1
        else:
            counts['other'] += 1
    return counts


def check(where, requests, least):
    """The problem with the requests a run sent (a list of logged requests), or None.

    A run must send exactly `least` requests, every one an owned-list GET, a look-up GET, an acquire (or
    create) POST or a release POST.
    """
    if len(requests) != least or classify(requests)['other']:
        return '%s: %d requests, minimum %d' % (where, len(requests), least)
    return None
