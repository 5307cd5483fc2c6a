# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What existio.exist.token does: exchange a code, refresh pairs, keep them in a store.

Internal to this collection, not a stable API. Runs in the controller (the
token action plugin), where the store and the vault secrets are. Every HTTP
request goes through plugin_utils/_oauth_client.py.

Crash safety. Refreshing invalidates the old pair the moment Exist issues the
new one, so the new pair is the user's only valid one from then on:

(a) It goes to disk before anything else happens. A refresh from the store
    knows its username, so the store is saved at once (no profile read). A
    pair whose username is not known yet (a code exchange, a refresh token
    the store does not hold) is first written to a pending recovery file
    beside the store, then the profile is read, then the store is saved and
    the pending file removed.
(b) When the store cannot be written, the pair goes to a recovery file
    beside it, PATH.recovered-USERNAME (mode 0600, vault-encrypted when the
    store is), and the item fails naming that file. When that fails too, the
    pair is returned as no_log values (unsaved_pair), and the message says so.
    Nothing more is refreshed in that run. The next run with the same store
    merges every recovery file back first (the newer pair wins; an older one
    is retired once the store's own pair is seen working, merged if that is
    refused), so running the task again is the way back.
(c) When the answer to a refresh is lost (timeout, dropped connection, 5xx,
    a 2xx that is not a token), the refresh may still be on its way: Exist
    can apply it after the client gave up (a request held by a slow server
    or a proxy). So the old access token still working proves nothing; only
    its refusal does. The old access token is tried once with a profile
    read: 401, so the pair is gone and the user must authorise again
    (reauthorization_needed, and the store entry is marked so); otherwise
    the outcome is unknown (outcome_unknown), and the entry keeps its old
    pair, marked refresh_outcome_unknown with the time the refresh was sent,
    so that nothing (the inventory) takes the old pair for a good one.
    Nothing more is refreshed in that run: if answers are being lost, every
    further refresh could lose another user's pair.
(d) The next refresh run settles a marked entry by sending its refresh again
    with the same refresh token, whatever refresh_before says. Exist takes
    a refresh token once, so this is decisive whenever it is sent, even while
    the lost refresh is still on its way: a new pair (the lost refresh never
    happened, or will be refused when it lands) clears the mark; invalid_grant
    (the lost refresh happened, and its pair is lost) marks the entry
    reauthorization_needed instead; a lost answer again marks it anew.

Failures name the user and never a secret: every token, the client secret
and the code are redacted by the client, and the action plugin masks them all
in the result (Run.secrets).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import glob
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
from ansible_collections.existio.exist.plugins.module_utils._transport import MAX_REQUESTS_PER_TASK
from ansible_collections.existio.exist.plugins.plugin_utils._oauth_client import ExistOAuthRefused, OAuthClient
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (
    DEFAULT_LOCK_TIMEOUT,
    OUTCOME_UNKNOWN_KEY,
    REAUTHORIZATION_KEY,
    TokenStore,
    TokenStoreError,
    format_expires_at,
    parse_expires_at,
    shorten,
)

# Recovery files sit beside the store: PATH.recovered-USERNAME, or PATH.recovered-pending-STAMP
# for a pair whose username is not known yet (kept under PENDING_KEY).
RECOVERED_INFIX = '.recovered-'
PENDING_KEY = '(unknown user)'
# Both marks of an entry (see _token_store); a new pair drops them.
MARKS = (REAUTHORIZATION_KEY, OUTCOME_UNKNOWN_KEY)
# An access token this close to its expiry is not tried after a lost answer: a refusal could be its expiry
# (the clocks of the controller and of Exist differ a little), not the refresh.
EXPIRY_MARGIN = datetime.timedelta(seconds=60)
# The whole-number options of the task: (unit, lowest, highest).
NUMBER_OPTIONS = {
    'refresh_before': ('days', 0, 3660),
    'lock_timeout': ('seconds', 0, 3600),
}
NUMBER_OPTIONS.update((name, (unit,) + tuple(bounds)) for name, (bounds, unit) in CONNECTION_NUMBER_OPTIONS.items())
# A whole number as text: ASCII digits only (int() also takes '٣' and '３'), and few enough for any bound.
WHOLE_NUMBER_TEXT = re.compile(r'\A\s*[+-]?[0-9]{1,18}\s*\Z')
# Outcomes of one user's refresh.
OK, FAILED, STOP = 'ok', 'failed', 'stop'
# What becomes of a recovery file's pair.
MERGE, SUPERSEDED, REFUSED, LEAVE = 'merge', 'superseded', 'refused', 'leave'


