# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTP client at the HTTP boundary: requests' transport is replaced by `responses`."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from ansible_collections.existio.exist.plugins.module_utils._client import (
    MAX_ITEMS_PER_REQUEST,
    ExistApiError,
    ExistClient,
    ExistConfigError,
    ExistOutcomeUnknown,
    ExistRateLimited,
    check_api_url,
    split_batches,
)

BASE = 'https://exist.example'
TOKEN = 's3cr3t-t0ken-value'
OWNED = BASE + '/api/2/attributes/owned/'
ACQUIRE = BASE + '/api/2/attributes/acquire/'


class Recorder(object):
    def __init__(self):
        self.warnings = []
        self.sleeps = []

    def warn(self, message):
        self.warnings.append(message)

    def sleep(self, seconds):
        self.sleeps.append(seconds)


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def client(rec):
    return ExistClient(BASE, TOKEN, rate_limit_wait=60, warn=rec.warn, sleep=rec.sleep)


def page(results, next_url=None):
    return {'count': len(results), 'next': next_url, 'previous': None, 'results': results}


def assert_no_token(*texts):
    for text in texts:
        assert TOKEN not in str(text)


# -- configuration -----------------------------------------------------------

@pytest.mark.parametrize('url', ['http://127.0.0.1:8787', 'http://localhost:1', 'http://[::1]:80', 'http://127.3.4.5',
                                 'https://exist.io', 'https://exist.io/'])
def test_accepted_api_urls(url):
    assert check_api_url(url) == url.rstrip('/')


@pytest.mark.parametrize('url, fragment', [
    ('http://exist.io', "api_url 'http://exist.io' uses plain http:// to a host that is not loopback"),
    ('http://10.0.0.1:8787', 'not loopback'),
    ('ftp://exist.io', "got 'ftp://exist.io'"),
    ('exist.io', "got 'exist.io'"),
    ('https://exist.io/?x=1', 'must not carry a query'),
    ('', 'non-empty'),
])
def test_refused_api_urls_name_the_value(url, fragment):
    with pytest.raises(ExistConfigError) as excinfo:
        ExistClient(url, TOKEN)
    assert fragment in excinfo.value.message


@pytest.mark.parametrize('token', ['', '   ', 'two words', 'tab\there', 'line\nbreak'])
def test_bad_tokens_are_refused_without_echo(token):
    with pytest.raises(ExistConfigError) as excinfo:
        ExistClient(BASE, token)
    assert 'token' in excinfo.value.message
    if token.strip():
        assert token not in excinfo.value.message


@responses.activate
def test_sends_bearer_token_json_and_user_agent(client):
    responses.add(responses.GET, BASE + '/api/2/accounts/profile/', json={'username': 'demo'})
    assert client.get('/api/2/accounts/profile/') == {'username': 'demo'}
    sent = responses.calls[0].request
    assert sent.headers['Authorization'] == 'Bearer ' + TOKEN
    assert sent.headers['Accept'] == 'application/json'
    assert sent.headers['User-Agent'].startswith('existio.exist/')


# -- paging ------------------------------------------------------------------

@responses.activate
def test_paging_follows_every_next_with_limit_100_on_the_configured_host(client):
    responses.add(responses.GET, OWNED, json=page([{'name': 'a'}], 'http://internal:9000/api/2/attributes/owned/?limit=100&page=2'))
    responses.add(responses.GET, OWNED, json=page([{'name': 'b'}], BASE + '/api/2/attributes/owned/?limit=100&page=3'))
    responses.add(responses.GET, OWNED, json=page([{'name': 'c'}]))
    assert [a['name'] for a in client.list_owned()] == ['a', 'b', 'c']
    urls = [call.request.url for call in responses.calls]
    assert urls == [OWNED + '?limit=100', OWNED + '?limit=100&page=2', OWNED + '?limit=100&page=3']


@responses.activate
def test_paging_under_a_base_path(rec):
    base = 'https://proxy.example/exist'
    client = ExistClient(base, TOKEN, warn=rec.warn, sleep=rec.sleep)
    url = base + '/api/2/attributes/'
    responses.add(responses.GET, url, json=page([{'name': 'a'}], url + '?page=2&limit=100'))
    responses.add(responses.GET, url, json=page([{'name': 'b'}]))
    assert [a['name'] for a in client.list_attributes({'groups': 'mood'})] == ['a', 'b']
    assert responses.calls[0].request.url == url + '?groups=mood&limit=100'
    assert responses.calls[1].request.url == url + '?page=2&limit=100'


