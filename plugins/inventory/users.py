# -*- coding: utf-8 -*-
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
    C(exist_token_scopes) (the list of scopes Exist granted) and C(exist_token_store) (the store's absolute path).
    With O(local_connection) (the default) also C(ansible_connection=local) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}), so that a play needs only
    C(module_defaults) with C(token: "{{ exist_token }}").
  - >-
    Groups are C(exist_users) (every user), C(scope_<scope>) for each scope a token holds (C(scope_mood_write)...),
    C(exist_token_expiring) (the token expires within O(expiring_within_days) days, or has expired),
    C(exist_token_expired) (the token has expired) and C(exist_token_invalid) (with O(validate_tokens): Exist refused
    the token; the host then has C(exist_token_error)). These groups always exist, empty or not, so that patterns
    such as C(exist_users:!exist_token_invalid) never warn.
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
    type: bool
    default: false
  validate_concurrency:
    description:
      - With O(validate_tokens), how many profile requests are in flight at once (from 1 to 64).
    type: int
    default: 8
  api_url:
    description:
      - With O(validate_tokens), the base URL of the Exist service. A trailing C(/api/2/) is accepted and dropped.
      - Plain C(http://) is accepted only for loopback hosts such as the local emulator.
    type: str
    default: https://exist.io
    env:
      - name: EXIST_API_URL
  validate_certs:
    description:
      - With O(validate_tokens), whether to verify the TLS certificate of O(api_url). Prefer O(ca_path) for a
        private CA.
    type: bool
    default: true
  ca_path:
    description:
      - With O(validate_tokens), a PEM file of CA certificates to verify O(api_url) with.
      - Without it, the first of E(REQUESTS_CA_BUNDLE) and E(SSL_CERT_FILE) that is set is used, and otherwise the
        CA bundle that comes with C(requests).
    type: path
    env:
      - name: EXIST_CA_PATH
  use_proxy:
    description:
      - With O(validate_tokens), whether to use the proxy the E(HTTPS_PROXY) environment variable names (except
        for the hosts in E(NO_PROXY)).
    type: bool
    default: true
  timeout:
    description:
      - With O(validate_tokens), seconds to wait for Exist to answer one request, from 1 to 3600.
    type: int
    default: 30
  retries:
    description:
      - With O(validate_tokens), how often a profile request that fails with a connection error or a 5xx answer is
        retried (0 to 10), with backoff. Every retry is a warning.
    type: int
    default: 3
  rate_limit_wait:
    description:
      - With O(validate_tokens), most seconds (0 to 3600) to wait for one user when Exist answers
        C(429 Too Many Requests); past it that user's token is reported as failing with the reason.
    type: int
    default: 60
  http_agent:
    description:
      - With O(validate_tokens), the C(User-Agent) header sent to Exist.
    type: str
extends_documentation_fragment:
  - constructed
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
# A play for every user whose token works needs nothing else than this:
#
# - hosts: exist_users:!exist_token_invalid
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
import os  # noqa: E402
import re  # noqa: E402

import yaml  # noqa: E402
from ansible.errors import AnsibleError, AnsibleParserError  # noqa: E402
from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable  # noqa: E402

from ansible_collections.existio.exist.plugins.module_utils._client import (  # noqa: E402
    ExistError,
    check_api_url,
    check_number,
    tls_verify,
)
from ansible_collections.existio.exist.plugins.module_utils._connection_options import (  # noqa: E402
    client_from_params,
    connection_problem,
)
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (  # noqa: E402
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
SCOPE_GROUP_PREFIX = 'scope_'
EXPIRING_RANGE = (0, 3660)
CONCURRENCY_RANGE = (1, 64)
CONNECTION_OPTIONS = (
    'api_url',
    'validate_certs',
    'ca_path',
    'use_proxy',
    'timeout',
    'retries',
    'rate_limit_wait',
    'http_agent',
)
PYTHON_OF_THE_PLAYBOOK = '{{ ansible_playbook_python }}'
# What may stand in a Jinja string literal of the include_token=false expression without escaping.
PLAIN_LITERAL = re.compile(r"\A[^'\\\x00-\x1f]*\Z")


def _redact(text, secrets):
    text = to_text(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, '********')
    return text


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
    for what, value in (('store path', store_path), ('username', username)):
        if not PLAIN_LITERAL.match(value):
            raise AnsibleParserError(
                '%s: include_token=false cannot name the %s %r in an expression (it holds a quote, a backslash or a '
                'control character); rename it or use include_token=true' % (PLUGIN, what, value)
            )
    return "{{ (lookup('ansible.builtin.file', '%s') | from_yaml)['%s'].access_token }}" % (store_path, username)


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = PLUGIN

    def verify_file(self, path):
        """Our suffix, or any YAML file whose `plugin` is this plugin."""
        if not super(InventoryModule, self).verify_file(path):
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
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        self._check_options()
        store_path = os.path.expanduser(to_text(self.get_option('store')))
        if not os.path.isabs(store_path):
            store_path = os.path.join(os.path.dirname(os.path.abspath(path)), store_path)
        store_path = os.path.normpath(store_path)
        entries = self._load_store(store_path)
        secrets = [entry['access_token'] for entry in entries.values()]
        try:
            self._populate(entries, store_path)
            if self.get_option('validate_tokens'):
                self._validate(entries)
            self._construct(entries)
        except AnsibleError as exc:
            # compose, groups and keyed_groups may quote a variable in an error (strict); never the token.
            raise AnsibleParserError(_redact(exc.message, secrets)) from None

    # -- reading -------------------------------------------------------------

    def _check_options(self):
        days, concurrency = self.get_option('expiring_within_days'), self.get_option('validate_concurrency')
        problem = check_number('expiring_within_days', days, EXPIRING_RANGE, 'days') or check_number(
            'validate_concurrency', concurrency, CONCURRENCY_RANGE, 'requests'
        )
        if not problem and self.get_option('validate_tokens'):
            params = self._connection_params()
            problem = connection_problem(params)
            try:
                # Problems of the connection options fail the inventory, not every user's token.
                check_api_url(params['api_url'])
                tls_verify(params['validate_certs'], params['ca_path'])
            except ExistError as exc:
                problem = problem or exc.message
        if problem:
            raise AnsibleParserError('%s: %s' % (PLUGIN, problem))

    def _load_store(self, store_path):
        vault = getattr(self.loader, '_vault', None)
        store = TokenStore(store_path, getattr(vault, 'secrets', None))
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

    # -- hosts and groups ----------------------------------------------------

    def _populate(self, entries, store_path):
        now = datetime.datetime.now(datetime.timezone.utc)
        horizon = now + datetime.timedelta(days=self.get_option('expiring_within_days'))
        include_token = self.get_option('include_token')
        local = self.get_option('local_connection')
        for group in (ALL_GROUP, EXPIRING_GROUP, EXPIRED_GROUP, INVALID_GROUP):
            self.inventory.add_group(group)
        for username in sorted(entries):
            entry = entries[username]
            expires = parse_expires_at(entry['expires_at'], '%s: user %r' % (store_path, username))
            scopes = scopes_of(entry)
            host = self.inventory.add_host(username, group=ALL_GROUP)
            if include_token:
                token = _as_literal(entry['access_token'])
            else:
                token = _as_template(token_expression(store_path, username))
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
            for name, value in variables.items():
                self.inventory.set_variable(host, name, value)
            for scope in scopes:
                group = self.inventory.add_group(self._sanitize_group_name(SCOPE_GROUP_PREFIX + scope))
                self.inventory.add_child(group, host)
            if expires <= horizon:
                self.inventory.add_child(EXPIRING_GROUP, host)
            if expires <= now:
                self.inventory.add_child(EXPIRED_GROUP, host)

    def _construct(self, entries):
        strict = self.get_option('strict')
        for username in sorted(entries):
            host_vars = self.inventory.get_host(username).get_vars()
            self._set_composite_vars(self.get_option('compose'), host_vars, username, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), host_vars, username, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), host_vars, username, strict=strict)

    # -- validate_tokens -----------------------------------------------------

    def _connection_params(self):
        params = dict((option, self.get_option(option)) for option in CONNECTION_OPTIONS)
        params.update(token_type='bearer')
        return params

    def _check_token(self, params, username, token):
        """(username, error or None, warnings) for one user: one profile request."""
        warnings = []
        try:
            profile = client_from_params(dict(params, token=token), warnings.append).profile()
        except ExistError as exc:
            return username, _redact(exc.message, [token, token.strip()]), warnings
        owner = to_text(profile['username'])
        if owner != username:
            return username, 'the token belongs to the Exist user %r, not %r' % (owner, username), warnings
        return username, None, warnings

    def _validate(self, entries):
        usernames = sorted(entries)
        if not usernames:
            return
        params = self._connection_params()
        workers = min(self.get_option('validate_concurrency'), len(usernames))

        def check(username):
            return self._check_token(params, username, entries[username]['access_token'])

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(check, usernames))
        failed, warned = [], {}
        for username, error, warnings in outcomes:
            for warning in warnings:
                warned.setdefault(warning, []).append(username)
            if error is not None:
                failed.append(username)
                self.inventory.set_variable(username, 'exist_token_error', _as_literal(error))
                self.inventory.add_child(INVALID_GROUP, username)
        secrets = [entry['access_token'] for entry in entries.values()]
        for warning, users in warned.items():
            # One warning per distinct text (validate_certs=false would otherwise warn once per user).
            self.display.warning('%s: %s (user(s): %s)' % (PLUGIN, _redact(warning, secrets), ', '.join(users)))
        self.display.vvv(
            '%s: validated %d token(s) with one profile request each: %d failed' % (PLUGIN, len(usernames), len(failed))
        )
        if failed:
            self.display.warning(
                '%s: %d of %d token(s) failed validation and are in the group %s (see each host\'s exist_token_error): '
                '%s' % (PLUGIN, len(failed), len(usernames), INVALID_GROUP, ', '.join(failed))
            )
