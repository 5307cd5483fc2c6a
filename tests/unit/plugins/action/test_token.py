# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""existio.exist.token through its action plugin, against the emulator over HTTP (faults included)."""

from __future__ import annotations

import datetime
import glob
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time

import pytest
import requests
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret, is_encrypted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.action.token import ActionModule
from ansible_collections.existio.exist.plugins.modules import token as token_module
from ansible_collections.existio.exist.plugins.plugin_utils import _oauth, _token_store
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import TokenStore, format_expires_at
from ansible_collections.existio.exist.tests.unit.plugins.emulated import build_action
from exist_emulator.testing import BackgroundEmulator

CLIENT_ID = 'unit-client'
CLIENT_SECRET = 'sEcReT-client-5f1e90'
CODE = 'sEcReT-code-77aa01'
REDIRECT = 'https://service.example/callback'
USERS = ('alice', 'bob', 'carol')
SCOPES = ['mood_read', 'mood_write']


def access(user):
    return 'sEcReT-access-%s-0a9b' % user


def refresh(user):
    return 'sEcReT-refresh-%s-3c4d' % user


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def seed(days=None, codes=(), refresh_tokens=None, more_pairs=None):
    """Users alice, bob and carol, each with one pair for the client, expiring in days[user] days (default 300),
    and the pairs of more_pairs ({user: [(access, refresh)]}) besides, valid as theirs."""
    days = days or {}
    refresh_tokens = refresh_tokens or {}
    more_pairs = more_pairs or {}
    world = {
        'services': [{'name': 'unit_service', 'label': 'Unit Service'}],
        'clients': [
            {
                'client_id': CLIENT_ID,
                'client_secret': CLIENT_SECRET,
                'service': 'unit_service',
                'codes': [{'code': code, 'user': user, 'scopes': SCOPES} for code, user in codes],
            }
        ],
        'users': [
            {
                'username': user,
                'timezone': 'UTC',
                'tokens': [
                    {
                        'token': access(user),
                        'refresh_token': refresh_tokens.get(user, refresh(user)),
                        'service': 'unit_service',
                        'scopes': SCOPES,
                        'expires_in_days': days.get(user, 300),
                    }
                ],
                'attributes': [],
            }
            for user in USERS
        ],
    }
    for user in world['users']:
        own = user['tokens'][0]
        user['tokens'] += [
            dict(own, token=token, refresh_token=refresh) for token, refresh in more_pairs.get(user['username'], [])
        ]
    return world


def store_entries(days=None, users=USERS):
    days = days or {}
    return dict(
        (
            user,
            {
                'username': user,
                'access_token': access(user),
                'refresh_token': refresh(user),
                'expires_at': format_expires_at(now() + datetime.timedelta(days=days.get(user, 300))),
                'scope': ' '.join(SCOPES),
            },
        )
        for user in users
    )


ALL_SECRETS = [CLIENT_SECRET, CODE] + [access(u) for u in USERS] + [refresh(u) for u in USERS]


@pytest.fixture(scope='module')
def emulator():
    with BackgroundEmulator() as running:
        yield running


@pytest.fixture
def world(emulator):
    """Load a seed; returns the emulator."""

    def load(**kwargs):
        emulator.admin.reset(seed(**kwargs))
        return emulator

    return load


@pytest.fixture
def store(tmp_path):
    path = str(tmp_path / 'tokens.yml')

    def write(entries=None, **kwargs):
        TokenStore(path).save(entries if entries is not None else store_entries(**kwargs))
        return path

    write.path = path
    return write


def make_action(args, check_mode=False, diff=False, secrets=None, environment=None):
    # The task runs in the controller whatever the connection, and never ships a module.
    return build_action(
        ActionModule,
        args,
        transport='ssh',
        check_mode=check_mode,
        diff=diff,
        environment=environment,
        action='existio.exist.token',
        vault_secrets=secrets or [],
        module_answer=AssertionError('the token task never ships a module'),
    )


def run(emulator, check_mode=False, diff=False, secrets=None, **args):
    base = dict(api_url=emulator.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retries=0)
    base.update(args)
    return make_action(base, check_mode=check_mode, diff=diff, secrets=secrets).run(task_vars={})


def refresh_store(emulator, path, **args):
    return run(emulator, grant='refresh_token', store=path, **args)


def exchange(emulator, **args):
    return run(emulator, grant='authorization_code', code=CODE, redirect_uri=REDIRECT, **args)


def assert_no_secret(result, *extra):
    text = json.dumps(result)
    for secret in ALL_SECRETS + list(extra):
        assert secret not in text


def api_log(emulator):
    return ['%s %s %s' % (r['method'], r['path'], r['status']) for r in emulator.admin.requests()]


def profile_status(emulator, token):
    return requests.get(
        emulator.url + '/api/2/accounts/profile/', headers={'Authorization': 'Bearer ' + token}, timeout=10
    ).status_code


def read_store(path, secrets=None):
    return TokenStore(path, secrets).load()


def recovery_files(path):
    return sorted(glob.glob(path + '.recovered-*'))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


VAULT = [('prod', VaultSecret(b'unit-vault-password'))]


def encrypt_store(path):
    with open(path, 'rb') as handle:
        data = handle.read()
    with open(path, 'wb') as handle:
        handle.write(VaultLib(VAULT).encrypt(data, secret=VAULT[0][1], vault_id='prod'))


class FailingSaves:
    """Make TokenStore.save fail for the paths a test names (a full disk, a read-only file system...)."""

    def __init__(self, monkeypatch, fail):
        self.fail = fail
        original = TokenStore.save

        def save(store, entries):
            if self.fail(store.path):
                raise _token_store.TokenStoreError(
                    '%s: cannot write the token store (No space left on device)' % store.path
                )
            return original(store, entries)

        monkeypatch.setattr(TokenStore, 'save', save)


# -- exchanging a code ------------------------------------------------------------


