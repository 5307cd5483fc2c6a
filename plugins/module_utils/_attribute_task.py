# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.attribute task: argument spec and run, shared by the module
(remote hosts) and the action plugin (in the worker process, on local connections).

Internal to this collection, not a stable API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
    from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import Declared

from ansible_collections.existio.exist.plugins.module_utils._connection_options import connection_argument_spec
from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    DeclarationError,
    normalize_declared,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import OwnershipOutcome, converge
from ansible_collections.existio.exist.plugins.module_utils._result_keys import FAILED_ITEMS
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError


def argument_spec() -> dict:
    spec = connection_argument_spec()
    spec.update(
        attributes=dict(
            type='list',
            elements='dict',
            default=[],
            options=dict(
                name=dict(type='str'),
                template=dict(type='str'),
                label=dict(type='str'),
                group=dict(type='str'),
                value_type=dict(type='raw'),
                manual=dict(type='bool'),
                state=dict(type='str', choices=['present', 'absent']),
            ),
        ),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        exclusive=dict(type='bool', default=False),
        release_all=dict(type='bool', default=False),
        takeover=dict(type='bool', default=True),
    )
    return spec


def check_release_intent(params: dict, declared: list[Declared]) -> str | None:
    """An empty declaration with exclusive=true releases everything this client
    owns: a `| default([])` gone wrong must not wipe a user. That needs
    release_all=true, which in turn admits no attribute declared present."""
    present = [d.name for d in declared if d.state == 'present']
    if params['release_all'] and present:
        return (
            'release_all=true releases every attribute this client owns, but attributes declares %s present; '
            'use exclusive=true to keep those and release the rest' % ', '.join(present)
        )
    if params['exclusive'] and not params['release_all'] and not present:
        return (
            'exclusive=true with no attribute declared present would release every attribute this client owns; '
            'if that is the intent, set release_all=true instead'
        )
    return None


def prepare(params: dict) -> list[Declared]:
    """The declared attributes, checked before any request."""
    if params['token_type'] == 'token':
        raise TaskInputError(
            'token_type=token is a simple token, which Exist makes read-only; acquiring and releasing need an OAuth2 '
            'access token (token_type=bearer). existio.exist.attribute_info reads with either.'
        )
    try:
        declared = normalize_declared(params['attributes'], params['state'])
    except DeclarationError as exc:
        raise TaskInputError(str(exc)) from None
    problem = check_release_intent(params, declared)
    if problem:
        raise TaskInputError(problem)
    return declared


def work(
    client: ExistClient, declared: list[Declared], params: dict, check_mode: bool, warn: Callable[[str], None]
) -> dict:
    """Converge ownership. Failures once writing has begun are in the result, with what did change."""
    return converge(
        client,
        declared,
        takeover=params['takeover'],
        exclusive=params['exclusive'] or params['release_all'],
        check_mode=check_mode,
        warn=warn,
    )


# What a task that failed before any write reports (not `owned`: what the client owns is unknown then).
NOTHING_DONE: dict = dict((key, []) for key in OwnershipOutcome.LISTS + (FAILED_ITEMS,))