@responses.activate
def test_a_page_that_is_not_a_page_is_an_error(client):
    responses.add(responses.GET, OWNED, json=['not', 'a', 'page'])
    with pytest.raises(ExistApiError, match='not a page of results'):
        list(client.list_owned())


@responses.activate
def test_page_past_the_end_404_is_an_error_with_status(client):
    responses.add(responses.GET, OWNED, status=404, json={'detail': 'Invalid page.'})
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    assert excinfo.value.status == 404 and 'Invalid page.' in excinfo.value.message


# -- batching ----------------------------------------------------------------

def test_split_batches_by_35():
    items = [{'name': 'a%d' % i} for i in range(71)]
    assert [len(batch) for batch in split_batches(items)] == [35, 35, 1]
    assert split_batches([]) == []
    assert MAX_ITEMS_PER_REQUEST == 35


def test_post_batch_refuses_more_than_35(client):
    with pytest.raises(ValueError, match='at most 35 items'):
        client.post_batch('/api/2/attributes/acquire/', [{'name': 'x'}] * 36)


@responses.activate
def test_acquire_sends_json_array_and_asks_for_success_objects(client):
    responses.add(responses.POST, ACQUIRE, status=202, json={
        'success': [{'name': 'mood', 'manual': False}],
        'failed': [{'template': 'nope', 'error_code': 'not_found', 'error': 'Template not found'}]})
    result = client.acquire([{'template': 'mood'}, {'template': 'nope'}])
    assert result.status == 202
    assert result.success == [{'name': 'mood', 'manual': False}]
    assert result.failed[0]['error_code'] == 'not_found'
    sent = responses.calls[0].request
    assert json.loads(sent.body) == [{'template': 'mood'}, {'template': 'nope'}]
    assert sent.headers['Content-Type'] == 'application/json'
    assert 'success_objects=1' in sent.url


# -- retries -----------------------------------------------------------------

@responses.activate
def test_429_waits_for_retry_after_then_succeeds(client, rec):
    responses.add(responses.GET, OWNED, status=429, headers={'Retry-After': '2'}, json={'detail': 'Slow down'})
    responses.add(responses.GET, OWNED, json=page([{'name': 'a'}]))
    assert [a['name'] for a in client.list_owned()] == ['a']
    assert rec.sleeps == [2.0]
    assert len(rec.warnings) == 1 and 'rate-limited' in rec.warnings[0] and '2.0 s' in rec.warnings[0]


@responses.activate
def test_429_without_retry_after_backs_off(client, rec):
    responses.add(responses.POST, ACQUIRE, status=429)
    responses.add(responses.POST, ACQUIRE, status=429)
    responses.add(responses.POST, ACQUIRE, json={'success': [{'name': 'a'}], 'failed': []})
    result = client.acquire([{'name': 'a'}])
    assert result.success == [{'name': 'a'}]
    assert rec.sleeps == [1.0, 2.0]
    assert len(responses.calls) == 3


@responses.activate
def test_429_longer_than_rate_limit_wait_fails_saying_rate_limited(client, rec):
    responses.add(responses.GET, OWNED, status=429, headers={'Retry-After': '3600'}, json={'detail': 'Too many'})
    with pytest.raises(ExistRateLimited) as excinfo:
        list(client.list_owned())
    message = excinfo.value.message
    assert 'rate-limited' in message and 'rate_limit_wait=60' in message and '3600' in message
    assert excinfo.value.status == 429
    assert rec.sleeps == []


@responses.activate
def test_429_waits_add_up_against_rate_limit_wait(rec):
    client = ExistClient(BASE, TOKEN, rate_limit_wait=5, warn=rec.warn, sleep=rec.sleep)
    for dummy in range(3):
        responses.add(responses.GET, OWNED, status=429, headers={'Retry-After': '2'})
    with pytest.raises(ExistRateLimited):
        list(client.list_owned())
    assert rec.sleeps == [2.0, 2.0]


@responses.activate
def test_get_5xx_is_retried_with_backoff(client, rec):
    responses.add(responses.GET, OWNED, status=503)
    responses.add(responses.GET, OWNED, status=500)
    responses.add(responses.GET, OWNED, json=page([{'name': 'a'}]))
    assert [a['name'] for a in client.list_owned()] == ['a']
    assert rec.sleeps == [0.5, 1.0]
    assert len(rec.warnings) == 2 and 'answered 503; retrying' in rec.warnings[0]