def test_exchange_writes_the_new_pair_to_a_new_store_after_one_profile_read(world, store):
    emulator = world(codes=[(CODE, 'alice')])
    result = exchange(emulator, store=store.path)
    assert result['changed'] is True and 'failed' not in result
    assert result['username'] == 'alice' and result['failed_items'] == []
    assert api_log(emulator) == ['POST /oauth2/access_token 200', 'GET /api/2/accounts/profile/ 200']
    assert result['api_requests'] == 2
    entries = read_store(store.path)
    assert list(entries) == ['alice'] and entries['alice']['username'] == 'alice'
    assert entries['alice']['scope'] == 'mood_read mood_write'
    assert profile_status(emulator, entries['alice']['access_token']) == 200
    assert mode(store.path) == 0o600
    assert recovery_files(store.path) == []  # the pending file is gone once the store holds the pair
    assert result['expires_at']['alice'] == entries['alice']['expires_at']
    assert_no_secret(result, entries['alice']['access_token'], entries['alice']['refresh_token'])


def test_exchange_without_a_store_returns_the_pair_as_a_no_log_result(world):
    emulator = world(codes=[(CODE, 'bob')])
    result = exchange(emulator)
    assert result['_ansible_no_log'] is True and result['changed'] is True
    assert result['username'] == 'bob' and result['scope'] == 'mood_read mood_write'
    assert profile_status(emulator, result['access_token']) == 200
    assert result['refresh_token'] and result['expires_at'].endswith('Z')
    assert CLIENT_SECRET not in json.dumps(result) and CODE not in json.dumps(result)


FORGED_PAIR = {'access_token': 'fz-a', 'refresh_token': 'fz-r', 'expires_in': 'soon'}


def test_an_exchange_without_a_store_never_returns_a_pair_exist_refuses(world):
    """Exist used the code but the answer carried a pair it refuses (found by fuzz_token): no pair is returned as
    the new one, and whether the code was used is said to be unknown."""
    emulator = world(codes=[(CODE, 'bob')])
    emulator.admin.faults(
        {'method': 'POST', 'path': '/oauth2/access_token', 'status': 200, 'after_apply': True, 'body': FORGED_PAIR}
    )
    result = exchange(emulator)
    assert result['failed'] is True and 'access_token' not in result and 'refresh_token' not in result
    [item] = result['failed_items']
    assert item['error_code'] == 'outcome_unknown' and 'refuses' in item['error']


def test_an_odd_answers_pair_that_cannot_be_tried_is_returned_but_not_vouched_for(world):
    """The profile read with an odd answer's pair fails (502): the pair is returned (it may be the only one), and
    the result says whether Exist issued it is unknown, instead of a warning that calls it Exist's new pair."""
    emulator = world(codes=[(CODE, 'bob')])
    emulator.admin.faults(
        [
            {'method': 'POST', 'path': '/oauth2/access_token', 'status': 200, 'after_apply': True, 'body': FORGED_PAIR},
            {'method': 'GET', 'path': '/api/2/accounts/profile/', 'status': 502},
        ]
    )
    result = exchange(emulator)
    assert result['failed'] is True and result['_ansible_no_log'] is True
    assert result['access_token'] == 'fz-a' and result['refresh_token'] == 'fz-r'
    [item] = result['failed_items']
    assert item['error_code'] == 'outcome_unknown' and 'whether Exist issued it is unknown' in item['error']


def test_a_refused_code_fails_without_naming_it(world, store):
    emulator = world(codes=[('another-code', 'alice')])
    result = exchange(emulator, store=store.path)
    assert result['failed'] is True and result['changed'] is False
    assert [item['error_code'] for item in result['failed_items']] == ['exchange_failed']
    assert 'invalid_grant' in result['msg']
    assert not os.path.exists(store.path) and recovery_files(store.path) == []
    assert_no_secret(result)


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


def test_an_exchange_answered_with_a_pair_exist_refuses_keeps_nothing_and_says_the_outcome_is_unknown(world, store):
    """Exist used the code, but the answer carried a pair it refuses (found by fuzz_token): the pending file would
    hold a dead pair for ever; nothing is kept and whether the code was used is said to be unknown."""
    emulator = world(codes=[(CODE, 'alice')])
    emulator.admin.faults(
        {
            'method': 'POST',
            'path': '/oauth2/access_token',
            'status': 200,
            'after_apply': True,
            'body': {'access_token': 'fz-a', 'refresh_token': 'fz-r', 'expires_in': 'soon'},
        }
    )
    result = exchange(emulator, store=store.path)
    assert result['failed'] is True
    [item] = result['failed_items']
    assert item['error_code'] == 'outcome_unknown' and item['username'] is None
    assert 'refuses' in item['error'] and 'authorise again' in item['error']
    assert recovery_files(store.path) == [] and not os.path.exists(store.path)
    assert api_log(emulator) == ['POST /oauth2/access_token 200', 'GET /api/2/accounts/profile/ 401']
    assert_no_secret(result, 'fz-a', 'fz-r')


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


# -- refreshing a store -------------------------------------------------------------


def test_refreshing_a_store_refreshes_every_user_with_one_request_each(world, store):
    emulator = world()
    path = store()
    result = refresh_store(emulator, path)
    assert result['changed'] is True and result['refreshed'] == list(USERS) and 'failed' not in result
    assert api_log(emulator) == ['POST /oauth2/access_token 200'] * 3  # the store knows the usernames
    entries = read_store(path)
    for user in USERS:
        assert profile_status(emulator, access(user)) == 401  # the old pair is gone
        assert profile_status(emulator, entries[user]['access_token']) == 200
        assert result['expires_at'][user] == entries[user]['expires_at']
    assert mode(path) == 0o600
    assert_no_secret(result, *[entries[u][k] for u in USERS for k in ('access_token', 'refresh_token')])


def test_refresh_before_refreshes_only_what_expires_soon_and_is_idempotent(world, store):
    emulator = world(days={'alice': 10})
    path = store(days={'alice': 10})
    first = refresh_store(emulator, path, refresh_before=30)
    assert first['changed'] is True and first['refreshed'] == ['alice']
    assert first['api_requests'] == 1
    with open(path, 'rb') as handle:
        written = handle.read()
    emulator.admin.clear_requests()
    second = refresh_store(emulator, path, refresh_before=30)
    assert second['changed'] is False and second['refreshed'] == [] and second['api_requests'] == 0
    assert api_log(emulator) == []
    with open(path, 'rb') as handle:
        assert handle.read() == written


