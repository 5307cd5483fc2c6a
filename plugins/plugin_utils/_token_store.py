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

Two marks an entry may carry (the token module sets them, the inventory
reads them): `reauthorization_needed: true` (the pair no longer works) and
`refresh_outcome_unknown: 'YYYY-MM-DDTHH:MM:SSZ'` (the UTC time a refresh of
this pair was sent whose answer was lost: the pair may already be dead).

- A store that is vault-encrypted is read with the loader's vault secrets and
  rewritten encrypted with the same secret, under the label its envelope
  carries (`--vault-id prod@...`), whichever vault ID the secret was given as.
- Every write is whole and atomic: a temporary file in the same directory,
  mode 0600, flushed and fsynced, then renamed over the store (and the
  directory fsynced), so a crash leaves the old store or the new one, never a
  mixture. Other keys of an entry are kept as they are.
- A store path that is a symbolic link is written through: the file it
  points to is replaced (the temporary file sits beside it), and the lock
  and recovery files sit beside it too, so every path to a store shares them.
- lock() serialises writers of one store (an flock on TARGET.lock) with a
  bound: a run that cannot have it within the bound fails naming the lock
  file and the holder, which each holder records in the lock file.
- A reader refuses what YAML would silently resolve: a user listed twice (or
  a key given twice in one entry), naming the user and the lines.
- No message ever holds a token: errors name the file, the user and the key.
- access_tokens() gives a store's {username: access token} read once per
  process and kept while the file stays the same (device, inode, size,
  mtime, ctime): the users inventory fills it in the controller before
  the workers fork, so the existio.exist.stored_token lookup of every
  host-task finds it without reading, decrypting and parsing the store.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import time
from typing import Any, Callable, Iterator

import yaml
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, is_encrypted

from ansible_collections.existio.exist.plugins.plugin_utils._atomic_file import write_atomically

REQUIRED_KEYS = ('access_token', 'refresh_token', 'expires_at')
SECRET_KEYS = ('access_token', 'refresh_token')
# The marks (see above); the inventory plugin reads them too.
REAUTHORIZATION_KEY = 'reauthorization_needed'
OUTCOME_UNKNOWN_KEY = 'refresh_outcome_unknown'
# The keys of an entry a message may name (any other key could be anything, a token included).
KNOWN_KEYS = frozenset(REQUIRED_KEYS + ('username', 'scope', REAUTHORIZATION_KEY, OUTCOME_UNKNOWN_KEY))
STORE_MODE = 0o600
# How long lock() waits for another holder by default (seconds), and how often it tries again.
DEFAULT_LOCK_TIMEOUT = 600
LOCK_POLL_SECONDS = 0.1


class TokenStoreError(AnsibleError):
    """The store cannot be read or written; the message names the file, never a token."""


def shorten(text: object, limit: int = 40) -> str:
    """repr() of a text, cut to about limit characters (a hostile value may be megabytes long)."""
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return '%r... (%d characters)' % (text[:limit], len(text))


def parse_moment(value: object, where: str, key: str = 'expires_at') -> datetime.datetime:
    """A timezone-aware UTC datetime from an ISO 8601 string (a trailing Z allowed), or TokenStoreError naming key."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith('Z'):
            text = text[:-1] + '+00:00'
        try:
            # ASCII only: a date written with other digits ('²', '٣') is not ISO 8601, whatever a parser makes of it.
            if not text.isascii() or len(text) > 64:
                raise ValueError(text)
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise TokenStoreError('%s: %s %s is not an ISO 8601 date and time' % (where, key, shorten(value))) from None
    else:
        got = 'a date without a time' if isinstance(value, datetime.date) else type(value).__name__
        raise TokenStoreError('%s: %s must be an ISO 8601 date and time, got %s' % (where, key, got))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    try:
        return moment.astimezone(datetime.timezone.utc)
    except (OverflowError, ValueError):
        # A moment at the edge of the calendar (year 1 east of UTC, year 9999 west of it) has no UTC form.
        raise TokenStoreError('%s: %s %s is out of range' % (where, key, shorten(value))) from None


def parse_expires_at(value: object, where: str) -> datetime.datetime:
    """A timezone-aware UTC datetime from an ISO 8601 string (a trailing Z allowed)."""
    return parse_moment(value, where)


def format_expires_at(moment: datetime.datetime) -> str:
    """The store's form of a moment: ISO 8601, UTC, whole seconds, with Z."""
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).strftime('%Y-%m-%dT%H:%M:%SZ')