@responses.activate
def test_get_5xx_gives_up_after_three_retries(client, rec):
    for dummy in range(4):
        responses.add(responses.GET, OWNED, status=502, json={'detail': 'Bad gateway'})
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    assert excinfo.value.status == 502 and 'Bad gateway' in excinfo.value.message
    assert len(responses.calls) == 4 and len(rec.warnings) == 3


@responses.activate
def test_get_connection_error_is_retried(client, rec):
    responses.add(responses.GET, OWNED, body=requests.exceptions.ConnectionError('boom'))
    responses.add(responses.GET, OWNED, json=page([]))
    assert list(client.list_owned()) == []
    assert len(rec.warnings) == 1 and 'connection failed' in rec.warnings[0]


@responses.activate
def test_get_connection_errors_give_up(client):
    for dummy in range(4):
        responses.add(responses.GET, OWNED, body=requests.exceptions.ConnectionError('boom'))
    with pytest.raises(ExistApiError, match='after 3 retries'):
        list(client.list_owned())


@responses.activate
def test_post_5xx_is_an_unknown_outcome_and_not_retried(client):
    responses.add(responses.POST, ACQUIRE, status=500, json={'detail': 'oops'})
    with pytest.raises(ExistOutcomeUnknown) as excinfo:
        client.acquire([{'name': 'a'}])
    assert 'Exist answered 500; whether Exist applied the write is unknown' in excinfo.value.message
    assert len(responses.calls) == 1


@responses.activate
def test_post_dropped_connection_is_an_unknown_outcome(client):
    responses.add(responses.POST, ACQUIRE, body=requests.exceptions.ConnectionError('reset by peer'))
    with pytest.raises(ExistOutcomeUnknown, match='connection failed'):
        client.acquire([{'name': 'a'}])
    assert len(responses.calls) == 1


@responses.activate
def test_post_read_timeout_is_an_unknown_outcome(client):
    responses.add(responses.POST, ACQUIRE, body=requests.exceptions.ReadTimeout('slow'))
    with pytest.raises(ExistOutcomeUnknown, match='timed out'):
        client.acquire([{'name': 'a'}])


@responses.activate
def test_post_connect_timeout_was_never_sent_so_it_is_retried(client, rec):
    responses.add(responses.POST, ACQUIRE, body=requests.exceptions.ConnectTimeout('no route'))
    responses.add(responses.POST, ACQUIRE, json={'success': [{'name': 'a'}], 'failed': []})
    assert client.acquire([{'name': 'a'}]).success == [{'name': 'a'}]
    assert len(rec.warnings) == 1


# -- error mapping -----------------------------------------------------------

@responses.activate
def test_401_maps_to_error_with_status_method_path_and_detail(client):
    responses.add(responses.GET, OWNED, status=401, json={'detail': 'Invalid token.'})
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    error = excinfo.value
    assert (error.status, error.method, error.path, error.detail) == (401, 'GET', '/api/2/attributes/owned/', 'Invalid token.')
    assert error.message == ('GET /api/2/attributes/owned/: Exist answered 401 (the token is invalid, expired or revoked): '
                             'Invalid token.')


@responses.activate
def test_403_explains_read_only_tokens(client):
    responses.add(responses.POST, ACQUIRE, status=403, json={'detail': 'Read-only token'})
    with pytest.raises(ExistApiError) as excinfo:
        client.acquire([{'name': 'a'}])
    assert excinfo.value.status == 403 and 'simple tokens are read-only' in excinfo.value.message


@responses.activate
def test_body_that_is_not_json_is_an_error(client):
    responses.add(responses.GET, BASE + '/api/2/accounts/profile/', body='<html>', status=200)
    with pytest.raises(ExistApiError, match='not JSON'):
        client.get('/api/2/accounts/profile/')


@responses.activate
def test_token_appears_in_no_message_or_warning(client, rec):
    # A misbehaving server that echoes the token must not make us repeat it.
    responses.add(responses.GET, OWNED, status=503, json={'detail': 'bad token ' + TOKEN})
    responses.add(responses.GET, OWNED, status=429, json={'detail': TOKEN})
    responses.add(responses.GET, OWNED, status=400, json={'detail': 'Bearer ' + TOKEN})
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    responses.add(responses.POST, ACQUIRE, status=500, body='token=' + TOKEN)
    with pytest.raises(ExistOutcomeUnknown) as unknown:
        client.acquire([{'name': 'a'}])
    assert '********' in excinfo.value.message
    assert_no_token(excinfo.value.message, excinfo.value.detail, unknown.value.message, unknown.value.detail,
                    *rec.warnings)
