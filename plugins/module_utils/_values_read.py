# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read the values of some attributes over some days, in as few requests as the API allows.

Internal to this collection, not a stable API. Shared by the values module,
the values lookup and attribute_info. Exist offers two reads:

- GET /attributes/with-values/ answers every named attribute with its values
  of up to 31 days: one request per 31-day window (per 100 attributes);
- GET /attributes/values/ answers one attribute's values, newest first, 100
  a page: one request per attribute per 100 days.

choose_read() picks whichever costs fewer requests for the set at hand (with-
values on a tie: it also proves the token can read each attribute and gives
its value type). A day without data is absent from with-values and may be a
`null` row in values/: both mean "no value".
"""

from __future__ import annotations

import datetime

from ansible_collections.existio.exist.plugins.module_utils._client import PAGE_LIMIT, ExistApiError, is_iso_date

WITH_VALUES = 'with-values'
VALUES = 'values'
WITH_VALUES_MAX_DAYS = 31
# Low-priority attributes (priority >= 10) are left out unless asked for; a read that decides what to write sees them.
EVERY_ATTRIBUTE = {'include_low_priority': 'true'}


def _ceil_div(a, b):
    return -(-a // b)


def read_costs(count, days):
    """{read: GET requests} to read `count` attributes over `days` days, assuming one row per day."""
    if not count:
        return {WITH_VALUES: 0, VALUES: 0}
    return {
        WITH_VALUES: _ceil_div(days, WITH_VALUES_MAX_DAYS) * _ceil_div(count, PAGE_LIMIT),
        VALUES: count * _ceil_div(days, PAGE_LIMIT),
    }


def choose_read(count, days, last_known=True):
    """The cheaper read for `count` attributes over `days` days. values/ needs
    the last day (its window is cut on the client), so without it with-values is used."""
    costs = read_costs(count, days)
    if last_known and costs[VALUES] < costs[WITH_VALUES]:
        return VALUES
    return WITH_VALUES


def iso_day(value):
    """A date object from YYYY-MM-DD (already checked)."""
    return datetime.date(int(value[:4]), int(value[5:7]), int(value[8:10]))


def today_of(profile):
    """The user's local day, from the profile's local_time (its date is the user's, in the user's timezone)."""
    local_time = profile.get('local_time')
    if isinstance(local_time, str) and is_iso_date(local_time[:10]):
        return iso_day(local_time[:10])
    raise ExistApiError(
        "GET /api/2/accounts/profile/ answered no usable 'local_time', so the user's today is unknown; give each "
        'item a date',
        method='GET',
        path='/api/2/accounts/profile/',
    )


class ValuesRead(object):
    """What a read found.

    values: {name: {date: value}}, only days with a non-null value in the window.
    attributes: {name: attribute object} the with-values read showed (None for a values/ read).
    unseen: names the read cannot vouch for: with-values left them out (the
        token cannot read them, or the user lacks them); values/ answered no
        row at all up to the last day.
    read_with: WITH_VALUES or VALUES.
    """

    def __init__(self, read_with):
        self.read_with = read_with
        self.values = {}
        self.attributes = {} if read_with == WITH_VALUES else None
        self.unseen = []


def read_values(client, names, days, last=None, read_with=None):
    """Read `names` over the `days` days ending on `last` (a date; None: the server's today, at most 31 days)."""
    names = sorted(set(names))
    if read_with is None:
        read_with = choose_read(len(names), days, last is not None)
    result = ValuesRead(read_with)
    if not names:
        return result
    if read_with == VALUES:
        if last is None:
            raise ValueError('a values/ read needs the last day')
        first = last - datetime.timedelta(days=days - 1)
        for name in names:
            result.values[name] = _read_one(client, name, first, last, result)
        return result
    if last is None and days > WITH_VALUES_MAX_DAYS:
        raise ValueError('more than %d days need the last day' % WITH_VALUES_MAX_DAYS)
    wanted = set(names)
    remaining, window_end = days, last
    first = last - datetime.timedelta(days=days - 1) if last is not None else None
    while remaining > 0:
        window = min(remaining, WITH_VALUES_MAX_DAYS)
        query = dict(EVERY_ATTRIBUTE, days=window, attributes=','.join(names))
        if window_end is not None:
            query['date_max'] = window_end.isoformat()
        for attribute in client.list_with_values(query):
            name = attribute['name']
            # Exist has been seen to ignore the attributes= filter: filter here too.
            if name not in wanted:
                continue
            result.attributes.setdefault(name, {k: v for k, v in attribute.items() if k != 'values'})
            days_of = result.values.setdefault(name, {})
            for row in attribute['values']:
                if row['value'] is not None and (first is None or first.isoformat() <= row['date']):
                    if window_end is None or row['date'] <= window_end.isoformat():
                        days_of.setdefault(row['date'], row['value'])
        remaining -= window
        if window_end is not None:
            window_end -= datetime.timedelta(days=window)
    result.unseen = [name for name in names if name not in result.attributes]
    for name in names:
        result.values.setdefault(name, {})
    return result


def _read_one(client, name, first, last, result):
    """One attribute's values in [first, last] through values/: pages stop once they pass `first`."""
    found, rows = {}, 0
    for row in client.list_values(name, {'date_max': last.isoformat()}):
        rows += 1
        if row['date'] < first.isoformat():
            break
        if row['value'] is not None and row['date'] <= last.isoformat():
            found.setdefault(row['date'], row['value'])
        if row['date'] == first.isoformat():
            # One row a day, newest first: nothing older is needed, so no further page is read.
            break
    if not rows:
        result.unseen.append(name)
    return found
