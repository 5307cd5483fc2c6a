# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Planning the reads of values (_values_read.py): the cheaper read, windows Exist allows, the user's today.

The reads themselves, against the emulated Exist: test_values_task.py.
"""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError
from ansible_collections.existio.exist.plugins.module_utils._values_read import (
    choose_read,
    plan_reads,
    probe_cost,
    read_costs,
    today_of,
)


@pytest.mark.parametrize(
    'count, days, costs, chosen',
    [
        (1, 7, {'with-values': 1, 'values': 1}, 'with-values'),
        (5, 7, {'with-values': 1, 'values': 5}, 'with-values'),
        (1, 60, {'with-values': 2, 'values': 1}, 'values'),
        (2, 60, {'with-values': 2, 'values': 2}, 'with-values'),
        (1, 365, {'with-values': 12, 'values': 4}, 'values'),
        (150, 31, {'with-values': 2, 'values': 150}, 'with-values'),
    ],
)
def test_the_cheaper_read_is_chosen(count, days, costs, chosen):
    assert read_costs(count, days) == costs
    assert choose_read(count, days) == chosen


def test_without_the_last_day_only_with_values_can_read():
    assert choose_read(1, 20, last_known=False) == 'with-values'


# -- what reading the declared days costs --------------------------------------------------------------------------

wanted_days = st.dictionaries(
    st.sampled_from(['a%03d' % n for n in range(150)]),
    st.sets(st.dates(datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)), min_size=1, max_size=8),
    min_size=1,
    max_size=150,
)


@given(wanted=wanted_days)
def test_a_read_plan_covers_every_declared_day_in_windows_exist_allows_and_costs_no_more_than_the_span(wanted):
    plans = {kind: plan_reads(wanted, kind) for kind in ('with-values', 'values')}
    chosen = plan_reads(wanted)
    assert chosen.requests == min(plan.requests for plan in plans.values())
    assert chosen.read_with == ('values' if plans['values'].requests < plans['with-values'].requests else 'with-values')
    for kind, plan in plans.items():
        longest = 31 if kind == 'with-values' else 100
        for step in plan.steps:
            assert 1 <= step.days <= longest
            # A window ends on a declared day of one of its attributes (nothing newer is read).
            assert any(step.last in wanted[name] for name in step.names)
        for name, dates in wanted.items():
            for day in dates:
                assert any(name in step.names and step.first <= day <= step.last for step in plan.steps)
    # Never more than reading the whole span from the earliest to the latest day, as before.
    every = [day for dates in wanted.values() for day in dates]
    span = (max(every) - min(every)).days + 1
    assert chosen.requests <= min(read_costs(len(wanted), span).values())


def test_two_days_decades_apart_cost_one_window_each():
    wanted = dict(
        (name, {datetime.date(1990, 1, 1), datetime.date(2026, 11, 26)}) for name in ('mood', 'coffees', 'a', 'b')
    )
    plan = plan_reads(wanted)
    assert (plan.read_with, plan.requests) == ('with-values', 2)
    assert [(s.first, s.last, s.names) for s in plan.steps] == [
        (datetime.date(2026, 11, 26), datetime.date(2026, 11, 26), ['a', 'b', 'coffees', 'mood']),
        (datetime.date(1990, 1, 1), datetime.date(1990, 1, 1), ['a', 'b', 'coffees', 'mood']),
    ]
    # As one span, that was 13,479 days: 435 with-values windows, or 4 x 135 values/ pages.
    assert min(read_costs(4, (datetime.date(2026, 11, 26) - datetime.date(1990, 1, 1)).days + 1).values()) == 435


@pytest.mark.parametrize(
    'local_time, today',
    [('2026-11-28T00:30:00+13:00', datetime.date(2026, 11, 28)), ('2026-02-28', datetime.date(2026, 2, 28))],
)
def test_the_users_today_is_the_date_of_their_local_time(local_time, today):
    assert today_of({'local_time': local_time}) == today


@pytest.mark.parametrize('local_time', [None, '', '2026-02-30T10:00', 'yesterday', 20261128])
def test_a_profile_without_a_usable_local_time_is_an_error_saying_what_to_do(local_time):
    with pytest.raises(ExistApiError, match="no usable 'local_time'.*give each item a date"):
        today_of({'local_time': local_time})


def test_only_a_values_read_may_probe_one_request_per_100_attributes():
    wanted = dict(('a%03d' % n, {datetime.date(2026, 1, 1), datetime.date(2026, 11, 1)}) for n in range(150))
    assert probe_cost(plan_reads(wanted, 'with-values')) == 0
    assert probe_cost(plan_reads(wanted, 'values')) == 2
