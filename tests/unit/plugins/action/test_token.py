# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""existio.exist.token through its action plugin, against the emulator over HTTP (faults included)."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import yaml
from ansible.parsing.vault import is_encrypted

from ansible_collections.existio.exist.plugins.modules import token as token_module
from ansible_collections.existio.exist.plugins.plugin_utils import _token_store
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import TokenStore
from ansible_collections.existio.exist.tests.unit.plugins.token_task import (
    CLIENT_ID,
    CLIENT_SECRET,
    CODE,
    REDIRECT,
    USERS,
    VAULT,
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
    run,
    store_entries,
)

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
