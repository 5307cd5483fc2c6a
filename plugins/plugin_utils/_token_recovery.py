# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The token store's crash safety: a new pair goes to disk first, and what could not be saved comes back.

Internal to this collection, not a stable API. StoreRecovery is a part of Run
(plugin_utils/_oauth.py), which gives it: store, check_mode, clock,
vault_secrets, changed, recovered, unsaved, and warn(), fail(), client(),
read_username(), add_secrets().

Refreshing invalidates the old pair the moment Exist issues the new one, so
the new pair is the user's only valid one from then on:

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
"""

from __future__ import annotations

import copy
import datetime
import glob
import os
import re
from typing import Any, Callable

from ansible_collections.existio.exist.plugins.module_utils._errors import ExistError
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (
    OUTCOME_UNKNOWN_KEY,
    REAUTHORIZATION_KEY,
    TokenStore,
    TokenStoreError,
    parse_expires_at,
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
# Outcomes of one user's refresh.
OK, FAILED, STOP = 'ok', 'failed', 'stop'
# What becomes of a recovery file's pair.
MERGE, SUPERSEDED, REFUSED, LEAVE = 'merge', 'superseded', 'refused', 'leave'


class TaskFailure(Exception):
    """The task cannot go on (before any refresh, or the store cannot be merged); the message names no secret."""


def expires_at(entry: dict, where: str = 'token store') -> datetime.datetime:
    return parse_expires_at(entry['expires_at'], where)


def safe_name(username: str) -> str:
    """A username as part of a file name (Exist usernames are plain words; anything else is replaced)."""
    name = re.sub(r'[^A-Za-z0-9_.@+-]', '_', username).lstrip('.')
    return name or '_'


class StoreRecovery:
    """Keeping a new pair (the store, else a recovery file, else the result) and merging recovery files back."""

    # What Run (_oauth.py) gives this part of it.
    store: Any
    vault_secrets: list
    check_mode: bool
    changed: bool
    recovered: list
    clock: Callable[[], datetime.datetime]
    warn: Callable[[str], None]
    fail: Callable[..., None]
    add_secrets: Callable[..., None]
    client: Callable[..., Any]
    read_username: Callable[[Any], Any]

    # -- (a) and (b): a new pair goes to disk first -----------------------------

    def save(self, entries: dict) -> None:
        """Save entries to the store; raises TokenStoreError."""
        self.store.save(entries)
        self.changed = True

    def recovery_store(self, path: str) -> TokenStore:
        """A store at path that is encrypted as the store is (same vault id and secret)."""
        recovery = copy.copy(self.store)
        recovery.path = path
        return recovery

    def write_recovery(self, path: str, key: str, entry: dict) -> str | None:
        """Write {key: entry} to a recovery file; the path, or None after a warning when it cannot be written."""
        try:
            self.recovery_store(path).save({key: entry})
        except TokenStoreError as exc:
            self.warn('could not write the recovery file: %s' % exc.message)
            return None
        return path

    def keep(self, entries: dict, username: str, entry: dict, pending: str | None = None) -> str:
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
        recovery = self.recovery_path(safe_name(username))
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

    def forget(self, path: str | None) -> None:
        if path:
            try:
                os.unlink(path)
            except OSError as exc:
                self.warn('%s holds a pair that is now in the store; delete it (%s)' % (path, exc.strerror or exc))

    def refused_pair(self, pending: str | None, exc: ExistError, grant_type: str) -> None:
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

    def unknown_username(self, entry: dict, pending: str | None, exc: ExistError) -> None:
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

    # -- merging recovery files back ----------------------------------------------

    def recovery_path(self, suffix: str) -> str:
        """A recovery file of the store: beside the file it is (a symbolic link's target)."""
        return self.store.beside(RECOVERED_INFIX + suffix)

    def recovery_files(self) -> list[str]:
        """The recovery files of the store, oldest name first: beside its target, and beside the link when the
        store's path is one (where a version of this module that did not follow links left them)."""
        found = set()
        for base in set((self.store.path, self.store.target)):
            found.update(glob.glob(glob.escape(base) + RECOVERED_INFIX + '*'))
        return sorted(found)

    def merge_recovered(self, entries: dict) -> None:
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
            decided = self.recovery_file_decisions(path, loaded, entries)
            if decided is not None:
                taken.append((path,) + decided)
        if taken:
            self.merge_taken(entries, taken)

    def recovery_file_decisions(self, path: str, loaded: dict, entries: dict) -> tuple[list, list] | None:
        """(pairs to merge, [(username, SUPERSEDED or REFUSED)]) for a recovery file, or None to leave it in place."""
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
                    return None
            decision = self.recovery_decision(path, username, entry, entries.get(username), verified)
            if decision == MERGE:
                pairs.append((username, entry))
            elif decision in (SUPERSEDED, REFUSED):
                superseded.append((username, decision))
            else:
                return None
        return pairs, superseded

    def merge_taken(self, entries: dict, taken: list[tuple]) -> None:
        """Merge the pairs of the files taken ([(path, pairs, superseded)]) into the store, and delete the files."""
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

    def recovery_decision(self, path: str, username: str, entry: dict, current: dict | None, verified: bool) -> str:
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
            return self.decision_by_file_pair(path, username, entry, older)
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

    def decision_by_file_pair(self, path: str, username: str, entry: dict, older: str) -> str:
        """MERGE, REFUSED or LEAVE (said in a warning) a recovery file's pair, by one read with it."""
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
