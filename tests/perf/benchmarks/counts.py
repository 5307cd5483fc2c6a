# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place that knows how few requests the API allows, and the one check of a count against it.

Every part that counts requests (requests per run, scale) describes its run in the numbers `minimum` (ownership)
or `values_minimum` (existio.exist.values) takes and hands what the emulator logged to `check`.
"""

from __future__ import annotations

import math

PAGE = 100
BATCH = 35
# GET /attributes/with-values/ answers at most this many days per request.
WITH_VALUES_DAYS = 31

# What each kind of run may send (see classify).
OWNERSHIP_KINDS = ('owned', 'lookup', 'acquire', 'create', 'release')
VALUES_KINDS = ('owned', 'profile', 'read', 'write')
# What Exist computes: averages, correlations (and one combination), insights.
COMPUTED_KINDS = ('computed',)
COMPUTED_PATHS = ('/api/2/averages/', '/api/2/correlations/', '/api/2/correlations/combo/', '/api/2/insights/')


def _ceil(a, b):
    return int(math.ceil(a / float(b)))


def minimum(owned_before, not_owned, acquires, releases, visible, check_mode, creates=0):
    """The fewest requests the API allows (computed from the scenario, not from the module).

    Learning who owns what this client does not own takes the user's attribute
    list: Exist was seen ignoring its name filter, so that is every attribute the
    token can see, whatever the number of names. The same read tells whether a
    custom attribute declared by label exists (else it is created).
    `creates` are creations sent to POST /attributes/create/ besides the
    `acquires` sent to POST /attributes/acquire/ (0: count every creation as an
    acquire, as the ownership rows do); each endpoint takes 35 a request.
    """
    gets = max(1, int(math.ceil(owned_before / float(PAGE))))
    if not_owned:
        gets += max(1, int(math.ceil(visible / float(PAGE))))
    if check_mode:
        return gets
    return gets + _ceil(acquires, BATCH) + _ceil(creates, BATCH) + _ceil(releases, BATCH)


def read_minimum(attributes, days):
    """The fewest GETs that read `attributes` attributes' values over `days` days (at most one row a day).

    Either GET /attributes/with-values/ (every attribute at once, 31 days and 100 attributes a request) or
    GET /attributes/values/ (one attribute, 100 rows a request): whichever is fewer.
    """
    if not attributes:
        return 0
    with_values = _ceil(max(days, 1), WITH_VALUES_DAYS) * _ceil(attributes, PAGE)
    values = attributes * max(1, _ceil(days, PAGE))
    return min(with_values, values)


def values_minimum(attributes, days, writes, today=False, increment=False):
    """The fewest requests the API allows for an existio.exist.values run (from the scenario, not the module).

    The owned list (value types and ownership), the profile when a day is left out (the user's today), the
    current values of the days declared (not for an increment, which adds whatever is there), and
    ceil(writes/35) update or increment POSTs.
    """
    gets = max(1, _ceil(attributes, PAGE))
    if today:
        gets += 1
    if not increment:
        gets += read_minimum(attributes, days)
    return gets + _ceil(writes, BATCH)


def classify(requests):
    """{'owned', 'lookup', 'acquire', 'create', 'release', 'profile', 'read', 'write', 'other': count} of logged
    requests.

    'read' is a values read (with-values or values/), 'write' a value write (update or increment), 'computed' a
    read of what Exist computes (COMPUTED_PATHS).
    """
    kinds = ('owned', 'lookup', 'acquire', 'create', 'release', 'profile', 'read', 'write', 'computed')
    counts = dict((kind, 0) for kind in kinds)
    counts['other'] = 0
    for r in requests:
        if r['method'] == 'GET' and r['path'] == '/api/2/attributes/owned/':
            counts['owned'] += 1
        elif r['method'] == 'GET' and r['path'] == '/api/2/attributes/':
            counts['lookup'] += 1
        elif r['method'] == 'POST' and r['path'] == '/api/2/attributes/acquire/':
            counts['acquire'] += 1
        elif r['method'] == 'POST' and r['path'] == '/api/2/attributes/create/':
            counts['create'] += 1
        elif r['method'] == 'POST' and r['path'] == '/api/2/attributes/release/':
            counts['release'] += 1
        elif r['method'] == 'GET' and r['path'] == '/api/2/accounts/profile/':
            counts['profile'] += 1
        elif r['method'] == 'GET' and r['path'] in ('/api/2/attributes/with-values/', '/api/2/attributes/values/'):
            counts['read'] += 1
        elif r['method'] == 'POST' and r['path'] in ('/api/2/attributes/update/', '/api/2/attributes/increment/'):
            counts['write'] += 1
        elif r['method'] == 'GET' and r['path'] in COMPUTED_PATHS:
            counts['computed'] += 1
        else:
            counts['other'] += 1
    return counts


def check(where, requests, least, kinds=OWNERSHIP_KINDS):
    """The problem with the requests a run sent (a list of logged requests), or None.

    A run must send exactly `least` requests, every one of the given kinds (see classify): by default an
    owned-list GET, a look-up GET, an acquire, create or release POST.
    """
    counted = classify(requests)
    strays = len(requests) - sum(counted[kind] for kind in kinds)
    if len(requests) != least or strays:
        return '%s: %d requests, minimum %d%s' % (
            where,
            len(requests),
            least,
            ' (%d of a kind this run should not send)' % strays if strays else '',
        )
    return None
