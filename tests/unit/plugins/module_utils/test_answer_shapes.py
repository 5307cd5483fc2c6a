# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shape checks of Exist's answers (_answer_shapes.py): each names what is wrong, or says None."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import (
    attribute_problem,
    average_problem,
    correlation_problem,
    insight_problem,
    is_iso_date,
    is_number,
    template_problem,
    token_answer_oddities,
    token_answer_problem,
    value_row_problem,
    with_values_problem,
)
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import (
    AVERAGES,
    CORRELATIONS,
    INSIGHTS,
    OWNED,
    average,
    correlation,
    insight,
    page,
)

NEW_ACCESS = 'sEcReT-new-access-11'
# A token answer as Exist gives it.
ANSWER = {
    'access_token': NEW_ACCESS,
    'token_type': 'Bearer',
    'expires_in': 31535999,
    'refresh_token': 'sEcReT-new-refresh-22',
    'scope': 'mood_read mood_write',
}


@responses.activate
@pytest.mark.parametrize(
    'result, fragment',
    [
        ('mood', 'results[0] is "mood", not an object'),
        ({'label': 'Mood'}, "results[0] has no 'name' (got null)"),
        ({'name': 7}, "results[0] has no 'name' (got 7)"),
        ({'name': 'mood', 'manual': 'yes'}, "results[0] 'manual' is \"yes\", expected true or false"),
        ({'name': 'mood', 'service': ['x']}, "results[0] 'service' is [\"x\"]"),
        ({'name': 'mood', 'group': 3}, "results[0] 'group' is 3"),
        ({'name': 'mood', 'available_services': 'x'}, "'available_services' is \"x\", expected a list"),
        # A list's objects are whole: the plan decides by label, group, value type and manual.
        ({'name': 'mood', 'values': 'none'}, "results[0] has no 'label' (got null)"),
        (listed_attribute('mood', label=''), "results[0] has no 'label' (got \"\")"),
        (listed_attribute('mood', group=None), "results[0] has no 'group'"),
        (listed_attribute('mood', value_type='0'), "results[0] 'value_type' is \"0\", expected an integer"),
        (listed_attribute('mood', value_type=True), "results[0] 'value_type' is true, expected an integer"),
        (listed_attribute('mood', manual=None), "results[0] 'manual' is null, expected true or false"),
    ],
)
def test_a_malformed_attribute_in_a_list_is_an_error_naming_the_endpoint(client, result, fragment):
    responses.add(responses.GET, OWNED, json=page([result]))
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    assert excinfo.value.message.startswith('GET /api/2/attributes/owned/ answered a malformed item: ')
    assert fragment in excinfo.value.message


def test_token_answer_problem_accepts_exists_answer_and_no_scope():
    assert token_answer_problem(ANSWER) is None
    assert token_answer_problem(dict((k, v) for k, v in ANSWER.items() if k not in ('scope', 'token_type'))) is None
    assert json.dumps(token_answer_problem({'access_token': NEW_ACCESS})).count(NEW_ACCESS) == 0


# -- each check on its own ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'value, expected',
    [
        ('2026-11-27', True),
        ('2024-02-29', True),
        ('2026-02-29', False),  # not a leap year
        ('2026-13-01', False),
        ('2026-1-27', False),
        ('2026-11-27T00:00', False),
        ('２０２６-11-27', False),  # digits of another script
        (20261127, False),
        (None, False),
    ],
)
def test_is_iso_date_takes_only_real_calendar_dates_written_yyyy_mm_dd(value, expected):
    assert is_iso_date(value) is expected


@pytest.mark.parametrize(
    'row, problem',
    [
        ({'date': '2026-11-27', 'value': 3}, None),
        ({'date': '2026-11-27', 'value': None}, None),
        ({'date': '2026-11-27', 'value': 'text'}, None),
        ({'date': '2026-02-30', 'value': 3}, "'date' is \"2026-02-30\", expected YYYY-MM-DD"),
        ({'date': '2026-11-27'}, "has no 'value'"),
        ({'date': '2026-11-27', 'value': [1]}, "'value' is [1], expected a number, a string or null"),
        ('row', 'is "row", not an object'),
    ],
)
def test_value_row_problem_names_what_is_wrong_with_a_day(row, problem):
    assert value_row_problem(row) == problem


def test_with_values_problem_names_the_row_by_its_index():
    good = listed_attribute('mood', values=[{'date': '2026-11-27', 'value': 3}])
    assert with_values_problem(good) is None
    bad_row = listed_attribute('mood', values=[{'date': '2026-11-27', 'value': 3}, {'date': 'yesterday', 'value': 1}])
    assert with_values_problem(bad_row) == "values[1] 'date' is \"yesterday\", expected YYYY-MM-DD"
    assert with_values_problem(listed_attribute('mood', values=None)) == "'values' is null, expected a list"


@pytest.mark.parametrize(
    'obj, problem',
    [
        ({'name': 'mood'}, None),
        ({'name': 'mood', 'service': {'name': 'withings'}, 'group': 'mood'}, None),
        ({'name': 'mood', 'template': 7}, "'template' is 7, expected a string or null"),
        ({'name': 'mood', 'active': 1}, "'active' is 1, expected true or false"),
        ({'name': 'mood', 'available_services': [{'name': 3}]}, '\'available_services\' holds {"name": 3}'),
    ],
)
def test_attribute_problem_checks_only_the_fields_this_collection_reads(obj, problem):
    assert attribute_problem(obj) == problem