def test_check_mode_says_who_would_be_refreshed_without_sending_anything(world, store):
    emulator = world(days={'bob': 5})
    path = store(days={'bob': 5})
    with open(path, 'rb') as handle:
        written = handle.read()
    result = refresh_store(emulator, path, refresh_before=30, check_mode=True, diff=True)
    assert result['changed'] is True and result['refreshed'] == ['bob']
    assert result['expires_at'] == dict((user, entry['expires_at']) for user, entry in read_store(path).items())
    assert result['expires_at']['bob'] < result['expires_at']['alice']
    assert result['diff']['before']['bob']['expires_at'] == result['expires_at']['bob']
    assert result['diff']['after']['bob']['expires_at'] == '(after the refresh)'
    assert 'access_token' not in json.dumps(result['diff'])
    assert api_log(emulator) == []
    with open(path, 'rb') as handle:
        assert handle.read() == written
    assert profile_status(emulator, access('bob')) == 200


def test_check_mode_of_an_exchange_sends_nothing(world, store):
    emulator = world(codes=[(CODE, 'alice')])
    result = exchange(emulator, store=store.path, check_mode=True)
    assert result['changed'] is True and api_log(emulator) == [] and not os.path.exists(store.path)


def test_the_store_is_saved_after_each_user_so_a_failure_half_way_keeps_what_was_issued(world, store):
    emulator = world()
    path = store()
    # carol's refresh is applied, and its answer lost: alice's and bob's new pairs must already be in the store.
    emulator.admin.faults(
        {'method': 'POST', 'path': '/oauth2/access_token', 'skip': 2, 'status': 502, 'after_apply': True}
    )
    result = refresh_store(emulator, path)
    assert result['refreshed'] == ['alice', 'bob']
    entries = read_store(path)
    for user in ('alice', 'bob'):
        assert profile_status(emulator, entries[user]['access_token']) == 200
    assert [item['error_code'] for item in result['failed_items']] == ['reauthorization_needed']


def test_a_refused_client_secret_stops_the_run_after_one_request(world, store):
    emulator = world()
    path = store()
    result = refresh_store(emulator, path, client_secret='sEcReT-wrong-secret')
    assert result['failed'] is True and result['changed'] is False and result['api_requests'] == 1
    codes = [(item['username'], item['error_code']) for item in result['failed_items']]
    assert codes == [('alice', 'refresh_failed'), ('bob', 'not_attempted'), ('carol', 'not_attempted')]
    assert 'invalid_client' in result['failed_items'][0]['error']
    assert [read_store(path)[user]['refresh_token'] for user in USERS] == [refresh(user) for user in USERS]
    assert_no_secret(result, 'sEcReT-wrong-secret')


def test_a_refresh_token_exist_refuses_marks_the_user_and_the_others_are_refreshed(world, store):
    emulator = world(refresh_tokens={'alice': 'sEcReT-refresh-elsewhere'})
    path = store()
    result = refresh_store(emulator, path, redirect_uri=REDIRECT)
    assert result['refreshed'] == ['bob', 'carol'] and result['failed'] is True
    [item] = result['failed_items']
    assert item['username'] == 'alice' and item['error_code'] == 'reauthorization_needed'
    assert item['authorize_url'] == (
        emulator.url + '/oauth2/authorize?response_type=code&client_id=unit-client'
        '&redirect_uri=https%3A%2F%2Fservice.example%2Fcallback&scope=mood_read+mood_write'
    )
    assert read_store(path)['alice']['reauthorization_needed'] is True
    assert read_store(path)['alice']['access_token'] == access('alice')  # kept
    assert_no_secret(result, 'sEcReT-refresh-elsewhere')


def test_a_marked_user_is_reported_without_a_request_until_a_new_code_is_exchanged(world, store):
    emulator = world(codes=[(CODE, 'alice')])
    entries = store_entries()
    entries['alice']['reauthorization_needed'] = True
    path = store(entries)
    result = refresh_store(emulator, path, refresh_before=30)
    assert result['changed'] is False and result['api_requests'] == 0
    assert [(i['username'], i['error_code']) for i in result['failed_items']] == [('alice', 'reauthorization_needed')]
    exchanged = exchange(emulator, store=path)
    assert exchanged['username'] == 'alice' and 'failed' not in exchanged
    assert 'reauthorization_needed' not in read_store(path)['alice']
    assert refresh_store(emulator, path, refresh_before=30)['failed_items'] == []


def test_the_store_is_locked_for_the_whole_task(world, store):
    emulator = world()
    path = store()
    results = []
    with TokenStore(path).lock():
        worker = threading.Thread(target=lambda: results.append(refresh_store(emulator, path)))
        worker.start()
        time.sleep(0.5)
        assert results == [] and api_log(emulator) == []
    worker.join(30)
    assert results[0]['refreshed'] == list(USERS)


def test_a_vault_encrypted_store_stays_encrypted_with_its_vault_id(world, store):
    emulator = world(days={'carol': 3})
    path = store(days={'carol': 3})
    encrypt_store(path)
    result = refresh_store(emulator, path, refresh_before=30, secrets=VAULT)
    assert result['refreshed'] == ['carol']
    with open(path, 'rb') as handle:
        data = handle.read()
    assert is_encrypted(data) and data.startswith(b'$ANSIBLE_VAULT;1.2;AES256;prod\n')
    assert profile_status(emulator, read_store(path, VAULT)['carol']['access_token']) == 200
    assert mode(path) == 0o600


def test_an_encrypted_store_without_the_vault_password_fails_before_any_request(world, store):
    emulator = world()
    path = store()
    encrypt_store(path)
    result = refresh_store(emulator, path)
    assert result['failed'] is True and 'cannot be decrypted' in result['msg'] and result['api_requests'] == 0
    assert api_log(emulator) == []


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


# -- (c) the answer to a refresh is lost ----------------------------------------------------


STAMP = re.compile(r'\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z')


def assert_marked_unknown(path, username, sent_between):
    """The entry keeps its old pair, marked refresh_outcome_unknown with the time the refresh was sent (UTC, Z)."""
    entry = read_store(path)[username]
    assert entry['access_token'] == access(username) and entry['refresh_token'] == refresh(username)
    stamp = entry['refresh_outcome_unknown']
    assert isinstance(stamp, str) and STAMP.match(stamp), stamp
    low, high = (format_expires_at(moment) for moment in sent_between)
    assert low <= stamp <= high
    assert 'reauthorization_needed' not in entry
    return stamp


