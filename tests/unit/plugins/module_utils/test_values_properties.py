# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Properties of the values task, checked by Hypothesis against the emulator's own request handling.

For random stored values (null rows included) and random declarations:
- truth: `updated` is exactly the declared days whose stored value differed,
  each with the stored value as `previous`, and the emulator then holds
  every declared value;
- prediction: check mode reports the same updates and writes nothing;
- converges: a second run changes nothing and sends no write.
"""

from __future__ import annotations

import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils import _values_task
from ansible_collections.existio.exist.plugins.module_utils._values_plan import same_value
from ansible_collections.existio.exist.tests.unit.plugins.emulated import EmulatedExist, one_user_seed

LAST = datetime.date(2026, 11, 27)
# name: (template, value type, a strategy of valid values)
ATTRIBUTES = {
    'mood': st.integers(1, 9),
    'coffees': st.integers(0, 30),
    'weight': st.floats(30, 200, allow_nan=False).map(lambda x: round(x, 1)),
    'mood_note': st.text(alphabet='abc xyz', max_size=8),
}
DAYS = 70  # more than two with-values windows, fewer than one values/ page


def day(offset):
    return (LAST - datetime.timedelta(days=offset)).isoformat()


stored_values = st.fixed_dictionaries(
    dict(
        (name, st.dictionaries(st.integers(0, DAYS - 1).map(day), st.one_of(st.none(), values), max_size=6))
        for name, values in ATTRIBUTES.items()
    )
)
declared_values = st.lists(
    st.sampled_from(sorted(ATTRIBUTES)).flatmap(
        lambda name: st.tuples(st.just(name), st.integers(0, DAYS - 1).map(day), ATTRIBUTES[name])
    ),
    max_size=45,
    unique_by=lambda item: (item[0], item[1]),
)


def server(stored):
    return EmulatedExist(
        one_user_seed([{'template': name, 'service': 'me', 'values': stored[name]} for name in sorted(stored)])
    )


def run(exist, values, check_mode):
    params = dict(token_type='bearer', values=values, operation='set', acquire=False, takeover=True)
    return _values_task.work(exist.client(), _values_task.prepare(params), params, check_mode, lambda message: None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored=stored_values, declared=declared_values)
def test_set_values_reports_the_truth_predicts_it_and_converges(stored, declared):
    exist = server(stored)
    values = [{'name': name, 'date': date, 'value': value} for name, date, value in declared]
    expected = [
        {'name': name, 'date': date, 'previous': stored[name].get(date), 'value': value}
        for name, date, value in declared
        if stored[name].get(date) is None or not same_value(stored[name][date], value)
    ]

    predicted = run(exist, values, check_mode=True)
    assert exist.writes == 0
    assert predicted['updated'] == expected

    result = run(exist, values, check_mode=False)
    assert not result.get('failed'), result.get('msg')
    assert result['updated'] == expected
    assert result['changed'] is bool(expected)
    for name, date, value in declared:
        assert same_value(exist.values(name)[date], value)

    writes = exist.writes
    again = run(exist, values, check_mode=False)
    assert again['changed'] is False and again['updated'] == []
    assert exist.writes == writes
