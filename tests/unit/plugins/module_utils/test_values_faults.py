# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fault fuzzing of the values task: a misbehaving server must never make the result lie.

Hypothesis draws stored values, declared values and a fault for each request
(an answer lost after the write landed, a 5xx before or after it, a body
that is not Exist's, an answer that leaves items out, a whole-request 400).
After the faulty run, against the emulator's true state:

- truth: every value reported updated is held; every value that changed is
  reported updated or `outcome_unknown`; a value reported `request_failed`
  or `not_attempted` did not change;
- clear: the task returns a result (never raises), and a failed one says why;
- converges: a clean run afterwards reaches the declared values, and the run
  after that changes nothing.
"""

from __future__ import annotations

import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils import _values_task
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistError
from ansible_collections.existio.exist.plugins.module_utils._values_plan import same_value
from ansible_collections.existio.exist.tests.unit.plugins.emulated import EmulatedExist, one_user_seed

LAST = datetime.date(2026, 11, 27)
NAMES = ('mood', 'coffees')
FAULTS = ('ok', 'lost_after', 'error_before', 'error_after', 'malformed_after', 'partial_after', 'refused')


def day(offset):
    return (LAST - datetime.timedelta(days=offset)).isoformat()


def server(stored):
    return EmulatedExist(one_user_seed([{'template': name, 'service': 'me', 'values': stored[name]} for name in NAMES]))


def run(exist, values, faults=()):
    """One run with one fault per request, in order (then none)."""
    exist.clear_faults()
    for index, fault in enumerate(faults):
        exist.fault(fault, nth=index + 1)
    params = dict(token_type='bearer', values=values, operation='set', acquire=False, takeover=True)
    try:
        return _values_task.work(exist.client(), _values_task.prepare(params), params, False, lambda message: None)
    except ExistError as exc:
        # As run_task does: work() raises only while reading, before any write.
        return dict(_values_task.NOTHING_DONE, failed=True, msg=exc.message, changed=False, raised=True)


def held(exist):
    return dict((name, exist.values(name)) for name in NAMES)


stored_values = st.fixed_dictionaries(
    dict((name, st.dictionaries(st.integers(0, 40).map(day), st.integers(1, 9), max_size=5)) for name in NAMES)
)
declared_values = st.lists(
    st.tuples(st.sampled_from(NAMES), st.integers(0, 40).map(day), st.integers(1, 9)),
    min_size=1,
    max_size=80,
    unique_by=lambda item: (item[0], item[1]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored=stored_values, declared=declared_values, faults=st.lists(st.sampled_from(FAULTS), max_size=8))
def test_faults_never_make_the_result_lie(stored, declared, faults):
    exist = server(stored)
    values = [{'name': name, 'date': date, 'value': value} for name, date, value in declared]
    before = held(exist)
    result = run(exist, values, faults)
    after = held(exist)

    if result.get('failed'):
        assert result.get('msg'), result
    updated = set((u['name'], u['date']) for u in result['updated'])
    codes = dict(((f['name'], f['date']), f['error_code']) for f in result['failed_items'])
    for name, date, value in declared:
        key = (name, date)
        changed = not same_value(before[name].get(date), after[name].get(date)) or (
            date in after[name] and date not in before[name]
        )
        if key in updated:
            assert same_value(after[name].get(date), value), (key, result)
        if changed:
            assert key in updated or codes.get(key) == 'outcome_unknown', (key, result)
        if codes.get(key) in ('request_failed', 'not_attempted'):
            assert not changed, (key, result)
    assert result['changed'] is bool(updated)
    if result.get('raised'):
        assert after == before, 'a read failed, so nothing may have been written'

    clean = run(exist, values)
    assert not clean.get('failed'), clean.get('msg')
    for name, date, value in declared:
        assert same_value(held(exist)[name].get(date), value)
    assert run(exist, values)['changed'] is False
