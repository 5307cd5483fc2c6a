# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.averages_info task: argument spec and run, shared by the module and the action plugin.

Internal to this collection, not a stable API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient

from ansible_collections.existio.exist.plugins.module_utils._connection_options import connection_argument_spec
from ansible_collections.existio.exist.plugins.module_utils._read_side import checked_names, date_query, warn_unreadable


def argument_spec() -> dict:
    spec = connection_argument_spec()
    spec.update(
        attributes=dict(type='list', elements='str'),
        groups=dict(type='list', elements='str'),
        date_min=dict(type='str'),
        date_max=dict(type='str'),
        include_historical=dict(type='bool', default=False),
    )
    return spec


def prepare(params: dict) -> dict:
    """The API query of GET /averages/ for the module's options, checked before any request."""
    query = date_query(params)
    for option in ('attributes', 'groups'):
        names = checked_names(option, params[option])
        if names:
            query[option] = ','.join(names)
    if params['include_historical']:
        # As recorded from exist.io (the docs give both 1 and true).
        query['include_historical'] = '1'
    return query


def work(client: ExistClient, query: dict, params: dict, check_mode: bool, warn: Callable[[str], None]) -> dict:
    """Read every page of averages. Only reads, so check mode changes nothing and there is no diff."""
    averages = list(client.list_averages(query))
    named = dict((name, 'attributes') for name in params['attributes'] or [])
    warn_unreadable(client, named, set(item['attribute'] for item in averages), warn)
    return dict(changed=False, averages=averages, count=len(averages))


# What a task that failed before its reads succeeded reports.
NOTHING_DONE: dict = dict()