@pytest.mark.parametrize(
    'fault',
    [
        {'status': 502},
        {'status': 500, 'raw_body': '<html>proxy error</html>'},
        {'drop': True},
    ],
    ids=['502', 'html-500', 'dropped'],
)
def test_a_lost_answer_whose_old_token_still_works_is_unknown_and_the_next_run_settles_it(world, store, fault):
    # The old access token working proves nothing: the refresh may still land (issue 17, class 1).
    emulator = world()
    path = store()
    emulator.admin.faults(dict(fault, method='POST', path='/oauth2/access_token'))
    started = now()
    result = refresh_store(emulator, path)
    codes = [(item['username'], item['error_code']) for item in result['failed_items']]
    assert codes == [('alice', 'outcome_unknown'), ('bob', 'not_attempted'), ('carol', 'not_attempted')]
    assert 'did not refresh' not in result['msg'] and 'still works' not in result['msg']
    assert api_log(emulator)[1:] == ['GET /api/2/accounts/profile/ 200']  # the old token, tried once
    stamp = assert_marked_unknown(path, 'alice', (started, now()))
    assert result['failed_items'][0]['refresh_sent_at'] == stamp and stamp in result['msg']
    assert result['changed'] is True  # the mark was written
    assert [read_store(path)[user]['refresh_token'] for user in USERS] == [refresh(user) for user in USERS]
    assert_no_secret(result)
    # The next run settles alice by sending her refresh again, though refresh_before would not pick her.
    emulator.admin.clear_requests()
    again = refresh_store(emulator, path, refresh_before=30)
    assert again['refreshed'] == ['alice'] and 'failed' not in again and again['changed'] is True
    assert api_log(emulator) == ['POST /oauth2/access_token 200']
    entry = read_store(path)['alice']
    assert 'refresh_outcome_unknown' not in entry and profile_status(emulator, entry['access_token']) == 200
    assert profile_status(emulator, access('alice')) == 401


@pytest.mark.parametrize(
    'fault',
    [
        {'status': 502, 'after_apply': True},
        {'status': 200, 'body': {}, 'after_apply': True},
        {'status': 200, 'body': {'access_token': 'x y', 'token_type': 'Bearer'}, 'after_apply': True},
        {'drop': True, 'after_apply': True},
    ],
    ids=['502', 'not-a-token', 'malformed-token', 'dropped'],
)
def test_a_lost_answer_to_a_refresh_that_happened_marks_the_user_for_reauthorization(world, store, fault):
    emulator = world()
    path = store()
    emulator.admin.faults(dict(fault, method='POST', path='/oauth2/access_token'))
    result = refresh_store(emulator, path)
    codes = [(item['username'], item['error_code']) for item in result['failed_items']]
    assert codes == [('alice', 'reauthorization_needed'), ('bob', 'not_attempted'), ('carol', 'not_attempted')]
    item = result['failed_items'][0]
    assert 'Exist did refresh' in item['error'] and 'authorise again' in item['error']
    assert item['authorize_url'].startswith(emulator.url + '/oauth2/authorize?response_type=code&client_id=unit-client')
    assert CLIENT_SECRET not in item['authorize_url']
    assert api_log(emulator)[1:] == ['GET /api/2/accounts/profile/ 401']
    entries = read_store(path)
    assert entries['alice']['reauthorization_needed'] is True and entries['alice']['access_token'] == access('alice')
    assert result['changed'] is True  # the mark was written
    assert_no_secret(result)


def test_a_lost_answer_whose_old_token_cannot_be_tried_either_stays_unknown(world, store):
    emulator = world()
    path = store()
    emulator.admin.faults(
        [
            {'method': 'POST', 'path': '/oauth2/access_token', 'status': 504, 'after_apply': True},
            {'method': 'GET', 'path': '/api/2/accounts/profile/', 'status': 503},
        ]
    )
    started = now()
    result = refresh_store(emulator, path)
    item = result['failed_items'][0]
    assert item['error_code'] == 'outcome_unknown' and 'Whether Exist refreshed the pair is unknown' in item['error']
    assert 'trying the old access token failed too' in item['error']
    assert_marked_unknown(path, 'alice', (started, now()))
    assert_no_secret(result)
    # The refresh did happen: the next run's refresh is refused, and alice must authorise again.
    again = refresh_store(emulator, path)
    [first, *others] = again['failed_items']
    assert (first['username'], first['error_code']) == ('alice', 'reauthorization_needed')
    assert 'did happen, and its new pair is lost' in first['error']
    assert again['refreshed'] == ['bob', 'carol']
    entry = read_store(path)['alice']
    assert entry['reauthorization_needed'] is True and 'refresh_outcome_unknown' not in entry
    assert others == []


def test_a_lost_answer_with_an_expired_access_token_is_not_probed(world, store):
    emulator = world(days={'alice': -2})
    path = store(days={'alice': -2})
    emulator.admin.faults({'method': 'POST', 'path': '/oauth2/access_token', 'status': 502})
    started = now()
    result = refresh_store(emulator, path)
    item = result['failed_items'][0]
    assert item['error_code'] == 'outcome_unknown' and 'expired' in item['error']
    assert api_log(emulator) == ['POST /oauth2/access_token 502']
    assert_marked_unknown(path, 'alice', (started, now()))
    # The refresh token still works (the refresh did not happen): the next run refreshes alice.
    again = refresh_store(emulator, path)
    assert again['refreshed'] == list(USERS)


def test_a_refresh_that_timed_out_is_not_sent_again(world, store):
    emulator = world()
    path = store()
    emulator.admin.faults({'method': 'POST', 'path': '/oauth2/access_token', 'delay': 3, 'status': 502})
    result = refresh_store(emulator, path, timeout=1, retries=3)
    assert result['failed_items'][0]['error_code'] == 'outcome_unknown'
    assert 'within 1 s' in result['failed_items'][0]['error']
    time.sleep(2.5)
    assert [line.split()[:2] for line in api_log(emulator)].count(['POST', '/oauth2/access_token']) == 1


