# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Refreshing the users of a token store, and what a refresh whose answer was lost leaves.

Internal to this collection, not a stable API. StoreRefresh is a part of Run
(plugin_utils/_oauth.py), which gives it: params, check_mode, clock, changed,
refreshed, failed_items, refresh_client, and warn(), fail(), client(),
read_username(), add_secrets(), new_entry(), refresh_form(), authorize_url();
and StoreRecovery (_token_recovery.py) gives it save(), keep(),
write_recovery() and recovery_path().

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
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from ansible_collections.existio.exist.plugins.module_utils._errors import (
    ExistApiError,
    ExistError,
    ExistOutcomeUnknown,
)
from ansible_collections.existio.exist.plugins.module_utils._transport import MAX_REQUESTS_PER_TASK
from ansible_collections.existio.exist.plugins.plugin_utils._oauth_client import ExistOAuthRefused
from ansible_collections.existio.exist.plugins.plugin_utils._token_recovery import (
    EXPIRY_MARGIN,
    FAILED,
    OK,
    STOP,
    expires_at,
    safe_name,
)
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (
    OUTCOME_UNKNOWN_KEY,
    REAUTHORIZATION_KEY,
    TokenStoreError,
    format_expires_at,
)


class StoreRefresh:
    """Refreshing the users of the store that are due, one by one, and settling the entries marked by a lost answer."""

    # What Run (_oauth.py) and StoreRecovery give this part of Run.
    params: dict
    check_mode: bool
    changed: bool
    refreshed: list
    failed_items: list
    refresh_client: Any
    clock: Callable[[], datetime.datetime]
    warn: Callable[[str], None]
    fail: Callable[..., None]
    client: Callable[..., Any]
    read_username: Callable[[Any], Any]
    add_secrets: Callable[..., None]
    new_entry: Callable[..., dict]
    refresh_form: Callable[[Any], dict]
    authorize_url: Callable[..., str]
    save: Callable[[dict], None]
    keep: Callable[..., Any]
    write_recovery: Callable[..., Any]
    recovery_path: Callable[[str], str]

    def refresh_store(self, entries: dict) -> None:
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

    def refresh_users(self, entries: dict, usernames: list[str]) -> None:
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

    def refresh_user(self, entries: dict, username: str) -> str:
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
            return self.refresh_refused(entries, username, exc)
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

    def refresh_refused(self, entries: dict, username: str, exc: ExistOAuthRefused) -> str:
        """Exist refused one user's refresh (ExistOAuthRefused exc): STOP when it concerns the client, else FAILED."""
        entry = entries[username]
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
                why = '%s: the refresh token no longer works (the access token in the store works at most until %s)' % (
                    exc.message,
                    format_expires_at(expires_at(entry)),
                )
            return self.pair_gone(entries, username, why)
        self.fail(username, 'refresh_failed', '%s; %s' % (exc.message, self.unchanged(entry)))
        return FAILED

    def doubt_odd_pair(self, entries: dict, username: str, new_entry: dict, sent: datetime.datetime) -> str | None:
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
            recovery = self.write_recovery(self.recovery_path(safe_name(username)), username, new_entry)
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
    def unchanged(entry: dict) -> str:
        """What a refresh that was refused or never sent leaves: the pair, and any mark, as they were."""
        if entry.get(OUTCOME_UNKNOWN_KEY) is not None:
            return (
                'the entry is unchanged, still marked %s (the answer to the refresh sent at %s was lost): its pair '
                'may not work' % (OUTCOME_UNKNOWN_KEY, entry[OUTCOME_UNKNOWN_KEY])
            )
        return 'the pair is unchanged'

    def after_lost_answer(self, entries: dict, username: str, exc: ExistError, sent: datetime.datetime) -> str:
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

    def outcome_unknown(self, entries: dict, username: str, sent: datetime.datetime, why: str) -> str:
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

    def pair_gone(self, entries: dict, username: str, why: str) -> str:
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