class TaskFailure(Exception):
    """The task cannot go on (before any refresh, or the store cannot be merged); the message names no secret."""


def expires_at(entry, where='token store'):
    return parse_expires_at(entry['expires_at'], where)


def _shown(value):
    """A value for a message about a number option: shortened, and never str() of a huge int (ValueError)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return 'a number of about %d digits' % int(value.bit_length() * math.log10(2) + 1)
    if isinstance(value, str):
        return shorten(value)
    if isinstance(value, (bool, int, float)):
        return repr(value)
    return 'a value of type %s' % type(value).__name__


def whole_number(option, value):
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


def _safe_name(username):
    """A username as part of a file name (Exist usernames are plain words; anything else is replaced)."""
    name = re.sub(r'[^A-Za-z0-9_.@+-]', '_', username).lstrip('.')
    return name or '_'


def _summary(entries):
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


class Run:
    """One existio.exist.token task. params: validated; vault_secrets: the loader's."""

    def __init__(self, params, vault_secrets=None, check_mode=False, warn=None, clock=None, connection=None):
        self.params = params
        self.vault_secrets = vault_secrets or []
        self.check_mode = check_mode
        self.warnings_seen = set()
        self.warn_to = warn or (lambda message: None)
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))
        # The connection options but the token, checked once; every client of the run takes them as they are.
        self.connection = connection if connection is not None else validate(params, TRANSPORT)
        self.clients = []
        self.refresh_client = None
        self.secrets = set()
        self.add_secrets(params.get('client_secret'), params.get('code'), params.get('refresh_token'))
        self.changed = False
        self.refreshed = []
        self.recovered = []
        self.failed_items = []
        self.username = None
        self.pair = None  # without a store: the new pair, returned as no_log values
        self.unsaved = None  # with a store: a new pair no file could hold, returned as no_log values
        self.diff = None

    # -- helpers ------------------------------------------------------------

    def warn(self, message):
        """Warn once per message (every client says validate_certs=false, for one)."""
        if message not in self.warnings_seen:
            self.warnings_seen.add(message)
            self.warn_to(message)

    def add_secrets(self, *values):
        for value in values:
            if isinstance(value, str) and value.strip():
                self.secrets.update((value, value.strip()))

    def api_requests(self):
        return sum(client.requests_sent for client in self.clients)

    def client(self, access_token=None, retries=None, max_requests=MAX_REQUESTS_PER_TASK):
        """A new client, redacting every secret known so far; with access_token, one user's."""
        connection = self.connection if retries is None else self.connection._replace(retries=retries)
        client = OAuthClient(connection, warn=self.warn, max_requests=max_requests)
        client.add_secrets(*self.secrets)
        if access_token is not None:
            client.use_access_token(access_token)
        self.clients.append(client)
        return client

    def form(self, **fields):
        form = dict(client_id=self.params['client_id'], client_secret=self.params['client_secret'])
        form.update(fields)
        return form

    def exchange_form(self):
        return self.form(
            grant_type='authorization_code', code=self.params['code'], redirect_uri=self.params['redirect_uri']
        )

    def refresh_form(self, refresh_token):
        return self.form(grant_type='refresh_token', refresh_token=refresh_token)

    def new_entry(self, answer, old=None):
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

    def authorize_url(self, scope=None):
        return self.clients[0].authorize_url(self.params['client_id'], scope, self.params.get('redirect_uri'))

    def fail(self, username, error_code, error, **extra):
        item = dict(username=username, error_code=error_code, error=error)
        item.update(extra)
        self.failed_items.append(item)

    def read_username(self, client):
        """The username behind the client's access token (one GET), or raise ExistError."""
        return client.profile()['username']

    # -- the task -----------------------------------------------------------

    def run(self):
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

    def problem(self):
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

    def result(self):
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

    def failure_message(self):
        parts = []
        for item in self.failed_items:
            who = 'user %s' % item['username'] if item['username'] else 'the token request'
            parts.append('%s: %s (%s)' % (who, item['error_code'], item['error']))
        message = '%d failed: %s' % (len(self.failed_items), '; '.join(parts))
        if self.refreshed:
            message += '. Refreshed all the same: %s' % ', '.join(sorted(self.refreshed))
        return message

    # -- without a store: the new pair is returned -------------------------

    def run_without_store(self):
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

    def token_request(self, client, form):
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

    def run_with_store(self):
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

    def save(self, entries):
        """Save entries to the store; raises TokenStoreError."""
        self.store.save(entries)
        self.changed = True

    # -- (a) and (b): a new pair goes to disk first -----------------------------

    def recovery_store(self, path):
        """A store at path that is encrypted as the store is (same vault id and secret)."""
        recovery = copy.copy(self.store)
        recovery.path = path
        return recovery

    def write_recovery(self, path, key, entry):
        """Write {key: entry} to a recovery file; the path, or None after a warning when it cannot be written."""
        try:
            self.recovery_store(path).save({key: entry})
        except TokenStoreError as exc:
            self.warn('could not write the recovery file: %s' % exc.message)
            return None
        return path

    def keep(self, entries, username, entry, pending=None):
        """Put a new pair in the store at once; OK, or STOP after recording where the pair is.

        pending: a recovery file that already holds the pair (deleted once the pair is safe elsewhere).
        """
        candidate = dict(entries)
        candidate[username] = dict(entry, username=username)
        try:
            self.save(candidate)
        except TokenStoreError as exc:
            reason = exc.message
        else:
            entries.clear()
            entries.update(candidate)
            self.forget(pending)
            return OK
        recovery = self.recovery_path(_safe_name(username))
        written = self.write_recovery(recovery, username, candidate[username])
        if written:
            self.forget(pending)
        else:
            written = pending
        encrypted = ', vault-encrypted like the store' if self.store.encrypted else ''
        if written:
            self.fail(
                username,
                'store_write_failed',
                'Exist issued a new pair, and the old one no longer works, but the store could not be written '
                '(%s). The new pair is safe in %s (mode 0600%s). Run this task again once the store can be '
                'written: it merges that file back before anything else (or merge it by hand, as the guide '
                'says). Nothing more was refreshed.' % (reason, written, encrypted),
                recovery_file=written,
            )
        else:
            self.unsaved = candidate[username]
            self.fail(
                username,
                'pair_not_saved',
                'Exist issued a new pair, and the old one no longer works, but neither the store (%s) nor the '
                'recovery file %s could be written. The new pair is in this task\'s result as no_log values '
                '(unsaved_pair): register the result and put unsaved_pair into the store under this username '
                'before anything else. Nothing more was refreshed.' % (reason, recovery),
            )
        return STOP

    def forget(self, path):
        if path:
            try:
                os.unlink(path)
            except OSError as exc:
                self.warn('%s holds a pair that is now in the store; delete it (%s)' % (path, exc.strerror or exc))

    def pair_into_store(self, entries, form):
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

    def refused_pair(self, pending, exc, grant_type):
        """The answer's pair is refused at once (401): not a pair Exist issued (an odd or forged answer), or revoked
        already. Keeping it helps no one; whether Exist used the code (or refresh token) is what is unknown."""
        self.changed = bool(pending)
        self.forget(pending)
        used = 'code' if grant_type == 'authorization_code' else 'refresh token'
        self.fail(
            None,
            'outcome_unknown',
            'Exist\'s answer held a pair that Exist refuses (%s): it is not a pair Exist issued, or was revoked at '
            'once, so it is not kept. Whether Exist used the %s, and issued a pair this answer did not carry, is '
            'unknown: send it again, and if Exist refuses it (invalid_grant), the user must authorise again.'
            % (exc.message, used),
        )

    def unknown_username(self, entry, pending, exc):
        self.changed = True
        if pending:
            self.fail(
                None,
                'profile_failed',
                'Exist issued a new pair, but reading the profile to learn whose it is failed (%s). The pair is '
                'safe in %s (mode 0600): run this task again with the same store; it reads that profile and merges '
                'the pair first.' % (exc.message, pending),
                recovery_file=pending,
            )
        else:
            self.unsaved = entry
            self.fail(
                None,
                'pair_not_saved',
                'Exist issued a new pair, but reading the profile to learn whose it is failed (%s), and no recovery '
                'file could be written beside the store. The new pair is in this task\'s result as no_log values '
                '(unsaved_pair): register the result and keep it.' % exc.message,
            )

    # -- merging recovery files back -----------------------------------------------

    def recovery_path(self, suffix):
        """A recovery file of the store: beside the file it is (a symbolic link's target)."""
        return self.store.beside(RECOVERED_INFIX + suffix)

    def recovery_files(self):
        """The recovery files of the store, oldest name first: beside its target, and beside the link when the
        store's path is one (where a version of this module that did not follow links left them)."""
        found = set()
        for base in set((self.store.path, self.store.target)):
            found.update(glob.glob(glob.escape(base) + RECOVERED_INFIX + '*'))
        return sorted(found)

    def merge_recovered(self, entries):
        """Put the pairs of the recovery files beside the store back into it, when newer (the next run's job).

        A file whose pairs are all superseded (the store holds a later pair that works) is deleted: left in place,
        it would be read, warned about and probed at every run.
        """
        taken = []
        for path in self.recovery_files():
            try:
                loaded = TokenStore(path, self.vault_secrets).load()
            except TokenStoreError as exc:
                self.warn('recovery file left in place: %s' % exc.message)
                continue
            pairs, superseded = [], []
            for key, entry in loaded.items():
                self.add_secrets(entry['access_token'], entry['refresh_token'])
                username = entry.get('username') or (None if key == PENDING_KEY else key)
                verified = username is None
                if username is None:
                    try:
                        username = self.read_username(self.client(access_token=entry['access_token']))
                    except ExistError as exc:
                        if exc.status == 401:
                            # Refused: a file that can never be merged would cost a read and a warning every run.
                            superseded.append((None, REFUSED))
                            continue
                        self.warn('%s left in place: reading the profile of its pair failed (%s)' % (path, exc.message))
                        pairs = None
                        break
                decision = self.recovery_decision(path, username, entry, entries.get(username), verified)
                if decision == MERGE:
                    pairs.append((username, entry))
                elif decision in (SUPERSEDED, REFUSED):
                    superseded.append((username, decision))
                else:
                    pairs = None
                    break
            if pairs is not None:
                taken.append((path, pairs, superseded))
        if not taken:
            return
        candidate = dict(entries)
        for dummy, pairs, dummy in taken:
            for username, entry in pairs:
                candidate[username] = dict(
                    dict((key, value) for key, value in entry.items() if key not in MARKS),
                    username=username,
                )
                self.recovered.append(username)
        if not self.check_mode:
            if any(pairs for dummy, pairs, dummy in taken):
                try:
                    self.save(candidate)
                except TokenStoreError as exc:
                    raise TaskFailure(
                        'cannot merge %s back into the store, which cannot be written (%s); they stay in place and '
                        'nothing was sent' % (', '.join(path for path, pairs, dummy in taken if pairs), exc.message)
                    ) from None
            for path, dummy, dummy in taken:
                self.forget(path)
        for path, dummy, superseded in taken:
            for username, decision in superseded:
                why = (
                    'it held an older pair of user %s than the store, whose own pair works' % username
                    if decision == SUPERSEDED
                    else 'it held a pair%s that Exist refuses (401)' % (' of user %s' % username if username else '')
                )
                self.warn('%s %s: %s' % ('would delete' if self.check_mode else 'deleted', path, why))
        self.changed = True
        entries.clear()
        entries.update(candidate)

    def recovery_decision(self, path, username, entry, current, verified):
        """MERGE, SUPERSEDED or LEAVE (said in a warning) a recovery file's pair of username.

        verified: the pair was just seen working (its profile read). A pair with a later expiry than the store's is
        the newer one; otherwise the store's own pair is tried: working, it supersedes the file's; refused, the
        file's is the only one that can work.
        """
        if current is None or current.get(REAUTHORIZATION_KEY) or expires_at(entry, path) > expires_at(current):
            return MERGE
        if (entry['access_token'], entry['refresh_token']) == (current['access_token'], current['refresh_token']):
            return SUPERSEDED
        older = '%s left in place: it holds an older pair of user %s than the store' % (path, username)
        if current.get(OUTCOME_UNKNOWN_KEY) is not None:
            # The store's pair may have died with a refresh whose answer was lost (or was odd): expiries order
            # nothing then (an odd answer's pair is due now), so the file's own pair, tried once, decides.
            if verified:
                return MERGE  # a pair just seen working, over one whose refresh may have landed since
            try:
                shown = self.read_username(self.client(access_token=entry['access_token'], retries=0))
            except ExistError as exc:
                if exc.status == 401:
                    return REFUSED
                self.warn(
                    '%s, whose own pair may no longer work (%s), and trying the file\'s pair failed (%s); a later '
                    'run decides' % (older, OUTCOME_UNKNOWN_KEY, exc.message)
                )
                return LEAVE
            if shown == username:
                return MERGE
            self.warn('%s left in place: its pair is not user %s\'s but %s\'s' % (path, username, shown))
            return LEAVE
        if expires_at(current) <= self.clock() + EXPIRY_MARGIN:
            self.warn(
                '%s, whose access token has expired, so trying it cannot tell which works; delete the file once '
                'you are sure it is not needed' % older
            )
            return LEAVE
        try:
            self.read_username(self.client(access_token=current['access_token'], retries=0))
        except ExistError as exc:
            if exc.status == 401:
                return MERGE
            self.warn('%s, and trying the store\'s pair failed (%s)' % (older, exc.message))
            return LEAVE
        return SUPERSEDED

    # -- refreshing the users of the store ---------------------------------------

    def refresh_store(self, entries):
        now = self.clock()
        marked = sorted(username for username, entry in entries.items() if entry.get(REAUTHORIZATION_KEY))
        for username in marked:
            self.fail(
                username,
                'reauthorization_needed',
                'marked in the store by an earlier run: the pair no longer works. The user must authorise again '
                'at the URL given, and the code be exchanged into the store (grant=authorization_code)',
                authorize_url=self.authorize_url(entries[username].get('scope')),
            )
        # (d) An entry whose last refresh has an unknown outcome is settled first, whatever refresh_before says.
        unsettled = sorted(
            username
            for username, entry in entries.items()
            if username not in marked and entry.get(OUTCOME_UNKNOWN_KEY) is not None
        )
        due = list(unsettled)
        for username in sorted(entries):
            if username in marked or username in unsettled:
                continue
            before = self.params.get('refresh_before')
            if before is None or expires_at(entries[username]) <= now + datetime.timedelta(days=before):
                due.append(username)
        if self.check_mode:
            for username in unsettled:
                self.warn(
                    'user %s: the answer to the refresh sent at %s was lost, so whether the pair in the store still '
                    'works is unknown; a real run sends that refresh again, which settles it'
                    % (username, entries[username][OUTCOME_UNKNOWN_KEY])
                )
            self.refreshed.extend(due)
            self.changed = self.changed or bool(due)
            return
        self.refresh_users(entries, due)

    def refresh_users(self, entries, usernames):
        # One client sends every refresh of the run (no bearer: one connection kept alive), with the request
        # cap of one task per user refreshed.
        self.refresh_client = self.client(max_requests=MAX_REQUESTS_PER_TASK * max(1, len(usernames)))
        for index, username in enumerate(usernames):
            if self.refresh_user(entries, username) == STOP:
                reason = self.failed_items[-1]['error_code']
                for later in usernames[index + 1 :]:
                    self.fail(
                        later,
                        'not_attempted',
                        'not refreshed: the refresh of user %s failed (%s) in a way that could repeat for every '
                        'user; the pair is unchanged. Run the task again once that is solved' % (username, reason),
                    )
                return

    def refresh_user(self, entries, username):
        """Refresh one user of the store: OK, FAILED (go on with the others) or STOP."""
        if self.check_mode:
            self.refreshed.append(username)
            self.changed = True
            return OK
        entry = entries[username]
        # Only the tokens of the users this run touches can reach a message (masking thousands costs time).
        self.add_secrets(entry['access_token'], entry['refresh_token'])
        client = self.refresh_client
        client.add_secrets(entry['access_token'], entry['refresh_token'])
        sent = self.clock()
        try:
            answer = client.oauth_token(self.refresh_form(entry['refresh_token']))
        except ExistOAuthRefused as exc:
            if exc.concerns_client:
                self.fail(username, 'refresh_failed', '%s; %s' % (exc.message, self.unchanged(entry)))
                return STOP
            if exc.error == 'invalid_grant':
                if entry.get(OUTCOME_UNKNOWN_KEY) is not None:
                    why = (
                        '%s: the refresh token no longer works, so the refresh sent at %s, whose answer was lost, did '
                        'happen, and its new pair is lost (unless the user revoked the pair since)'
                        % (exc.message, entry[OUTCOME_UNKNOWN_KEY])
                    )
                else:
                    why = (
                        '%s: the refresh token no longer works (the access token in the store works at most until %s)'
                        % (exc.message, format_expires_at(expires_at(entry)))
                    )
                return self.pair_gone(entries, username, why)
            self.fail(username, 'refresh_failed', '%s; %s' % (exc.message, self.unchanged(entry)))
            return FAILED
        except ExistOutcomeUnknown as exc:
            return self.after_lost_answer(entries, username, exc, sent)
        except ExistApiError as exc:
            # Never sent, rate-limited for too long, or the request cap: nothing was issued.
            self.fail(username, 'refresh_failed', '%s; %s' % (exc.message, self.unchanged(entry)))
            return STOP
        new_entry = self.new_entry(answer, entry)
        if answer.get('oddities'):
            doubt = self.doubt_odd_pair(entries, username, new_entry, sent)
            if doubt is not None:
                return doubt
        if self.keep(entries, username, new_entry) == STOP:
            return STOP
        self.refreshed.append(username)
        return OK

    def doubt_odd_pair(self, entries, username, new_entry, sent):
        """An odd token answer's pair replaces the old one only once a read with it works: None when it did.

        A server (or a proxy) that answers oddly may also answer a pair Exist never issued; storing that would
        throw away a pair that still works. One read decides; what it cannot decide is kept for the next run.
        """
        what = 'POST /oauth2/access_token answered a pair in an odd answer (see the warning)'
        probe = self.client(access_token=new_entry['access_token'], retries=0)
        try:
            shown = self.read_username(probe)
        except ExistError as exc:
            if getattr(exc, 'status', None) == 401:
                # Not a pair Exist knows: as if the answer were lost, the old pair decides what happened.
                return self.after_lost_answer(
                    entries, username, ExistOutcomeUnknown('%s that Exist refuses (401)' % what), sent
                )
            recovery = self.write_recovery(self.recovery_path(_safe_name(username)), username, new_entry)
            kept = (
                'the pair of that answer is kept in %s, which the next run tries first' % recovery
                if recovery
                else 'the pair of that answer could not be kept'
            )
            return self.outcome_unknown(
                entries, username, sent, '%s, and trying it failed (%s); %s' % (what, exc.message, kept)
            )
        if shown != username:
            return self.after_lost_answer(
                entries, username, ExistOutcomeUnknown('%s that belongs to another user' % what), sent
            )
        return None

    @staticmethod
    def unchanged(entry):
        """What a refresh that was refused or never sent leaves: the pair, and any mark, as they were."""
        if entry.get(OUTCOME_UNKNOWN_KEY) is not None:
            return (
                'the entry is unchanged, still marked %s (the answer to the refresh sent at %s was lost): its pair '
                'may not work' % (OUTCOME_UNKNOWN_KEY, entry[OUTCOME_UNKNOWN_KEY])
            )
        return 'the pair is unchanged'

    def after_lost_answer(self, entries, username, exc, sent):
        """(c) A refresh whose answer was lost: a refused old access token says it happened; else unknown. STOP."""
        entry = entries[username]
        old_expiry = expires_at(entry)
        now = self.clock()
        if old_expiry <= now + EXPIRY_MARGIN:
            return self.outcome_unknown(
                entries,
                username,
                sent,
                '%s. The old access token %s at %s, so trying it cannot tell whether Exist refreshed'
                % (
                    exc.message,
                    'expired' if old_expiry <= now else 'expires within a minute',
                    format_expires_at(old_expiry),
                ),
            )
        probe = self.client(access_token=entry['access_token'], retries=0)
        try:
            self.read_username(probe)
        except ExistApiError as probe_error:
            if probe_error.status == 401:
                self.pair_gone(
                    entries,
                    username,
                    '%s, and the old access token is now refused (401): Exist did refresh, and its answer with the '
                    'new pair is lost' % exc.message,
                )
                return STOP
            return self.outcome_unknown(
                entries,
                username,
                sent,
                '%s, and trying the old access token failed too (%s)' % (exc.message, probe_error.message),
            )
        return self.outcome_unknown(
            entries,
            username,
            sent,
            '%s. The old access token still worked just after, but that proves nothing: the refresh may still be on '
            'its way and be applied later, which ends the old pair' % exc.message,
        )

    def outcome_unknown(self, entries, username, sent, why):
        """Whether a refresh happened is unknown: mark the entry (old pair kept) for the next run to settle. STOP."""
        stamp = format_expires_at(sent)
        candidate = dict(entries)
        candidate[username] = dict(
            dict((key, value) for key, value in entries[username].items() if key != REAUTHORIZATION_KEY),
            **{OUTCOME_UNKNOWN_KEY: stamp},
        )
        try:
            self.save(candidate)
        except TokenStoreError as exc:
            marked = (
                'The store could not be marked so (%s): until a run settles it, do not rely on the pair the store '
                'holds for this user' % exc.message
            )
        else:
            entries.clear()
            entries.update(candidate)
            marked = 'The store keeps the old pair, marked %s: %s' % (OUTCOME_UNKNOWN_KEY, stamp)
        self.fail(
            username,
            'outcome_unknown',
            '%s. Whether Exist refreshed the pair is unknown. %s. Run the task again (refresh_before does not '
            'matter): it sends this refresh again, which settles it, either with a new pair or, if Exist refuses '
            'the refresh token, by marking the user reauthorization_needed. Nothing more was refreshed.'
            % (why, marked),
            refresh_sent_at=stamp,
        )
        return STOP

    def pair_gone(self, entries, username, why):
        """The user's pair no longer works: mark the entry (kept) and ask for a new authorisation."""
        entry = entries[username]
        url = self.authorize_url(entry.get('scope'))
        candidate = dict(entries)
        candidate[username] = dict(
            dict((key, value) for key, value in entry.items() if key != OUTCOME_UNKNOWN_KEY),
            **{REAUTHORIZATION_KEY: True},
        )
        try:
            self.save(candidate)
        except TokenStoreError as exc:
            self.warn(
                'could not mark user %s as needing a new authorisation in the store: %s' % (username, exc.message)
            )
            outcome = STOP
        else:
            entries.clear()
            entries.update(candidate)
            outcome = FAILED
        self.fail(
            username,
            'reauthorization_needed',
            '%s. The user must authorise again at the URL given, and the code be exchanged into the store '
            '(grant=authorization_code); the old entry is kept, marked reauthorization_needed' % why,
            authorize_url=url,
        )
        return outcome