def wait_for_landing(emulator, count, seconds=10):
    """Wait until the emulator has answered `count` token requests (a delayed one lands late)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if [line.split()[:2] for line in api_log(emulator)].count(['POST', '/oauth2/access_token']) >= count:
            return
        time.sleep(0.1)
    raise AssertionError('the delayed refresh never landed: %s' % api_log(emulator))


def test_a_refresh_that_lands_after_the_client_gave_up_is_never_called_kept(world, store):
    # Issue 17, class 1: the client gives up after 1 s, the old token still works when tried, and then the
    # emulator applies the refresh (3 s): the old pair dies. Nothing may say it was kept.
    emulator = world()
    path = store()
    emulator.admin.faults({'method': 'POST', 'path': '/oauth2/access_token', 'delay': 3})
    started = now()
    result = refresh_store(emulator, path, timeout=1)
    codes = [(item['username'], item['error_code']) for item in result['failed_items']]
    assert codes == [('alice', 'outcome_unknown'), ('bob', 'not_attempted'), ('carol', 'not_attempted')]
    assert api_log(emulator) == ['GET /api/2/accounts/profile/ 200']  # tried while the refresh was on its way
    assert 'proves nothing' in result['msg'] and 'kept (valid' not in result['msg']
    stamp = assert_marked_unknown(path, 'alice', (started, now()))
    wait_for_landing(emulator, 1)
    assert profile_status(emulator, access('alice')) == 401  # the refresh landed: the old pair is dead
    # The next run settles it: the refresh token is spent, so the refresh did happen and alice must authorise again.
    emulator.admin.clear_requests()
    again = refresh_store(emulator, path, refresh_before=30, redirect_uri=REDIRECT)
    [item] = again['failed_items']
    assert (item['username'], item['error_code']) == ('alice', 'reauthorization_needed')
    assert 'the refresh sent at %s, whose answer was lost, did happen' % stamp in item['error']
    assert item['authorize_url'].startswith(emulator.url + '/oauth2/authorize?')
    assert api_log(emulator) == ['POST /oauth2/access_token 400']
    entry = read_store(path)['alice']
    assert entry['reauthorization_needed'] is True and 'refresh_outcome_unknown' not in entry
    assert_no_secret(result)
    assert_no_secret(again)


def test_settling_while_the_lost_refresh_is_still_on_its_way_keeps_a_working_pair(world, store):
    # The refresh sent again wins the race: the late one is then refused (its refresh token is spent).
    emulator = world()
    path = store()
    emulator.admin.faults({'method': 'POST', 'path': '/oauth2/access_token', 'delay': 3})
    first = refresh_store(emulator, path, timeout=1)
    assert [item['error_code'] for item in first['failed_items']][:1] == ['outcome_unknown']
    again = refresh_store(emulator, path, refresh_before=30)
    assert again['refreshed'] == ['alice'] and again['failed_items'] == []
    wait_for_landing(emulator, 2)
    time.sleep(0.2)
    assert 'POST /oauth2/access_token 400' in api_log(emulator)  # the late refresh, refused
    entry = read_store(path)['alice']
    assert 'refresh_outcome_unknown' not in entry and profile_status(emulator, entry['access_token']) == 200


def test_an_entry_whose_settling_answer_is_lost_again_is_marked_anew(world, store):
    emulator = world()
    entries = store_entries()
    entries['bob']['refresh_outcome_unknown'] = '2026-01-02T03:04:05Z'
    path = store(entries)
    emulator.admin.faults({'method': 'POST', 'path': '/oauth2/access_token', 'drop': True})
    started = now()
    result = refresh_store(emulator, path, refresh_before=30)
    assert [(i['username'], i['error_code']) for i in result['failed_items']] == [('bob', 'outcome_unknown')]
    assert assert_marked_unknown(path, 'bob', (started, now())) != '2026-01-02T03:04:05Z'


def test_a_settling_refresh_refused_for_the_client_keeps_the_mark(world, store):
    emulator = world()
    entries = store_entries()
    entries['bob']['refresh_outcome_unknown'] = '2026-01-02T03:04:05Z'
    path = store(entries)
    result = refresh_store(emulator, path, client_secret='sEcReT-wrong-secret')
    item = result['failed_items'][0]
    assert (item['username'], item['error_code']) == ('bob', 'refresh_failed')
    assert 'still marked refresh_outcome_unknown' in item['error'] and 'pair is unchanged' not in item['error']
    assert read_store(path)['bob']['refresh_outcome_unknown'] == '2026-01-02T03:04:05Z'
    assert_no_secret(result, 'sEcReT-wrong-secret')


def test_check_mode_says_an_unsettled_entry_would_be_settled_and_sends_nothing(world, store):
    emulator = world()
    entries = store_entries()
    entries['carol']['refresh_outcome_unknown'] = '2026-01-02T03:04:05Z'
    path = store(entries)
    result = refresh_store(emulator, path, refresh_before=30, check_mode=True, diff=True)
    assert result['refreshed'] == ['carol'] and result['changed'] is True and api_log(emulator) == []
    assert any('carol' in w and '2026-01-02T03:04:05Z' in w and 'settles' in w for w in result['warnings'])
    assert result['diff']['before']['carol']['refresh_outcome_unknown'] == '2026-01-02T03:04:05Z'
    assert read_store(path)['carol']['refresh_outcome_unknown'] == '2026-01-02T03:04:05Z'


def test_a_new_code_clears_the_unknown_mark(world, store):
    emulator = world(codes=[(CODE, 'alice')])
    entries = store_entries()
    entries['alice']['refresh_outcome_unknown'] = '2026-01-02T03:04:05Z'
    path = store(entries)
    result = exchange(emulator, store=path)
    assert result['username'] == 'alice' and 'failed' not in result
    assert 'refresh_outcome_unknown' not in read_store(path)['alice']


def test_a_mark_that_cannot_be_written_is_said_and_nothing_claims_the_pair_works(world, store, monkeypatch):
    emulator = world()
    path = store()
    FailingSaves(monkeypatch, lambda target: True)
    emulator.admin.faults({'method': 'POST', 'path': '/oauth2/access_token', 'status': 502})
    result = refresh_store(emulator, path)
    item = result['failed_items'][0]
    assert item['error_code'] == 'outcome_unknown' and 'could not be marked' in item['error']
    assert 'do not rely on the pair' in item['error']


# -- the store's lock waits with a bound (issue 17, class 6) ------------------------------------------

HOLDER = r"""
import sys, time
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import TokenStore
with TokenStore(sys.argv[1]).lock():
    print('held', flush=True)
    time.sleep(60)
