# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What existio.exist.token does: exchange a code, refresh pairs, keep them in a store.

Internal to this collection, not a stable API. Runs in the controller (the
token action plugin), where the store and the vault secrets are. Every HTTP
request goes through plugin_utils/_oauth_client.py.

Run is the task: its options, its result, a grant without a store, and the
store's lock, load and diff around the work of its two parts: keeping every
new pair safe and merging recovery files back (StoreRecovery,
_token_recovery.py: crash safety (a) and (b)), and refreshing the users of
the store (StoreRefresh, _token_refresh.py: lost answers, (c) and (d)).

Failures name the user and never a secret: every token, the client secret
and the code are redacted by the client, and the action plugin masks them all
in the result (Run.secrets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._connection_options import Connection

import contextlib
import datetime
import math
import os
import re

from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    NUMBER_OPTIONS as CONNECTION_NUMBER_OPTIONS,
)
from ansible_collections.existio.exist.plugins.module_utils._connection_options import TRANSPORT, validate
from ansible_collections.existio.exist.plugins.module_utils._errors import (
    ExistApiError,
    ExistError,
    ExistOutcomeUnknown,
)
from ansible_collections.existio.exist.plugins.module_utils._secrets import Secrets
from ansible_collections.existio.exist.plugins.module_utils._transport import MAX_REQUESTS_PER_TASK
from ansible_collections.existio.exist.plugins.plugin_utils._oauth_client import ExistOAuthRefused, OAuthClient
from ansible_collections.existio.exist.plugins.plugin_utils._token_recovery import (
    MARKS,
    OK,
    PENDING_KEY,
    StoreRecovery,
    TaskFailure,
    expires_at,
)
from ansible_collections.existio.exist.plugins.plugin_utils._token_refresh import StoreRefresh
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (
    DEFAULT_LOCK_TIMEOUT,
    OUTCOME_UNKNOWN_KEY,
    REAUTHORIZATION_KEY,
    TokenStore,
    TokenStoreError,
    format_expires_at,
    shorten,
)

# The whole-number options of the task: (unit, lowest, highest).
NUMBER_OPTIONS = {
    'refresh_before': ('days', 0, 3660),
    'lock_timeout': ('seconds', 0, 3600),
}
NUMBER_OPTIONS.update((name, (unit,) + tuple(bounds)) for name, (bounds, unit) in CONNECTION_NUMBER_OPTIONS.items())
# A whole number as text: ASCII digits only (int() also takes '٣' and '３'), and few enough for any bound.
WHOLE_NUMBER_TEXT = re.compile(r'\A\s*[+-]?[0-9]{1,18}\s*\Z')


