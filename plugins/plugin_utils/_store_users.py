# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The users of a token store as hosts of the users inventory: what each user's host gets (variables, groups,
exist_token_state), the recovery files beside the store, which names cannot be hosts, the hosts and groups
built from them, and the warnings that name users.

Internal to this collection, not a stable API. Runs in the controller (the users inventory plugin).
"""

from __future__ import annotations

import datetime
import glob
import os
import re
from collections.abc import Mapping
from typing import Any, Callable, Iterable

from ansible import constants as C
from ansible.inventory.data import InventoryData
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.existio.exist.plugins.plugin_utils._token_recovery import PENDING_KEY, RECOVERED_INFIX
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (
    OUTCOME_UNKNOWN_KEY,
    REAUTHORIZATION_KEY,
    TokenStore,
    TokenStoreError,
    format_expires_at,
    parse_expires_at,
)

try:  # ansible-core 2.19 and later: strings from a plugin are never templated unless trusted
    from ansible.template import trust_as_template as _as_template
except ImportError:  # ansible-core 2.16 to 2.18: every string is templated unless marked unsafe
    from ansible.utils.unsafe_proxy import wrap_var as _as_literal

    def _as_template(value: Any) -> Any:
        return value

else:

    def _as_literal(value: Any) -> Any:
        return value


PLUGIN = 'existio.exist.users'
ALL_GROUP = 'exist_users'
EXPIRING_GROUP = 'exist_token_expiring'
EXPIRED_GROUP = 'exist_token_expired'
INVALID_GROUP = 'exist_token_invalid'
REAUTHORIZATION_GROUP = 'exist_token_reauthorization_needed'
OUTCOME_UNKNOWN_GROUP = 'exist_token_refresh_outcome_unknown'
RECOVERY_GROUP = 'exist_token_recovery_pending'
# Groups that exist whatever the store holds, so that patterns naming them never warn.
FIXED_GROUPS = (
    ALL_GROUP,
    EXPIRING_GROUP,
    EXPIRED_GROUP,
    INVALID_GROUP,
    REAUTHORIZATION_GROUP,
    OUTCOME_UNKNOWN_GROUP,
    RECOVERY_GROUP,
)
SCOPE_GROUP_PREFIX = 'scope_'
# exist_token_state: one word per host, the first that holds, in this order.
STATE_RECOVERY = 'recovery_pending'
STATE_REAUTHORIZATION = 'reauthorization_needed'
STATE_OUTCOME_UNKNOWN = 'refresh_outcome_unknown'
STATE_INVALID = 'invalid'
STATE_EXPIRED = 'expired'
STATE_VALID = 'valid'
# A group variable of exist_users: {username: why it is not a host}, so that plays and the fleet report see them.
LEFT_OUT_VARIABLE = 'exist_users_left_out'
# Ansible's own groups (the names it gives the controller, the implicit localhost, are C.LOCALHOST).
BUILTIN_GROUPS = ('all', 'ungrouped')
PYTHON_OF_THE_PLAYBOOK = '{{ ansible_playbook_python }}'
# What may stand in a Jinja string literal of the include_token=false expression without escaping.
PLAIN_LITERAL = re.compile(r"\A[^'\\\x00-\x1f]*\Z")
# A host name that a host pattern selects alone: patterns split at commas, colons and whitespace, read
# * ? [ ] as wildcards and subscripts, and ! & ~ (and @ in --limit) at the start as operators.
PATTERN_UNSAFE = re.compile(r'[\s,:*?\[\]\x00-\x1f\x7f]|\A[!&~@]')
# Names in messages are cut to this many characters.
NAME_LIMIT = 80
# A warning lists at most this many users (the groups and variables have them all).
LISTED_USERS = 100
SECONDS_A_DAY = 86400


def quoted_name(value: object) -> str:
    """A username (or any text) for a message: quoted, escaped, and cut when long."""
    text = to_text(value)
    if len(text) > NAME_LIMIT:
        return '%r... (%d characters)' % (text[:NAME_LIMIT], len(text))
    return repr(text)


def quoted_names(usernames: Iterable[str]) -> str:
    usernames = sorted(usernames)
    listed = ', '.join(quoted_name(username) for username in usernames[:LISTED_USERS])
    if len(usernames) > LISTED_USERS:
        listed += ' and %d more' % (len(usernames) - LISTED_USERS)
    return listed


# -- what the store says of each user ------------------------------------------


def scopes_of(entry: dict) -> list[str]:
    """The scopes of a store entry as a sorted list without repeats (Exist writes them space-separated)."""
    scope = entry.get('scope')
    if isinstance(scope, (list, tuple)):
        words = [to_text(word) for word in scope]
    elif scope is None:
        words = []
    else:
        words = to_text(scope).replace(',', ' ').split()
    return sorted(set(word for word in words if word))


def token_expression(store_path: str, username: str) -> str:
    """The template that reads a user's access token from the store when a task uses it (include_token=false).

    The lookup reads the store once per process (the inventory has already read it in the controller, before
    the workers fork), not the whole file again for every host-task.
    """
    return "{{ lookup('existio.exist.stored_token', '%s', user='%s') }}" % (store_path, username)


def marked_at(entry: dict) -> str | None:
    """The UTC time a store entry's refresh_outcome_unknown mark names, as the store has it, or None."""
    value = entry.get(OUTCOME_UNKNOWN_KEY)
    try:
        return format_expires_at(parse_expires_at(value, 'mark'))
    except TokenStoreError:
        return None


