# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The values task end to end against the emulator's own request handling, in process.

Each test counts the requests the task sent, because the request budget is
part of what the module promises.
"""

from __future__ import annotations

import datetime

import pytest
import zoneinfo

from ansible_collections.existio.exist.plugins.module_utils import _values_task
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError
from ansible_collections.existio.exist.plugins.module_utils._values_plan import normalize_values, plan_values
from ansible_collections.existio.exist.tests.unit.plugins.emulated import EmulatedExist, one_user_seed

TOKEN = 'values-token'


def seed(scopes=('all',), attributes=None):
    if attributes is None:
        attributes = [
            {'template': 'mood', 'service': 'me', 'manual': True, 'values': {'2026-11-27': 6}},
            {'template': 'coffees', 'service': 'me', 'values': {'2026-11-27': 2}},
            {'template': 'steps', 'service': 'withings', 'available_services': ['withings']},
        ]
    return one_user_seed(
        attributes,
        scopes=scopes,
        services=[('me', 'Me'), ('withings', 'Withings')],
        timezone='Pacific/Auckland',
        token=TOKEN,
    )


@pytest.fixture
def exist_seed():
    return seed()


def run(exist, values, check_mode=False, **options):
    """One run of the task: (result, warnings, [(method, path) of every request it sent])."""
    params = dict(token_type='bearer', values=values, operation='set', acquire=False, takeover=True)
    params.update(options)
    client = exist.client(TOKEN)
    warnings = []
    exist.clear_log()
    declared = _values_task.prepare(params)
    result = _values_task.work(client, declared, params, check_mode, warnings.append)
    return result, warnings, exist.log


def stored(exist, name):
    return exist.values(name)


WEEK = [{'name': 'mood', 'date': '2026-11-%02d' % day, 'value': 5 + day % 3} for day in range(21, 28)]


def test_check_predicts_the_real_run_and_the_second_run_sends_no_write(exist):
    predicted, unused_warnings, check_requests = run(exist, WEEK, check_mode=True)
    assert all(method == 'GET' for method, path in check_requests)
    assert stored(exist, 'mood') == {'2026-11-27': 6}
    real, unused_warnings, real_requests = run(exist, WEEK)
    assert predicted['changed'] is real['changed'] is True
    assert predicted['updated'] == real['updated']
    assert predicted['diff'] == real['diff']
    # 2026-11-27 held 6, and the week's value for the 27th is 5 + 27 % 3 = 5.
    assert {'name': 'mood', 'date': '2026-11-27', 'previous': 6, 'value': 5} in real['updated']
    assert len(real['updated']) == 7
    assert real_requests == [
        ('GET', '/api/2/attributes/owned/'),
        ('GET', '/api/2/attributes/with-values/'),
        ('POST', '/api/2/attributes/update/'),
    ]
    again, unused_warnings, again_requests = run(exist, WEEK)
    assert again['changed'] is False and again['updated'] == []
    assert [method for method, path in again_requests] == ['GET', 'GET']


def test_only_the_values_that_differ_are_sent(exist):
    run(exist, WEEK)
    changed = [dict(item) for item in WEEK]
    changed[2]['value'] = 9
    result, unused_warnings, unused_requests = run(exist, changed)
    assert result['updated'] == [{'name': 'mood', 'date': '2026-11-23', 'previous': 7, 'value': 9}]
    assert stored(exist, 'mood')['2026-11-23'] == 9


def test_a_day_left_out_is_the_users_today_read_from_the_profile(exist):
    before = datetime.datetime.now(zoneinfo.ZoneInfo('Pacific/Auckland')).date().isoformat()
    result, unused_warnings, requests_sent = run(exist, [{'name': 'coffees', 'value': 4}])
    after = datetime.datetime.now(zoneinfo.ZoneInfo('Pacific/Auckland')).date().isoformat()
    assert requests_sent[0] == ('GET', '/api/2/accounts/profile/')
    day = result['updated'][0]['date']
    # The user's day in their timezone (Pacific/Auckland), not the machine's (UTC here).
    assert day in (before, after)
    assert stored(exist, 'coffees')[day] == 4


def test_a_60_day_backfill_of_two_attributes_reads_in_windows_and_writes_in_batches_of_35(exist):
    start = datetime.date(2026, 9, 29)
    values = [
        {'name': name, 'date': (start + datetime.timedelta(days=n)).isoformat(), 'value': 1 + n % 9}
        for name in ('mood', 'coffees')
        for n in range(60)
    ]
    result, unused_warnings, requests_sent = run(exist, values)
    assert result['read_with'] == 'with-values'
    # 120 declared; mood on 2026-11-27 already holds 1 + 59 % 9 = 6, so 119 differ.
    assert len(result['updated']) == 119
    assert requests_sent.count(('GET', '/api/2/attributes/with-values/')) == 2
    assert requests_sent.count(('POST', '/api/2/attributes/update/')) == 4
    again, unused_warnings, again_requests = run(exist, values)
    assert again['changed'] is False
    assert again_requests == [('GET', '/api/2/attributes/owned/')] + [('GET', '/api/2/attributes/with-values/')] * 2


def test_a_60_day_backfill_of_one_attribute_reads_its_values_pages(exist):
    start = datetime.date(2026, 9, 29)
    values = [
        {'name': 'coffees', 'date': (start + datetime.timedelta(days=n)).isoformat(), 'value': n} for n in range(60)
    ]
    result, unused_warnings, requests_sent = run(exist, values)
    assert result['read_with'] == 'values'
    assert requests_sent.count(('GET', '/api/2/attributes/values/')) == 1
    assert requests_sent.count(('POST', '/api/2/attributes/update/')) == 2
    assert len(result['updated']) == 60
    again, unused_warnings, unused_requests = run(exist, values)
    assert again['changed'] is False and again['read_with'] == 'values'


def test_a_value_of_the_wrong_type_fails_before_any_write(exist):
    values = [{'name': 'mood', 'date': '2026-11-26', 'value': 7}, {'name': 'mood', 'date': '2026-11-27', 'value': 12}]
    result, unused_warnings, requests_sent = run(exist, values)
    assert result['failed'] is True and result['changed'] is False
    assert result['failed_items'] == [
        {
            'name': 'mood',
            'date': '2026-11-27',
            'value': 12,
            'error_code': 'validation',
            'error': '12 is not a valid scale value (a whole number from 1 to 9)',
        }
    ]
    assert 'Nothing was written' in result['msg']
    assert all(method == 'GET' for method, path in requests_sent)
    assert stored(exist, 'mood') == {'2026-11-27': 6}


def test_a_value_for_an_attribute_this_client_does_not_own_fails_and_the_rest_is_written(exist):
    values = [{'name': 'mood', 'date': '2026-11-26', 'value': 7}, {'name': 'steps', 'date': '2026-11-26', 'value': 100}]
    predicted, unused_warnings, unused_requests = run(exist, values, check_mode=True)
    result, unused_warnings, unused_requests = run(exist, values)
    assert result['failed'] is True and result['changed'] is True
    assert result['updated'] == [{'name': 'mood', 'date': '2026-11-26', 'previous': None, 'value': 7}]
    assert [(i['name'], i['error_code']) for i in result['failed_items']] == [('steps', 'unauthorised')]
    assert predicted['failed_items'] == result['failed_items']
    assert 'Done all the same: updated 1 value(s)' in result['msg']


def test_acquire_takes_the_attribute_over_before_writing(exist):
    result, warnings, requests_sent = run(exist, [{'name': 'steps', 'date': '2026-11-26', 'value': 100}], acquire=True)
    assert result['acquired'] == ['steps'] and result['updated'][0]['value'] == 100
    assert any('Withings' in w and 'took it over' in w for w in warnings)
    assert requests_sent[:3] == [
        ('GET', '/api/2/attributes/owned/'),
        ('GET', '/api/2/attributes/'),
        ('POST', '/api/2/attributes/acquire/'),
    ]


def test_null_over_a_value_is_refused_with_exists_reason(exist):
    result, unused_warnings, requests_sent = run(exist, [{'name': 'mood', 'date': '2026-11-27', 'value': None}])
    assert result['failed'] is True
    assert result['failed_items'][0]['error'].startswith('A non-null value cannot be set back to null')
    assert ('POST', '/api/2/attributes/update/') not in requests_sent


def test_an_update_whose_answer_is_lost_is_decided_by_a_fresh_read(exist):
    exist.fault('lost_after', path='/api/2/attributes/update/')
    result, warnings, requests_sent = run(exist, [{'name': 'mood', 'date': '2026-11-26', 'value': 7}])
    assert result['updated'] == [{'name': 'mood', 'date': '2026-11-26', 'previous': None, 'value': 7}]
    assert result['changed'] is True and not result.get('failed')
    assert requests_sent[-1] == ('GET', '/api/2/attributes/with-values/')
    assert any('a fresh read shows every item of that request was applied' in w for w in warnings)


def test_an_increment_whose_answer_is_lost_is_outcome_unknown_without_a_read(exist):
    exist.fault('lost_after', path='/api/2/attributes/increment/')
    result, unused_warnings, requests_sent = run(
        exist, [{'name': 'coffees', 'date': '2026-11-27', 'value': 1}], operation='increment'
    )
    assert result['failed'] is True
    assert [i['error_code'] for i in result['failed_items']] == ['outcome_unknown']
    assert requests_sent[-1] == ('POST', '/api/2/attributes/increment/')
    assert stored(exist, 'coffees')['2026-11-27'] == 3  # it did land: nobody could know


def test_increment_is_always_a_change_and_returns_the_new_totals(exist):
    values = [{'name': 'coffees', 'date': '2026-11-27', 'value': 1}]
    predicted, warnings, check_requests = run(exist, values, check_mode=True, operation='increment')
    assert predicted['changed'] is True and predicted['incremented'][0]['current'] is None
    assert any('never idempotent' in w for w in warnings)
    assert check_requests == [('GET', '/api/2/attributes/owned/')]
    first, unused_warnings, unused_requests = run(exist, values, operation='increment')
    second, unused_warnings, unused_requests = run(exist, values, operation='increment')
    assert [r['incremented'][0]['current'] for r in (first, second)] == [3, 4]
    assert first['changed'] is second['changed'] is True


def test_an_increment_of_a_scale_is_refused_before_any_write(exist):
    result, unused_warnings, requests_sent = run(
        exist, [{'name': 'mood', 'date': '2026-11-27', 'value': 1}], operation='increment'
    )
    assert result['failed'] is True and result['failed_items'][0]['error'] == 'a scale attribute cannot be incremented'
    assert requests_sent == [('GET', '/api/2/attributes/owned/')]


def write_only(*values):
    """A server whose token may write food and mood but read neither."""
    return EmulatedExist(seed(scopes=('food_write', 'mood_write')))


@pytest.mark.parametrize('check_mode', [False, True])
@pytest.mark.parametrize(
    'values',
    [
        # One day: with-values, which proves the token cannot read coffees.
        [{'name': 'coffees', 'date': '2026-11-27', 'value': 2}],
        # Sixty days of one attribute: values/, whose empty answer proves nothing by itself.
        [
            {
                'name': 'coffees',
                'date': (datetime.date(2026, 9, 29) + datetime.timedelta(days=n)).isoformat(),
                'value': 2,
            }
            for n in range(60)
        ],
    ],
    ids=['with-values', 'values'],
)
def test_a_write_only_token_never_claims_a_previous_value_or_a_change_it_cannot_know(values, check_mode):
    # coffees holds 2 on 2026-11-27 already; the token may write it but not read it.
    exist = write_only()
    result, warnings, unused_requests = run(exist, values, check_mode=check_mode)
    assert not result.get('failed'), result.get('msg')
    assert result['updated'] == []
    assert result['unread'] == [dict(item) for item in values]
    assert result['changed'] is False
    assert result['diff'] == {'before': {}, 'after': {}}
    assert any(
        "values of 'coffees' cannot be read (the token lacks food_read)" in w and 'unread' in w for w in warnings
    )
    if not check_mode:
        assert all(stored(exist, 'coffees')[item['date']] == 2 for item in values)


def test_a_null_over_a_value_the_token_cannot_read_is_sent_and_exist_decides():
    exist = write_only()
    result, unused_warnings, unused_requests = run(
        exist,
        [
            {'name': 'coffees', 'date': '2026-11-27', 'value': None},
            {'name': 'coffees', 'date': '2026-11-26', 'value': None},
        ],
    )
    # 2026-11-27 holds 2: Exist refuses the null; 2026-11-26 holds nothing: Exist takes it, and nothing changed.
    assert [(i['date'], i['error_code']) for i in result['failed_items']] == [('2026-11-27', 'validation')]
    assert result['unread'] == [{'name': 'coffees', 'date': '2026-11-26', 'value': None}]
    assert result['updated'] == [] and result['changed'] is False


def test_a_values_read_with_no_row_at_all_asks_once_whether_the_token_can_read(exist):
    start = datetime.date(2026, 6, 1)
    values = [
        {'name': 'coffees', 'date': (start + datetime.timedelta(days=n)).isoformat(), 'value': 1} for n in range(40)
    ]
    result, warnings, requests_sent = run(exist, values)
    assert result['read_with'] == 'values' and len(result['updated']) == 40 and result['unread'] == []
    assert warnings == []
    assert requests_sent == [
        ('GET', '/api/2/attributes/owned/'),
        ('GET', '/api/2/attributes/values/'),
        ('GET', '/api/2/attributes/with-values/'),
        ('POST', '/api/2/attributes/update/'),
        ('POST', '/api/2/attributes/update/'),
    ]


def test_a_simple_token_is_refused_before_any_request():
    with pytest.raises(TaskInputError) as excinfo:
        _values_task.prepare(dict(token_type='token', values=[], operation='set', acquire=False, takeover=True))
    assert 'read-only' in str(excinfo.value)


def test_a_values_read_stops_at_the_first_day_without_reading_another_page(exist):
    start = datetime.date(2026, 5, 1)
    daily = [
        {'name': 'coffees', 'date': (start + datetime.timedelta(days=n)).isoformat(), 'value': 2} for n in range(123)
    ]
    run(exist, daily)
    window = daily[23:123]  # exactly 100 days, the newest a row on 2026-08-31
    assert len(window) == 100
    result, unused_warnings, requests_sent = run(exist, window)
    assert result['read_with'] == 'values' and result['changed'] is False
    assert requests_sent == [('GET', '/api/2/attributes/owned/'), ('GET', '/api/2/attributes/values/')]


def test_check_mode_does_not_claim_unauthorised_for_a_name_no_read_shows(exist):
    values = [
        {'name': 'no_such_attribute', 'date': '2026-11-26', 'value': 1},
        {'name': 'steps', 'date': '2026-11-26', 'value': 1},
    ]
    predicted, unused_warnings, unused_requests = run(exist, values, check_mode=True)
    real, unused_warnings, unused_requests = run(exist, values)
    assert [(i['name'], i['error_code']) for i in predicted['failed_items']] == [
        ('no_such_attribute', 'not_owned'),
        ('steps', 'unauthorised'),
    ]
    assert [(i['name'], i['error_code']) for i in real['failed_items']] == [
        ('no_such_attribute', 'not_found'),
        ('steps', 'unauthorised'),
    ]


def test_numbers_given_as_text_are_taken_as_numbers(exist):
    result, unused_warnings, unused_requests = run(exist, [{'name': 'coffees', 'date': '2026-11-26', 'value': '3'}])
    assert result['updated'] == [{'name': 'coffees', 'date': '2026-11-26', 'previous': None, 'value': 3}]
    assert stored(exist, 'coffees')['2026-11-26'] == 3
    again, unused_warnings, unused_requests = run(exist, [{'name': 'coffees', 'date': '2026-11-26', 'value': '3'}])
    assert again['changed'] is False
    bumped, unused_warnings, unused_requests = run(
        exist, [{'name': 'coffees', 'date': '2026-11-26', 'value': '2'}], operation='increment'
    )
    assert bumped['incremented'][0]['current'] == 5


def big_server(stored):
    """A user whose `count` (integer) and `ratio` (float) attributes this client owns, holding `stored`."""
    attributes = [
        {'name': name, 'label': name.title(), 'group': 'health', 'value_type': value_type, 'service': 'me'}
        for name, value_type in (('count', 0), ('ratio', 1))
    ]
    for attribute in attributes:
        attribute['values'] = stored.get(attribute['name'], {})
    return EmulatedExist(one_user_seed(attributes, token=TOKEN))


@pytest.mark.parametrize('stored, declared', [(10000000000, 10000000001), (2**53, 2**53 + 1), (10**30, 10**30 - 1)])
def test_a_large_integer_that_differs_by_one_is_written_and_then_converged(stored, declared):
    exist = big_server({'count': {'2026-11-27': stored}})
    values = [{'name': 'count', 'date': '2026-11-27', 'value': declared}]
    predicted, unused_warnings, unused_requests = run(exist, values, check_mode=True)
    assert predicted['updated'] == [{'name': 'count', 'date': '2026-11-27', 'previous': stored, 'value': declared}]
    result, unused_warnings, unused_requests = run(exist, values)
    assert result['updated'] == predicted['updated'] and result['changed'] is True
    assert stored_value(exist, 'count') == declared
    again, unused_warnings, requests_sent = run(exist, values)
    assert again['changed'] is False and all(method == 'GET' for method, path in requests_sent)


def stored_value(exist, name, day='2026-11-27'):
    return exist.values(name)[day]


def test_a_fresh_read_confirms_a_large_integer_only_when_it_holds_exactly_that_value():
    exist = big_server({'count': {'2026-11-27': 2**53}})
    values = [{'name': 'count', 'date': '2026-11-27', 'value': 2**53 + 1}]
    # The answer is lost after Exist applied the write: the fresh read shows 2**53 + 1, exactly.
    exist.fault('lost_after', path='/api/2/attributes/update/')
    result, unused_warnings, unused_requests = run(exist, values)
    assert result['updated'] == [{'name': 'count', 'date': '2026-11-27', 'previous': 2**53, 'value': 2**53 + 1}]
    assert not result.get('failed')


def test_a_fresh_read_that_shows_the_old_large_integer_is_no_proof():
    declared = normalize_values([{'name': 'count', 'date': '2026-11-27', 'value': 2**53 + 1}])
    planned = plan_values(declared, {'count': {'2026-11-27': 2**53}}, {'count': 0}).writes[0]
    applied_in = _values_task.value_endpoints(FakeClient())['set'].applied_in
    assert applied_in(planned, {'count': {'2026-11-27': 2**53}}) is False
    assert applied_in(planned, {'count': {'2026-11-27': 2**53 + 1}}) is True


class FakeClient:
    update = increment = staticmethod(lambda items: None)


def test_a_decimal_is_compared_as_the_double_exist_keeps():
    exist = big_server({'ratio': {'2026-11-27': 0.30000000000000004}})
    result, unused_warnings, unused_requests = run(exist, [{'name': 'ratio', 'date': '2026-11-27', 'value': 0.3}])
    assert result['updated'] == [{'name': 'ratio', 'date': '2026-11-27', 'previous': 0.30000000000000004, 'value': 0.3}]
    again, unused_warnings, unused_requests = run(exist, [{'name': 'ratio', 'date': '2026-11-27', 'value': 0.3}])
    assert again['changed'] is False


def test_an_integer_too_long_to_write_as_text_fails_before_any_request():
    with pytest.raises(TaskInputError) as excinfo:
        _values_task.prepare(
            dict(
                token_type='bearer',
                values=[{'name': 'count', 'date': '2026-11-27', 'value': 10**5000}],
                operation='set',
                acquire=False,
                takeover=True,
            )
        )
    assert 'values[0].value (count on 2026-11-27) is an integer of more than 4300 digits' in str(excinfo.value)


@pytest.mark.parametrize('text', ['9' * 5000, '²', '1e999'])
def test_a_number_as_text_that_cannot_be_read_fails_naming_it_with_nothing_written(text):
    exist = big_server({})
    for name in ('count', 'ratio'):
        result, unused_warnings, requests_sent = run(exist, [{'name': name, 'date': '2026-11-27', 'value': text}])
        assert result['failed'] is True and result['failed_items'][0]['error_code'] == 'validation'
        assert result['msg'].startswith('Nothing was written: %s on 2026-11-27 (validation: ' % name)
        assert len(result['msg']) < 300
        assert requests_sent == [('GET', '/api/2/attributes/owned/')]


# -- far-apart dates ---------------------------------------------------------------------------------------------

FAR_APART = [
    {'name': name, 'date': date, 'value': value}
    for name, value in (('mood', 7), ('coffees', 3), ('steps', 5000), ('sleep', 420))
    for date in ('1990-01-01', '2026-11-26')
]


def test_far_apart_dates_read_only_the_windows_that_hold_them():
    exist = EmulatedExist(
        seed(
            attributes=[
                {'template': name, 'service': 'me', 'manual': True} for name in ('mood', 'coffees', 'steps', 'sleep')
            ]
        )
    )
    predicted, unused_warnings, check_requests = run(exist, FAR_APART, check_mode=True)
    # The plan says what the read costs, before reading: one with-values window for each of the two days.
    assert predicted['read_with'] == 'with-values' and predicted['read_requests'] == 2
    assert check_requests == [('GET', '/api/2/attributes/owned/')] + [('GET', '/api/2/attributes/with-values/')] * 2
    result, unused_warnings, requests_sent = run(exist, FAR_APART)
    assert not result.get('failed'), result.get('msg')
    assert len(result['updated']) == 8 and result['read_requests'] == 2
    assert requests_sent == check_requests + [('POST', '/api/2/attributes/update/')]
    again, unused_warnings, again_requests = run(exist, FAR_APART)
    assert again['changed'] is False and again_requests == check_requests


def test_scattered_days_of_one_attribute_read_through_values_one_request_per_cluster(exist):
    # coffees holds 2 on 2026-11-27: every cluster shows a row, so no probe.
    days = ['2026-11-27', '2026-11-20', '2025-06-01', '2025-05-01', '2020-01-01']
    values = [{'name': 'coffees', 'date': day, 'value': 2} for day in days]
    run(exist, values)
    again, unused_warnings, requests_sent = run(exist, values)
    # with-values: 4 windows (2026-11, 2025-06/05 are 31 days apart, 2020); values/: 3 (100 days a read).
    assert again['read_with'] == 'values' and again['read_requests'] == 3 and again['changed'] is False
    assert requests_sent == [('GET', '/api/2/attributes/owned/')] + [('GET', '/api/2/attributes/values/')] * 3


def test_a_read_that_cannot_fit_in_the_task_budget_fails_before_reading(exist):
    # 400 days, each 101 days apart: 400 reads either way, more than one task may send.
    values = [
        {
            'name': 'coffees',
            'date': (datetime.date(1900, 1, 1) + datetime.timedelta(days=101 * n)).isoformat(),
            'value': 1,
        }
        for n in range(400)
    ]
    for check_mode in (True, False):
        result, unused_warnings, requests_sent = run(exist, values, check_mode=check_mode)
        assert result['failed'] is True and result['read_requests'] == 400
        assert result['msg'].startswith(
            'Nothing was read or written: reading the current values of the 400 day(s) declared takes 400 request(s) (with-values)'
        )
        assert requests_sent == [('GET', '/api/2/attributes/owned/')]