class _DuplicateKey(Exception):
    """A mapping of the store gives one key twice (raised inside the YAML loader)."""

    def __init__(self, key: object, lines: tuple[int, int], top: bool) -> None:
        super().__init__(key)
        self.key = key
        self.lines = lines
        self.top = top
        self.user = None


class _StoreLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error, not "the last one wins".

    A merge (<<) may still be overridden by the mapping's own keys: that is what a merge is for.
    """

    _store_root = None

    def construct_document(self, node: yaml.Node) -> Any:
        self._store_root = node
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            top = node is self._store_root
            seen: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == 'tag:yaml.org,2002:merge':
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base constructor refuses it
                    continue
                if first is not None:
                    raise _DuplicateKey(key, (first, line), top)
                seen[key] = line
                if top and isinstance(value_node, yaml.MappingNode):
                    # Built here, so that a key given twice inside it is reported with its user.
                    try:
                        self.construct_object(value_node, deep=True)
                    except _DuplicateKey as exc:
                        exc.user = key
                        raise
        return super().construct_mapping(node, deep=deep)


def _duplicate_message(path: str, exc: _DuplicateKey) -> str:
    """The message for a key given twice: the user, or the user and the entry's key, with the lines."""
    lines = 'lines %d and %d' % exc.lines
    if exc.top:
        return '%s: the token store lists user %s twice (%s); keep one entry per user' % (
            path,
            shorten(exc.key, 80),
            lines,
        )
    key = shorten(exc.key) if exc.key in KNOWN_KEYS else 'a key'
    user = 'user %s' % shorten(exc.user, 80) if isinstance(exc.user, str) else 'an entry'
    return '%s: %s gives %s twice (%s); keep one of them' % (path, user, key, lines)


def load_yaml(text: str, path: str) -> Any:
    """The data of a store's text, or TokenStoreError (never quoting the text: it holds tokens)."""
    loader = None
    try:
        loader = _StoreLoader(text)
        try:
            return loader.get_single_data()
        except _DuplicateKey as exc:
            raise TokenStoreError(_duplicate_message(path, exc)) from None
    except TokenStoreError:
        raise
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # PyYAML raises more than YAMLError on a hostile file: ValueError for an
        # impossible timestamp or an integer of more than 4300 digits, RecursionError
        # for deep nesting. Every one of them means the same to the user. Never quote
        # the error itself: it may hold a line of the file, and so a token.
        mark = getattr(exc, 'problem_mark', None)
        where = ' at line %d' % (mark.line + 1) if mark is not None else ''
        raise TokenStoreError('%s: the token store is not valid YAML%s' % (path, where)) from None
    finally:
        if loader is not None:
            loader.dispose()


def check_entries(entries: object, path: str) -> dict:
    """Raise TokenStoreError unless entries is {username: {access_token, refresh_token, expires_at, ...}}."""
    if not isinstance(entries, dict):
        raise TokenStoreError('%s: the token store must be a mapping of usernames to tokens' % path)
    for username, entry in entries.items():
        if not isinstance(username, str) or not username:
            raise TokenStoreError('%s: every key must be a username' % path)
        where = '%s: user %s' % (path, shorten(username, 80))
        if not isinstance(entry, dict):
            raise TokenStoreError('%s must be a mapping with %s' % (where, ', '.join(REQUIRED_KEYS)))
        missing = [key for key in REQUIRED_KEYS if not entry.get(key)]
        if missing:
            raise TokenStoreError('%s has no %s' % (where, ', '.join(missing)))
        for key in SECRET_KEYS:
            if not isinstance(entry[key], str):
                raise TokenStoreError('%s: %s must be a string' % (where, key))
        parse_expires_at(entry['expires_at'], where)
        if entry.get(OUTCOME_UNKNOWN_KEY) is not None:
            parse_moment(entry[OUTCOME_UNKNOWN_KEY], where, OUTCOME_UNKNOWN_KEY)
        if entry.get('username') not in (None, username):
            raise TokenStoreError('%s: its username key says %s' % (where, shorten(entry.get('username'), 80)))
    return entries