"""


def test_a_store_locked_by_another_process_fails_after_lock_timeout_naming_the_lock_and_its_holder(world, store):
    emulator = world()
    path = store()
    with open(path, 'rb') as handle:
        written = handle.read()
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLDER, path],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    results = []
    try:
        assert holder.stdout.readline().strip() == b'held'
        started = time.monotonic()
        worker = threading.Thread(target=lambda: results.append(refresh_store(emulator, path, lock_timeout=1)))
        worker.start()
        worker.join(20)
        waited = time.monotonic() - started
        assert results, 'the task still waits for the lock'
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    [result] = results
    assert result['failed'] is True and result['changed'] is False and result['api_requests'] == 0
    assert path + '.lock' in result['msg'] and 'pid %d' % holder.pid in result['msg'] and 'after 1 s' in result['msg']
    assert 1 <= waited < 10
    assert api_log(emulator) == []
    with open(path, 'rb') as handle:
        assert handle.read() == written


def test_lock_timeout_defaults_to_the_store_s_bound_and_is_documented():
    spec = token_module.argument_spec()
    assert spec['lock_timeout'] == dict(type='int', default=_token_store.DEFAULT_LOCK_TIMEOUT)
    documented = yaml.safe_load(token_module.DOCUMENTATION)['options']['lock_timeout']
    assert documented['default'] == _token_store.DEFAULT_LOCK_TIMEOUT and documented['type'] == 'int'


# -- numbers as text (issue 17, class 9) -----------------------------------------------------------------


NUMBER_CASES = [
    ('refresh_before', '²', "'²'"),
    ('refresh_before', '٣', "'٣'"),  # int() reads it as 3
    ('refresh_before', '３０', "'３０'"),
    ('refresh_before', '1' * 5000, "'%s'... (5000 characters)" % ('1' * 40)),
    ('refresh_before', 10**5000, 'a number of about 5001 digits'),
    ('refresh_before', -(10**5000), 'a number of about 5001 digits'),
    ('refresh_before', 3661, '3661'),
    ('refresh_before', 2.5, '2.5'),
    ('refresh_before', float('inf'), 'inf'),
    ('refresh_before', True, 'True'),
    ('refresh_before', '30 days', "'30 days'"),
    ('refresh_before', '', "''"),
    ('lock_timeout', '٣', "'٣'"),
    ('lock_timeout', -1, '-1'),
    ('lock_timeout', 10**5000, 'a number of about 5001 digits'),
    ('timeout', 10**5000, 'a number of about 5001 digits'),
    ('timeout', '²', "'²'"),
    ('retries', '٣', "'٣'"),
    ('rate_limit_wait', '1' * 5000, "'%s'... (5000 characters)" % ('1' * 40)),
]


# (Explicit ids: pytest's own would str() an int of 5000 digits, which raises ValueError.)
@pytest.mark.parametrize(
    'option, value, shown', NUMBER_CASES, ids=['%s-%d' % (case[0], index) for index, case in enumerate(NUMBER_CASES)]
)
def test_a_number_option_that_is_not_a_plain_whole_number_fails_naming_it_and_the_value(
    world, store, option, value, shown
):
    emulator = world()
    path = store()
    result = refresh_store(emulator, path, **{option: value})
    assert result['failed'] is True and result['msg'].startswith(option + ' must be a whole number of ')
    assert result['msg'].endswith('got %s' % shown) and len(result['msg']) < 300
    assert api_log(emulator) == [] and 'Traceback' not in result['msg']


@pytest.mark.parametrize('value', ['30', ' 30 ', '+30', 30, 30.0])
def test_refresh_before_as_ascii_text_or_a_whole_float_is_taken(world, store, value):
    emulator = world(days={'alice': 10})
    path = store(days={'alice': 10})
    result = refresh_store(emulator, path, refresh_before=value)
    assert result['refreshed'] == ['alice'] and 'failed' not in result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=8), st.integers(), st.floats(), st.booleans(), st.just('1' * 4301)))
def test_any_refresh_before_is_a_number_in_range_or_an_error_naming_it(value):
    number, problem = _oauth.whole_number('refresh_before', value)
    if problem is None:
        assert isinstance(number, int) and 0 <= number <= 3660
        assert not isinstance(value, bool)
        if isinstance(value, str):
            assert value.strip().lstrip('+-').isascii()
    else:
        assert number is None and problem.startswith('refresh_before must be a whole number of days from 0 to 3660')
        assert len(problem) < 200


def test_a_store_timestamp_of_other_digits_fails_the_task_naming_it(world, store):
    emulator = world()
    entries = store_entries()
    entries['bob']['expires_at'] = '２０２７-11-28T19:00:00Z'
    path = store.path
    with open(path, 'w') as handle:
        yaml.safe_dump(entries, handle)
    result = refresh_store(emulator, path)
    assert result['failed'] is True and "user 'bob': expires_at '２０２７-11-28T19:00:00Z'" in result['msg']
    assert api_log(emulator) == []
    assert_no_secret(result)


ODD_BODIES = [
    '{"access_token": "a1", "refresh_token": "r1", "token_type": "Bearer", "expires_in": 1%s}' % ('0' * 5000),
    '{"access_token": "a1", "refresh_token": "r1", "token_type": "Bearer", "expires_in": "31535999"}',
    '{"access_token": "a1", "refresh_token": "r1", "token_type": "Bearer", "expires_in": 1e400}',
]
ODD_IDS = ['5000-digits', 'text', 'infinite']


def odd_answer(emulator, body, **fault):
    """alice's refresh is answered with body (its pair a1/r1); the others get Exist's own answers."""
    fault = dict(
        {'method': 'POST', 'path': '/oauth2/access_token', 'status': 200, 'raw_body': body},
        content_type='application/json',
        **fault,
    )
    emulator.admin.faults(fault)


@pytest.mark.parametrize('body', ODD_BODIES, ids=ODD_IDS)
def test_a_working_pair_in_an_odd_answer_is_kept_due_now_without_a_python_error(world, store, body):
    """Exist applied the refresh (the old pair died) and its odd answer holds a pair that works: one read proves
    it, and it is kept, its expiry taken as now, so that the next refresh renews it; the odd field is warned of."""
    # alice also holds a1/r1, the pair the odd answer carries, as Exist would once it issued it.
    emulator = world(more_pairs={'alice': [('a1', 'r1')]})
    path = store()
    odd_answer(emulator, body, after_apply=True)
    before = datetime.datetime.now(datetime.timezone.utc)
    result = refresh_store(emulator, path, refresh_before=400)
    assert 'failed' not in result and result['refreshed'] == ['alice', 'bob', 'carol']
    entry = read_store(path)['alice']
    assert entry['access_token'] == 'a1' and entry['refresh_token'] == 'r1'
    assert 'refresh_outcome_unknown' not in entry
    expires = datetime.datetime.strptime(entry['expires_at'], '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc
    )
    assert before - datetime.timedelta(seconds=1) <= expires <= datetime.datetime.now(datetime.timezone.utc)
    assert any("no 'expires_in' that is a positive number" in text and 'kept' in text for text in result['warnings'])
    # The read with the answer's pair, right after alice's refresh.
    assert api_log(emulator)[:2] == ['POST /oauth2/access_token 200', 'GET /api/2/accounts/profile/ 200']
    assert 'ValueError' not in json.dumps(result) and 'Traceback' not in json.dumps(result)


@pytest.mark.parametrize('body', ODD_BODIES, ids=ODD_IDS)
def test_a_pair_exist_refuses_in_an_odd_answer_never_replaces_the_working_pair(world, store, body):
    """A server that answers oddly may answer a pair Exist never issued (found by fuzz_token): storing it threw
    away alice's working pair. Exist refuses it (401), so the old pair decides; it still works, but that proves
    nothing about a refresh, so the entry keeps it, marked, for the next run to settle."""
    emulator = world()
    path = store()
    odd_answer(emulator, body)
    result = refresh_store(emulator, path, refresh_before=400)
    entry = read_store(path)['alice']
    assert entry['access_token'] == access('alice') and entry['refresh_token'] == refresh('alice')
    assert entry['refresh_outcome_unknown'] == result['failed_items'][0]['refresh_sent_at']
    assert result['refreshed'] == []
    item = result['failed_items'][0]
    assert item['username'] == 'alice' and item['error_code'] == 'outcome_unknown'
    assert 'that Exist refuses (401)' in item['error']
    assert [(i['username'], i['error_code']) for i in result['failed_items'][1:]] == [
        ('bob', 'not_attempted'),
        ('carol', 'not_attempted'),
    ]
    assert profile_status(emulator, access('alice')) == 200
    assert_no_secret(result)


def test_an_odd_answers_pair_that_cannot_be_tried_is_kept_for_the_next_run(world, store):
    """The read that would prove the odd answer's pair fails (503): the pair goes to a recovery file, the entry
    keeps the old pair, marked; the next run finds the file's pair working and merges it."""
    # alice also holds a1/r1, the pair the odd answer carries, as Exist would once it issued it.
    emulator = world(more_pairs={'alice': [('a1', 'r1')]})
    path = store()
    odd_answer(emulator, ODD_BODIES[1], after_apply=True)
    emulator.admin.faults({'method': 'GET', 'path': '/api/2/accounts/profile/', 'status': 503, 'times': 1})
    result = refresh_store(emulator, path, refresh_before=400)
    item = result['failed_items'][0]
    assert item['username'] == 'alice' and item['error_code'] == 'outcome_unknown'
    recovery = path + '.recovered-alice'
    assert recovery in item['error'] and recovery_files(path) == [recovery]
    assert read_store(recovery)['alice']['access_token'] == 'a1'
    assert read_store(path)['alice']['refresh_outcome_unknown'] == item['refresh_sent_at']
    assert_no_secret(result)
    # Next run: the file's pair works (one read), so it is merged, unmarked; due now, it is refreshed at once.
    emulator.admin.clear_requests()
    again = refresh_store(emulator, path, refresh_before=0)
    assert api_log(emulator)[:2] == ['GET /api/2/accounts/profile/ 200', 'POST /oauth2/access_token 200']
    entry = read_store(path)['alice']
    assert 'refresh_outcome_unknown' not in entry and profile_status(emulator, entry['access_token']) == 200
    assert recovery_files(path) == [] and again['recovered'] == ['alice'] and again['refreshed'] == ['alice']
    assert 'failed' not in again


