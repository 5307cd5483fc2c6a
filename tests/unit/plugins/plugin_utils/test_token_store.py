# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The token store: whole, atomic, 0600 writes; vault stays vault; locking; no token in any message."""

from __future__ import annotations

import datetime
import os
import stat
import tempfile
import threading
import time

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret, is_encrypted
from hypothesis import HealthCheck, given, settings

from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (
    TokenStore,
    TokenStoreError,
    format_expires_at,
    parse_expires_at,
)
from ansible_collections.existio.exist.tests.unit.plugins import hostile_stores

ACCESS = 'sEcReT-store-access-71'
REFRESH = 'sEcReT-store-refresh-72'
ENTRY = {
    'username': 'alice',
    'access_token': ACCESS,
    'refresh_token': REFRESH,
    'expires_at': '2027-11-28T19:00:00Z',
    'scope': 'mood_read',
}
VAULT = [('ops', VaultSecret(b'store-vault-password'))]


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'tokens.yml')


def test_save_then_load_gives_the_entries_back_in_a_file_of_mode_0600(path):
    TokenStore(path).save({'alice': ENTRY})
    assert TokenStore(path).load() == {'alice': ENTRY}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(os.path.dirname(path)) == ['tokens.yml']  # no temporary file left


def test_an_absent_store_is_empty(path):
    assert TokenStore(path).load() == {} and not TokenStore(path).exists()


def test_other_keys_of_an_entry_are_kept(path):
    TokenStore(path).save({'alice': dict(ENTRY, note='kept', reauthorization_needed=True)})
    assert TokenStore(path).load()['alice']['note'] == 'kept'


def test_a_vault_encrypted_store_is_rewritten_encrypted_with_the_same_vault_id(path):
    TokenStore(path).save({'alice': ENTRY})
    with open(path, 'rb') as handle:
        plain = handle.read()
    with open(path, 'wb') as handle:
        handle.write(VaultLib(VAULT).encrypt(plain, secret=VAULT[0][1], vault_id='ops'))
    store = TokenStore(path, VAULT)
    entries = store.load()
    assert store.encrypted is True
    entries['alice'] = dict(ENTRY, access_token='sEcReT-store-access-new')
    store.save(entries)
    with open(path, 'rb') as handle:
        data = handle.read()
    assert is_encrypted(data) and data.startswith(b'$ANSIBLE_VAULT;1.2;AES256;ops\n')
    assert ACCESS.encode() not in data and b'sEcReT-store-access-new' not in data
    assert TokenStore(path, VAULT).load()['alice']['access_token'] == 'sEcReT-store-access-new'


def test_an_encrypted_store_without_its_password_fails_naming_the_file(path):
    TokenStore(path).save({'alice': ENTRY})
    with open(path, 'rb') as handle:
        plain = handle.read()
    with open(path, 'wb') as handle:
        handle.write(VaultLib(VAULT).encrypt(plain, secret=VAULT[0][1], vault_id='ops'))
    with pytest.raises(TokenStoreError) as excinfo:
        TokenStore(path).load()
    assert path in excinfo.value.message and 'cannot be decrypted' in excinfo.value.message


def test_a_directory_that_cannot_be_written_fails_as_a_store_error(path, monkeypatch):
    # (A bug fixed: the temporary file was made outside the try, so this escaped as a bare OSError.)
    def refuse(*args, **kwargs):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr(tempfile, 'mkstemp', refuse)
    with pytest.raises(TokenStoreError) as excinfo:
        TokenStore(path).save({'alice': ENTRY})
    assert 'cannot write the token store (Permission denied)' in excinfo.value.message
    assert not os.path.exists(path)


def test_a_failed_rename_leaves_the_old_store_and_no_temporary_file(path, monkeypatch):
    TokenStore(path).save({'alice': ENTRY})

    def refuse(source, target):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'rename', refuse)
    with pytest.raises(TokenStoreError, match='No space left on device'):
        TokenStore(path).save({'alice': dict(ENTRY, access_token='sEcReT-other')})
    monkeypatch.undo()
    assert TokenStore(path).load() == {'alice': ENTRY}
    assert os.listdir(os.path.dirname(path)) == ['tokens.yml']