def _vault_label(data: bytes) -> str | None:
    """The vault ID label in a vault envelope's header ($ANSIBLE_VAULT;1.2;AES256;LABEL), or None."""
    parts = data.split(b'\n', 1)[0].strip().split(b';')
    label = to_text(parts[3].strip(), errors='surrogate_or_replace') if len(parts) > 3 else ''
    return label or None


def _lock_holder(fd: int) -> str:
    """Who holds the lock, as its holder recorded it in the lock file ('' when it did not)."""
    try:
        raw = os.pread(fd, 4096, 0)
        holder = json.loads(to_text(raw, errors='surrogate_or_replace')) if raw.strip() else None
    except (OSError, ValueError):
        holder = None
    if not isinstance(holder, dict):
        return ''
    parts = []
    for key, text in (('pid', 'pid %s'), ('host', 'on %s'), ('since', 'since %s'), ('by', '(%s)')):
        value = holder.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and len(str(value)) <= 255:
            parts.append(text % ''.join(ch if ch.isprintable() else '?' for ch in str(value)))
    return ' '.join(parts)


def file_key(stat: os.stat_result) -> tuple:
    """What tells one version of a file from another without reading it."""
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class TokenStore:
    """One store file. vault_secrets: the loader's vault secrets (for an encrypted store).

    path: the store as given (made absolute), for messages; target: the file it names once
    symbolic links are followed, which every write replaces and every file of the store sits beside.
    """

    def __init__(self, path: str, vault_secrets: list | None = None) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self._vault = VaultLib(vault_secrets or [])
        self.encrypted = False
        self._vault_id: str | None = None
        self._vault_secret = None
        self._rendered: dict = {}
        # What the file was when load() read it (file_key()), for the cache of access_tokens().
        self.file_key: tuple | None = None

    @property
    def target(self) -> str:
        """The file the store's path names (symbolic links followed); TokenStoreError for a link loop."""
        target = os.path.realpath(self.path)
        if os.path.islink(target):
            raise TokenStoreError('%s: a symbolic link that leads back to itself, not a token store' % self.path)
        return target

    def beside(self, suffix: str) -> str:
        """The path of a file of this store (lock, recovery file): beside its target."""
        return self.target + suffix

    def where(self) -> str:
        """The store's path for a message; with its target when it is a symbolic link."""
        target = os.path.realpath(self.path)
        return self.path if target == self.path else '%s (a link to %s)' % (self.path, target)

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def load(self) -> dict:
        """{username: entry}; an absent file is an empty store."""
        if not self.exists():
            return {}
        try:
            with open(self.path, 'rb') as f:
                data = f.read()
                # Of the file these bytes came from: a writer replaces the store by renaming (a new inode).
                self.file_key = file_key(os.fstat(f.fileno()))
        except OSError as exc:
            raise TokenStoreError('%s: cannot read the token store (%s)' % (self.path, exc.strerror or exc)) from None
        if is_encrypted(data):
            self.encrypted = True
            label = _vault_label(data)
            try:
                data, dummy, self._vault_secret = self._vault.decrypt_and_get_vault_id(data)
            except AnsibleError as exc:
                raise TokenStoreError(
                    '%s: the token store is vault-encrypted and cannot be decrypted (%s); give the vault password '
                    '(--ask-vault-pass or --vault-id)' % (self.path, to_text(exc.message))
                ) from None
            # Rewritten under the label the file carries, not the ID of the secret that opened it: a
            # password given without a label (--ask-vault-pass) must not strip the file's label.
            self._vault_id = label
        entries = load_yaml(to_text(data), self.path) or {}
        return check_entries(entries, self.path)

    def render(self, entries: dict) -> bytes:
        """The bytes of the store for entries: YAML, encrypted when the store was.

        The text is that of yaml.safe_dump() of the whole mapping, made user by user: a refresh saves the store
        after each user, and dumping a thousand entries again for each one made a refresh of a large store take
        about a second per user (half an hour for 1,000, while holding the lock). An entry's text is kept for
        the next save of this store as long as the entry is the same.
        """
        check_entries(entries, self.path)
        if not entries:
            text = yaml.safe_dump({}, default_flow_style=False)
        else:
            text = ''.join(self._entry_text(username, entries[username]) for username in sorted(entries))
        data = to_bytes('# existio.exist token store: written by existio.exist.token\n' + text)
        if self.encrypted:
            data = self._vault.encrypt(data, secret=self._vault_secret, vault_id=self._vault_id)
        return data

    def _entry_text(self, username: str, entry: dict) -> str:
        """The YAML of {username: entry}, from the cache when the entry has not changed."""
        try:
            key = (username, tuple(sorted(entry.items())))
            hash(key)
        except TypeError:  # a value of another kind (a list, a mapping) under a key of the user's own
            key = None
        cached = self._rendered.get(username)
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        text = yaml.safe_dump({username: dict(entry)}, default_flow_style=False, sort_keys=True)
        if key is not None:
            self._rendered[username] = (key, text)
        return text

    def save(self, entries: dict) -> None:
        """Replace the store's target with entries, atomically, mode 0600 (a symbolic link stays a link)."""
        data = self.render(entries)
        target = self.target
        try:
            write_atomically(target, data, STORE_MODE)
        except OSError as exc:
            raise TokenStoreError(
                '%s: cannot write the token store (%s)' % (self.where(), exc.strerror or exc)
            ) from None

    @contextlib.contextmanager
    def lock(
        self,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Iterator[TokenStore]:
        """Hold an exclusive lock on the store while reading, refreshing and writing it.

        Waits at most timeout seconds for another holder (0: tries once), then raises TokenStoreError naming
        the lock file and the holder. The holder's pid, host and start are written into the lock file while
        it is held, for that message; the file is emptied before the lock is released.
        """
        path = self.beside('.lock')
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, STORE_MODE)
        except OSError as exc:
            raise TokenStoreError('%s: cannot lock the token store (%s)' % (path, exc.strerror or exc)) from None
        try:
            deadline = clock() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise TokenStoreError(
                            '%s: cannot lock the token store (%s)' % (path, exc.strerror or exc)
                        ) from None
                left = deadline - clock()
                if left <= 0:
                    holder = _lock_holder(fd)
                    raise TokenStoreError(
                        '%s: the token store is locked by another run%s, and was still locked after %s s '
                        '(lock_timeout); nothing was sent. Run again once it is done, or give it longer; if no run '
                        'is using the store, find what holds %s open (fuser %s)'
                        % (
                            path,
                            ' (%s)' % holder if holder else ' (which did not record who it is)',
                            timeout,
                            path,
                            path,
                        )
                    )
                sleep(min(LOCK_POLL_SECONDS, left))
            try:
                record = json.dumps(
                    dict(
                        pid=os.getpid(),
                        host=socket.gethostname(),
                        since=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
                        by='existio.exist.token',
                    )
                )
                os.ftruncate(fd, 0)
                os.pwrite(fd, to_bytes(record + '\n'), 0)
            except OSError:
                pass  # who holds the lock is a courtesy for the next waiter; the lock itself is held
            try:
                yield self
            finally:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


