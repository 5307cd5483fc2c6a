# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Keeping a new pair when the store cannot take it (_token_recovery.py): recovery and pending files, merged
back by the next run, through existio.exist.token against the emulator (harness: token_task.py)."""

from __future__ import annotations

import datetime
import os

from ansible_collections.existio.exist.plugins.plugin_utils import _oauth
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import TokenStore, format_expires_at
from ansible_collections.existio.exist.tests.unit.plugins.token_task import (
    CODE,
    VAULT,
    FailingSaves,
    access,
    api_log,
    assert_no_secret,
    encrypt_store,
    exchange,
    mode,
    now,
    profile_status,
    read_store,
    recovery_files,
    refresh,
    refresh_store,
    store_entries,
)

# -- (b) the store cannot be written ------------------------------------------------------


def test_a_failed_store_write_puts_the_new_pair_in_a_recovery_file_merged_back_next_run(world, store, monkeypatch):
    emulator = world()
    path = store()
    saves = FailingSaves(monkeypatch, lambda target: target == path)
    result = refresh_store(emulator, path)
    assert result['failed'] is True and result['refreshed'] == []
    codes = [(item['username'], item['error_code']) for item in result['failed_items']]
    assert codes == [('alice', 'store_write_failed'), ('bob', 'not_attempted'), ('carol', 'not_attempted')]
    recovery = path + '.recovered-alice'
    assert result['failed_items'][0]['recovery_file'] == recovery and recovery in result['msg']
    assert 'merges that file back' in result['msg'] and 'No space left on device' in result['msg']
    assert mode(recovery) == 0o600
    pair = read_store(recovery)['alice']
    assert profile_status(emulator, pair['access_token']) == 200 and profile_status(emulator, access('alice')) == 401
    assert read_store(path)['alice']['access_token'] == access('alice')  # the store was not touched
    assert_no_secret(result, pair['access_token'], pair['refresh_token'])
    # Once the store can be written, the next run merges the file back first.
    saves.fail = lambda target: False
    emulator.admin.clear_requests()
    again = refresh_store(emulator, path, refresh_before=30)
    assert again['recovered'] == ['alice'] and again['changed'] is True and again['api_requests'] == 0
    assert read_store(path)['alice']['access_token'] == pair['access_token']
    assert recovery_files(path) == []


def test_the_recovery_file_of_an_encrypted_store_is_encrypted_too(world, store, monkeypatch):
    emulator = world()
    path = store()
    encrypt_store(path)
    FailingSaves(monkeypatch, lambda target: target == path)
    result = refresh_store(emulator, path, secrets=VAULT)
    [recovery] = recovery_files(path)
    assert 'vault-encrypted like the store' in result['failed_items'][0]['error']
    with open(recovery, 'rb') as handle:
        assert handle.read().startswith(b'$ANSIBLE_VAULT;1.2;AES256;prod\n')
    assert profile_status(emulator, read_store(recovery, VAULT)['alice']['access_token']) == 200


def test_when_no_file_can_be_written_the_pair_is_returned_as_a_no_log_result(world, store, monkeypatch):
    emulator = world()
    path = store()
    FailingSaves(monkeypatch, lambda target: True)
    result = refresh_store(emulator, path)
    assert result['_ansible_no_log'] is True
    assert [item['error_code'] for item in result['failed_items']][:1] == ['pair_not_saved']
    unsaved = result['unsaved_pair']
    assert unsaved['username'] == 'alice' and profile_status(emulator, unsaved['access_token']) == 200
    assert 'unsaved_pair' in result['msg'] and recovery_files(path) == []
    assert any('could not be written anywhere' in warning for warning in result['warnings'])
    # Only unsaved_pair holds the new tokens; the messages do not.
    rest = dict((k, v) for k, v in result.items() if k != 'unsaved_pair')
    assert_no_secret(rest, unsaved['access_token'], unsaved['refresh_token'])


def older_recovery_file(path, user, access_token='sEcReT-access-older', refresh_token='sEcReT-refresh-older'):
    old = dict(
        store_entries()[user],
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=format_expires_at(now() + datetime.timedelta(days=1)),
    )
    TokenStore(path + '.recovered-' + user).save({user: old})
    return old


def test_an_older_recovery_file_is_deleted_once_the_store_s_own_pair_is_seen_working(world, store):
    # Left in place, it would be read, warned about and tried at every run (found by fuzz_token).
    emulator = world()
    path = store()
    older_recovery_file(path, 'bob')
    result = refresh_store(emulator, path, refresh_before=30)
    assert result['recovered'] == [] and 'failed' not in result
    assert any('deleted %s.recovered-bob: it held an older pair of user bob' % path in w for w in result['warnings'])
    assert recovery_files(path) == [] and api_log(emulator) == ['GET /api/2/accounts/profile/ 200']
    assert read_store(path)['bob']['access_token'] == access('bob')
    emulator.admin.clear_requests()
    again = refresh_store(emulator, path, refresh_before=30)
    assert again['changed'] is False and api_log(emulator) == [] and 'warnings' not in again
    assert_no_secret(result, 'sEcReT-access-older', 'sEcReT-refresh-older')


def test_an_older_recovery_file_is_merged_when_the_store_s_own_pair_is_refused(world, store):
    # The store's pair has the later expiry but is dead; the file's is the only one that can work.
    emulator = world()
    entries = store_entries()
    entries['bob'].update(access_token='sEcReT-access-dead', refresh_token='sEcReT-refresh-dead')
    path = store(entries)
    older_recovery_file(path, 'bob', access('bob'), refresh('bob'))
    result = refresh_store(emulator, path, refresh_before=30)
    assert result['recovered'] == ['bob'] and recovery_files(path) == []
    # The merged pair expires within refresh_before, so it is refreshed at once, which it could not have been
    # from the store's dead pair.
    assert result['refreshed'] == ['bob'] and 'failed' not in result
    assert api_log(emulator) == ['GET /api/2/accounts/profile/ 401', 'POST /oauth2/access_token 200']
    assert profile_status(emulator, read_store(path)['bob']['access_token']) == 200
    assert_no_secret(result, 'sEcReT-access-dead', 'sEcReT-refresh-dead')


def test_an_older_recovery_file_is_left_in_place_when_the_store_s_pair_cannot_be_tried(world, store):
    emulator = world()
    path = store()
    older_recovery_file(path, 'bob')
    emulator.admin.faults({'method': 'GET', 'path': '/api/2/accounts/profile/', 'status': 503})
    result = refresh_store(emulator, path, refresh_before=30)
    assert result['recovered'] == [] and result['changed'] is False
    assert any('older pair of user bob' in w and 'trying the store' in w for w in result['warnings'])
    assert recovery_files(path) == [path + '.recovered-bob']


def test_check_mode_says_it_would_delete_a_superseded_recovery_file_and_keeps_it(world, store):
    emulator = world()
    path = store()
    older_recovery_file(path, 'bob')
    result = refresh_store(emulator, path, refresh_before=30, check_mode=True)
    assert any(w.startswith('would delete %s.recovered-bob' % path) for w in result['warnings'])
    assert recovery_files(path) == [path + '.recovered-bob']


def test_a_pending_pair_seen_working_replaces_an_entry_whose_refresh_outcome_is_unknown(world, store):
    emulator = world()
    entries = store_entries()
    entries['alice'].update(
        access_token='sEcReT-access-doubtful',
        refresh_token='sEcReT-refresh-doubtful',
        expires_at=format_expires_at(now() + datetime.timedelta(days=400)),
        refresh_outcome_unknown='2026-01-02T03:04:05Z',
    )
    path = store(entries)
    pending = dict(store_entries()['alice'])
    del pending['username']
    TokenStore(path + '.recovered-pending-20260101T000000000000Z').save({'(unknown user)': pending})
    result = refresh_store(emulator, path, refresh_before=30)
    assert result['recovered'] == ['alice'] and recovery_files(path) == []
    entry = read_store(path)['alice']
    assert entry['access_token'] == access('alice') and 'refresh_outcome_unknown' not in entry


def test_an_exchange_whose_profile_read_fails_keeps_the_pair_in_a_pending_file_merged_by_the_next_run(world, store):
    emulator = world(codes=[(CODE, 'alice')])
    emulator.admin.faults({'method': 'GET', 'path': '/api/2/accounts/profile/', 'status': 503})
    result = exchange(emulator, store=store.path)
    assert result['failed'] is True and result['changed'] is True
    [item] = result['failed_items']
    assert item['error_code'] == 'profile_failed' and item['username'] is None
    [pending] = recovery_files(store.path)
    assert item['recovery_file'] == pending and '.recovered-pending-' in pending and pending in result['msg']
    assert mode(pending) == 0o600
    assert_no_secret(result)
    # The next run with the store learns whose pair it is (one profile read) and merges it first.
    emulator.admin.clear_requests()
    again = refresh_store(emulator, store.path, refresh_before=30)
    assert again['recovered'] == ['alice'] and again['changed'] is True and again['refreshed'] == []
    assert api_log(emulator) == ['GET /api/2/accounts/profile/ 200']
    assert recovery_files(store.path) == []
    assert profile_status(emulator, read_store(store.path)['alice']['access_token']) == 200


def test_a_pending_file_whose_pair_exist_refuses_is_deleted_with_a_warning(world, store):
    """A pending pair Exist refuses can never be merged: left in place it cost a read and a warning every run."""
    emulator = world()
    path = store()
    pending = path + '.recovered-pending-20261201T000000000000Z'
    entry = dict(store_entries()['alice'], access_token='dead-a', refresh_token='dead-r')
    del entry['username']
    TokenStore(pending).save({_oauth.PENDING_KEY: entry})
    result = refresh_store(emulator, path, refresh_before=30)
    assert recovery_files(path) == [] and result['recovered'] == []
    assert any(pending in text and 'Exist refuses (401)' in text for text in result['warnings'])
    assert read_store(path)['alice']['access_token'] == access('alice')
    assert_no_secret(result, 'dead-a', 'dead-r')


def test_the_recovery_file_of_a_linked_store_sits_beside_its_target_and_is_merged_back(
    world, store, tmp_path, monkeypatch
):
    emulator = world()
    target = store()
    link = str(tmp_path / 'link' / 'tokens.yml')
    os.mkdir(os.path.dirname(link))
    os.symlink(target, link)
    saves = FailingSaves(monkeypatch, lambda path: path == link)
    result = refresh_store(emulator, link)
    [first, *dummy] = result['failed_items']
    assert first['error_code'] == 'store_write_failed' and first['recovery_file'] == target + '.recovered-alice'
    assert os.listdir(os.path.dirname(link)) == ['tokens.yml']
    saves.fail = lambda path: False
    again = refresh_store(emulator, link, refresh_before=30)
    assert again['recovered'] == ['alice'] and recovery_files(target) == []
    assert profile_status(emulator, read_store(target)['alice']['access_token']) == 200
