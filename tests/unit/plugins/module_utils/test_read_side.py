# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the read-side tasks share (_read_side.py): dates and names checked before any request, and the
warning about a named attribute the answer does not show, with its one extra read."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.existio.exist.plugins.module_utils._read_side import (
    checked_name,
    checked_names,
    date_query,
    warn_unreadable,
)
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import ATTRIBUTES, assert_no_token, page


@pytest.mark.parametrize(
    'params, query',
    [
        ({'date_min': None, 'date_max': None}, {}),
        ({'date_min': '2026-11-01', 'date_max': None}, {'date_min': '2026-11-01'}),
        ({'date_min': '2024-02-29', 'date_max': '2024-02-29'}, {'date_min': '2024-02-29', 'date_max': '2024-02-29'}),
        ({'date_max': '2026-12-31'}, {'date_max': '2026-12-31'}),
    ],
)
def test_date_query_has_the_dates_given(params, query):
    assert date_query(params) == query


@pytest.mark.parametrize(
    'params, message',
    [
        ({'date_min': '2026-02-30'}, "date_min must be a real calendar date written YYYY-MM-DD, got '2026-02-30'"),
        ({'date_max': '2023-02-29'}, "date_max must be a real calendar date written YYYY-MM-DD, got '2023-02-29'"),
        ({'date_min': '1/11/2026'}, "date_min must be a real calendar date written YYYY-MM-DD, got '1/11/2026'"),
        (
            {'date_max': '2026-11-01T00:00'},
            "date_max must be a real calendar date written YYYY-MM-DD, got '2026-11-01T00:00'",
        ),
        ({'date_min': 20261101}, 'date_min must be a real calendar date written YYYY-MM-DD, got 20261101'),
        (
            {'date_min': '2026-12-01', 'date_max': '2026-11-30'},
            'date_min 2026-12-01 is after date_max 2026-11-30: no day is in between',
        ),
    ],
)
def test_a_bad_date_is_a_task_input_error_naming_option_and_value(params, message):
    with pytest.raises(TaskInputError) as excinfo:
        date_query(params)
    assert str(excinfo.value) == message


def test_names_are_checked_with_the_name_pattern():
    assert checked_names('groups', ['activity', 'sleep_2']) == ['activity', 'sleep_2']
    assert checked_names('groups', None) == []
    assert checked_name('attribute', 'x' * 100) == 'x' * 100
    for value, shown in (
        ('has space', "'has space'"),
        ('', "''"),
        ('x' * 101, "'xxx"),
        (7, '7'),
        ('mood\n', "'mood\\n'"),
    ):
        with pytest.raises(TaskInputError) as excinfo:
            checked_names('attributes', ['steps', value])
        assert str(excinfo.value).startswith('attributes: %s' % shown)
        assert 'is not a valid name (1 to 100 letters, digits and underscores)' in str(excinfo.value)


class Reader:
    """A client stand-in that lists the given attributes and counts how often it was asked."""

    def __init__(self, names):
        self.names = names
        self.queries = []

    def list_attributes(self, params=None):
        self.queries.append(params)
        return iter([listed_attribute(name) for name in self.names])


def test_no_read_when_every_named_attribute_was_shown():
    reader, warnings = Reader(['steps']), []
    warn_unreadable(reader, {'steps': 'attributes', 'mood': 'attributes'}, {'steps', 'mood', 'sleep'}, warnings.append)
    assert reader.queries == [] and warnings == []


def test_no_read_when_nothing_was_named():
    reader, warnings = Reader([]), []
    warn_unreadable(reader, {}, set(), warnings.append)
    assert reader.queries == [] and warnings == []


def test_one_read_of_every_attribute_and_a_warning_for_each_the_list_does_not_show():
    reader, warnings = Reader(['steps', 'sleep']), []
    named = {'steps': 'attribute', 'mood': 'attribute2', 'energy': 'attributes'}
    warn_unreadable(reader, named, set(), warnings.append)
    assert reader.queries == [{'include_inactive': 'true', 'include_low_priority': 'true'}]
    # steps is the user's and readable: it simply has nothing to show, and is not warned about.
    assert warnings == [
        "attribute2: nothing was returned for 'mood': the token cannot read it (no mood_read scope), "
        'or the user has no such attribute',
        "attributes: nothing was returned for 'energy': the token cannot read it (no food_read scope), "
        'or the user has no such attribute',
    ]


@responses.activate
def test_the_read_follows_every_page_of_the_attribute_list(client, rec):
    first = [listed_attribute('a%03d' % n) for n in range(100)]
    responses.add(responses.GET, ATTRIBUTES, json=page(first, ATTRIBUTES + '?limit=100&page=2'))
    responses.add(responses.GET, ATTRIBUTES, json=page([listed_attribute('mood')]))
    warnings = []
    warn_unreadable(client, {'mood': 'attributes', 'steps': 'attributes'}, set(), warnings.append)
    assert [call.request.url for call in responses.calls] == [
        ATTRIBUTES + '?include_inactive=true&include_low_priority=true&limit=100',
        ATTRIBUTES + '?limit=100&page=2',
    ]
    assert len(warnings) == 1 and "'steps'" in warnings[0]
    assert_no_token(warnings, rec.warnings)
