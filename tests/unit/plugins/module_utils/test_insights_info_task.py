# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The insights_info task (_insights_info_task.py): options checked and turned into the query of
GET /insights/, every page read. Run through run_task, as both execution paths run it."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.existio.exist.plugins.module_utils import _insights_info_task as task
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import (
    INSIGHTS,
    TOKEN,
    assert_no_token,
    insight,
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
            dict(date_min='2026-11-01', date_max='2026-11-30', priority=4),
            {'date_min': '2026-11-01', 'date_max': '2026-11-30', 'priority': '4'},
        ),
        (dict(priority=1), {'priority': '1'}),
    ],
)
def test_each_option_becomes_its_query_parameter_only_when_it_filters(options, query):
    assert task.prepare(task_params(task, **options)) == query


@responses.activate
@pytest.mark.parametrize(
    'options, message',
    [
        (dict(priority=0), 'priority must be a whole number from 1 (today) to 4 (last month), got 0'),
        (dict(priority=5), 'got 5'),
        (dict(priority=True), 'got True'),
        (dict(date_max='2026-11-31'), "date_max must be a real calendar date written YYYY-MM-DD, got '2026-11-31'"),
        (dict(date_min='2026-12-01', date_max='2026-11-01'), 'date_min 2026-12-01 is after date_max 2026-11-01'),
    ],
)
def test_bad_input_fails_before_any_request_naming_option_and_value(options, message):
    with pytest.raises(TaskInputError, match=message.replace('(', r'\(').replace(')', r'\)')):
        task.prepare(task_params(task, **options))
    result, warnings = run(**options)
    assert result['failed'] and message in result['msg'] and result['api_requests'] == 0
    assert len(responses.calls) == 0


@responses.activate
def test_every_page_is_read_at_limit_100_with_the_filters():
    found = [insight('2026-11-30'), insight('2026-11-29', attribute=None), insight('2026-11-28')]
    responses.add(responses.GET, INSIGHTS, json=page(found[:1], INSIGHTS + '?limit=100&page=2&priority=2'))
    responses.add(responses.GET, INSIGHTS, json=page(found[1:]))
    result, warnings = run(priority=2)
    assert result == dict(changed=False, insights=found, count=3, api_requests=2) and warnings == []
    assert [call.request.url for call in responses.calls] == [
        INSIGHTS + '?priority=2&limit=100',
        INSIGHTS + '?limit=100&page=2&priority=2',
    ]


@responses.activate
def test_a_new_account_has_no_insights():
    responses.add(responses.GET, INSIGHTS, json={'count': 0, 'next': None, 'previous': None, 'results': []})
    result, warnings = run()
    assert result == dict(changed=False, insights=[], count=0, api_requests=1) and warnings == []


@responses.activate
def test_a_malformed_insight_fails_naming_the_endpoint_and_never_the_token():
    responses.add(responses.GET, INSIGHTS, json=page([insight(created=TOKEN)]))
    result, warnings = run()
    assert result['failed'] and result['api_requests'] == 1
    assert result['msg'].startswith("GET /api/2/insights/ answered a malformed item: results[0] 'created' is ")
    assert_no_token(result, warnings)


@responses.activate
def test_an_error_answer_fails_with_its_status_and_never_the_token():
    responses.add(responses.GET, INSIGHTS, status=401, json={'detail': 'Invalid token'})
    result, warnings = run()
    assert result['failed'] and result['msg'].startswith('GET /api/2/insights/: Exist answered 401')
    assert_no_token(result, warnings)
