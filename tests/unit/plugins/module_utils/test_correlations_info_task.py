# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The correlations_info task (_correlations_info_task.py): the list (every page, its filters) or the one
combination (404 not_found: empty), options checked before any request, and the warning about a named attribute
no result shows. Run through run_task, as both execution paths run it."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.existio.exist.plugins.module_utils import _correlations_info_task as task
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import (
    ATTRIBUTES,
    COMBO,
    CORRELATIONS,
    TOKEN,
    assert_no_token,
    correlation,
    page,
    run_stubbed_task,
    task_params,
)

UNREADABLE = "nothing was returned for '%s': the token cannot read it (%s), or the user has no such attribute"


def run(**options):
    return run_stubbed_task(task, **options)


@pytest.mark.parametrize(
    'options, query',
    [
        ({}, {}),
        (dict(attribute='sleep', strong=True, confident=True), {'attribute': 'sleep', 'strong': '1', 'confident': '1'}),
        (dict(confident=True), {'confident': '1'}),
        (dict(attribute='steps', attribute2='mood'), {'attribute': 'steps', 'attribute2': 'mood'}),
    ],
)
def test_each_option_becomes_its_query_parameter_only_when_it_filters(options, query):
    assert task.prepare(task_params(task, **options)) == query


@responses.activate
@pytest.mark.parametrize(
    'options, message',
    [
        (dict(attribute='sleep start'), "attribute: 'sleep start' is not a valid name"),
        (dict(attribute='sleep', attribute2='mood!'), "attribute2: 'mood!' is not a valid name"),
        (dict(attribute2='mood'), "attribute2 'mood' needs attribute: together they name the combination to read"),
        (
            dict(attribute='mood', attribute2='mood'),
            "attribute2 must name another attribute than attribute, got 'mood' twice",
        ),
        (
            dict(attribute='steps', attribute2='mood', strong=True, confident=True),
            'strong, confident cannot be used with attribute2: Exist filters only the list of correlations',
        ),
    ],
)
def test_bad_input_fails_before_any_request_naming_option_and_value(options, message):
    with pytest.raises(TaskInputError, match=message):
        task.prepare(task_params(task, **options))
    result, warnings = run(**options)
    assert result['failed'] and message in result['msg'] and result['api_requests'] == 0
    assert len(responses.calls) == 0


@responses.activate
def test_every_page_of_the_list_is_read_at_limit_100_with_the_filters():
    found = [correlation('sleep', 'sleep_start'), correlation('steps', 'sleep'), correlation('mood', 'sleep')]
    responses.add(
        responses.GET, CORRELATIONS, json=page(found[:2], CORRELATIONS + '?attribute=sleep&limit=100&page=2&strong=1')
    )
    responses.add(responses.GET, CORRELATIONS, json=page(found[2:]))
    result, warnings = run(attribute='sleep', strong=True)
    assert result == dict(changed=False, correlations=found, count=3, api_requests=2)
    assert responses.calls[0].request.url == CORRELATIONS + '?attribute=sleep&strong=1&limit=100'
    assert warnings == []


@responses.activate
def test_the_combination_found_is_a_list_of_one():
    found = correlation('mood', 'steps')
    responses.add(responses.GET, COMBO, json=found)
    result, warnings = run(attribute='steps', attribute2='mood')
    assert result == dict(changed=False, correlations=[found], count=1, api_requests=1) and warnings == []
    assert responses.calls[0].request.url == COMBO + '?attribute=steps&attribute2=mood'


@responses.activate
def test_no_combination_found_is_an_empty_result_and_the_attributes_are_checked_once():
    responses.add(responses.GET, COMBO, status=404, json={'error': 'not_found'})
    responses.add(responses.GET, ATTRIBUTES, json=page([listed_attribute('steps'), listed_attribute('mood')]))
    result, warnings = run(attribute='steps', attribute2='mood')
    assert result == dict(changed=False, correlations=[], count=0, api_requests=2)
    # Both are the user's and readable: Exist simply found nothing between them.
    assert warnings == []
    assert responses.calls[1].request.url == ATTRIBUTES + '?include_inactive=true&include_low_priority=true&limit=100'


@responses.activate
def test_an_unreadable_side_of_a_missing_combination_is_warned_about():
    responses.add(responses.GET, COMBO, status=404, json={'error': 'not_found'})
    responses.add(responses.GET, ATTRIBUTES, json=page([listed_attribute('steps')]))
    result, warnings = run(attribute='steps', attribute2='mood')
    assert result['count'] == 0 and result['api_requests'] == 2
    assert warnings == ['attribute2: ' + UNREADABLE % ('mood', 'no mood_read scope')]


@responses.activate
def test_another_404_of_the_combination_fails():
    responses.add(responses.GET, COMBO, status=404, json={'detail': 'Not found.'})
    result, warnings = run(attribute='steps', attribute2='mood')
    assert result['failed'] and result['api_requests'] == 1 and 'correlations' not in result
    assert result['msg'].startswith('GET /api/2/correlations/combo/: Exist answered 404')


@responses.activate
def test_a_named_attribute_in_no_correlation_is_warned_about_after_one_read():
    responses.add(responses.GET, CORRELATIONS, json=page([]))
    responses.add(responses.GET, ATTRIBUTES, json=page([listed_attribute('steps')]))
    result, warnings = run(attribute='coffee')
    assert result == dict(changed=False, correlations=[], count=0, api_requests=2)
    assert warnings == ['attribute: ' + UNREADABLE % ('coffee', 'no read scope for its group')]


@responses.activate
def test_the_attribute_counts_as_shown_on_either_side():
    responses.add(responses.GET, CORRELATIONS, json=page([correlation('sleep', 'steps')]))
    result, warnings = run(attribute='steps')
    assert result['count'] == 1 and result['api_requests'] == 1 and warnings == []


@responses.activate
def test_a_malformed_correlation_fails_naming_the_endpoint_and_never_the_token():
    responses.add(responses.GET, CORRELATIONS, json=page([correlation(attribute2={'token': TOKEN})]))
    result, warnings = run()
    assert result['failed'] and result['api_requests'] == 1
    assert result['msg'].startswith("GET /api/2/correlations/ answered a malformed item: results[0] 'attribute2' is ")
    assert_no_token(result, warnings)
