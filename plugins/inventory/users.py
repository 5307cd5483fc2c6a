# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: users
short_description: One inventory host per Exist user of a token store
version_added: 0.2.0
description:
  - Reads the token store that M(existio.exist.token) writes (one YAML file of OAuth2 token pairs keyed by Exist
    username, plain or vault-encrypted) and makes one host per user, named by the username, with the user's access
    token in the host variable C(exist_token).
  - >-
    Host variables of each user are C(exist_username), C(exist_token), C(exist_token_expires_at) (UTC,
    C(YYYY-MM-DDTHH:MM:SSZ)), C(exist_token_expires_in_days) (whole days left, negative once expired),
    C(exist_token_scopes) (the list of scopes Exist granted), C(exist_token_store) (the store's absolute path) and
    C(exist_token_state) (see below). With O(local_connection) (the default) also C(ansible_connection=local) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}), so that a play needs only
    C(module_defaults) with C(token: "{{ exist_token }}").
  - >-
    C(exist_token_state) says what is known against the store's pair, the first that holds of:
    C(recovery_pending) (a newer pair waits in a recovery file beside the store, C(STORE.recovered-USER), and the
    store's pair no longer works: run M(existio.exist.token) with the store, which merges it back),
    C(reauthorization_needed) (the store entry is marked so: the user must authorise your client again),
    C(refresh_outcome_unknown) (the store entry is marked so: a refresh was sent and its answer lost, so the pair may
    or may not still work; the next refresh run of M(existio.exist.token) settles it), C(invalid) (with
    O(validate_tokens): Exist refused the token), C(expired) and C(valid) (nothing is known against it; without
    O(validate_tokens) the pair is not tried). Users in the first three states are named in a warning.
  - >-
    Groups are C(exist_users) (every user), C(scope_<scope>) for each scope a token holds (C(scope_mood_write)...),
    C(exist_token_expiring) (the token expires within O(expiring_within_days) days, or has expired),
    C(exist_token_expired) (the token has expired), C(exist_token_invalid) (with O(validate_tokens): Exist refused
    the token; the host then has C(exist_token_error)), C(exist_token_reauthorization_needed),
    C(exist_token_refresh_outcome_unknown) and C(exist_token_recovery_pending) (the hosts of those states). These
    groups always exist, empty or not, so that patterns such as
    C(exist_users:!exist_token_invalid:!exist_token_reauthorization_needed) never warn.
  - >-
    A user whose name cannot be a host is left out of the inventory, with a warning that names the user and the
    reason, and is listed in the group variable C(exist_users_left_out) of C(exist_users) (username to reason):
    a name of a group (C(all), C(ungrouped), a group of this plugin such as C(exist_users) or C(scope_mood_read),
    a group that O(groups) or O(keyed_groups) make, a group of another inventory source), a name of the controller
    (C(localhost)), a host of another inventory source, a name a host pattern cannot select alone (with a comma,
    colon, whitespace, C(*), C(?), C([), C(]), or a leading C(!), C(&), C(~), C(@)), or, with
    O(include_token=false), a name with a quote or a backslash. Ansible looks a name up as a group before a host,
    so a host named like a group would put other users into that group's plays. The other users are not affected;
    the store keeps the left-out users and M(existio.exist.token) still refreshes them.
  - >-
    The configuration is checked before anything is read: an option this plugin does not have (such as
    C(include_tokens) for O(include_token)) is an error that names it and the option meant; so is a number that is
    not a whole number of ASCII digits within its range, and a boolean option that is not a boolean.
  - >-
    Reads no API by default: the store is the truth. O(validate_tokens=true) sends one profile request per user.
  - >-
    The configuration file is a YAML file whose name ends in C(.exist_users.yml) or C(.exist_users.yaml), or any
    YAML file with C(plugin: existio.exist.users).
author:
  - Existio maintainers (@existio)
options:
  plugin:
    description: The name of this plugin; makes the file a configuration file of this plugin.
    type: str
    required: true
    choices: [existio.exist.users]
  store:
    description:
      - Path of the token store, as given to the C(store) option of M(existio.exist.token).
      - A relative path is relative to the directory of this configuration file.
      - A vault-encrypted store is decrypted with the vault secrets given to Ansible (C(--vault-id),
        C(--vault-password-file), C(--ask-vault-pass)).
      - A store that does not exist is an error (not an empty inventory), so that a wrong path cannot empty the
        inventory of an Automation Platform inventory source that overwrites its hosts.
    type: str
    required: true
  expiring_within_days:
    description:
      - A token that expires within this many days (from 0 to 3660) is in the group C(exist_token_expiring).
      - A whole number; text of ASCII digits such as V('45') is read as that number.
      - Match it to the C(refresh_before) option of M(existio.exist.token) to see which tokens a refresh would renew.
    type: int
    default: 30
  include_token:
    description:
      - When V(true), C(exist_token) holds the access token itself.
      - >-
        When V(false), C(exist_token) holds an expression that reads the token from the store when a task uses it
        (C({{ (lookup('ansible.builtin.file', STORE\) | from_yaml\)[USER].access_token }})), so the inventory
        never holds a token: not in C(ansible-inventory --list), not in an inventory cache, not in the database of
        an Automation Platform inventory source. Plays stay the same; the store must then be readable (and the vault
        secret given) where the play runs, and every task that uses the token reads the store once.
    type: bool
    default: true
  local_connection:
    description:
      - Whether to set C(ansible_connection=local) and C(ansible_python_interpreter={{ ansible_playbook_python }}) on
        every user, so that the tasks run on the controller with Ansible's own Python (the users are not machines).
      - Set V(false) to give these variables yourself (group_vars, C(compose)).
    type: bool
    default: true
  validate_tokens:
    description:
      - Whether to check every token with one request to Exist (C(GET /api/2/accounts/profile/)), which also checks
        that the token belongs to the user it is filed under.
      - A user whose token fails is in the group C(exist_token_invalid) and gets C(exist_token_error), the reason
        (never the token). Each such user is named in one warning.
      - Costs one of the user's 300 requests an hour per user and inventory run.
      - The connection options (O(api_url), O(timeout)...) are used, and checked, only with O(validate_tokens).
    type: bool
    default: false
  validate_concurrency:
    description:
      - With O(validate_tokens), how many profile requests are in flight at once (from 1 to 64).
    type: int
    default: 8
extends_documentation_fragment:
  - constructed
  - existio.exist.connection
  - existio.exist.connection.plugins
notes:
  - The access token is a secret. The plugin never prints it, at any verbosity, nor puts it in an error. But
    C(ansible-inventory --list) and C(ansible-inventory --host USER) print host variables, so they print every
    C(exist_token) (C(--graph) does not print variables). Use O(include_token=false) where inventories are shown
    or stored (Automation Platform saves an inventory source's host variables in its database).
  - The plugin does not cache (it is not Cacheable). The store is a local file read in milliseconds, and an
    inventory cache would write every token, in plain text, into the cache plugin's files.
  - Tokens expire after about a year and refreshing one invalidates the old pair; refresh them with
    M(existio.exist.token) (C(grant=refresh_token), C(refresh_before)) before they expire. The group
    C(exist_token_expiring) shows which are due.
requirements:
  - requests (only with O(validate_tokens=true))
seealso:
  - name: Running a fleet of Exist users
    description: The token store, this inventory, converging every user and the fleet report.
    link: https://github.com/existio/exist/blob/main/docs/docsite/rst/guide_fleet.rst
  - name: Exist API, OAuth2 authentication
    description: Authorising users, exchanging codes and refreshing tokens.
    link: https://developer.exist.io/reference/authentication/oauth2/
'''

EXAMPLES = r'''
# fleet.exist_users.yml: every user of the store (plain or vault-encrypted), one host each.
#   ansible-inventory -i fleet.exist_users.yml --vault-password-file ~/.vault-pass --graph
plugin: existio.exist.users
store: tokens.vault.yml
# Keep the tokens themselves out of the inventory (ansible-inventory --list, Automation Platform's
# database): exist_token then reads the store when a task uses it.
include_token: false
# Check every token with one profile request; failures go to the group exist_token_invalid.
validate_tokens: true
expiring_within_days: 45
# Groups by the groups the scopes cover (group_mood, group_activity...), and a group of your own.
keyed_groups:
  - key: exist_token_scopes | map('regex_replace', '_(read|write)$', '') | unique
    prefix: group
groups:
  due_this_week: exist_token_expires_in_days < 7

# To run the users' tasks with a Python of your own rather than ansible-playbook's:
#   local_connection: false
#   compose:
#     ansible_connection: "'local'"
#     ansible_python_interpreter: "'/opt/exist/venv/bin/python'"
#
# A play for every user whose token is not known to fail needs nothing else than this:
#
# - hosts:
#     - exist_users
#     - '!exist_token_invalid'
#     - '!exist_token_expired'
#     - '!exist_token_reauthorization_needed'
#     - '!exist_token_refresh_outcome_unknown'
#     - '!exist_token_recovery_pending'
#   gather_facts: false
#   module_defaults:
#     group/existio.exist.exist:
#       token: "{{ exist_token }}"
#   tasks:
#     - name: Own mood for every user
#       existio.exist.attribute:
#         attributes:
#           - template: mood
'''

# ansible-test wants the documentation before any import, as in a module.
import concurrent.futures  # noqa: E402
import datetime  # noqa: E402
import difflib  # noqa: E402
import glob  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
from collections.abc import Mapping  # noqa: E402

import yaml  # noqa: E402
from ansible import constants as C  # noqa: E402
from ansible.errors import AnsibleError, AnsibleParserError  # noqa: E402
from ansible.inventory.data import InventoryData  # noqa: E402
from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.module_utils.parsing.convert_bool import boolean  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable  # noqa: E402

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient  # noqa: E402
from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    NUMBER_OPTIONS as CONNECTION_NUMBER_OPTIONS,  # noqa: E402
)
from ansible_collections.existio.exist.plugins.module_utils._connection_options import TRANSPORT as CONNECTION_OPTIONS  # noqa: E402
from ansible_collections.existio.exist.plugins.module_utils._connection_options import (  # noqa: E402
    connection_problem,
    validate,
    with_token,
)
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistError  # noqa: E402
from ansible_collections.existio.exist.plugins.module_utils._option_checks import check_number  # noqa: E402
from ansible_collections.existio.exist.plugins.plugin_utils._oauth import (  # noqa: E402
    PENDING_KEY,
    RECOVERED_INFIX,
)
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (  # noqa: E402
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

    def _as_template(value):
        return value

else:

    def _as_literal(value):
        return value


PLUGIN = 'existio.exist.users'
CONFIG_SUFFIXES = ('exist_users.yml', 'exist_users.yaml')
# verify_file peeks into other YAML files for `plugin: existio.exist.users`; no configuration is this long.
PEEK_BYTES = 1024 * 1024
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
STATE_GROUPS = {
    STATE_RECOVERY: RECOVERY_GROUP,
    STATE_REAUTHORIZATION: REAUTHORIZATION_GROUP,
    STATE_OUTCOME_UNKNOWN: OUTCOME_UNKNOWN_GROUP,
}
# A group variable of exist_users: {username: why it is not a host}, so that plays and the fleet report see them.
LEFT_OUT_VARIABLE = 'exist_users_left_out'
# Ansible's own groups, and the names it gives the controller (the implicit localhost).
BUILTIN_GROUPS = ('all', 'ungrouped')
EXPIRING_RANGE = (0, 3660)
CONCURRENCY_RANGE = (1, 64)
# Every number option, checked as the configuration file gives it, before ansible-core converts it.
NUMBER_OPTIONS = {
    'expiring_within_days': (EXPIRING_RANGE, 'days'),
    'validate_concurrency': (CONCURRENCY_RANGE, 'requests'),
}
NUMBER_OPTIONS.update(CONNECTION_NUMBER_OPTIONS)
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


def _redact(text, secrets):
    text = to_text(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, '********')
    return text


def _name(value):
    """A username (or any text) for a message: quoted, escaped, and cut when long."""
    text = to_text(value)
    if len(text) > NAME_LIMIT:
        return '%r... (%d characters)' % (text[:NAME_LIMIT], len(text))
    return repr(text)


def _names(usernames):
    usernames = sorted(usernames)
    listed = ', '.join(_name(username) for username in usernames[:LISTED_USERS])
    if len(usernames) > LISTED_USERS:
        listed += ' and %d more' % (len(usernames) - LISTED_USERS)
    return listed


def describe_value(value):
    """A value as an error message may quote it: short, and never a conversion that can fail."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        bits = abs(value).bit_length()
        if bits > 64:
            # str() of an int past 4300 digits raises ValueError; its size is what matters here.
            return 'a number of about %d digits' % int(bits * math.log10(2) + 1)
        return '%d' % value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        if len(value) > 20:
            return '%r... (%d characters)' % (value[:20], len(value))
        return repr(value)
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    return 'a %s' % type(value).__name__


def number_problem(option, value, bounds, unit):
    """An error message naming option and value unless value is a whole number within bounds, else None.

    Takes what a configuration file gives: an int, or text of ASCII digits ('30'); never a bool, a
    fraction, a non-ASCII digit ('²', which int() refuses, or '٣', which int() takes as 3) or thousands
    of digits (which int() and str() refuse past 4300).
    """
    low, high = bounds
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.match(r'\A\s*[+-]?[0-9]{1,18}\s*\Z', value, re.ASCII):
        number = int(value)
    if number is not None and low <= number <= high:
        return None
    return '%s must be a whole number of %s from %d to %d, got %s' % (option, unit, low, high, describe_value(value))


def boolean_problem(option, value):
    """An error message naming option and value unless value is a boolean (or a word ansible-core reads as one)."""
    try:
        boolean(value, strict=True)
    except TypeError:
        return '%s must be true or false, got %s' % (option, describe_value(value))
    return None


class _TolerantLoader(yaml.SafeLoader):
    """Reads a configuration file as YAML, keeping a number Python cannot convert as a marker."""


class _TooLong:
    def __init__(self, text):
        self.text = text


def _tolerant_int(loader, node):
    try:
        return yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:
        return _TooLong(node.value)


_TolerantLoader.add_constructor('tag:yaml.org,2002:int', _tolerant_int)


def number_in_config_problem(path):
    """The option of the configuration file at path whose number YAML cannot read (past 4300 digits), or None."""
    try:
        with open(path, 'rb') as f:
            config = yaml.load(f.read(PEEK_BYTES), Loader=_TolerantLoader)  # noqa: S506 (a SafeLoader)
    except Exception:  # not YAML this loader reads (vault, custom tags...): nothing to say here
        return None
    if not isinstance(config, dict):
        return None
    for option, value in config.items():
        if isinstance(value, _TooLong):
            return '%s must be a number Python can read, got a number of %d digits (%s...)' % (
                to_text(option),
                len(value.text),
                value.text[:20],
            )
    return None


def scopes_of(entry):
    """The scopes of a store entry as a sorted list without repeats (Exist writes them space-separated)."""
    scope = entry.get('scope')
    if isinstance(scope, (list, tuple)):
        words = [to_text(word) for word in scope]
    elif scope is None:
        words = []
    else:
        words = to_text(scope).replace(',', ' ').split()
    return sorted(set(word for word in words if word))


def token_expression(store_path, username):
    """The template that reads a user's access token from the store when a task uses it (include_token=false)."""
    return "{{ (lookup('ansible.builtin.file', '%s') | from_yaml)['%s'].access_token }}" % (store_path, username)


def marked_at(entry):
    """The UTC time a store entry's refresh_outcome_unknown mark names, as the store has it, or None."""
    value = entry.get(OUTCOME_UNKNOWN_KEY)
    try:
        return format_expires_at(parse_expires_at(value, 'mark'))
    except TokenStoreError:
        return None


def token_state(entry, expires, now, recovery=None, error=None):
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


class _ScratchInventory(InventoryData):
    """An inventory only to learn which groups a configuration makes.

    Where a name is both a host and a group, it means the host here (ansible-core's own inventory
    takes the group, which puts every host of that group in another, or raises a recursion error).
    """

    def add_child(self, group, child):
        if child in self.hosts:
            self.add_host(child, group)
            return True
        return super().add_child(group, child)

    def set_variable(self, entity, varname, value):
        if entity in self.hosts:
            self.hosts[entity].set_variable(varname, value)
        else:
            super().set_variable(entity, varname, value)


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = PLUGIN

    def verify_file(self, path):
        """Our suffix, or any YAML file whose `plugin` is this plugin."""
        if not super().verify_file(path):
            return False
        if path.endswith(CONFIG_SUFFIXES):
            return True
        if not path.endswith(('.yml', '.yaml')):
            return False
        try:
            with open(path, 'rb') as f:
                data = yaml.safe_load(f.read(PEEK_BYTES))
        except Exception:  # not YAML we can read here (vault, custom tags, too long...): not ours
            return False
        return isinstance(data, dict) and data.get('plugin') in (getattr(self, '_redirected_names', None) or [PLUGIN])

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        self._check_options()
        store_path = os.path.expanduser(to_text(self.get_option('store')))
        if not os.path.isabs(store_path):
            store_path = os.path.join(os.path.dirname(os.path.abspath(path)), store_path)
        store_path = os.path.normpath(store_path)
        if not self.get_option('include_token') and not PLAIN_LITERAL.match(store_path):
            raise AnsibleParserError(
                '%s: include_token=false cannot name the store path %s in an expression (it holds a quote, a '
                'backslash or a control character); move the store or use include_token=true'
                % (PLUGIN, _name(store_path))
            )
        entries = self._load_store(store_path)
        secrets = [entry['access_token'] for entry in entries.values()]
        try:
            recovery = self._recovery_files(store_path, entries)
            users = self._facts(entries, store_path, recovery)
            left_out = self._names_left_out(users)
            errors = {}
            if self.get_option('validate_tokens'):
                errors = self._validate(entries, [name for name in sorted(users) if name not in left_out])
            for username, error in errors.items():
                users[username].update(error=error, state=token_state(**dict(users[username]['state_of'], error=error)))
            left_out.update(self._collisions(users, left_out))
            admitted = [username for username in sorted(users) if username not in left_out]
            self._build(self.inventory, users, admitted)
            self._check_built(admitted)
            self._left_out(left_out, store_path)
            self._warn_states(users, admitted)
        except AnsibleError as exc:
            # compose, groups and keyed_groups may quote a variable in an error (strict); never the token.
            raise AnsibleParserError(_redact(exc.message, secrets)) from None

    # -- the configuration ---------------------------------------------------

    def _read_config_data(self, path):
        self._config_path = path
        try:
            return super()._read_config_data(path)
        except AnsibleParserError:
            # PyYAML cannot read an int past 4300 digits and says so without naming the option.
            problem = number_in_config_problem(path)
            if problem:
                raise AnsibleParserError('%s: %s: %s' % (PLUGIN, path, problem)) from None
            raise

    def set_options(self, task_keys=None, var_options=None, direct=None):
        if isinstance(direct, Mapping):
            problem = self._config_problem(direct)
            if problem:
                where = getattr(self, '_config_path', None)
                raise AnsibleParserError('%s: %s%s' % (PLUGIN, '%s: ' % where if where else '', problem))
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)

    def _config_problem(self, config):
        """What is wrong with the options as the configuration file gives them (before ansible-core converts them).

        ansible-core ignores a key it does not know (a typo such as include_tokens: false would leave every
        token in the inventory), reads any word that is not a boolean as false, and fails on numbers it
        cannot convert without naming the option.
        """
        definitions = self.option_definitions or {}
        if definitions:
            for key in config:
                if key not in definitions:
                    close = difflib.get_close_matches(to_text(key), sorted(definitions), n=1)
                    return 'unknown option %s%s; the options are listed by ansible-doc -t inventory %s' % (
                        _name(key),
                        ' (did you mean %s?)' % close[0] if close else '',
                        PLUGIN,
                    )
        for key, value in config.items():
            definition = definitions.get(key) or {}
            if key in NUMBER_OPTIONS:
                bounds, unit = NUMBER_OPTIONS[key]
                problem = number_problem(key, value, bounds, unit)
            elif definition.get('type') in ('bool', 'boolean'):
                problem = boolean_problem(key, value)
            else:
                problem = None
            if problem:
                return problem
        return None

    def _check_options(self):
        days, concurrency = self.get_option('expiring_within_days'), self.get_option('validate_concurrency')
        problem = check_number('expiring_within_days', days, EXPIRING_RANGE, 'days') or check_number(
            'validate_concurrency', concurrency, CONCURRENCY_RANGE, 'requests'
        )
        if not problem and self.get_option('validate_tokens'):
            # Problems of the connection options fail the inventory, not every user's token.
            problem = connection_problem(self._connection_params(), CONNECTION_OPTIONS)
        if problem:
            raise AnsibleParserError('%s: %s' % (PLUGIN, problem))

    def _load_store(self, store_path):
        store = TokenStore(store_path, self._vault_secrets())
        if not store.exists():
            raise AnsibleParserError(
                '%s: the token store %s does not exist; exchange a code into it with existio.exist.token first'
                % (PLUGIN, store.path)
            )
        try:
            entries = store.load()
        except TokenStoreError as exc:
            # The store's own messages name the file, the user and the key, never a token.
            raise AnsibleParserError('%s: %s' % (PLUGIN, exc.message)) from None
        self.display.vvv(
            '%s: %d user(s) in the token store %s%s'
            % (PLUGIN, len(entries), store.path, ' (vault-encrypted)' if store.encrypted else '')
        )
        return entries

    def _vault_secrets(self):
        return getattr(getattr(self.loader, '_vault', None), 'secrets', None)

    # -- what the store says of each user ------------------------------------

    def _recovery_files(self, store_path, entries):
        """{username: recovery file} for the users whose newer pair waits in a recovery file; warns of every file.

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
                pairs = TokenStore(path, self._vault_secrets()).load()
            except TokenStoreError as exc:
                warnings.append('%s may hold a new pair, but cannot be read (%s)' % (path, exc.message))
                continue
            for key, entry in sorted(pairs.items()):
                username = entry.get('username') or (None if key == PENDING_KEY else key)
                if not isinstance(username, str) or not username:
                    warnings.append('%s holds a new pair of a user whose name is not known yet' % path)
                    continue
                current = entries.get(username)
                if current is None:
                    warnings.append(
                        '%s holds the only pair of user %s, who is not in the store' % (path, _name(username))
                    )
                elif current.get(REAUTHORIZATION_KEY) or parse_expires_at(entry['expires_at'], path) > parse_expires_at(
                    current['expires_at'], store_path
                ):
                    newer[username] = path
                    warnings.append(
                        '%s holds the working pair of user %s; the store\'s pair no longer works (the user is in '
                        'the group %s)' % (path, _name(username), RECOVERY_GROUP)
                    )
                else:
                    warnings.append(
                        '%s holds an older pair of user %s than the store, whose pair the inventory gives; '
                        'existio.exist.token decides what becomes of the file' % (path, _name(username))
                    )
        for warning in warnings:
            self.display.warning(
                '%s: %s. Run existio.exist.token with this store (any grant): it settles recovery files (merges '
                'a newer pair back) before anything else.' % (PLUGIN, warning)
            )
        return newer

    def _facts(self, entries, store_path, recovery):
        """{username: what the host of that user gets}, for every user of the store."""
        now = datetime.datetime.now(datetime.timezone.utc)
        horizon = now + datetime.timedelta(days=self.get_option('expiring_within_days'))
        include_token = self.get_option('include_token')
        local = self.get_option('local_connection')
        users = {}
        for username in sorted(entries):
            entry = entries[username]
            expires = parse_expires_at(entry['expires_at'], '%s: user %r' % (store_path, username))
            scopes = scopes_of(entry)
            state_of = dict(entry=entry, expires=expires, now=now, recovery=recovery.get(username))
            if include_token:
                token = _as_literal(entry['access_token'])
            elif PLAIN_LITERAL.match(username):
                token = _as_template(token_expression(store_path, username))
            else:
                token = None  # left out (see _names_left_out): no expression can name this user
            variables = dict(
                exist_username=_as_literal(username),
                exist_token=token,
                exist_token_expires_at=format_expires_at(expires),
                exist_token_expires_in_days=int((expires - now).total_seconds() // 86400),
                exist_token_scopes=[_as_literal(scope) for scope in scopes],
                exist_token_store=_as_literal(store_path),
            )
            if local:
                variables.update(
                    ansible_connection='local', ansible_python_interpreter=_as_template(PYTHON_OF_THE_PLAYBOOK)
                )
            groups = [self._sanitize_group_name(SCOPE_GROUP_PREFIX + scope) for scope in scopes]
            if expires <= horizon:
                groups.append(EXPIRING_GROUP)
            if expires <= now:
                groups.append(EXPIRED_GROUP)
            if entry.get(REAUTHORIZATION_KEY):
                groups.append(REAUTHORIZATION_GROUP)
            if entry.get(OUTCOME_UNKNOWN_KEY) is not None:
                groups.append(OUTCOME_UNKNOWN_GROUP)
            if recovery.get(username):
                groups.append(RECOVERY_GROUP)
            users[username] = dict(
                variables=variables,
                groups=groups,
                state_of=state_of,
                state=token_state(**state_of),
                error=None,
                entry=entry,
            )
        return users

    # -- host names that would collide ---------------------------------------

    def _names_left_out(self, users):
        """{username: why} for names that cannot be a host whatever the configuration makes of them."""
        own_groups = set(FIXED_GROUPS)
        for user in users.values():
            own_groups.update(group for group in user['groups'])
        left_out = {}
        for username, user in users.items():
            if username in BUILTIN_GROUPS:
                why = 'named like the group %s that Ansible itself makes' % username
            elif username in C.LOCALHOST:
                why = 'named like the controller (%s): plays for localhost would run as this user' % username
            elif username in own_groups:
                why = 'named like the group %s that this plugin makes' % username
            elif username in self.inventory.groups:
                why = 'named like the group %s of another inventory source' % _name(username)
            elif username in self.inventory.hosts:
                why = 'already a host of another inventory source'
            elif PATTERN_UNSAFE.search(username):
                why = (
                    'a name that a host pattern cannot select alone (it holds a comma, colon, space, control '
                    'character, * ? [ ], or starts with ! & ~ @)'
                )
            elif user['variables']['exist_token'] is None:
                why = 'a name include_token=false cannot quote in an expression (a quote or a backslash)'
            else:
                continue
            left_out[username] = why
        return left_out

    def _collisions(self, users, left_out):
        """{username: why} for the users whose names the constructed groups (groups, keyed_groups) would take.

        Without these options the groups are known from the store alone (_names_left_out). With them, the
        inventory is built once aside to learn every group name; a user named like one is left out, and
        again until no name collides (leaving a user out can only remove groups).
        """
        if not self.get_option('groups') and not self.get_option('keyed_groups'):
            return {}
        composed = set(self._sanitize_group_name(name) for name in self.get_option('groups') or {})
        more = {}
        while True:
            admitted = [username for username in sorted(users) if username not in left_out and username not in more]
            scratch = _ScratchInventory()
            scratch.current_source = self.inventory.current_source
            real = self.inventory
            self.inventory = scratch
            try:
                own = self._build(scratch, users, admitted, constructed=False)
                self._construct(admitted)
            finally:
                self.inventory = real
            found = [username for username in admitted if username in scratch.groups]
            if not found:
                return more
            for username in found:
                if username in own:
                    origin = 'this plugin makes'
                elif username in composed:
                    origin = 'the groups option makes (rename that group)'
                else:
                    origin = 'keyed_groups makes (give it another prefix)'
                more[username] = 'named like the group %s that %s' % (_name(username), origin)

    def _check_built(self, admitted):
        """No host of ours is named like a group (a constructed expression that differs between runs could)."""
        clashing = [username for username in admitted if username in self.inventory.groups]
        if clashing:
            raise AnsibleParserError(
                '%s: the user(s) %s are named like groups the configuration made on a second evaluation only '
                '(groups or keyed_groups whose expressions give other names each time); make them give the same '
                'names' % (PLUGIN, _names(clashing))
            )

    def _left_out(self, left_out, store_path):
        # Another source of this plugin (a second store) may have named users of its own.
        earlier = self.inventory.groups[ALL_GROUP].vars.get(LEFT_OUT_VARIABLE)
        named = dict(earlier) if isinstance(earlier, Mapping) else {}
        named.update(left_out)
        self.inventory.set_variable(ALL_GROUP, LEFT_OUT_VARIABLE, _as_literal(named))
        if not left_out:
            return
        reasons = {}
        for username, why in left_out.items():
            reasons.setdefault(why, []).append(username)
        self.display.warning(
            '%s: %d user(s) of the token store %s are not hosts of this inventory: %s. (A host named like a group '
            'would put other users into that group\'s plays: Ansible takes a name for a group first.) Their pairs '
            'stay in the store and existio.exist.token still refreshes them; the group variable %s of the group %s '
            'names each with the reason.'
            % (
                PLUGIN,
                len(left_out),
                store_path,
                '; '.join('%s: %s' % (_names(names), why) for why, names in sorted(reasons.items())),
                LEFT_OUT_VARIABLE,
                ALL_GROUP,
            )
        )

    # -- hosts and groups ----------------------------------------------------

    def _build(self, inventory, users, admitted, constructed=True):
        """Hosts, variables and groups of the admitted users into inventory; the names of the groups it made."""
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
        if constructed:
            self._construct(admitted)
        return made

    def _construct(self, usernames):
        strict = self.get_option('strict')
        for username in usernames:
            host_vars = self.inventory.get_host(username).get_vars()
            self._set_composite_vars(self.get_option('compose'), host_vars, username, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), host_vars, username, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), host_vars, username, strict=strict)

    def _warn_states(self, users, admitted):
        by_state = {}
        for username in admitted:
            by_state.setdefault(users[username]['state'], []).append(username)
        if by_state.get(STATE_REAUTHORIZATION):
            self.display.warning(
                '%s: %d user(s) marked reauthorization_needed in the store: their pair no longer works, and they '
                'must authorise your client again (existio.exist.token names the address); they are in the group '
                '%s: %s'
                % (
                    PLUGIN,
                    len(by_state[STATE_REAUTHORIZATION]),
                    REAUTHORIZATION_GROUP,
                    _names(by_state[STATE_REAUTHORIZATION]),
                )
            )
        unknown = by_state.get(STATE_OUTCOME_UNKNOWN)
        if unknown:
            described = []
            for username in sorted(unknown)[:LISTED_USERS]:
                moment = marked_at(users[username]['entry'])
                described.append('%s%s' % (_name(username), ' (refresh sent %s)' % moment if moment else ''))
            if len(unknown) > LISTED_USERS:
                described.append('and %d more' % (len(unknown) - LISTED_USERS))
            self.display.warning(
                '%s: %d user(s) marked refresh_outcome_unknown in the store: a refresh of their pair was sent and '
                'its answer lost, so the pair the inventory gives may or may not still work. The next refresh '
                '(existio.exist.token, grant=refresh_token, with this store) settles it, whatever refresh_before '
                'says. They are in the group %s: %s'
                % (PLUGIN, len(unknown), OUTCOME_UNKNOWN_GROUP, ', '.join(described))
            )

    # -- validate_tokens -----------------------------------------------------

    def _connection_params(self):
        return dict((option, self.get_option(option)) for option in CONNECTION_OPTIONS)

    @staticmethod
    def _check_token(connection, username, token):
        """(username, error or None, warnings) for one user: one profile request."""
        warnings = []
        try:
            profile = ExistClient(with_token(connection, token), warnings.append).profile()
        except ExistError as exc:
            return username, _redact(exc.message, [token, token.strip()]), warnings
        owner = to_text(profile['username'])
        if owner != username:
            return username, 'the token belongs to the Exist user %r, not %r' % (owner, username), warnings
        return username, None, warnings

    def _validate(self, entries, usernames):
        """{username: why the token failed} for the users whose token failed one profile request each."""
        if not usernames:
            return {}
        connection = validate(self._connection_params(), CONNECTION_OPTIONS)
        workers = min(self.get_option('validate_concurrency'), len(usernames))

        def check(username):
            return self._check_token(connection, username, entries[username]['access_token'])

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(check, usernames))
        errors, warned = {}, {}
        for username, error, warnings in outcomes:
            for warning in warnings:
                warned.setdefault(warning, []).append(username)
            if error is not None:
                errors[username] = error
        secrets = [entry['access_token'] for entry in entries.values()]
        for warning, users in warned.items():
            # One warning per distinct text (validate_certs=false would otherwise warn once per user).
            self.display.warning('%s: %s (user(s): %s)' % (PLUGIN, _redact(warning, secrets), ', '.join(users)))
        self.display.vvv(
            '%s: validated %d token(s) with one profile request each: %d failed' % (PLUGIN, len(usernames), len(errors))
        )
        if errors:
            self.display.warning(
                '%s: %d of %d token(s) failed validation and are in the group %s (see each host\'s exist_token_error): '
                '%s' % (PLUGIN, len(errors), len(usernames), INVALID_GROUP, ', '.join(sorted(errors)))
            )
        return errors