# -- a store listing a user twice (issue 17, class 10) ------------------------------------------------


@pytest.mark.parametrize('grant', ['refresh_token', 'authorization_code'])
def test_a_store_listing_a_user_twice_fails_and_the_task_writes_nothing(world, store, tmp_path, grant):
    emulator = world(codes=[(CODE, 'carol')])
    entries = store_entries()
    text = yaml.safe_dump(entries, default_flow_style=False)
    text += yaml.safe_dump({'alice': dict(entries['alice'], access_token='sEcReT-access-alice-other')})
    path = store.path
    with open(path, 'w') as handle:
        handle.write(text)
    listing = sorted(os.listdir(str(tmp_path)))
    if grant == 'refresh_token':
        result = refresh_store(emulator, path)
    else:
        result = exchange(emulator, store=path)
    assert result['failed'] is True and result['changed'] is False
    assert "lists user 'alice' twice (lines 1 and 19)" in result['msg']
    assert api_log(emulator) == [] and result['api_requests'] == 0
    with open(path) as handle:
        assert handle.read() == text
    assert [name for name in sorted(os.listdir(str(tmp_path))) if not name.endswith('.lock')] == listing
    assert_no_secret(result, 'sEcReT-access-alice-other')


# -- a symbolic link, a vault label (issue 17, class 11) ------------------------------------------------


def test_a_store_that_is_a_symbolic_link_is_refreshed_through_it(world, store, tmp_path):
    emulator = world()
    target = store()
    link = str(tmp_path / 'link' / 'tokens.yml')
    os.mkdir(os.path.dirname(link))
    os.symlink(target, link)
    result = refresh_store(emulator, link)
    assert result['refreshed'] == list(USERS) and result['store'] == link
    assert os.path.islink(link) and os.readlink(link) == target
    entries = read_store(target)
    assert all(profile_status(emulator, entries[user]['access_token']) == 200 for user in USERS)
    assert mode(target) == 0o600
    assert os.listdir(os.path.dirname(link)) == ['tokens.yml']  # no lock, no temporary file beside the link
    assert os.path.exists(target + '.lock')


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


def test_an_encrypted_store_opened_without_a_vault_id_keeps_its_label(world, store):
    # --vault-password-file or --ask-vault-pass: the loader's secret has the ID 'default'.
    emulator = world(days={'carol': 3})
    path = store(days={'carol': 3})
    encrypt_store(path)
    result = refresh_store(emulator, path, refresh_before=30, secrets=[('default', VAULT[0][1])])
    assert result['refreshed'] == ['carol']
    with open(path, 'rb') as handle:
        assert handle.read().startswith(b'$ANSIBLE_VAULT;1.2;AES256;prod\n')


