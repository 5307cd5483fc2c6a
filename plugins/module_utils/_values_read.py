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

choose_read() picks whichever costs fewer requests for a span of days (the
lookup's); plan_reads() does the same for scattered days (the values
module's), reading only the windows that hold a declared day. With-values wins
a tie: it also proves the token can read each attribute and gives its value
type. A day without data is absent from with-values and may be a `null` row in
values/: both mean "no value".
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient

from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import is_iso_date
from ansible_collections.existio.exist.plugins.module_utils._client import PAGE_LIMIT
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError

WITH_VALUES = 'with-values'
VALUES = 'values'
WITH_VALUES_MAX_DAYS = 31
# Low-priority attributes (priority >= 10) are left out unless asked for; a read that decides what to write sees them.
EVERY_ATTRIBUTE = {'include_low_priority': 'true'}


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def read_costs(count: int, days: int) -> dict[str, int]:
    """{read: GET requests} to read `count` attributes over `days` days, assuming one row per day."""
    if not count:
        return {WITH_VALUES: 0, VALUES: 0}
    return {
        WITH_VALUES: _ceil_div(days, WITH_VALUES_MAX_DAYS) * _ceil_div(count, PAGE_LIMIT),
        VALUES: count * _ceil_div(days, PAGE_LIMIT),
    }


def choose_read(count: int, days: int, last_known: bool = True) -> str:
    """The cheaper read for `count` attributes over `days` days. values/ needs
    the last day (its window is cut on the client), so without it with-values is used."""
    costs = read_costs(count, days)
    if last_known and costs[VALUES] < costs[WITH_VALUES]:
        return VALUES
    return WITH_VALUES


def iso_day(value: str) -> datetime.date:
    """A date object from YYYY-MM-DD (already checked)."""
    return datetime.date(int(value[:4]), int(value[5:7]), int(value[8:10]))


def today_of(profile: dict) -> datetime.date:
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


class ValuesRead:
    """What a read found.

    values: {name: {date: value}}, only days with a non-null value in the window.
    attributes: {name: attribute object} the with-values read showed (None for a values/ read).
    unseen: names the read cannot vouch for: with-values left them out (the
        token cannot read them, or the user lacks them); values/ answered no
        row at all up to the last day.
    read_with: WITH_VALUES or VALUES.
    """

    def __init__(self, read_with: str) -> None:
        self.read_with = read_with
        self.values: dict = {}
        self.attributes: Any = {} if read_with == WITH_VALUES else None  # a dict when read_with is WITH_VALUES
        self.unseen: list = []


def read_values(
    client: ExistClient, names: list[str], days: int, last: datetime.date | None = None, read_with: str | None = None
) -> ValuesRead:
    """Read `names` over the `days` days ending on `last` (a date; None: the server's today, at most 31 days)."""
    names = sorted(set(names))
    if read_with is None:
        read_with = choose_read(len(names), days, last is not None)
    result = ValuesRead(read_with)
    first: datetime.date | None
    if not names:
        return result
    if read_with == VALUES:
        if last is None:
            raise ValueError('a values/ read needs the last day')
        first = last - datetime.timedelta(days=days - 1)
        for name in names:
            result.values[name], rows = _read_one(client, name, first, last)
            if not rows:
                result.unseen.append(name)
        return result
    if last is None and days > WITH_VALUES_MAX_DAYS:
        raise ValueError('more than %d days need the last day' % WITH_VALUES_MAX_DAYS)
    remaining, window_end = days, last
    first = last - datetime.timedelta(days=days - 1) if last is not None else None
    while remaining > 0:
        window = min(remaining, WITH_VALUES_MAX_DAYS)
        _read_window(client, names, window, window_end, first, result)
        remaining -= window
        if window_end is not None:
            window_end -= datetime.timedelta(days=window)
    result.unseen = [name for name in names if name not in result.attributes]
    for name in names:
        result.values.setdefault(name, {})
    return result


def _read_one(client: ExistClient, name: str, first: datetime.date, last: datetime.date) -> tuple[dict, int]:
    """(values, rows): one attribute's values in [first, last] through values/, and how many rows Exist answered;
    pages stop once they pass `first`."""
    found: dict
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
    return found, rows


# -- scattered days: the values module ----------------------------------------------------------------------------

VALUES_PAGE_DAYS = PAGE_LIMIT  # values/ answers 100 rows a page, at most one row a day


def _windows(dates: Iterable[datetime.date], span: int) -> list[tuple[datetime.date, datetime.date]]:
    """[(first, last)] windows of at most `span` days that cover `dates` (date objects), newest first.

    Greedy from the newest date: each window ends on the newest date not yet
    covered and reaches back to the oldest date within `span` days of it, so
    no two windows could be one and no window holds a day it does not need
    at its ends.
    """
    windows: list = []
    for day in sorted(set(dates), reverse=True):
        if windows and windows[-1][1] - datetime.timedelta(days=span - 1) <= day:
            windows[-1] = (day, windows[-1][1])
            continue
        windows.append((day, day))
    return windows


class ReadStep:
    """One read of the plan: `names` over [first, last] (with-values: one request per 100 names; values/: one name,
    one request, as the window spans at most 100 days)."""

    def __init__(self, names: list[str], first: datetime.date, last: datetime.date) -> None:
        self.names = names
        self.first = first
        self.last = last

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


class ReadPlan:
    """The GETs that read the days a task declares: read_with, steps, and requests (their number, counted before
    any is sent)."""

    def __init__(self, read_with: str, steps: list[ReadStep]) -> None:
        self.read_with = read_with
        self.steps = steps
        if read_with == WITH_VALUES:
            self.requests = sum(_ceil_div(len(step.names), PAGE_LIMIT) for step in steps)
        else:
            self.requests = len(steps)


def plan_reads(wanted: dict, read_with: str | None = None) -> ReadPlan:
    """The cheaper plan to read `wanted` ({name: iterable of date objects}); read_with forces one kind.

    with-values: one window of up to 31 days per cluster of declared days
    (across attributes), each naming only the attributes with a day in it;
    values/: per attribute, one read per cluster of its days within 100 days.
    """
    wanted = dict((name, sorted(set(dates))) for name, dates in wanted.items() if dates)
    plans = {}
    if read_with in (None, WITH_VALUES):
        steps = []
        every_day = [day for dates in wanted.values() for day in dates]
        for first, last in _windows(every_day, WITH_VALUES_MAX_DAYS):
            names = sorted(name for name, dates in wanted.items() if any(first <= day <= last for day in dates))
            steps.append(ReadStep(names, first, last))
        plans[WITH_VALUES] = ReadPlan(WITH_VALUES, steps)
    if read_with in (None, VALUES):
        steps = []
        for name in sorted(wanted):
            for first, last in _windows(wanted[name], VALUES_PAGE_DAYS):
                steps.append(ReadStep([name], first, last))
        plans[VALUES] = ReadPlan(VALUES, steps)
    if read_with is not None:
        return plans[read_with]
    if plans[VALUES].requests < plans[WITH_VALUES].requests:
        return plans[VALUES]
    return plans[WITH_VALUES]


def probe_cost(plan: ReadPlan) -> int:
    """At most how many requests read_planned() may add to plan.requests: after a values/ read, one with-values
    request per 100 attributes that showed no row at all, to learn whether the token can read them."""
    if plan.read_with != VALUES:
        return 0
    return _ceil_div(len(set(name for step in plan.steps for name in step.names)), PAGE_LIMIT)


def read_planned(client: ExistClient, plan: ReadPlan, probe: bool = True) -> ValuesRead:
    """Read what `plan` says. Returns a ValuesRead.

    With values/, an attribute that showed no row at all may have no data or
    be unreadable to the token (Exist answers both alike); with probe, one
    with-values request for those tells which (those it does not list stay in
    `unseen`, as with-values' own unseen).
    """
    result = ValuesRead(plan.read_with)
    names = sorted(set(name for step in plan.steps for name in step.names))
    if plan.read_with == VALUES:
        answered = set()
        for step in plan.steps:
            name = step.names[0]
            found, rows = _read_one(client, name, step.first, step.last)
            result.values.setdefault(name, {}).update(found)
            if rows:
                answered.add(name)
        unseen = [name for name in names if name not in answered]
        if unseen and probe:
            shown = _listed(client, unseen, max(step.last for step in plan.steps))
            result.attributes = shown
            unseen = [name for name in unseen if name not in shown]
        result.unseen = unseen
    else:
        for step in plan.steps:
            _read_window(client, step.names, step.days, step.last, step.first, result)
        result.unseen = [name for name in names if name not in result.attributes]
    for name in names:
        result.values.setdefault(name, {})
    return result


def _listed(client: ExistClient, names: list[str], last: datetime.date) -> dict:
    """{name: attribute} of `names` that with-values shows (one day, ending on `last`): those the token can read."""
    wanted = set(names)
    query = dict(EVERY_ATTRIBUTE, days=1, attributes=','.join(sorted(names)), date_max=last.isoformat())
    shown: dict = {}
    for attribute in client.list_with_values(query):
        if attribute['name'] in wanted:
            shown.setdefault(attribute['name'], {k: v for k, v in attribute.items() if k != 'values'})
    return shown


def _read_window(
    client: ExistClient,
    names: list[str],
    days: int,
    window_end: datetime.date | None,
    first: datetime.date | None,
    result: ValuesRead,
) -> None:
    """One with-values window: `names` over the `days` days ending on window_end (None: the server's today)."""
    wanted = set(names)
    query = dict(EVERY_ATTRIBUTE, days=days, attributes=','.join(names))
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
