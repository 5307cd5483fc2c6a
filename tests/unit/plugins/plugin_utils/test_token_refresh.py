# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Refreshing a store's pairs when the answer is lost (_token_refresh.py): the entry marked, settled by the next run,
through existio.exist.token against the emulator (harness: token_task.py)."""

from __future__ import annotations

import re
import time

import pytest

from ansible_collections.existio.exist.plugins.plugin_utils._token_store import format_expires_at
from ansible_collections.existio.exist.tests.unit.plugins.token_task import (
    CLIENT_SECRET,
    CODE,
    REDIRECT,
    USERS,
    FailingSaves,
    access,
    api_log,
    assert_no_secret,
    exchange,
    now,
    profile_status,
    read_store,
    refresh,
    refresh_store,
    store_entries,
)

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
