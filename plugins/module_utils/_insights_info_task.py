# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.insights_info task: argument spec and run, shared by the module and the action plugin.

Internal to this collection, not a stable API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient

from ansible_collections.existio.exist.plugins.module_utils._connection_options import connection_argument_spec
from ansible_collections.existio.exist.plugins.module_utils._option_checks import shown
from ansible_collections.existio.exist.plugins.module_utils._read_side import date_query
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError

# Exist's insight priorities: 1 (today) to 4 (last month).
PRIORITIES = (1, 4)


def argument_spec() -> dict:
    spec = connection_argument_spec()
    spec.update(
        date_min=dict(type='str'),
        date_max=dict(type='str'),
        priority=dict(type='int'),
    )
    return spec


def prepare(params: dict) -> dict:
    """The API query of GET /insights/ for the module's options, checked before any request."""
    query = date_query(params)
    priority = params['priority']
    if priority is not None:
        if (
            isinstance(priority, bool)
            or not isinstance(priority, int)
            or not PRIORITIES[0] <= priority <= PRIORITIES[1]
        ):
            raise TaskInputError(
                'priority must be a whole number from 1 (today) to 4 (last month), got %s' % shown(priority)
            )
        query['priority'] = str(priority)
    return query


def work(client: ExistClient, query: dict, params: dict, check_mode: bool, warn: Callable[[str], None]) -> dict:
    """Read every page of insights. Only reads, so check mode changes nothing and there is no diff."""
    insights = list(client.list_insights(query))
    return dict(changed=False, insights=insights, count=len(insights))


# What a task that failed before its reads succeeded reports.
NOTHING_DONE: dict = dict()
