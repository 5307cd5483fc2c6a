# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.attribute_info task: argument spec and run, shared by the
module and the action plugin.

Internal to this collection, not a stable API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient

from ansible_collections.existio.exist.plugins.module_utils._connection_options import connection_argument_spec
from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import NAME_PATTERN
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError
from ansible_collections.existio.exist.plugins.module_utils._values_read import (
    WITH_VALUES,
    WITH_VALUES_MAX_DAYS,
    read_values,
)

# Options the templates list does not take.
ATTRIBUTE_ONLY_FILTERS = ('names', 'manual', 'include_inactive', 'exclude_custom', 'with_values')


def argument_spec() -> dict:
    spec = connection_argument_spec()
    spec.update(
        source=dict(type='str', default='all', choices=['all', 'owned', 'templates']),
        groups=dict(type='list', elements='str'),
        names=dict(type='list', elements='str'),
        manual=dict(type='bool'),
        include_inactive=dict(type='bool', default=False),
        include_low_priority=dict(type='bool', default=False),
        exclude_custom=dict(type='bool', default=False),
        with_values=dict(type='int'),
    )
    return spec


def list_params(params: dict) -> dict:
    """The API query for the module's filters; raises ValueError naming a bad option."""
    with_values = params['with_values']
    if with_values is not None and not 0 <= with_values <= WITH_VALUES_MAX_DAYS:
        raise ValueError(
            'with_values must be a number of days from 1 to %d (0 or omitted for no values), got %r'
            % (WITH_VALUES_MAX_DAYS, with_values)
        )
    for option in ('groups', 'names'):
        for value in params[option] or []:
            if not isinstance(value, str) or not NAME_PATTERN.match(value):
                raise ValueError('%s: %r is not a valid name (letters, digits and underscores)' % (option, value))
    if params['source'] == 'templates':
        # manual=false is a filter too; the other options are off when falsy.
        used = [
            option
            for option in ATTRIBUTE_ONLY_FILTERS
            if (params[option] is not None if option == 'manual' else params[option])
        ]
        if used:
            raise ValueError('%s cannot be used with source=templates' % ', '.join(used))
    return _query(params)


def _query(params: dict) -> dict:
    """The API query of checked params: each filter only when it filters."""
    query = {}
    if params['groups']:
        query['groups'] = ','.join(params['groups'])
    if params['include_low_priority']:
        query['include_low_priority'] = 'true'
    if params['source'] == 'templates':
        return query
    if params['names']:
        query['attributes'] = ','.join(params['names'])
    if params['manual'] is not None:
        query['manual'] = 'true' if params['manual'] else 'false'
    for flag in ('include_inactive', 'exclude_custom'):
        if params[flag]:
            query[flag] = 'true'
    return query


def prepare(params: dict) -> dict:
    """The API query for the module's filters, checked before any request."""
    try:
        return list_params(params)
    except ValueError as exc:
        raise TaskInputError(str(exc)) from None


def work(client: ExistClient, query: dict, params: dict, check_mode: bool, warn: Callable[[str], None]) -> dict:
    """List attributes or templates. Only reads, so check mode changes nothing and there is no diff."""
    listing = {
        'all': client.list_attributes,
        'owned': client.list_owned,
        'templates': client.list_templates,
    }[params['source']]
    items = list(listing(query))
    if params['names'] and params['source'] != 'templates':
        # Exist has been seen to ignore the attributes= filter: filter here too.
        wanted = set(params['names'])
        items = [item for item in items if item['name'] in wanted]
    if params['with_values'] and params['source'] != 'templates':
        add_values(client, items, params['with_values'], warn)
    result = dict(changed=False, attributes=[], templates=[], count=len(items))
    result['templates' if params['source'] == 'templates' else 'attributes'] = items
    return result


def add_values(client: ExistClient, attributes: list[dict], days: int, warn: Callable[[str], None]) -> None:
    """Give each listed attribute its `values` ({date: value}, oldest first) of the last `days` days, read
    through with-values: one request per 100 attributes."""
    read = read_values(client, [item['name'] for item in attributes], days, read_with=WITH_VALUES)
    for item in attributes:
        item['values'] = dict(sorted(read.values.get(item['name'], {}).items()))
    if read.unseen:
        warn(
            "with_values: Exist's with-values read did not show %s (inactive, or outside the token's read scopes): "
            'values left empty' % ', '.join(read.unseen)
        )


# What a task that failed before its reads succeeded reports.
NOTHING_DONE: dict = dict()
