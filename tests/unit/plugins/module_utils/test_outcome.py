# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The typed outcome: the one result shape and the one failure message every resource returns."""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.module_utils._outcome import Outcome
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import OwnershipOutcome
from ansible_collections.existio.exist.plugins.module_utils._result_keys import ACQUIRED, FAILED_ITEMS, UPDATED
from ansible_collections.existio.exist.plugins.module_utils._values_task import NOTHING_DONE, ValuesOutcome


class Widgets(Outcome):
    LISTS = (ACQUIRED, UPDATED)
    ITEMS = 'widget(s)'


def test_a_quiet_outcome_has_every_list_empty_and_is_not_failed():
    result = Widgets().result()
    assert result == {ACQUIRED: [], UPDATED: [], FAILED_ITEMS: [], 'changed': False}


def test_each_list_is_an_attribute_and_a_result_key():
    outcome = Widgets()
    outcome.acquired.append('steps')
    outcome.changed = True
    outcome.diff = {'before': {}, 'after': {'steps': 1}}
    result = outcome.result()
    assert result[ACQUIRED] == ['steps'] and result['changed'] is True
    assert result['diff'] == {'before': {}, 'after': {'steps': 1}}
    assert 'failed' not in result and 'msg' not in result


def test_failed_items_fail_the_task_and_the_message_says_what_was_done_all_the_same():
    outcome = Widgets()
    outcome.failed_items = [dict(name='mood', error_code='unauthorised', error='not yours')]
    outcome.done = ['acquired steps']
    result = outcome.result()
    assert result['failed'] is True
    assert result['msg'] == '1 widget(s) failed: mood (unauthorised: not yours). Done all the same: acquired steps.'


def test_errors_come_first_and_check_mode_words_a_prediction():
    outcome = Widgets(check_mode=True)
    outcome.errors = ['The write stopped.']
    outcome.failed_items = [dict(name='a', error_code='x', error='y'), dict(name='b', error_code='z', error='w')]
    outcome.done = ['would acquire c']
    assert outcome.message() == (
        'The write stopped. 2 widget(s) would fail: a (x: y); b (z: w). Would still be done: would acquire c.'
    )


def test_an_error_alone_fails_the_task():
    outcome = Widgets()
    outcome.errors = ['Exist answered 500']
    assert outcome.failed and outcome.result()['msg'] == 'Exist answered 500'


def test_the_result_is_a_copy_not_the_outcome_lists():
    outcome = Widgets()
    result = outcome.result()
    result[ACQUIRED].append('mood')
    assert outcome.acquired == []


def test_ownership_words_a_failed_item_by_what_declared_it():
    outcome = OwnershipOutcome()
    outcome.failed_items = [dict(label='Deep work', error_code='exists', error='taken')]
    assert outcome.message() == "1 attribute(s) failed: label 'Deep work' (exists: taken)."
    assert outcome.result()['owned'] == []


def test_a_values_task_stopped_before_any_write_says_only_why():
    outcome = ValuesOutcome().stop('Nothing was written: x.', [dict(name='mood', date='2026-01-01', error='bad')])
    result = outcome.result()
    assert result['msg'] == 'Nothing was written: x.' and result['failed'] is True
    assert result[FAILED_ITEMS] == [dict(name='mood', date='2026-01-01', error='bad')]
    assert result['read_with'] is None and result['read_requests'] == 0


def test_nothing_done_has_the_keys_of_a_values_result_and_changes_nothing():
    assert NOTHING_DONE['changed'] is False
    assert set(NOTHING_DONE) == set(ValuesOutcome().result())
