# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The attribute_info task (_attribute_info_task.py): filters checked and turned into the API query, and what a
listing returns. The module around it: modules/test_attribute_info.py."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._attribute_info_task import prepare, work
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError
from ansible_collections.existio.exist.tests.unit.plugins.emulated import one_user_seed

NO_FILTER = dict(
    source='all',
    groups=None,
    names=None,
    manual=None,
    include_inactive=False,
    include_low_priority=False,
    exclude_custom=False,
    with_values=None,
)


def params(**filters):
    return dict(NO_FILTER, **filters)


@pytest.mark.parametrize(
    'filters, query',
    [
        ({}, {}),
        (
            dict(groups=['mood', 'food'], names=['mood'], manual=False, include_inactive=True),
            {'groups': 'mood,food', 'attributes': 'mood', 'manual': 'false', 'include_inactive': 'true'},
        ),
        (
            dict(include_low_priority=True, exclude_custom=True),
            {'include_low_priority': 'true', 'exclude_custom': 'true'},
        ),
        (
            dict(source='templates', groups=['mood'], include_low_priority=True),
            {'groups': 'mood', 'include_low_priority': 'true'},
        ),
    ],
)
def test_each_filter_becomes_a_query_parameter_only_when_it_filters(filters, query):
    assert prepare(params(**filters)) == query


@pytest.mark.parametrize(
    'filters, message',
    [
        (
            dict(with_values=32),
            'with_values must be a number of days from 1 to 31 (0 or omitted for no values), got 32',
        ),
        (dict(with_values=-1), 'got -1'),
        (dict(names=['has space']), "names: 'has space' is not a valid name (letters, digits and underscores)"),
        (dict(groups=['mood', 7]), "groups: 7 is not a valid name"),
        (
            dict(source='templates', manual=False, with_values=3),
            'manual, with_values cannot be used with source=templates',
        ),
    ],
)
def test_a_bad_filter_is_a_task_input_error_naming_it(filters, message):
    with pytest.raises(TaskInputError) as excinfo:
        prepare(params(**filters))
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    'exist_seed', [one_user_seed(attributes=[{'template': t, 'service': 'me'} for t in ('mood', 'steps', 'coffees')])]
)
def test_names_are_filtered_here_too_and_the_count_is_of_what_is_returned(exist, exist_client):
    chosen = params(names=['steps', 'mood'])
    result = work(exist_client, prepare(chosen), chosen, check_mode=False, warn=None)
    assert sorted(a['name'] for a in result['attributes']) == ['mood', 'steps']
    assert result['count'] == 2 and result['templates'] == [] and result['changed'] is False
