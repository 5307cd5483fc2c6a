# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The averages_info task (_averages_info_task.py): options checked and turned into the query of
GET /averages/, every page read, and the warning about a named attribute without averages. Run through
run_task, as both execution paths run it."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.existio.exist.plugins.module_utils import _averages_info_task as task
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import (
    ATTRIBUTES,
    AVERAGES,
    TOKEN,
    assert_no_token,
    average,
    page,
    run_stubbed_task,
    task_params,
)


def run(**options):
    return run_stubbed_task(task, **options)


@pytest.mark.parametrize(
    'options, query',
    [
        ({}, {}),
        (
            dict(attributes=['steps', 'floors'], groups=['activity'], date_min='2026-11-01', date_max='2026-11-30'),
            {'attributes': 'steps,floors', 'groups': 'activity', 'date_min': '2026-11-01', 'date_max': '2026-11-30'},
        ),
        (dict(include_historical=True), {'include_historical': '1'}),
        (dict(attributes=[], groups=[]), {}),
    ],
)
def test_each_option_becomes_its_query_parameter_only_when_it_filters(options, query):
    assert task.prepare(task_params(task, **options)) == query


@responses.activate
@pytest.mark.parametrize(
    'options, message',
    [
        (dict(date_min='2026-11-31'), "date_min must be a real calendar date written YYYY-MM-DD, got '2026-11-31'"),
        (dict(date_min='2026-11-02', date_max='2026-11-01'), 'date_min 2026-11-02 is after date_max 2026-11-01'),
        (dict(attributes=['steps', 'step count']), "attributes: 'step count' is not a valid name"),
        (dict(groups=['']), "groups: '' is not a valid name"),
    ],
)
def test_bad_input_fails_before_any_request_naming_option_and_value(options, message):
    with pytest.raises(TaskInputError, match=message):
        task.prepare(task_params(task, **options))
    result, warnings = run(**options)
    assert result['failed'] and message in result['msg'] and result['api_requests'] == 0
    assert len(responses.calls) == 0


@responses.activate
def test_every_page_is_read_at_limit_100_and_counted():
    history = [average(date='2026-11-%02d' % day) for day in (29, 22, 15)]
    responses.add(responses.GET, AVERAGES, json=page(history[:2], AVERAGES + '?include_historical=1&limit=100&page=2'))
    responses.add(responses.GET, AVERAGES, json=page(history[2:]))
    result, warnings = run(attributes=['steps'], include_historical=True)
    assert result == dict(changed=False, averages=history, count=3, api_requests=2)
    assert responses.calls[0].request.url == AVERAGES + '?attributes=steps&include_historical=1&limit=100'
    assert warnings == []


@responses.activate
def test_a_named_attribute_without_averages_is_read_for_once_and_warned_about_when_unreadable():
    responses.add(responses.GET, AVERAGES, json=page([average('steps')]))
    responses.add(responses.GET, ATTRIBUTES, json=page([listed_attribute('steps'), listed_attribute('floors')]))
    result, warnings = run(attributes=['steps', 'floors', 'mood'])
    assert result['averages'] == [average('steps')] and result['count'] == 1
    # The averages read and one read of the attribute list.
    assert result['api_requests'] == 2
    assert [call.request.url.split('?')[0] for call in responses.calls] == [AVERAGES, ATTRIBUTES]
    # floors is the user's, readable, and has no averages yet: no warning for it.
    assert warnings == [
        "attributes: nothing was returned for 'mood': the token cannot read it (no mood_read scope), "
        'or the user has no such attribute'
    ]


@responses.activate
def test_no_attributes_named_no_extra_request_even_for_an_empty_answer():
    responses.add(responses.GET, AVERAGES, json=page([]))
    result, warnings = run(groups=['activity'])
    assert result == dict(changed=False, averages=[], count=0, api_requests=1) and warnings == []


@responses.activate
def test_a_malformed_average_fails_naming_the_endpoint_and_never_the_token():
    responses.add(responses.GET, AVERAGES, json=page([average(overall=TOKEN)]))
    result, warnings = run()
    assert result['failed'] and result['changed'] is False and result['api_requests'] == 1
    assert result['msg'].startswith("GET /api/2/averages/ answered a malformed item: results[0] 'overall' is ")
    assert_no_token(result, warnings)


def test_check_mode_reads_the_same():
    seen = []

    class Client:
        def list_averages(self, query):
            seen.append(query)
            return iter([average()])

    result = task.work(Client(), {}, task_params(task), True, None)
    assert result == dict(changed=False, averages=[average()], count=1) and seen == [{}]
