# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report's tallies (_fleet_tally.py): counting results per user and for the tokens, and the report.

Fed by hand here; fed by the fleet_report callback from a play: callback/test_fleet_report.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.plugin_utils._fleet_tally import (
    HOURLY_BUDGET,
    TokenTally,
    UserTally,
    build_report,
)

SECRET = 'sEcReT-host-token-1'


def user(name, status='ok', **result):
    tally = UserTally(name)
    tally.tasks[status] += 1
    failures, unknown_only = tally.add_result(result, status)
    if failures:
        tally.count_failure(unknown_only)
    return tally


def test_a_user_s_items_are_counted_once_each_and_a_created_attribute_is_an_acquired_one():
    tally = user(
        'alice',
        'changed',
        acquired=['mood', 'sleep'],
        created=['sleep'],
        released=['steps'],
        updated=[{'name': 'mood', 'date': '2026-11-27'}],
        api_requests=4,
    )
    assert tally.items() == (4, 0, 0)
    summary = tally.summary()
    assert (summary['outcome'], summary['api_requests']) == ('changed', 4)
    assert (summary['acquired'], summary['created'], summary['values_updated']) == (['mood', 'sleep'], ['sleep'], 1)


@pytest.mark.parametrize(
    'failed_items, outcome',
    [
        ([{'name': 'mood', 'error_code': 'outcome_unknown', 'error': 'lost'}], 'outcome_unknown'),
        (
            [
                {'name': 'mood', 'error_code': 'outcome_unknown', 'error': 'lost'},
                {'name': 'steps', 'error_code': 'not_found', 'error': 'gone'},
            ],
            'failed',
        ),
        ([], 'failed'),
    ],
)
def test_a_task_that_failed_only_by_items_of_unknown_outcome_leaves_the_user_s_outcome_unknown(failed_items, outcome):
    tally = user('alice', 'failed', msg='some items failed', failed_items=failed_items)
    assert tally.outcome() == outcome


def test_an_echoed_token_is_masked_in_failed_items_and_task_failures():
    tally = UserTally('alice')
    tally.secret = SECRET
    tally.add({'failed_items': [{'name': 'mood', 'error_code': 'x', 'error': 'bad ' + SECRET}]})
    tally.add_task_failures('Converge', ['token %s refused' % SECRET])
    assert SECRET not in repr(tally.summary())


def test_a_loop_adds_each_item_and_counts_requests_that_are_whole_numbers_only():
    tally = user('alice', results=[{'api_requests': 2}, {'api_requests': True}, {'api_requests': -3}, 'junk'])
    assert tally.api_requests == 2


def test_token_tasks_count_exchanges_apart_from_refreshes():
    tokens = TokenTally()
    tokens.add({'changed': True, 'username': 'alice', 'api_requests': 2})
    tokens.add({'changed': True, 'username': 'bob', 'refreshed': ['bob'], 'api_requests': 1})
    tokens.add({'failed_items': [{'username': 'carol', 'error_code': 'invalid_grant', 'error': 'refused'}]})
    summary = tokens.summary()
    assert summary['exchanged'] == {'total': 1, 'users': ['alice']}
    assert summary['refreshed'] == {'total': 1, 'users': ['bob']}
    assert summary['failures']['by_error_code'] == {'invalid_grant': {'total': 1, 'users': ['carol']}}
    assert summary['api_requests'] == 3


def test_the_report_adds_the_users_up_and_names_who_passed_the_hourly_budget():
    users = {
        'alice': user(
            'alice', 'changed', acquired=['mood'], takeovers=[{'name': 'mood', 'previous_owner': 'withings'}]
        ),
        'bob': user('bob', api_requests=HOURLY_BUDGET + 1),
    }
    report = build_report(
        users, 0, 2, False, ['site.yml'], 0, 90.04, not_run={'carol': {'token_state': 'expired', 'reason': 'no host'}}
    )
    assert (report['mode'], report['title'], report['started'], report['duration_seconds']) == (
        'run',
        'Exist fleet report',
        '1970-01-01T00:00:00Z',
        90.0,
    )
    assert report['users']['by_outcome'] == {
        'changed': ['alice'],
        'unchanged': ['bob'],
        'failed': [],
        'skipped': [],
        'outcome_unknown': [],
        'not_run': ['carol'],
    }
    assert (report['users']['total'], report['users']['converged']) == (3, 2)
    assert report['attributes']['acquired'] == {'total': 1, 'by_attribute': {'mood': 1}}
    assert report['takeovers']['by_previous_owner'] == {
        'withings': {'total': 1, 'users': 1, 'by_attribute': {'mood': 1}}
    }
    assert report['api_requests']['over_budget'] == ['bob']
    assert report['per_user']['carol'] == {'outcome': 'not_run', 'token_state': 'expired', 'reason': 'no host'}


@pytest.mark.parametrize(
    'check_results, real_results, cli_check, mode',
    [(3, 0, False, 'drift'), (3, 1, False, 'mixed'), (0, 1, True, 'run'), (0, 0, True, 'drift'), (0, 0, False, 'run')],
)
def test_the_mode_follows_the_task_results_and_else_the_command_line(check_results, real_results, cli_check, mode):
    assert build_report({}, check_results, real_results, cli_check, [], 0, 1)['mode'] == mode
