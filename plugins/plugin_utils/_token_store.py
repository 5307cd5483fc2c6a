# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The token store: one YAML file of OAuth2 token pairs, keyed by Exist username.

Internal to this collection, not a stable API. Runs in the controller (the
token action plugin writes it, the users inventory plugin reads it), where
Ansible's vault secrets are at hand:

    alice:
      username: alice
      access_token: ...
      refresh_token: ...
      expires_at: '2027-11-28T19:00:00Z'   # UTC
      scope: mood_read mood_write          # as Exist granted it, space-separated

- A store that is vault-encrypted is read with the loader's vault secrets and
  rewritten encrypted with the same vault id and secret.
- Every write is whole and atomic: a temporary file in the same directory,
  mode 0600, flushed and fsynced, then renamed over the store (and the
  directory fsynced), so a crash leaves the old store or the new one, never a
  mixture. Other keys of an entry are kept as they are.
- lock() serialises writers of one store (an flock on PATH.lock), so two runs
  refreshing the same store cannot lose each other's new pairs.
- No message ever holds a token: errors name the file, the user and the key.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import tempfile

import yaml
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, is_encrypted

REQUIRED_KEYS = ('access_token', 'refresh_token', 'expires_at')
SECRET_KEYS = ('access_token', 'refresh_token')
STORE_MODE = 0o600


class TokenStoreError(AnsibleError):
    """The store cannot be read or written; the message names the file, never a token."""


def parse_expires_at(value, where):
    """A timezone-aware UTC datetime from an ISO 8601 string (a trailing Z allowed)."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith('Z'):
            text = text[:-1] + '+00:00'
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise TokenStoreError('%s: expires_at %r is not an ISO 8601 date and time' % (where, value)) from None
    else:
        got = 'a date without a time' if isinstance(value, datetime.date) else type(value).__name__
        raise TokenStoreError('%s: expires_at must be an ISO 8601 date and time, got %s' % (where, got))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    try:
        return moment.astimezone(datetime.timezone.utc)
    except (OverflowError, ValueError):
        # A moment at the edge of the calendar (year 1 east of UTC, year 9999 west of it) has no UTC form.
        raise TokenStoreError('%s: expires_at %r is out of range' % (where, str(value))) from None


def format_expires_at(moment):
    """The store's form of a moment: ISO 8601, UTC, whole seconds, with Z."""
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).strftime('%Y-%m-%dT%H:%M:%SZ')


def check_entries(entries, path):
    """Raise TokenStoreError unless entries is {username: {access_token, refresh_token, expires_at, ...}}."""
    if not isinstance(entries, dict):
        raise TokenStoreError('%s: the token store must be a mapping of usernames to tokens' % path)
    for username, entry in entries.items():
        where = '%s: user %r' % (path, username)
        if not isinstance(username, str) or not username:
            raise TokenStoreError('%s: every key must be a username' % path)
        if not isinstance(entry, dict):
            raise TokenStoreError('%s must be a mapping with %s' % (where, ', '.join(REQUIRED_KEYS)))
        missing = [key for key in REQUIRED_KEYS if not entry.get(key)]
        if missing:
            raise TokenStoreError('%s has no %s' % (where, ', '.join(missing)))
        for key in SECRET_KEYS:
            if not isinstance(entry[key], str):
                raise TokenStoreError('%s: %s must be a string' % (where, key))
        parse_expires_at(entry['expires_at'], where)
        if entry.get('username') not in (None, username):
            raise TokenStoreError('%s: its username key says %r' % (where, entry.get('username')))
    return entries


class TokenStore(object):
    """One store file. vault_secrets: the loader's vault secrets (for an encrypted store)."""

    def __init__(self, path, vault_secrets=None):
        self.path = os.path.abspath(os.path.expanduser(path))
        self._vault = VaultLib(vault_secrets or [])
        self.encrypted = False
        self._vault_id = None
        self._vault_secret = None

    def exists(self):
        return os.path.exists(self.path)

    def load(self):
        """{username: entry}; an absent file is an empty store."""
        if not self.exists():
            return {}
        try:
            with open(self.path, 'rb') as f:
                data = f.read()
        except (IOError, OSError) as exc:
            raise TokenStoreError('%s: cannot read the token store (%s)' % (self.path, exc.strerror or exc)) from None
        if is_encrypted(data):
            self.encrypted = True
            try:
                data, self._vault_id, self._vault_secret = self._vault.decrypt_and_get_vault_id(data)
            except AnsibleError as exc:
                raise TokenStoreError(
                    '%s: the token store is vault-encrypted and cannot be decrypted (%s); give the vault password '
                    '(--ask-vault-pass or --vault-id)' % (self.path, to_text(exc.message))
                ) from None
        try:
            entries = yaml.safe_load(to_text(data)) or {}
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # PyYAML raises more than YAMLError on a hostile file: ValueError for an
            # impossible timestamp, RecursionError for deep nesting. Every one of them
            # means the same to the user. Never quote the error itself: it may hold a
            # line of the file, and so a token.
            mark = getattr(exc, 'problem_mark', None)
            where = ' at line %d' % (mark.line + 1) if mark is not None else ''
            raise TokenStoreError('%s: the token store is not valid YAML%s' % (self.path, where)) from None
        return check_entries(entries, self.path)

    def render(self, entries):
        """The bytes of the store for entries: YAML, encrypted when the store was."""
        check_entries(entries, self.path)
        text = yaml.safe_dump(
            dict((username, dict(entries[username])) for username in sorted(entries)),
            default_flow_style=False,
            sort_keys=True,
        )
        data = to_bytes('# existio.exist token store: written by existio.exist.token\n' + text)
        if self.encrypted:
            data = self._vault.encrypt(data, secret=self._vault_secret, vault_id=self._vault_id)
        return data

    def save(self, entries):
        """Replace the store with entries, atomically, mode 0600."""
        data = self.render(entries)
        directory = os.path.dirname(self.path)
        temporary = None
        try:
            # Inside the try: a directory that cannot be written must fail as TokenStoreError too.
            fd, temporary = tempfile.mkstemp(prefix='.%s.' % os.path.basename(self.path), suffix='.tmp', dir=directory)
            with os.fdopen(fd, 'wb') as f:
                os.fchmod(f.fileno(), STORE_MODE)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(temporary, self.path)
        except (IOError, OSError) as exc:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            raise TokenStoreError('%s: cannot write the token store (%s)' % (self.path, exc.strerror or exc)) from None
        with contextlib.suppress(OSError):
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @contextlib.contextmanager
    def lock(self):
        """Hold an exclusive lock on the store while reading, refreshing and writing it."""
        try:
            fd = os.open(self.path + '.lock', os.O_RDWR | os.O_CREAT, STORE_MODE)
        except (IOError, OSError) as exc:
            raise TokenStoreError('%s: cannot lock the token store (%s)' % (self.path, exc.strerror or exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