def test_invalid_yaml_is_refused_without_quoting_the_file(path):
    with open(path, 'w') as handle:
        handle.write('alice:\n  access_token: %s\n  refresh_token: [unclosed\n' % ACCESS)
    with pytest.raises(TokenStoreError) as excinfo:
        TokenStore(path).load()
    assert 'not valid YAML' in excinfo.value.message and ACCESS not in excinfo.value.message


@pytest.mark.parametrize(
    'entries, fragment',
    [
        ([], 'must be a mapping of usernames'),
        ({'alice': dict(ENTRY, access_token=None)}, "user 'alice' has no access_token"),
        ({'alice': dict(ENTRY, expires_at='soon')}, "expires_at 'soon' is not an ISO 8601"),
        ({'alice': dict(ENTRY, username='bob')}, "its username key says 'bob'"),
        ({'alice': dict(ENTRY, refresh_token=12)}, 'refresh_token must be a string'),
    ],
)
def test_malformed_entries_are_refused_naming_the_user_never_a_token(path, entries, fragment):
    with pytest.raises(TokenStoreError) as excinfo:
        TokenStore(path).save(entries)
    assert fragment in excinfo.value.message and ACCESS not in excinfo.value.message
    assert not os.path.exists(path)


def test_expires_at_is_utc_with_a_z():
    moment = parse_expires_at('2027-11-28T20:00:00+01:00', 'x')
    assert format_expires_at(moment) == '2027-11-28T19:00:00Z'
    assert parse_expires_at(datetime.datetime(2027, 1, 1), 'x').tzinfo is not None


def test_lock_is_exclusive_between_writers(path):
    events = []

    def second_writer():
        with TokenStore(path).lock():
            events.append('second')

    with TokenStore(path).lock():
        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.3)
        events.append('first done')
    thread.join(10)
    assert events == ['first done', 'second']
    assert stat.S_IMODE(os.stat(path + '.lock').st_mode) == 0o600


# -- whatever the file holds -------------------------------------------------------


@pytest.mark.parametrize(
    'text, fragment',
    [
        ('alice: ' + '[' * 5000 + ']' * 5000 + '\n', 'not valid YAML'),  # PyYAML: RecursionError
        ('alice:\n  access_token: a\n  refresh_token: b\n  expires_at: 2027-13-45 99:99:99\n', 'not valid YAML'),
        ("alice:\n  access_token: a\n  refresh_token: b\n  expires_at: '0001-01-01T00:00:00+05:00'\n", 'out of range'),
        ('alice:\n  access_token: a\n  refresh_token: b\n  expires_at: 9999-12-31 23:00:00-05:00\n', 'out of range'),
        ('alice:\n  access_token: a\n  refresh_token: b\n  expires_at: 2027-01-01\n', 'got a date without a time'),
    ],
)
def test_a_store_pyyaml_or_the_calendar_cannot_take_is_a_store_error(path, text, fragment):
    with open(path, 'w') as handle:
        handle.write(text)
    with pytest.raises(TokenStoreError) as excinfo:
        TokenStore(path).load()
    assert fragment in excinfo.value.message


def _load_or_store_error(text):
    """(entries, None) or (None, the TokenStoreError's message): any other exception fails the test."""
    with tempfile.TemporaryDirectory() as directory:
        store_path = os.path.join(directory, 'tokens.yml')
        with open(store_path, 'w', encoding='utf-8') as handle:
            handle.write(text)
        try:
            return TokenStore(store_path).load(), None
        except TokenStoreError as exc:
            return None, exc.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store=hostile_stores.stores)
def test_any_store_reads_well_formed_or_fails_naming_no_token(store):
    entries, message = _load_or_store_error(hostile_stores.store_text(store))
    if message is not None:
        assert not any(secret in message for secret in hostile_stores.SECRETS), message
        return
    for username, entry in entries.items():
        assert isinstance(entry['access_token'], str) and isinstance(entry['refresh_token'], str)
        assert parse_expires_at(entry['expires_at'], username).tzinfo is datetime.timezone.utc
    # What was read can be written back, and reads the same.
    with tempfile.TemporaryDirectory() as directory:
        store = TokenStore(os.path.join(directory, 'tokens.yml'))
        store.save(entries)
        assert store.load() == entries


@settings(max_examples=300, deadline=None)
@given(text=hostile_stores.hostile_text)
def test_any_text_reads_as_a_store_or_fails_as_one(text):
    entries, message = _load_or_store_error(text)
    assert (entries is None) != (message is None)
    assert message is None or message.startswith('/')