# -- a refresh token given ------------------------------------------------------------------


def test_a_refresh_token_without_a_store_returns_the_new_pair(world):
    emulator = world()
    result = run(emulator, grant='refresh_token', refresh_token=refresh('carol'))
    assert result['_ansible_no_log'] is True and result['refreshed'] == ['carol'] and result['username'] == 'carol'
    assert api_log(emulator) == ['POST /oauth2/access_token 200', 'GET /api/2/accounts/profile/ 200']
    assert profile_status(emulator, result['access_token']) == 200 and profile_status(emulator, access('carol')) == 401


def test_a_refresh_token_the_store_holds_needs_no_profile_read(world, store):
    emulator = world()
    path = store()
    result = run(emulator, grant='refresh_token', refresh_token=refresh('bob'), store=path)
    assert result['refreshed'] == ['bob'] and result['username'] == 'bob' and result['api_requests'] == 1
    assert read_store(path)['bob']['refresh_token'] != refresh('bob')
    assert read_store(path)['alice']['refresh_token'] == refresh('alice')
    assert '_ansible_no_log' not in result and 'access_token' not in result


def test_a_lost_answer_to_a_refresh_token_without_a_store_is_unknown(world):
    emulator = world()
    emulator.admin.faults({'method': 'POST', 'path': '/oauth2/access_token', 'status': 502})
    result = run(emulator, grant='refresh_token', refresh_token=refresh('carol'))
    assert result['failed'] is True and result['failed_items'][0]['error_code'] == 'outcome_unknown'
    assert 'access_token' not in result
    assert_no_secret(result)


# -- options and secrets ----------------------------------------------------------------


def test_the_group_token_options_from_module_defaults_are_ignored_and_masked(world, store):
    emulator = world()
    path = store()
    result = refresh_store(emulator, path, token='sEcReT-group-token', token_type='bearer', refresh_before=1)
    assert 'failed' not in result and result['changed'] is False
    assert_no_secret(result, 'sEcReT-group-token')


@pytest.mark.parametrize(
    'args, fragment',
    [
        (dict(grant='authorization_code', redirect_uri=REDIRECT), 'missing: code'),
        (dict(grant='refresh_token'), 'refresh_token, store'),
        (dict(grant='refresh_token', refresh_before=3, refresh_token=CODE), 'mutually exclusive'),
        (dict(grant='refresh_token', refresh_token=CODE, code=CODE), 'mutually exclusive'),
        (
            dict(grant='authorization_code', code=CODE, redirect_uri=REDIRECT, refresh_before=3, store='/tmp/x'),
            'refresh_before is only',
        ),
        (dict(grant='refresh_token', store='/tmp/x', refresh_before=-1), 'refresh_before must be'),
        (
            dict(grant='refresh_token', refresh_token=CODE, colour='red'),
            'Unsupported parameters for (existio.exist.token) module: colour',
        ),
        (dict(grant='refresh_token', refresh_token=[CODE]), 'refresh_token must be a string, got a list'),
        (dict(grant='refresh_token', refresh_token=CODE, timeout=0), 'timeout must be a whole number'),
        (dict(grant='refresh_token', refresh_token=CODE, api_url='http://exist.io'), 'plain http://'),
        (dict(grant='refresh_token', refresh_token=CODE, ca_path='/nonexistent/ca.pem'), 'not a readable CA bundle'),
    ],
)
def test_bad_options_fail_before_any_request_and_mask_the_secrets(world, args, fragment):
    emulator = world()
    result = run(emulator, **args)
    assert result['failed'] is True and fragment in result['msg']
    assert api_log(emulator) == []
    assert_no_secret(result)


def test_a_refresh_of_a_missing_store_fails_before_any_request(world, tmp_path):
    emulator = world()
    result = refresh_store(emulator, str(tmp_path / 'nope.yml'))
    assert result['failed'] is True and 'no token store there' in result['msg'] and api_log(emulator) == []


def test_secrets_echoed_by_exist_are_masked_everywhere(world, store):
    # A proxy page that quotes the form: the client secret and the refresh token never reach the result.
    emulator = world()
    path = store()
    body = 'bad request: client_secret=%s refresh_token=%s' % (CLIENT_SECRET, refresh('alice'))
    emulator.admin.faults({'method': 'POST', 'path': '/oauth2/access_token', 'status': 400, 'raw_body': body})
    result = refresh_store(emulator, path)
    assert result['failed_items'][0]['error_code'] == 'refresh_failed' and 'bad request' in result['msg']
    assert_no_secret(result)


def test_the_module_alone_fails_clearly_without_its_action_plugin(monkeypatch):
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    captured = {}

    def fail_json(self, **kwargs):
        captured.update(kwargs)
        raise SystemExit(1)

    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    args = dict(grant='refresh_token', refresh_token=CODE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            token_module.main()
    assert 'runs in the controller through its action plugin' in captured['msg']


def test_the_store_format_is_what_the_inventory_reads(world, store):
    emulator = world(codes=[(CODE, 'alice')])
    exchange(emulator, store=store.path)
    with open(store.path) as handle:
        data = yaml.safe_load(handle)
    assert sorted(data['alice']) == ['access_token', 'expires_at', 'refresh_token', 'scope', 'username']
    expires = datetime.datetime.strptime(data['alice']['expires_at'], '%Y-%m-%dT%H:%M:%SZ')
    assert 364 <= (expires.replace(tzinfo=datetime.timezone.utc) - now()).days <= 366


def test_each_warning_is_given_once_however_many_clients_say_it():
    from ansible_collections.existio.exist.plugins.plugin_utils._oauth import Run

    warnings = []
    params = dict(
        grant='refresh_token',
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        store=None,
        refresh_token=None,
        code=None,
        redirect_uri=None,
        refresh_before=None,
        api_url='https://exist.example',
        validate_certs=False,
        ca_path=None,
        use_proxy=False,
        timeout=30,
        retries=0,
        rate_limit_wait=60,
        http_agent=None,
    )
    run = Run(params, warn=warnings.append)
    run.client()
    run.client(access_token=access('alice'))
    assert len(warnings) == 1 and 'validate_certs=false' in warnings[0]
