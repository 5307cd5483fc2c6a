# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The token store: whole, atomic, 0600 writes; vault stays vault; locking; no token in any message."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import yaml
from ansible.module_utils.common.text.converters import to_text
from ansible.parsing.vault import VaultLib, VaultSecret, is_encrypted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# -- the lock: bounded, and it says who holds it (issue 17, class 6) ------------------------

HOLDER = r"""
import sys, time
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import TokenStore
with TokenStore(sys.argv[1]).lock():
    print('held', flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextlib.contextmanager
def held_by_another_process(path, seconds=60, script=HOLDER):
    """Another Python process holding the store's lock (as another ansible-playbook run would)."""
    child = subprocess.Popen(
        [sys.executable, '-c', script, path, str(seconds)],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    try:
        assert child.stdout.readline().strip() == b'held'
        yield child
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_a_lock_held_by_another_process_fails_after_the_bound_naming_the_file_and_the_holder(path):
    TokenStore(path).save({'alice': ENTRY})
    with held_by_another_process(path) as holder:
        started = time.monotonic()
        with pytest.raises(TokenStoreError) as excinfo:
            with TokenStore(path).lock(timeout=0.5):
                pytest.fail('the lock was taken while another process held it')
        waited = time.monotonic() - started
    message = excinfo.value.message
    assert 0.5 <= waited < 5
    assert path + '.lock' in message and 'after 0.5 s' in message
    assert 'pid %d' % holder.pid in message and socket.gethostname() in message
    # Once the holder is gone, the lock is free again, and its record is gone with it.
    with TokenStore(path).lock(timeout=5):
        pass
    with open(path + '.lock') as handle:
        assert handle.read() == ''


def test_a_lock_timeout_of_0_tries_once(path):
    with held_by_another_process(path):
        started = time.monotonic()
        with pytest.raises(TokenStoreError, match='after 0 s'):
            with TokenStore(path).lock(timeout=0):
                pass
        assert time.monotonic() - started < 1


def test_a_holder_that_records_nothing_is_said_to_be_unknown(path):
    silent = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + '.lock', os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print('held', flush=True)
time.sleep(float(sys.argv[2]))
"""
    with held_by_another_process(path, script=silent):
        with pytest.raises(TokenStoreError, match='which did not record who it is'):
            with TokenStore(path).lock(timeout=0.2):
                pass


def test_the_holder_is_recorded_in_the_lock_file_while_held(path):
    with TokenStore(path).lock(timeout=1):
        with open(path + '.lock') as handle:
            record = json.load(handle)
        assert record['pid'] == os.getpid() and record['host'] == socket.gethostname()
        assert record['since'].endswith('Z') and record['by'] == 'existio.exist.token'


def test_a_waiting_lock_is_taken_as_soon_as_the_holder_lets_go(path):
    taken = []

    def second():
        with TokenStore(path).lock(timeout=10):
            taken.append(time.monotonic())

    with TokenStore(path).lock(timeout=1):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        released = time.monotonic()
    thread.join(10)
    assert taken and taken[0] - released < 1


# -- a user listed twice is refused, never "the last one wins" (issue 17, class 10) -----------------------------

TWICE = """\
alice:
  access_token: sEcReT-store-access-71
  refresh_token: sEcReT-store-refresh-72
  expires_at: '2027-11-28T19:00:00Z'
bob:
  access_token: sEcReT-store-access-81
  refresh_token: sEcReT-store-refresh-82
  expires_at: '2027-11-28T19:00:00Z'
alice:
  access_token: sEcReT-store-access-91
  refresh_token: sEcReT-store-refresh-92
  expires_at: '2027-12-28T19:00:00Z'
"""


def _message_of(path, text):
    with open(path, 'w') as handle:
        handle.write(text)
    with pytest.raises(TokenStoreError) as excinfo:
        TokenStore(path).load()
    message = excinfo.value.message
    assert 'sEcReT' not in message, message
    return message


def test_a_user_listed_twice_is_refused_naming_the_user_and_both_lines(path):
    message = _message_of(path, TWICE)
    assert path in message and "lists user 'alice' twice (lines 1 and 9)" in message


def test_a_key_given_twice_in_one_entry_is_refused_naming_the_user_and_the_key(path):
    text = TWICE.replace(
        "alice:\n  access_token: sEcReT-store-access-91", "carol:\n  access_token: sEcReT-store-access-91"
    )
    text += '  access_token: sEcReT-store-access-93\n'
    message = _message_of(path, text)
    assert "user 'carol' gives 'access_token' twice (lines 10 and 13)" in message


def test_a_key_given_twice_is_named_only_when_it_is_a_known_key(path):
    # An unknown key could be anything, a pasted token included.
    text = "alice:\n  access_token: a\n  refresh_token: b\n  expires_at: '2027-11-28T19:00:00Z'\n"
    text += '  sEcReT-store-access-71: 1\n  sEcReT-store-access-71: 2\n'
    message = _message_of(path, text)
    assert "user 'alice' gives a key twice (lines 5 and 6)" in message


def test_a_merge_key_may_be_overridden_as_yaml_means(path):
    text = """\
defaults: &defaults
  access_token: sEcReT-store-access-71
  refresh_token: sEcReT-store-refresh-72
  expires_at: '2027-11-28T19:00:00Z'
alice:
  <<: *defaults
  expires_at: '2027-12-28T19:00:00Z'
"""
    with open(path, 'w') as handle:
        handle.write(text)
    assert TokenStore(path).load()['alice']['expires_at'] == '2027-12-28T19:00:00Z'


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store=hostile_stores.stores, data=st.data())
def test_any_store_with_a_user_repeated_is_refused_naming_that_user(store, data):
    if not store or not isinstance(store, dict):
        return
    text = hostile_stores.store_text(store)
    try:
        parsed = yaml.safe_load(text)
    except Exception:  # pylint: disable=broad-exception-caught
        return
    # Users YAML reads back as written (a key holding a YAML line break, such as NEL, does not).
    users = [
        user
        for user in store
        if isinstance(user, str) and user and user in parsed and yaml.safe_load(yaml.safe_dump({user: 0})) == {user: 0}
    ]
    if not users:
        return
    user = data.draw(st.sampled_from(users))
    alone = _load_or_store_error(text)[1]
    # The same user again, at the end of the file, with a well-formed entry.
    text += yaml.safe_dump({user: dict(ENTRY, username=user)}, default_flow_style=False)
    entries, message = _load_or_store_error(text)
    assert entries is None and message is not None
    if alone is None or 'not valid YAML' not in alone:
        # Whatever else is wrong with the store, YAML read it: the second copy is what is refused.
        assert 'lists user %r twice' % user in message, message
    assert not any(secret in message for secret in hostile_stores.SECRETS + [ACCESS, REFRESH])


# -- numbers as text in the store's timestamps (issue 17, class 9) ---------------------------------


@pytest.mark.parametrize(
    'value, fragment',
    [
        ('２０２７-11-28T19:00:00Z', "expires_at '２０２７-11-28T19:00:00Z' is not an ISO 8601"),
        ('2027-11-28T19:00:0²Z', "is not an ISO 8601"),
        ('2' * 5000, "expires_at '%s'... (5000 characters) is not an ISO 8601" % ('2' * 40)),
    ],
)
def test_an_expires_at_of_other_digits_or_any_length_fails_naming_it_shortened(path, value, fragment):
    with pytest.raises(TokenStoreError) as excinfo:
        TokenStore(path).save({'alice': dict(ENTRY, expires_at=value)})
    assert fragment in excinfo.value.message and len(excinfo.value.message) < 400


@pytest.mark.parametrize('value', ['soon', '2027-13-01T00:00:00Z', '2' * 5000, 12, ['2027-01-01T00:00:00Z']])
def test_a_refresh_outcome_unknown_mark_that_is_not_a_time_fails_naming_it(path, value):
    with pytest.raises(TokenStoreError) as excinfo:
        TokenStore(path).save({'alice': dict(ENTRY, refresh_outcome_unknown=value)})
    assert "user 'alice': refresh_outcome_unknown" in excinfo.value.message
    assert len(excinfo.value.message) < 400


def test_a_refresh_outcome_unknown_mark_reads_back_as_written(path):
    TokenStore(path).save({'alice': dict(ENTRY, refresh_outcome_unknown='2027-01-02T03:04:05Z')})
    with open(path) as handle:
        assert "refresh_outcome_unknown: '2027-01-02T03:04:05Z'" in handle.read()  # a string, as the contract says
    assert TokenStore(path).load()['alice']['refresh_outcome_unknown'] == '2027-01-02T03:04:05Z'


def test_an_integer_of_more_than_4300_digits_in_the_store_is_a_store_error(path):
    with open(path, 'w') as handle:
        handle.write("alice:\n  access_token: a\n  refresh_token: b\n  expires_at: %s\n" % ('9' * 5000))
    with pytest.raises(TokenStoreError, match='not valid YAML'):
        TokenStore(path).load()


# -- a symbolic link is written through, a vault label is kept (issue 17, class 11) -------------------------


def test_a_store_path_that_is_a_symbolic_link_is_written_through(tmp_path):
    real = tmp_path / 'real'
    real.mkdir()
    target = str(real / 'tokens.yml')
    link = str(tmp_path / 'tokens.yml')
    TokenStore(target).save({'alice': ENTRY})
    os.symlink(target, link)
    store = TokenStore(link)
    store.save({'alice': dict(ENTRY, access_token='sEcReT-store-access-new')})
    assert os.path.islink(link) and os.readlink(link) == target
    assert TokenStore(target).load()['alice']['access_token'] == 'sEcReT-store-access-new'
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(os.listdir(real)) == ['tokens.yml'] and sorted(os.listdir(tmp_path)) == ['real', 'tokens.yml']
    # The lock sits beside the file the link names, so every path to the store shares it.
    with store.lock(timeout=1):
        assert os.path.exists(target + '.lock') and not os.path.exists(link + '.lock')
        with pytest.raises(TokenStoreError, match='still locked'):
            with TokenStore(target).lock(timeout=0):
                pass


def test_a_relative_and_dangling_symbolic_link_creates_its_target(tmp_path):
    os.symlink('elsewhere.yml', str(tmp_path / 'tokens.yml'))
    TokenStore(str(tmp_path / 'tokens.yml')).save({'alice': ENTRY})
    assert os.path.islink(str(tmp_path / 'tokens.yml'))
    assert TokenStore(str(tmp_path / 'elsewhere.yml')).load() == {'alice': ENTRY}


def test_a_symbolic_link_loop_is_a_store_error(tmp_path):
    os.symlink('b.yml', str(tmp_path / 'a.yml'))
    os.symlink('a.yml', str(tmp_path / 'b.yml'))
    with pytest.raises(TokenStoreError, match='leads back to itself'):
        TokenStore(str(tmp_path / 'a.yml')).save({'alice': ENTRY})


def _encrypted(path, label):
    TokenStore(path).save({'alice': ENTRY})
    with open(path, 'rb') as handle:
        plain = handle.read()
    with open(path, 'wb') as handle:
        handle.write(VaultLib(VAULT).encrypt(plain, secret=VAULT[0][1], vault_id=label))


@pytest.mark.parametrize(
    'label, secrets, header',
    [
        # --vault-password-file / --ask-vault-pass: the secret's ID is 'default', the file's label 'ops'.
        ('ops', [('default', VAULT[0][1])], b'$ANSIBLE_VAULT;1.2;AES256;ops\n'),
        # --vault-id dev@...: another ID that opens it all the same (DEFAULT_VAULT_ID_MATCH is off by default).
        ('ops', [('dev', VAULT[0][1])], b'$ANSIBLE_VAULT;1.2;AES256;ops\n'),
        # A store encrypted without a label stays without one, whatever ID opened it.
        (None, [('prod', VAULT[0][1])], b'$ANSIBLE_VAULT;1.1;AES256\n'),
    ],
    ids=['label-opened-without-id', 'label-opened-by-another-id', 'no-label'],
)
def test_a_vault_encrypted_store_keeps_the_label_of_its_envelope(path, label, secrets, header):
    _encrypted(path, label)
    store = TokenStore(path, secrets)
    entries = store.load()
    store.save(entries)
    with open(path, 'rb') as handle:
        assert handle.read().startswith(header)
    assert TokenStore(path, secrets).load() == {'alice': ENTRY}


# -- a save costs one entry's YAML, not the whole store's ---------------------------------------------


def _whole_dump(entries):
    """What render() wrote before it worked user by user: one safe_dump of the whole mapping."""
    return yaml.safe_dump(
        dict((username, dict(entries[username])) for username in sorted(entries)),
        default_flow_style=False,
        sort_keys=True,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store=hostile_stores.stores)
def test_the_store_is_written_exactly_as_one_dump_of_the_whole_mapping(store):
    entries, message = _load_or_store_error(hostile_stores.store_text(store))
    if message is not None:
        return
    with tempfile.TemporaryDirectory() as directory:
        token_store = TokenStore(os.path.join(directory, 'tokens.yml'))
        for dummy in range(2):  # the second time from the cache
            text = to_text(token_store.render(entries))
            assert text == '# existio.exist token store: written by existio.exist.token\n' + _whole_dump(entries)


def test_saving_a_large_store_after_each_user_dumps_only_what_changed(path, monkeypatch):
    entries = dict(
        ('user%04d' % number, dict(ENTRY, username='user%04d' % number, access_token='sEcReT-%d' % number))
        for number in range(1000)
    )
    store = TokenStore(path)
    store.save(entries)
    dumped = []
    original = yaml.safe_dump
    monkeypatch.setattr(
        yaml, 'safe_dump', lambda data, *args, **kwargs: dumped.append(data) or original(data, *args, **kwargs)
    )
    for number in range(0, 1000, 100):
        entries['user%04d' % number] = dict(entries['user%04d' % number], access_token='sEcReT-new-%d' % number)
        store.save(entries)
    assert len(dumped) == 10 and all(len(data) == 1 for data in dumped)
    assert TokenStore(path).load() == entries
