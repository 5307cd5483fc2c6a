# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tasks reading what Exist computes (averages_info, correlations_info, insights_info) share: their
date and name options checked before any request, and the warning about a named attribute that the answer
does not show.

Internal to this collection, not a stable API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient

from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import is_iso_date
from ansible_collections.existio.exist.plugins.module_utils._client import EVERY_ATTRIBUTE
from ansible_collections.existio.exist.plugins.module_utils._option_checks import shown
from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import NAME_PATTERN
from ansible_collections.existio.exist.plugins.module_utils._remedies import read_scopes
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError

DATE_OPTIONS = ('date_min', 'date_max')


def date_query(params: dict) -> dict:
    """The date_min and date_max query of the task (only those given), checked: real calendar dates written
    YYYY-MM-DD, date_min not after date_max. Raises TaskInputError naming the option and the value."""
    query = {}
    for option in DATE_OPTIONS:
        value = params.get(option)
        if value is None:
            continue
        if not is_iso_date(value):
            raise TaskInputError('%s must be a real calendar date written YYYY-MM-DD, got %s' % (option, shown(value)))
        query[option] = value
    # Dates written YYYY-MM-DD compare as text as they do as dates.
    if len(query) == 2 and query['date_min'] > query['date_max']:
        raise TaskInputError(
            'date_min %s is after date_max %s: no day is in between' % (query['date_min'], query['date_max'])
        )
    return query


def checked_name(option: str, value: object) -> str:
    """value, an attribute or group name; TaskInputError naming the option and the value when it cannot be one."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise TaskInputError(
            '%s: %s is not a valid name (1 to 100 letters, digits and underscores)' % (option, shown(value))
        )
    return value


def checked_names(option: str, values: list | None) -> list[str]:
    """The names of a list option, each checked with checked_name (an omitted option: none)."""
    return [checked_name(option, value) for value in values or []]


def warn_unreadable(
    client: ExistClient, named: dict[str, str], shown_names: set[str], warn: Callable[[str], None]
) -> None:
    """Warn about each attribute the task named (named: name -> its option) that the answer did not show
    (shown_names) and that the user's attribute list does not show either: the token cannot read it (no read
    scope for its group) or the user has no such attribute.

    The list is read only when some named attribute has no result (one request per 100 attributes); an
    attribute that is listed simply has nothing to show, and needs no warning.
    """
    missing = [name for name in named if name not in shown_names]
    if not missing:
        return
    readable = set(item['name'] for item in client.list_attributes(dict(EVERY_ATTRIBUTE)))
    for name in missing:
        if name not in readable:
            scope = read_scopes([name])
            warn(
                "%s: nothing was returned for '%s': the token cannot read it (%s), or the user has no such attribute"
                % (named[name], name, 'no %s scope' % scope if scope else 'no read scope for its group')
            )