# -- the access tokens of a store, read once per process -------------------------------

# {absolute store path: (file_key() of the file read, {username: access token})}. A module-level cache: the
# inventory plugin fills it in the controller, and every worker that Ansible forks for a host-task inherits it.
_ACCESS_TOKENS: dict[str, tuple[tuple, dict[str, str]]] = {}


def remember_access_tokens(store: TokenStore, entries: dict) -> None:
    """Keep the access tokens of a store that load() has just read, for access_tokens() in this process."""
    if store.file_key is not None:
        _ACCESS_TOKENS[store.path] = (
            store.file_key,
            dict((username, entry['access_token']) for username, entry in entries.items()),
        )


def forget_access_tokens() -> None:
    """Empty the cache of access_tokens() (for tests)."""
    _ACCESS_TOKENS.clear()


def access_tokens(path: str, vault_secrets: list | None = None) -> dict[str, str]:
    """{username: access token} of the store at path, read only when the file is not the one read last.

    TokenStoreError (naming the file, never a token) when the store does not exist or cannot be read.
    """
    path = os.path.abspath(os.path.expanduser(path))
    try:
        key = file_key(os.stat(path))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise TokenStoreError('%s: the token store does not exist' % path) from None
        raise TokenStoreError('%s: cannot read the token store (%s)' % (path, exc.strerror or exc)) from None
    cached = _ACCESS_TOKENS.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    store = TokenStore(path, vault_secrets)
    entries = store.load()
    remember_access_tokens(store, entries)
    if store.file_key is None:  # removed between stat() and open(): load() read it as empty
        raise TokenStoreError('%s: the token store does not exist' % path)
    return _ACCESS_TOKENS[path][1]