def token_state(
    entry: dict,
    expires: datetime.datetime,
    now: datetime.datetime,
    recovery: str | None = None,
    error: str | None = None,
) -> str:
    """exist_token_state of one user: what is known against the store's pair, worst first."""
    if recovery:
        return STATE_RECOVERY
    if entry.get(REAUTHORIZATION_KEY):
        return STATE_REAUTHORIZATION
    if entry.get(OUTCOME_UNKNOWN_KEY) is not None:
        # The UTC time a refresh was sent whose answer was lost: the old pair may or may not still work.
        return STATE_OUTCOME_UNKNOWN
    if error is not None:
        return STATE_INVALID
    if expires <= now:
        return STATE_EXPIRED
    return STATE_VALID


def _recovery_outcome(path: str, key: str, entry: dict, entries: dict, store_path: str) -> tuple[str | None, str]:
    """(username or None, warning) for one pair of a recovery file; a username when its pair is the newer one."""
    username = entry.get('username') or (None if key == PENDING_KEY else key)
    if not isinstance(username, str) or not username:
        return None, '%s holds a new pair of a user whose name is not known yet' % path
    current = entries.get(username)
    if current is None:
        return None, '%s holds the only pair of user %s, who is not in the store' % (path, quoted_name(username))
    if current.get(REAUTHORIZATION_KEY) or parse_expires_at(entry['expires_at'], path) > parse_expires_at(
        current['expires_at'], store_path
    ):
        return username, (
            '%s holds the working pair of user %s; the store\'s pair no longer works (the user is in '
            'the group %s)' % (path, quoted_name(username), RECOVERY_GROUP)
        )
    return None, (
        '%s holds an older pair of user %s than the store, whose pair the inventory gives; '
        'existio.exist.token decides what becomes of the file' % (path, quoted_name(username))
    )


def recovery_files(store_path: str, entries: dict, vault_secrets: list) -> tuple[dict[str, str], list[str]]:
    """({username: recovery file} for the users whose newer pair waits in one, a warning for every file).

    existio.exist.token writes a pair there when Exist issued it and the store could not be written, and
    merges it back on its next run (when newer than the store's, or the store's is marked or missing):
    until then the store's pair of that user no longer works.
    """
    paths = set()
    for path in (store_path, os.path.realpath(store_path)):
        paths.update(glob.glob(glob.escape(path) + RECOVERED_INFIX + '*'))
    newer, warnings = {}, []
    for path in sorted(paths):
        try:
            pairs = TokenStore(path, vault_secrets).load()
        except TokenStoreError as exc:
            warnings.append('%s may hold a new pair, but cannot be read (%s)' % (path, exc.message))
            continue
        for key, entry in sorted(pairs.items()):
            username, warning = _recovery_outcome(path, key, entry, entries, store_path)
            if username is not None:
                newer[username] = path
            warnings.append(warning)
    return newer, [
        '%s: %s. Run existio.exist.token with this store (any grant): it settles recovery files (merges '
        'a newer pair back) before anything else.' % (PLUGIN, warning)
        for warning in warnings
    ]


