# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who a task runs for, and what to do about a refusal: the next steps every message names.

Internal to this collection, not a stable API. The user is what the action
plugin knows of the host (exist_username from the users inventory, else the
inventory host name unless it is this machine) and never the token; without
either, warnings are left as they are and errors say "this token". The
token's scopes are known only when the inventory gives them
(exist_token_scopes): no request is spent to learn them.
"""

from __future__ import annotations

import re
from collections import namedtuple
from typing import Any, Callable, Iterable, Mapping

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import TEMPLATE_GROUPS

# How the action plugin hands the user to the module on the module path (a
# module takes no option it does not document): environment variables of the task.
USER_VARIABLE = '_EXIST_TASK_USER'
USER_KIND_VARIABLE = '_EXIST_TASK_USER_KIND'
SCOPES_VARIABLE = '_EXIST_TASK_SCOPES'

# Exist's own words for a not_allowed item name the group.
_GROUP_IN_ERROR = re.compile(r"group '([a-z_]+)'")


class TaskUser(namedtuple('TaskUser', 'name kind scopes')):
    """name: the user or host, or None; kind: 'user' (exist_username) or 'host' (the inventory host);
    scopes: the token's scopes as the inventory knows them, or None when unknown."""

    __slots__ = ()

    @property
    def label(self) -> str:
        return '%s %s' % (self.kind, self.name) if self.name else "this token's user"

    @property
    def token(self) -> str:
        """The token, as the messages name it: whose it is, never its value."""
        return 'the token of %s' % self.label if self.name else 'this token'

    def prefixed(self, message: str) -> str:
        """message led by who it is about, so that Ansible does not fold one warning of many users into one."""
        return '%s: %s' % (self.label, message) if self.name else message

    def to_environment(self) -> dict:
        environment = {}
        if self.name:
            environment.update({USER_VARIABLE: self.name, USER_KIND_VARIABLE: self.kind})
        if self.scopes is not None:
            environment[SCOPES_VARIABLE] = ' '.join(self.scopes)
        return environment

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> TaskUser:
        scopes = environ.get(SCOPES_VARIABLE)
        return cls(
            environ.get(USER_VARIABLE) or None,
            environ.get(USER_KIND_VARIABLE) or 'user',
            tuple(scopes.split()) if scopes is not None else None,
        )


NOBODY = TaskUser(None, 'user', None)


def unauthorised_hint(scheme: str, user: TaskUser) -> str:
    """Why a 401, and what to do, for a token sent with this Authorization scheme."""
    if scheme == 'Token':
        return (
            "%s was refused: a simple token that is wrong or revoked (make a new one in Exist's settings), "
            'or an OAuth2 token, which needs token_type=bearer' % user.token
        )
    return (
        '%s was refused: wrong, expired or revoked. Refresh it with existio.exist.token (grant=refresh_token), '
        'or authorise the user again if the store marks them reauthorization_needed; a simple token needs '
        'token_type=token' % user.token
    )


def forbidden_hint(scheme: str, user: TaskUser) -> str:
    """Why a 403, and what to do."""
    if scheme == 'Token':
        return '%s is a simple token, which is read-only: writes need an OAuth2 token' % user.token
    return '%s may not do this: it may lack the scope this needs; %s' % (user.token, scopes_known(user))


def scopes_known(user: TaskUser) -> str:
    if user.scopes is None:
        return 'exist_token_scopes of the users inventory shows the ones it has'
    return 'it has %s' % (', '.join(sorted(user.scopes)) if user.scopes else 'no scopes')


def group_of(name: str | None, error: str | None, custom_group: str | None = None) -> str | None:
    """The group of a refused attribute: Exist's error names it; else the declared one or the template's."""
    found = _GROUP_IN_ERROR.search(error or '')
    if found:
        return found.group(1)
    return custom_group or TEMPLATE_GROUPS.get(name or '')


def not_allowed_error(error: str, group: str | None, manual: bool | None, user: TaskUser) -> str:
    """Exist's not_allowed error, with the scope it lacks and how to get it."""
    needed = '%s_write' % group if group else "the write scope of the attribute's group (<group>_write)"
    if manual:
        needed += ' (or manual_write)'
    return '%s: %s needs %s (%s); authorise the user again with that scope' % (
        error,
        user.token,
        needed,
        scopes_known(user),
    )


def refusal_explainer(user: TaskUser) -> Callable[[Any, str, str], str]:
    """The WriteRun's explain_refusal: a not_allowed item's error gets the scope it lacks (the planned item
    knows its declared group and manual flag, when it has them); other refusals stay as Exist words them."""

    def explain(item: object, code: str, error: str) -> str:
        if code != 'not_allowed':
            return error
        custom = getattr(getattr(item, 'declared', None), 'custom', None)
        group = group_of(getattr(item, 'name', None), error, getattr(custom, 'group', None))
        return not_allowed_error(error, group, getattr(item, 'manual', None), user)

    return explain


def read_scopes(names: Iterable[str]) -> str | None:
    """The read scopes that would show these attributes ('food_read', 'activity_read or food_read'), when each
    is a template of a known group; None otherwise (a custom attribute's group is not in its name)."""
    groups = set()
    for name in names:
        group = TEMPLATE_GROUPS.get(name)
        if group is None:
            return None
        groups.add(group)
    return ' or '.join('%s_read' % group for group in sorted(groups)) or None
