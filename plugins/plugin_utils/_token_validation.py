# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""validate_tokens of the users inventory: one profile request to Exist per user, a few in flight at once,
which also checks that the token belongs to the user it is filed under.

Internal to this collection, not a stable API. Runs in the controller (the users inventory plugin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ansible.utils.display import Display

    from ansible_collections.existio.exist.plugins.module_utils._connection_options import Connection

import concurrent.futures

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._connection_options import with_token
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistError
from ansible_collections.existio.exist.plugins.module_utils._secrets import Secrets
from ansible_collections.existio.exist.plugins.plugin_utils._store_users import INVALID_GROUP, PLUGIN


def check_token(connection: Connection, username: str, token: str) -> tuple[str, str | None, list]:
    """(username, error or None, warnings) for one user: one profile request."""
    warnings: list = []
    try:
        profile = ExistClient(with_token(connection, token), warnings.append).profile()
    except ExistError as exc:
        return username, Secrets(token).mask(exc.message), warnings
    owner = to_text(profile['username'])
    if owner != username:
        return username, 'the token belongs to the Exist user %r, not %r' % (owner, username), warnings
    return username, None, warnings


def validate_tokens(connection: Connection, entries: dict, usernames: list, concurrency: int, display: Display) -> dict:
    """{username: why the token failed} for the users whose token failed one profile request each.

    connection: the Connection the inventory validated (without a token) when it checked its options.
    """
    if not usernames:
        return {}
    workers = min(concurrency, len(usernames))

    def check(username: str) -> tuple[str, str | None, list]:
        return check_token(connection, username, entries[username]['access_token'])

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(check, usernames))
    warned: dict
    errors, warned = {}, {}
    for username, error, warnings in outcomes:
        for warning in warnings:
            warned.setdefault(warning, []).append(username)
        if error is not None:
            errors[username] = error
    secrets = Secrets(*(entry['access_token'] for entry in entries.values()))
    for warning, users in warned.items():
        # One warning per distinct text (validate_certs=false would otherwise warn once per user).
        display.warning('%s: %s (user(s): %s)' % (PLUGIN, secrets.mask(warning), ', '.join(users)))
    display.vvv(
        '%s: validated %d token(s) with one profile request each: %d failed' % (PLUGIN, len(usernames), len(errors))
    )
    if errors:
        display.warning(
            '%s: %d of %d token(s) failed validation and are in the group %s (see each host\'s exist_token_error): '
            '%s' % (PLUGIN, len(errors), len(usernames), INVALID_GROUP, ', '.join(sorted(errors)))
        )
    return errors