def _host_variables(
    username: str,
    entry: dict,
    expires: datetime.datetime,
    now: datetime.datetime,
    scopes: list[str],
    store_path: str,
    option: Callable[[str], Any],
) -> dict:
    """The host variables of one user (exist_token_state and exist_token_error are set when the host is built)."""
    if option('include_token'):
        token = _as_literal(entry['access_token'])
    elif PLAIN_LITERAL.match(username):
        token = _as_template(token_expression(store_path, username))
    else:
        token = None  # left out (see names_left_out): no expression can name this user
    variables = dict(
        exist_username=_as_literal(username),
        exist_token=token,
        exist_token_expires_at=format_expires_at(expires),
        exist_token_expires_in_days=int((expires - now).total_seconds() // SECONDS_A_DAY),
        exist_token_scopes=[_as_literal(scope) for scope in scopes],
        exist_token_store=_as_literal(store_path),
    )
    if option('local_connection'):
        variables.update(ansible_connection='local', ansible_python_interpreter=_as_template(PYTHON_OF_THE_PLAYBOOK))
    return variables


def _groups_of(
    entry: dict, expires: datetime.datetime, now: datetime.datetime, horizon: datetime.datetime, recovery: str | None
) -> list[str]:
    """The groups of this plugin (scope groups aside) that one user's entry puts the user in."""
    groups = []
    if expires <= horizon:
        groups.append(EXPIRING_GROUP)
    if expires <= now:
        groups.append(EXPIRED_GROUP)
    if entry.get(REAUTHORIZATION_KEY):
        groups.append(REAUTHORIZATION_GROUP)
    if entry.get(OUTCOME_UNKNOWN_KEY) is not None:
        groups.append(OUTCOME_UNKNOWN_GROUP)
    if recovery:
        groups.append(RECOVERY_GROUP)
    return groups


def store_users(
    entries: dict,
    store_path: str,
    recovery: dict[str, str],
    option: Callable[[str], Any],
    sanitize: Callable[[str], str],
) -> dict:
    """{username: what the host of that user gets}, for every user of the store.

    option reads the plugin's options (include_token, local_connection, expiring_within_days); sanitize is
    the plugin's group name sanitizer.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    horizon = now + datetime.timedelta(days=option('expiring_within_days'))
    users = {}
    for username in sorted(entries):
        entry = entries[username]
        expires = parse_expires_at(entry['expires_at'], '%s: user %r' % (store_path, username))
        scopes = scopes_of(entry)
        state_of = dict(entry=entry, expires=expires, now=now, recovery=recovery.get(username))
        groups = [sanitize(SCOPE_GROUP_PREFIX + scope) for scope in scopes]
        groups.extend(_groups_of(entry, expires, now, horizon, recovery.get(username)))
        users[username] = dict(
            variables=_host_variables(username, entry, expires, now, scopes, store_path, option),
            groups=groups,
            state_of=state_of,
            state=token_state(**state_of),
            error=None,
            entry=entry,
        )
    return users


def mark_invalid(users: dict, errors: dict[str, str]) -> None:
    """Give each user whose token failed validation its error, and the state that follows from it."""
    for username, error in errors.items():
        users[username].update(error=error, state=token_state(**dict(users[username]['state_of'], error=error)))


# -- host names that would collide ---------------------------------------------


def _why_left_out(username: str, user: dict, own_groups: set[str], inventory: InventoryData) -> str | None:
    if username in BUILTIN_GROUPS:
        return 'named like the group %s that Ansible itself makes' % username
    if username in C.LOCALHOST:
        return 'named like the controller (%s): plays for localhost would run as this user' % username
    if username in own_groups:
        return 'named like the group %s that this plugin makes' % username
    if username in inventory.groups:
        return 'named like the group %s of another inventory source' % quoted_name(username)
    if username in inventory.hosts:
        return 'already a host of another inventory source'
    if PATTERN_UNSAFE.search(username):
        return (
            'a name that a host pattern cannot select alone (it holds a comma, colon, space, control '
            'character, * ? [ ], or starts with ! & ~ @)'
        )
    if user['variables']['exist_token'] is None:
        return 'a name include_token=false cannot quote in an expression (a quote or a backslash)'
    return None


def names_left_out(users: dict, inventory: InventoryData) -> dict[str, str]:
    """{username: why} for names that cannot be a host whatever the configuration makes of them."""
    own_groups = set(FIXED_GROUPS)
    for user in users.values():
        own_groups.update(group for group in user['groups'])
    left_out = {}
    for username, user in users.items():
        why = _why_left_out(username, user, own_groups, inventory)
        if why is not None:
            left_out[username] = why
    return left_out


class ScratchInventory(InventoryData):
    """An inventory only to learn which groups a configuration makes.

    Where a name is both a host and a group, it means the host here (ansible-core's own inventory
    takes the group, which puts every host of that group in another, or raises a recursion error).
    """

    def add_child(self, group: str, child: str) -> bool:
        if child in self.hosts:
            self.add_host(child, group)
            return True
        return super().add_child(group, child)

    def set_variable(self, entity: str, varname: str, value: object) -> None:
        if entity in self.hosts:
            self.hosts[entity].set_variable(varname, value)
        else:
            super().set_variable(entity, varname, value)


# -- hosts and groups ----------------------------------------------------------


def build_hosts(inventory: Any, users: dict, admitted: list[str]) -> set[str]:
    """Hosts, variables and groups of the admitted users into inventory (constructed features aside); the
    names of the groups it made."""
    made = set()
    for group in FIXED_GROUPS:
        made.add(inventory.add_group(group))
    for username in admitted:
        user = users[username]
        # add_host(name, group): add_child would take a host named like a group for the group.
        inventory.add_host(username, group=ALL_GROUP)
        host = inventory.get_host(username)
        for name, value in user['variables'].items():
            host.set_variable(name, value)
        if user['error'] is not None:
            host.set_variable('exist_token_error', _as_literal(user['error']))
        host.set_variable('exist_token_state', user['state'])
        groups = list(user['groups'])
        if user['error'] is not None:
            groups.append(INVALID_GROUP)
        for group in groups:
            group = inventory.add_group(group)
            made.add(group)
            inventory.add_host(username, group=group)
    return made


def record_left_out(inventory: InventoryData, left_out: dict[str, str], store_path: str) -> list[str]:
    """Name the left-out users in the group variable of exist_users; the warning that names them (a list of one
    or none)."""
    # Another source of this plugin (a second store) may have named users of its own.
    earlier = inventory.groups[ALL_GROUP].vars.get(LEFT_OUT_VARIABLE)
    named = dict(earlier) if isinstance(earlier, Mapping) else {}
    named.update(left_out)
    inventory.set_variable(ALL_GROUP, LEFT_OUT_VARIABLE, _as_literal(named))
    if not left_out:
        return []
    reasons: dict = {}
    for username, why in left_out.items():
        reasons.setdefault(why, []).append(username)
    return [
        '%s: %d user(s) of the token store %s are not hosts of this inventory: %s. (A host named like a group '
        'would put other users into that group\'s plays: Ansible takes a name for a group first.) Their pairs '
        'stay in the store and existio.exist.token still refreshes them; the group variable %s of the group %s '
        'names each with the reason.'
        % (
            PLUGIN,
            len(left_out),
            store_path,
            '; '.join('%s: %s' % (quoted_names(names), why) for why, names in sorted(reasons.items())),
            LEFT_OUT_VARIABLE,
            ALL_GROUP,
        )
    ]


def _outcome_unknown_warning(users: dict, unknown: list[str]) -> str:
    described = []
    for username in sorted(unknown)[:LISTED_USERS]:
        moment = marked_at(users[username]['entry'])
        described.append('%s%s' % (quoted_name(username), ' (refresh sent %s)' % moment if moment else ''))
    if len(unknown) > LISTED_USERS:
        described.append('and %d more' % (len(unknown) - LISTED_USERS))
    return (
        '%s: %d user(s) marked refresh_outcome_unknown in the store: a refresh of their pair was sent and '
        'its answer lost, so the pair the inventory gives may or may not still work. The next refresh '
        '(existio.exist.token, grant=refresh_token, with this store) settles it, whatever refresh_before '
        'says. They are in the group %s: %s' % (PLUGIN, len(unknown), OUTCOME_UNKNOWN_GROUP, ', '.join(described))
    )


def state_warnings(users: dict, admitted: list[str]) -> list[str]:
    """The warnings that name the admitted users marked in the store (reauthorization, lost refresh answer)."""
    by_state: dict = {}
    for username in admitted:
        by_state.setdefault(users[username]['state'], []).append(username)
    warnings = []
    reauthorization = by_state.get(STATE_REAUTHORIZATION)
    if reauthorization:
        warnings.append(
            '%s: %d user(s) marked reauthorization_needed in the store: their pair no longer works, and they '
            'must authorise your client again (existio.exist.token names the address); they are in the group '
            '%s: %s' % (PLUGIN, len(reauthorization), REAUTHORIZATION_GROUP, quoted_names(reauthorization))
        )
    unknown = by_state.get(STATE_OUTCOME_UNKNOWN)
    if unknown:
        warnings.append(_outcome_unknown_warning(users, unknown))
    return warnings