def _shown(value: object) -> str:
    """A value for a message about a number option: shortened, and never str() of a huge int (ValueError)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return 'a number of about %d digits' % int(value.bit_length() * math.log10(2) + 1)
    if isinstance(value, str):
        return shorten(value)
    if isinstance(value, (bool, int, float)):
        return repr(value)
    return 'a value of type %s' % type(value).__name__


def whole_number(option: str, value: object) -> tuple[int | None, str | None]:
    """(value as an int, None), or (None, a message naming the option and the value) for an option of NUMBER_OPTIONS.

    Takes an int, an integral float, or text of ASCII digits, as Ansible gives a number from YAML, -e or a template.
    """
    unit, low, high = NUMBER_OPTIONS[option]
    number = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and WHOLE_NUMBER_TEXT.match(value):
        number = int(value)
    if number is not None and low <= number <= high:
        return number, None
    return None, '%s must be a whole number of %s from %d to %d, got %s' % (option, unit, low, high, _shown(value))


def _summary(entries: dict) -> dict:
    """What a diff may show of the store: never a token."""
    summary = {}
    for username in sorted(entries):
        entry = entries[username]
        item = {'expires_at': format_expires_at(expires_at(entry)), 'scope': entry.get('scope') or ''}
        if entry.get(REAUTHORIZATION_KEY):
            item[REAUTHORIZATION_KEY] = True
        if entry.get(OUTCOME_UNKNOWN_KEY):
            item[OUTCOME_UNKNOWN_KEY] = entry[OUTCOME_UNKNOWN_KEY]
        summary[username] = item
    return summary


class Run(StoreRecovery, StoreRefresh):
    """One existio.exist.token task. params: validated; vault_secrets: the loader's."""

    def __init__(
        self,
        params: dict,
        vault_secrets: list | None = None,
        check_mode: bool = False,
        warn: Callable[[str], None] | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
        connection: Connection | None = None,
    ) -> None:
        self.params = params
        self.vault_secrets = vault_secrets or []
        self.check_mode = check_mode
        self.warnings_seen: set = set()
        self.warn_to = warn or (lambda message: None)
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))
        # The connection options but the token, checked once; every client of the run takes them as they are.
        self.connection = connection if connection is not None else validate(params, TRANSPORT)
        self.clients: list = []
        self.refresh_client = None
        self.secrets = Secrets()
        self.add_secrets(params.get('client_secret'), params.get('code'), params.get('refresh_token'))
        self.changed = False
        self.refreshed: list = []
        self.recovered: list = []
        self.failed_items: list = []
        self.username: str | None = None
        self.pair: dict | None = None  # without a store: the new pair, returned as no_log values
        self.unsaved: dict | None = None  # with a store: a new pair no file could hold, returned as no_log values
        self.diff: dict | None = None

    # -- helpers ------------------------------------------------------------

    def warn(self, message: str) -> None:
        """Warn once per message (every client says validate_certs=false, for one)."""
        if message not in self.warnings_seen:
            self.warnings_seen.add(message)
            self.warn_to(message)

    def add_secrets(self, *values: object) -> None:
        self.secrets.add(*values)

    def api_requests(self) -> int:
        return sum(client.requests_sent for client in self.clients)

    def client(
        self, access_token: str | None = None, retries: int | None = None, max_requests: int = MAX_REQUESTS_PER_TASK
    ) -> OAuthClient:
        """A new client, redacting every secret known so far; with access_token, one user's."""
        connection = self.connection if retries is None else self.connection._replace(retries=retries)
        client = OAuthClient(connection, warn=self.warn, max_requests=max_requests)
        client.add_secrets(*self.secrets)
        if access_token is not None:
            client.use_access_token(access_token)
        self.clients.append(client)
        return client

    def form(self, **fields: str) -> dict:
        form = dict(client_id=self.params['client_id'], client_secret=self.params['client_secret'])
        form.update(fields)
        return form

    def exchange_form(self) -> dict:
        return self.form(
            grant_type='authorization_code', code=self.params['code'], redirect_uri=self.params['redirect_uri']
        )

    def refresh_form(self, refresh_token: str) -> dict:
        return self.form(grant_type='refresh_token', refresh_token=refresh_token)

    def new_entry(self, answer: dict, old: dict | None = None) -> dict:
        """A store entry for a token answer; the extra keys of the old entry are kept, its marks dropped."""
        self.add_secrets(answer['access_token'], answer['refresh_token'])
        entry = dict((key, value) for key, value in (old or {}).items() if key not in MARKS)
        entry.update(
            access_token=answer['access_token'],
            refresh_token=answer['refresh_token'],
            expires_at=format_expires_at(self.clock() + datetime.timedelta(seconds=answer['expires_in'])),
            scope=answer['scope'],
        )
        return entry

    def authorize_url(self, scope: str | None = None) -> str:
        return self.clients[0].authorize_url(self.params['client_id'], scope, self.params.get('redirect_uri'))

    def fail(self, username: str | None, error_code: str, error: str, **extra: Any) -> None:
        item = dict(username=username, error_code=error_code, error=error)
        item.update(extra)
        self.failed_items.append(item)

    def read_username(self, client: OAuthClient) -> str:
        """The username behind the client's access token (one GET), or raise ExistError."""
        return client.profile()['username']

    # -- the task -----------------------------------------------------------

    def run(self) -> dict:
        """The task result (without masking: the action plugin masks self.secrets)."""
        problem = self.problem()
        if problem:
            raise TaskFailure(problem)
        # Checks the connection options (CA bundle, api_url...) before any request or any file.
        self.client()
        if self.params['store']:
            self.run_with_store()
        else:
            self.run_without_store()
        return self.result()

    def problem(self) -> str | None:
        params = self.params
        if params['grant'] == 'refresh_token' and params.get('code'):
            return 'code is only used with grant=authorization_code'
        if params['grant'] == 'authorization_code' and params.get('refresh_before') is not None:
            return 'refresh_before is only used with grant=refresh_token'
        for name in ('refresh_before', 'lock_timeout'):
            if params.get(name) is not None:
                problem = whole_number(name, params[name])[1]
                if problem:
                    return problem
        for name in ('client_id', 'client_secret', 'code', 'refresh_token', 'redirect_uri'):
            value = params.get(name)
            if value is not None and not value.strip():
                return '%s must not be empty' % name
        return None

    def result(self) -> dict:
        result = dict(
            changed=self.changed,
            refreshed=sorted(self.refreshed),
            failed_items=self.failed_items,
            api_requests=self.api_requests(),
        )
        if self.params['store']:
            result.update(store=self.store.path, recovered=sorted(self.recovered), expires_at=self.expires)
            if self.diff is not None:
                result['diff'] = self.diff
        if self.username is not None:
            result['username'] = self.username
        if self.failed_items:
            result.update(failed=True, msg=self.failure_message())
        return result

    def failure_message(self) -> str:
        parts = []
        for item in self.failed_items:
            who = 'user %s' % item['username'] if item['username'] else 'the token request'
            parts.append('%s: %s (%s)' % (who, item['error_code'], item['error']))
        message = '%d failed: %s' % (len(self.failed_items), '; '.join(parts))
        if self.refreshed:
            message += '. Refreshed all the same: %s' % ', '.join(sorted(self.refreshed))
        return message

    # -- without a store: the new pair is returned -------------------------

    def run_without_store(self) -> None:
        grant = self.params['grant']
        if self.check_mode:
            # A code works once and a refresh invalidates the pair: nothing is sent in check mode.
            self.changed = True
            return
        client = self.client()
        form = (
            self.exchange_form() if grant == 'authorization_code' else self.refresh_form(self.params['refresh_token'])
        )
        answer = self.token_request(client, form)
        if answer is None:
            return
        entry = self.new_entry(answer)
        self.changed = True
        client.use_access_token(entry['access_token'])
        try:
            self.username = self.read_username(client)
        except ExistError as exc:
            if exc.status == 401:
                # Not a pair Exist knows: returning it would hand out a dead pair as the new one.
                self.refused_pair(None, exc, form['grant_type'])
                return
            if answer.get('oddities'):
                # An odd answer's pair that could not be tried may not be Exist's: returned, but not vouched for.
                self.fail(
                    None,
                    'outcome_unknown',
                    'Exist\'s answer was odd (see the warning) and reading the profile with its pair failed (%s): '
                    'the pair is returned in this result, but whether Exist issued it is unknown; if it is refused, '
                    'send the %s again, and if Exist refuses that (invalid_grant), the user must authorise again.'
                    % (exc.message, 'code' if grant == 'authorization_code' else 'refresh token'),
                )
            else:
                self.warn(
                    'Exist issued a new pair, returned in this result; reading the profile to learn the username '
                    'failed: %s' % exc.message
                )
        if self.username is not None:
            entry['username'] = self.username
            if grant == 'refresh_token':
                self.refreshed.append(self.username)
        self.pair = entry

    def token_request(self, client: OAuthClient, form: dict) -> dict | None:
        """The answer of a token request for a pair the store does not hold, or None after recording the failure.

        There is no old access token to try here, so a lost answer stays unknown.
        """
        try:
            return client.oauth_token(form)
        except ExistOAuthRefused as exc:
            if exc.error == 'invalid_grant' and form['grant_type'] == 'refresh_token':
                self.fail(
                    None,
                    'reauthorization_needed',
                    '%s; the refresh token no longer works, so the user must authorise again' % exc.message,
                )
            else:
                self.fail(None, 'exchange_failed' if 'code' in form else 'refresh_failed', exc.message)
        except ExistOutcomeUnknown as exc:
            if form['grant_type'] == 'authorization_code':
                advice = 'a code works once: have the user authorise again for a new code'
            else:
                advice = (
                    'without the old access token it cannot be checked. Refresh again with the same refresh '
                    'token: if Exist refuses it (invalid_grant), the pair is gone and the user must authorise again'
                )
            self.fail(None, 'outcome_unknown', '%s; %s' % (exc.message, advice))
        except ExistApiError as exc:
            self.fail(None, 'exchange_failed' if 'code' in form else 'refresh_failed', exc.message)
        return None

    # -- with a store --------------------------------------------------------

    def run_with_store(self) -> None:
        params = self.params
        self.store = TokenStore(params['store'], self.vault_secrets)
        self.expires = {}
        try:
            if (
                params['grant'] == 'refresh_token'
                and not params.get('refresh_token')
                and not self.store.exists()
                and not self.recovery_files()
            ):
                raise TaskFailure(
                    '%s: no token store there; exchange a code into it first (grant=authorization_code)'
                    % self.store.where()
                )
            if not self.check_mode:
                directory = os.path.dirname(self.store.target)
                if not os.path.isdir(directory) or not os.access(directory, os.W_OK | os.X_OK):
                    raise TaskFailure(
                        '%s: the directory %s cannot be written, so no new pair could be kept; nothing was sent'
                        % (self.store.where(), directory)
                    )
            timeout = params.get('lock_timeout')
            lock = (
                self.store.lock(DEFAULT_LOCK_TIMEOUT if timeout is None else timeout)
                if not self.check_mode
                else contextlib.nullcontext()
            )
            with lock:
                entries = self.store.load()
                before = _summary(entries)
                self.merge_recovered(entries)
                if params['grant'] == 'authorization_code':
                    self.pair_into_store(entries, self.exchange_form())
                elif params.get('refresh_token'):
                    username = next(
                        (name for name, entry in entries.items() if entry['refresh_token'] == params['refresh_token']),
                        None,
                    )
                    if username is None:
                        self.pair_into_store(entries, self.refresh_form(params['refresh_token']))
                    else:
                        self.username = username
                        self.refresh_users(entries, [username])
                else:
                    self.refresh_store(entries)
        except TokenStoreError as exc:
            raise TaskFailure(str(exc.message)) from None
        after = _summary(entries)
        if self.check_mode:
            for username in self.refreshed:
                after[username]['expires_at'] = '(after the refresh)'
        self.diff = dict(before=before, after=after)
        self.expires = dict((username, format_expires_at(expires_at(entry))) for username, entry in entries.items())

    # -- exchanging into the store ----------------------------------------------

    def pair_into_store(self, entries: dict, form: dict) -> None:
        """Exchange a code (or refresh a pair the store does not hold) into the store."""
        if self.check_mode:
            self.changed = True
            return
        client = self.client()
        answer = self.token_request(client, form)
        if answer is None:
            return
        entry = self.new_entry(answer)
        # (a) On disk before anything else: the username is not known yet.
        stamp = self.clock().strftime('%Y%m%dT%H%M%S%fZ')
        pending = self.write_recovery(self.recovery_path('pending-' + stamp), PENDING_KEY, entry)
        client.use_access_token(entry['access_token'])
        try:
            username = self.read_username(client)
        except ExistError as exc:
            if exc.status == 401:
                self.refused_pair(pending, exc, form['grant_type'])
            else:
                self.unknown_username(entry, pending, exc)
            return
        self.username = username
        entry = self.new_entry(answer, entries.get(username))
        if self.keep(entries, username, entry, pending) == OK and form['grant_type'] == 'refresh_token':
            self.refreshed.append(username)