def test_template_problem_needs_only_a_name():
    assert template_problem({'name': 'mood', 'anything': [1]}) is None
    assert template_problem({'label': 'Mood'}) == "has no 'name' (got null)"
    assert template_problem(None) == 'is null, not an object'


@pytest.mark.parametrize(
    'changes, oddities',
    [
        ({}, []),
        ({'token_type': 'bearer'}, []),
        ({'expires_in': 0}, ["no 'expires_in' that is a positive number of seconds, so its expiry is taken as now"]),
        ({'expires_in': True}, ["no 'expires_in' that is a positive number of seconds, so its expiry is taken as now"]),
        (
            {'expires_in': float('nan')},
            ["no 'expires_in' that is a positive number of seconds, so its expiry is taken as now"],
        ),
        ({'token_type': 'mac'}, ["a 'token_type' that is not Bearer"]),
        ({'scope': ['mood_read']}, ["a 'scope' that is not a string, so its scopes are taken as unknown"]),
    ],
)
def test_token_answer_oddities_say_what_is_odd_without_quoting_a_value(changes, oddities):
    answer = dict(ANSWER, **changes)
    assert token_answer_oddities(answer) == oddities
    assert NEW_ACCESS not in json.dumps(oddities)


def test_an_expires_in_of_more_than_a_century_is_odd():
    assert token_answer_oddities(dict(ANSWER, expires_in=101 * 366 * 24 * 3600)) != []


# -- averages, correlations, insights ------------------------------------------------------------------------


@pytest.mark.parametrize(
    'value, expected',
    [(0, True), (-2.5, True), (1e-26, True), (True, False), ('3', False), (None, False)]
    + [(float(text), False) for text in ('nan', 'inf', '-inf')],
)
def test_is_number_takes_finite_json_numbers_only(value, expected):
    assert is_number(value) is expected


def test_the_docs_examples_have_no_problem():
    assert average_problem(average()) is None
    assert correlation_problem(correlation()) is None
    assert insight_problem(insight()) is None
    # An insight about no attribute is shown too; integral averages are numbers as well.
    assert insight_problem(insight(attribute=None)) is None
    assert average_problem(average(overall=4174)) is None


@pytest.mark.parametrize(
    'obj, problem',
    [
        ([], 'is [], not an object'),
        (average(attribute=''), "'attribute' is \"\", expected an attribute name"),
        (average(date='2026-02-30'), "'date' is \"2026-02-30\", expected YYYY-MM-DD"),
        (average(date='29/11/2026'), "'date' is \"29/11/2026\", expected YYYY-MM-DD"),
        (average(overall='4174'), "'overall' is \"4174\", expected a number"),
        (average(sunday=None), "'sunday' is null, expected a number"),
        (dict((k, v) for k, v in average().items() if k != 'friday'), "has no 'friday'"),
    ],
)
def test_average_problem_names_the_field(obj, problem):
    assert average_problem(obj) == problem


@pytest.mark.parametrize(
    'obj, problem',
    [
        (correlation(date=None), "'date' is null, expected YYYY-MM-DD"),
        (correlation(attribute2=7), "'attribute2' is 7, expected an attribute name"),
        (correlation(value='-0.5'), "'value' is \"-0.5\", expected a number"),
        (correlation(p=None), "'p' is null, expected a number"),
        (correlation(stars=4.5), "'stars' is 4.5, expected a whole number"),
        (correlation(period=True), "'period' is true, expected a whole number of days"),
        (correlation(second_person_elements=['a', 1]), "'second_person_elements' is [\"a\", 1]"),
    ],
)
def test_correlation_problem_names_the_field(obj, problem):
    assert correlation_problem(obj).startswith(problem)


def test_correlation_fields_the_docs_show_as_null_pass_as_they_come():
    assert correlation_problem(correlation(rating=3, description='x', second_person=None)) is None


@pytest.mark.parametrize(
    'obj, problem',
    [
        (insight(created='2026-11-30'), "'created' is \"2026-11-30\", expected a date and time"),
        (
            insight(target_date='2026-13-01', created='2026-11-30T13:17:03+08:00'),
            "'target_date' is \"2026-13-01\", expected YYYY-MM-DD",
        ),
        (insight(type='dow_sleep'), "'type' is \"dow_sleep\", expected an object"),
        (insight(text=3), "'text' is 3, expected a string or null"),
        (insight(type={'name': 'x', 'priority': '1', 'attribute': None}), "'type' 'priority' is \"1\""),
        (insight(type={'name': 'x', 'priority': 1, 'attribute': {}}), "'type' 'attribute' is {}"),
        (insight(type={'priority': 1, 'attribute': None}), "'type' has no 'name'"),
    ],
)
def test_insight_problem_names_the_field(obj, problem):
    assert insight_problem(obj).startswith(problem)


@responses.activate
@pytest.mark.parametrize(
    'url, item, read, endpoint',
    [
        (AVERAGES, average(overall=None), 'list_averages', 'GET /api/2/averages/'),
        (CORRELATIONS, correlation(value=None), 'list_correlations', 'GET /api/2/correlations/'),
        (INSIGHTS, insight(html=['x']), 'list_insights', 'GET /api/2/insights/'),
    ],
)
def test_a_malformed_item_of_the_read_side_lists_fails_naming_the_endpoint(client, url, item, read, endpoint):
    responses.add(responses.GET, url, json=page([item]))
    with pytest.raises(ExistApiError) as excinfo:
        list(getattr(client, read)())
    assert excinfo.value.message.startswith(endpoint + ' answered a malformed item: results[0] ')
