# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.correlations_info task: argument spec and run, shared by the module and the action plugin.

Internal to this collection, not a stable API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient

from ansible_collections.existio.exist.plugins.module_utils._connection_options import connection_argument_spec
from ansible_collections.existio.exist.plugins.module_utils._read_side import checked_name, warn_unreadable
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError

# The filters of the list; the combination endpoint takes none.
LIST_FLAGS = ('strong', 'confident')


def argument_spec() -> dict:
    spec = connection_argument_spec()
    spec.update(
        attribute=dict(type='str'),
        attribute2=dict(type='str'),
        strong=dict(type='bool', default=False),
        confident=dict(type='bool', default=False),
    )
    return spec


def prepare(params: dict) -> dict:
    """The API query for the module's options, checked before any request: with attribute2, the query of
    GET /correlations/combo/; otherwise that of GET /correlations/."""
    query = {}
    for option in ('attribute', 'attribute2'):
        if params[option] is not None:
            query[option] = checked_name(option, params[option])
    if 'attribute2' in query:
        if 'attribute' not in query:
            raise TaskInputError(
                "attribute2 '%s' needs attribute: together they name the combination to read" % query['attribute2']
            )
        if query['attribute'] == query['attribute2']:
            raise TaskInputError(
                "attribute2 must name another attribute than attribute, got '%s' twice" % query['attribute']
            )
        used = [flag for flag in LIST_FLAGS if params[flag]]
        if used:
            raise TaskInputError(
                '%s cannot be used with attribute2: Exist filters only the list of correlations' % ', '.join(used)
            )
        return query
    for flag in LIST_FLAGS:
        if params[flag]:
            # The docs: "set to 1".
            query[flag] = '1'
    return query


def work(client: ExistClient, query: dict, params: dict, check_mode: bool, warn: Callable[[str], None]) -> dict:
    """Read the combination, or every page of the list. Only reads, so check mode changes nothing and there
    is no diff."""
    if 'attribute2' in query:
        # Exist's "no correlation found" is None here: an empty result, not a failure.
        found = client.correlation_combo(query['attribute'], query['attribute2'])
        correlations = [found] if found is not None else []
    else:
        correlations = list(client.list_correlations(query))
    named = dict((query[option], option) for option in ('attribute', 'attribute2') if option in query)
    shown_names: set[str] = set()
    for correlation in correlations:
        shown_names.update((correlation['attribute'], correlation['attribute2']))
    warn_unreadable(client, named, shown_names, warn)
    return dict(changed=False, correlations=correlations, count=len(correlations))


# What a task that failed before its reads succeeded reports.
NOTHING_DONE: dict = dict()
