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
      - >-
        In the configuration file it may be a template, rendered when the inventory is read, for example
        V({{ lookup('ansible.builtin.env', 'TOKENS_DIR'\) }}/tokens.vault.yml) (no host variable exists yet).
      - >-
        When the configuration file does not give it, the environment variable E(EXIST_TOKEN_STORE) does (used
        as it is, not templated), so that an Automation Platform credential can inject it. When neither gives it,
        the inventory fails naming both.
      - A relative path is relative to the directory of this configuration file.
      - A vault-encrypted store is decrypted with the vault secrets given to Ansible (C(--vault-id),
        C(--vault-password-file), C(--ask-vault-pass)).
      - A store that does not exist is an error (not an empty inventory), so that a wrong path cannot empty the
        inventory of an Automation Platform inventory source that overwrites its hosts.
    type: str
    env:
      - name: EXIST_TOKEN_STORE
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
        (C({{ lookup('existio.exist.stored_token', STORE, user=USER\) }}), see P(existio.exist.stored_token#lookup)),
        so the inventory never holds a token: not in C(ansible-inventory --list), not in the database of an
        Automation Platform inventory source. Plays stay the same; the store must then be readable (and the vault
        secret given) where the play runs. The store is read once per run, not once per task: this plugin keeps
        the tokens it read in the controller, where every worker that runs a task inherits them (a store that
        changed since is read again).
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
    inventory cache would write every token, in plain text, into the cache plugin's files. The inventory cache
    options (C(cache), C(cache_plugin), C(cache_timeout), C(cache_connection), C(cache_prefix)) are ignored, with a
    warning that names them.
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
import difflib  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
from collections.abc import Mapping  # noqa: E402

import yaml  # noqa: E402
from ansible.errors import AnsibleError, AnsibleParserError  # noqa: E402
from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.module_utils.parsing.convert_bool import boolean  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable  # noqa: E402
from ansible.plugins.loader import lookup_loader  # noqa: E402

from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    NUMBER_OPTIONS as CONNECTION_NUMBER_OPTIONS,  # noqa: E402
)
from ansible_collections.existio.exist.plugins.module_utils._connection_options import TRANSPORT as CONNECTION_OPTIONS  # noqa: E402
from ansible_collections.existio.exist.plugins.module_utils._connection_options import validate  # noqa: E402
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError  # noqa: E402
from ansible_collections.existio.exist.plugins.module_utils._option_checks import check_number  # noqa: E402
from ansible_collections.existio.exist.plugins.module_utils._secrets import Secrets
from ansible_collections.existio.exist.plugins.plugin_utils._store_users import (  # noqa: E402
    PLAIN_LITERAL,
    PLUGIN,
    ScratchInventory,
    build_hosts,
    mark_invalid,
    names_left_out,
    quoted_name,
    quoted_names,
    record_left_out,
    recovery_files,
    state_warnings,
    store_users,
)
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (  # noqa: E402
    TokenStore,
    TokenStoreError,
    remember_access_tokens,
)
from ansible_collections.existio.exist.plugins.plugin_utils._token_validation import validate_tokens  # noqa: E402

CONFIG_SUFFIXES = ('exist_users.yml', 'exist_users.yaml')
# verify_file peeks into other YAML files for `plugin: existio.exist.users`; no configuration is this long.
PEEK_BYTES = 1024 * 1024
EXPIRING_RANGE = (0, 3660)
CONCURRENCY_RANGE = (1, 64)
# Every number option, checked as the configuration file gives it, before ansible-core converts it.
NUMBER_OPTIONS = {
    'expiring_within_days': (EXPIRING_RANGE, 'days'),
    'validate_concurrency': (CONCURRENCY_RANGE, 'requests'),
}
NUMBER_OPTIONS.update(CONNECTION_NUMBER_OPTIONS)
# The options of a Cacheable inventory plugin: this one is not, and says so rather than ignore them silently.
CACHE_OPTIONS = ('cache', 'cache_plugin', 'cache_timeout', 'cache_connection', 'cache_prefix')
STORE_VARIABLE = 'EXIST_TOKEN_STORE'
TOKEN_LOOKUP = 'existio.exist.stored_token'


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
        connection = self._check_options()
        store_path = self._store_path(path)
        entries = self._load_store(store_path)
        secrets = Secrets(*(entry['access_token'] for entry in entries.values()))
        try:
            recovery, warnings = recovery_files(store_path, entries, self._vault_secrets())
            self._warn(warnings)
            users = store_users(entries, store_path, recovery, self.get_option, self._sanitize_group_name)
            left_out = names_left_out(users, self.inventory)
            if self.get_option('validate_tokens'):
                usernames = [username for username in sorted(users) if username not in left_out]
                concurrency = self.get_option('validate_concurrency')
                mark_invalid(users, validate_tokens(connection, entries, usernames, concurrency, self.display))
            left_out.update(self._collisions(users, left_out))
            admitted = [username for username in sorted(users) if username not in left_out]
            build_hosts(self.inventory, users, admitted)
            self._construct(admitted)
            self._check_built(admitted)
            self._warn(record_left_out(self.inventory, left_out, store_path) + state_warnings(users, admitted))
        except AnsibleError as exc:
            # compose, groups and keyed_groups may quote a variable in an error (strict); never the token.
            raise AnsibleParserError(secrets.mask(exc.message)) from None

    def _warn(self, warnings):
        for warning in warnings:
            self.display.warning(warning)

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
            direct = self._without_cache_options(direct)
            # Only the configuration file's store is a template (the environment's is a path as it is).
            self._store_from_file = direct.get('store') is not None
            problem = self._config_problem(direct)
            if problem:
                where = getattr(self, '_config_path', None)
                raise AnsibleParserError('%s: %s%s' % (PLUGIN, '%s: ' % where if where else '', problem))
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)

    def _without_cache_options(self, config):
        """The configuration without the inventory cache options, each named in a warning."""
        given = [key for key in CACHE_OPTIONS if key in config]
        if not given:
            return config
        where = getattr(self, '_config_path', None)
        self.display.warning(
            '%s: %s%s ignored: this inventory plugin does not cache (it is not Cacheable); its store is a local '
            'file read in milliseconds, and an inventory cache would write every token in plain text into the '
            "cache plugin's files"
            % (PLUGIN, '%s: ' % where if where else '', ', '.join(given) + (' is' if len(given) == 1 else ' are'))
        )
        return dict((key, value) for key, value in config.items() if key not in CACHE_OPTIONS)

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
                        quoted_name(key),
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
        """Fails on an unusable option; with validate_tokens, the Connection (validated once, without a token)."""
        days, concurrency = self.get_option('expiring_within_days'), self.get_option('validate_concurrency')
        problem = check_number('expiring_within_days', days, EXPIRING_RANGE, 'days') or check_number(
            'validate_concurrency', concurrency, CONCURRENCY_RANGE, 'requests'
        )
        connection = None
        if not problem and self.get_option('validate_tokens'):
            # Problems of the connection options fail the inventory, not every user's token.
            params = dict((option, self.get_option(option)) for option in CONNECTION_OPTIONS)
            try:
                connection = validate(params, CONNECTION_OPTIONS)
            except ExistConfigError as exc:
                problem = exc.message
        if problem:
            raise AnsibleParserError('%s: %s' % (PLUGIN, problem))
        return connection

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
        # The existio.exist.stored_token lookup of include_token=false finds them here, in the controller and in
        # every worker forked from it, rather than reading the store again for every host-task.
        remember_access_tokens(store, entries)
        if not self.get_option('include_token') and lookup_loader.find_plugin_with_context(TOKEN_LOOKUP).resolved:
            # Loaded here, once, rather than in every worker: each would import it and parse its documentation.
            lookup_loader.get(TOKEN_LOOKUP)
        self.display.vvv(
            '%s: %d user(s) in the token store %s%s'
            % (PLUGIN, len(entries), store.path, ' (vault-encrypted)' if store.encrypted else '')
        )
        return entries

    def _vault_secrets(self):
        return getattr(getattr(self.loader, '_vault', None), 'secrets', None)

    def _store_option(self, path):
        """The store as the configuration file gives it (rendered) or, failing that, EXIST_TOKEN_STORE."""
        store = self.get_option('store')
        if store is None or store == '':
            raise AnsibleParserError(
                '%s: %s: no token store: give its path as store in this file or in the environment variable %s'
                % (PLUGIN, path, STORE_VARIABLE)
            )
        if getattr(self, '_store_from_file', False):
            try:
                store = self.templar.template(store)
            except AnsibleError as exc:
                raise AnsibleParserError(
                    '%s: %s: store %s cannot be rendered: %s' % (PLUGIN, path, quoted_name(store), to_text(exc.message))
                ) from None
        if not isinstance(store, str) or not store:
            raise AnsibleParserError(
                '%s: %s: store must be the path of the token store, got %s' % (PLUGIN, path, describe_value(store))
            )
        return store

    def _store_path(self, path):
        """The store's absolute path: a relative one is relative to the configuration file's directory."""
        store_path = os.path.expanduser(to_text(self._store_option(path)))
        if not os.path.isabs(store_path):
            store_path = os.path.join(os.path.dirname(os.path.abspath(path)), store_path)
        store_path = os.path.normpath(store_path)
        if not self.get_option('include_token') and not PLAIN_LITERAL.match(store_path):
            raise AnsibleParserError(
                '%s: include_token=false cannot name the store path %s in an expression (it holds a quote, a '
                'backslash or a control character); move the store or use include_token=true'
                % (PLUGIN, quoted_name(store_path))
            )
        return store_path

    # -- constructed features (compose, groups, keyed_groups) ------------------

    def _collisions(self, users, left_out):
        """{username: why} for the users whose names the constructed groups (groups, keyed_groups) would take.

        Without these options the groups are known from the store alone (names_left_out). With them, the
        inventory is built once aside to learn every group name; a user named like one is left out, and
        again until no name collides (leaving a user out can only remove groups).
        """
        if not self.get_option('groups') and not self.get_option('keyed_groups'):
            return {}
        composed = set(self._sanitize_group_name(name) for name in self.get_option('groups') or {})
        more = {}
        while True:
            admitted = [username for username in sorted(users) if username not in left_out and username not in more]
            scratch = ScratchInventory()
            scratch.current_source = self.inventory.current_source
            real = self.inventory
            self.inventory = scratch
            try:
                own = build_hosts(scratch, users, admitted)
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
                more[username] = 'named like the group %s that %s' % (quoted_name(username), origin)

    def _check_built(self, admitted):
        """No host of ours is named like a group (a constructed expression that differs between runs could)."""
        clashing = [username for username in admitted if username in self.inventory.groups]
        if clashing:
            raise AnsibleParserError(
                '%s: the user(s) %s are named like groups the configuration made on a second evaluation only '
                '(groups or keyed_groups whose expressions give other names each time); make them give the same '
                'names' % (PLUGIN, quoted_names(clashing))
            )

    def _construct(self, usernames):
        strict = self.get_option('strict')
        for username in usernames:
            host_vars = self.inventory.get_host(username).get_vars()
            self._set_composite_vars(self.get_option('compose'), host_vars, username, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), host_vars, username, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), host_vars, username, strict=strict)
