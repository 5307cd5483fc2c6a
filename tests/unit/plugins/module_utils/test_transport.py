# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The transport (_transport.py) at the HTTP boundary, through the client: requests' transport is replaced by
`responses`.

What is sent (token scheme, agent, no netrc), the retries and the waits of a 429, the request cap, the
mapping of errors, the bounds on a body, and that no message repeats the token. Against a real TLS server:
test_client_tls.py.
"""

from __future__ import annotations

import pytest
import requests
import responses

from ansible_collections.existio.exist.plugins.module_utils import _transport
from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._errors import (
    ExistApiError,
    ExistOutcomeUnknown,
    ExistRateLimited,
)
from ansible_collections.existio.exist.plugins.module_utils._remedies import TaskUser
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import (
    ACQUIRE,
    BASE,
    OWNED,
    TOKEN,
    A,
    assert_no_token,
    page,
)


@responses.activate
def test_sends_bearer_token_json_and_user_agent(client):
    responses.add(responses.GET, BASE + '/api/2/accounts/profile/', json={'username': 'demo'})
    assert client.get('/api/2/accounts/profile/') == {'username': 'demo'}
    sent = responses.calls[0].request
    assert sent.headers['Authorization'] == 'Bearer ' + TOKEN
    assert sent.headers['Accept'] == 'application/json'
    assert sent.headers['User-Agent'].startswith('existio.exist/')


@responses.activate
def test_a_netrc_entry_for_the_host_never_replaces_the_token(tmp_path, monkeypatch, rec):
    netrc = tmp_path / '.netrc'
    netrc.write_text('machine exist.example login someone password hunter2\n')
    netrc.chmod(0o600)
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('NETRC', str(netrc))
    responses.add(responses.GET, OWNED, json=page([]))
    client = ExistClient.connect(BASE, TOKEN, warn=rec.warn, sleep=rec.sleep)
    list(client.list_owned())
    assert responses.calls[0].request.headers['Authorization'] == 'Bearer ' + TOKEN


@responses.activate
def test_a_simple_token_is_sent_with_the_token_scheme(rec):
    responses.add(responses.GET, OWNED, json=page([]))
    client = ExistClient.connect(BASE, TOKEN, token_type='token', warn=rec.warn, sleep=rec.sleep)
    list(client.list_owned())
    assert responses.calls[0].request.headers['Authorization'] == 'Token ' + TOKEN


@responses.activate
def test_http_agent_is_sent(rec):
    responses.add(responses.GET, OWNED, json=page([]))
    client = ExistClient.connect(BASE, TOKEN, http_agent='my-pipeline/2.0', warn=rec.warn, sleep=rec.sleep)
    list(client.list_owned())
    assert responses.calls[0].request.headers['User-Agent'] == 'my-pipeline/2.0'


def test_use_proxy_false_ignores_the_proxy_variables(monkeypatch, rec):
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy.invalid:3128')
    monkeypatch.delenv('NO_PROXY', raising=False)
    monkeypatch.delenv('no_proxy', raising=False)
    with_proxy = ExistClient.connect(BASE, TOKEN, warn=rec.warn, sleep=rec.sleep)
    without = ExistClient.connect(BASE, TOKEN, use_proxy=False, warn=rec.warn, sleep=rec.sleep)
    # What requests itself decides for the next request to Exist.
    assert with_proxy._session.merge_environment_settings(OWNED, {}, None, None, None)['proxies'] == {
        'https': 'http://proxy.invalid:3128'
    }
    assert without._session.merge_environment_settings(OWNED, {}, None, None, None)['proxies'] == {}


def test_validate_certs_false_warns_once_for_https(rec):
    ExistClient.connect(BASE, TOKEN, validate_certs=False, warn=rec.warn, sleep=rec.sleep)
    assert len(rec.warnings) == 1 and 'validate_certs=false' in rec.warnings[0] and 'exist.example' in rec.warnings[0]
    assert TOKEN not in rec.warnings[0]


@responses.activate
def test_429_waits_for_retry_after_then_succeeds(client, rec):
    responses.add(responses.GET, OWNED, status=429, headers={'Retry-After': '2'}, json={'detail': 'Slow down'})
    responses.add(responses.GET, OWNED, json=page([A]))
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
    assert 'raise rate_limit_wait, or run the task later' in message
    assert excinfo.value.status == 429
    assert rec.sleeps == []


@responses.activate
def test_429_waits_add_up_against_rate_limit_wait(rec):
    client = ExistClient.connect(BASE, TOKEN, rate_limit_wait=5, warn=rec.warn, sleep=rec.sleep)
    for dummy in range(3):
        responses.add(responses.GET, OWNED, status=429, headers={'Retry-After': '2'})
    with pytest.raises(ExistRateLimited):
        list(client.list_owned())
    assert rec.sleeps == [2.0, 2.0]


@responses.activate
@pytest.mark.parametrize('retry_after', ['0', '-5', 'nan', 'Thu, 01 Jan 1970 00:00:00 GMT', 'soon', ''])
def test_429_with_a_zero_or_past_retry_after_still_backs_off_and_ends(rec, retry_after):
    client = ExistClient.connect(BASE, TOKEN, rate_limit_wait=60, warn=rec.warn, sleep=rec.sleep)
    responses.add(responses.GET, OWNED, status=429, headers={'Retry-After': retry_after})
    with pytest.raises(ExistRateLimited):
        list(client.list_owned())
    # 1 + 2 + 4 + 8 + 16 = 31 s waited; the next 30 s would pass 60.
    assert rec.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert len(responses.calls) == 6


@responses.activate
def test_rate_limit_wait_0_fails_at_the_first_429(rec):
    client = ExistClient.connect(BASE, TOKEN, rate_limit_wait=0, warn=rec.warn, sleep=rec.sleep)
    responses.add(responses.GET, OWNED, status=429, headers={'Retry-After': '0'})
    with pytest.raises(ExistRateLimited, match='rate_limit_wait=0'):
        list(client.list_owned())
    assert rec.sleeps == [] and len(responses.calls) == 1


@responses.activate
def test_429_waits_count_across_the_requests_of_a_task(rec):
    client = ExistClient.connect(BASE, TOKEN, rate_limit_wait=10, warn=rec.warn, sleep=rec.sleep)
    responses.add(responses.GET, OWNED, status=429, headers={'Retry-After': '4'})
    responses.add(responses.GET, OWNED, json=page([]))
    responses.add(responses.POST, ACQUIRE, status=429, headers={'Retry-After': '4'})
    responses.add(responses.POST, ACQUIRE, status=429, headers={'Retry-After': '4'})
    list(client.list_owned())
    with pytest.raises(ExistRateLimited):
        client.acquire([{'name': 'a'}])
    assert rec.sleeps == [4.0, 4.0]


@responses.activate
def test_get_5xx_is_retried_with_backoff(client, rec):
    responses.add(responses.GET, OWNED, status=503)
    responses.add(responses.GET, OWNED, status=500)
    responses.add(responses.GET, OWNED, json=page([A]))
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
@pytest.mark.parametrize('retries', [0, 1, 5])
def test_retries_bound_the_read_retries(rec, retries):
    client = ExistClient.connect(BASE, TOKEN, retries=retries, warn=rec.warn, sleep=rec.sleep)
    for dummy in range(retries + 2):
        responses.add(responses.GET, OWNED, status=503)
    with pytest.raises(ExistApiError):
        list(client.list_owned())
    assert len(responses.calls) == retries + 1


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


@responses.activate
def test_a_task_never_sends_more_than_the_request_cap(rec):
    client = ExistClient.connect(BASE, TOKEN, warn=rec.warn, sleep=rec.sleep, max_requests=5)
    responses.add(responses.GET, OWNED, json=page([A], OWNED + '?page=2'))
    responses.add(responses.GET, OWNED, json=page([listed_attribute('b')], OWNED + '?page=3'))
    responses.add(responses.GET, OWNED, json=page([listed_attribute('c')], OWNED + '?page=4'))
    responses.add(responses.GET, OWNED, json=page([listed_attribute('d')], OWNED + '?page=5'))
    responses.add(responses.GET, OWNED, json=page([listed_attribute('e')], OWNED + '?page=6'))
    with pytest.raises(ExistApiError, match='already sent 5 requests'):
        list(client.list_owned())
    assert len(responses.calls) == 5 and client.requests_sent == 5


@responses.activate
def test_401_maps_to_error_with_status_method_path_and_detail(client):
    responses.add(responses.GET, OWNED, status=401, json={'detail': 'Invalid token.'})
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    error = excinfo.value
    assert (error.status, error.method, error.path, error.detail) == (
        401,
        'GET',
        '/api/2/attributes/owned/',
        'Invalid token.',
    )
    assert error.message == (
        'GET /api/2/attributes/owned/: Exist answered 401 (this token was refused: wrong, expired or revoked. '
        'Refresh it with existio.exist.token (grant=refresh_token), or authorise the user again if the store '
        'marks them reauthorization_needed; a simple token needs token_type=token): Invalid token.'
    )


@responses.activate
def test_401_names_the_user_the_refresh_and_the_token_type_but_never_the_token(rec):
    responses.add(responses.GET, OWNED, status=401, json={'detail': 'Invalid token.'})
    client = ExistClient.connect(BASE, TOKEN, warn=rec.warn, sleep=rec.sleep, user=TaskUser('alice', 'user', None))
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    message = excinfo.value.message
    assert 'the token of user alice was refused' in message
    assert 'existio.exist.token (grant=refresh_token)' in message and 'reauthorization_needed' in message
    assert 'a simple token needs token_type=token' in message
    assert TOKEN not in message


@responses.activate
def test_401_of_a_simple_token_hints_that_an_oauth2_token_needs_bearer(rec):
    responses.add(responses.GET, OWNED, status=401, json={'detail': 'Invalid token.'})
    client = ExistClient.connect(
        BASE, TOKEN, token_type='token', warn=rec.warn, sleep=rec.sleep, user=TaskUser('bob', 'host', None)
    )
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    message = excinfo.value.message
    assert 'the token of host bob was refused: a simple token that is wrong or revoked' in message
    assert 'an OAuth2 token, which needs token_type=bearer' in message
    assert TOKEN not in message


@responses.activate
def test_403_explains_read_only_tokens(client):
    responses.add(responses.POST, ACQUIRE, status=403, json={'detail': 'Read-only token'})
    with pytest.raises(ExistApiError) as excinfo:
        client.acquire([{'name': 'a'}])
    assert excinfo.value.status == 403
    assert 'this token may not do this: it may lack the scope this needs; exist_token_scopes' in excinfo.value.message


@responses.activate
def test_403_of_a_simple_token_says_writes_need_an_oauth2_token(rec):
    responses.add(responses.POST, ACQUIRE, status=403, json={'detail': 'Read-only token'})
    client = ExistClient.connect(
        BASE, TOKEN, token_type='token', warn=rec.warn, sleep=rec.sleep, user=TaskUser('alice', 'user', None)
    )
    with pytest.raises(ExistApiError) as excinfo:
        client.acquire([{'name': 'a'}])
    assert 'the token of user alice is a simple token, which is read-only: writes need an OAuth2 token' in (
        excinfo.value.message
    )


@responses.activate
def test_a_body_too_large_is_refused_without_reading_it_all(client, monkeypatch):
    monkeypatch.setattr(_transport, 'MAX_BODY_BYTES', 1000)
    responses.add(responses.POST, ACQUIRE, body='x' * 5000)
    with pytest.raises(ExistOutcomeUnknown, match='larger than 1000 bytes'):
        client.acquire([{'name': 'a'}])


@responses.activate
def test_tls_failure_is_not_retried_and_names_host_and_cause(client, rec):
    responses.add(responses.GET, OWNED, body=requests.exceptions.SSLError('CERTIFICATE_VERIFY_FAILED self-signed'))
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    assert 'TLS failure talking to exist.example' in excinfo.value.message
    assert 'CERTIFICATE_VERIFY_FAILED' in excinfo.value.message
    assert len(responses.calls) == 1 and rec.sleeps == []


def test_real_connection_failures_name_host_and_cause(rec):
    # Nothing listens on port 9 of loopback: refused before anything is sent.
    client = ExistClient.connect('http://127.0.0.1:9', TOKEN, timeout=2, warn=rec.warn, sleep=rec.sleep)
    with pytest.raises(ExistApiError) as excinfo:
        client.acquire([{'name': 'a'}])
    message = excinfo.value.message
    assert 'could not connect to 127.0.0.1:9' in message and 'Connection refused' in message
    assert 'after 3 retries' in message and not excinfo.value.may_be_applied
    # Never sent, so even a write is retried.
    assert rec.sleeps == [0.5, 1.0, 2.0]


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
    assert_no_token(
        excinfo.value.message, excinfo.value.detail, unknown.value.message, unknown.value.detail, *rec.warnings
    )


@responses.activate
def test_body_that_is_not_json_is_an_error(client):
    responses.add(responses.GET, BASE + '/api/2/accounts/profile/', body='<html>', status=200)
    with pytest.raises(ExistApiError, match='not JSON'):
        client.get('/api/2/accounts/profile/')


@responses.activate
def test_a_body_nested_too_deeply_is_not_json_not_a_crash(client):
    responses.add(responses.POST, ACQUIRE, body='[' * 100000 + ']' * 100000)
    with pytest.raises(ExistOutcomeUnknown, match='a body that is not JSON'):
        client.acquire([{'name': 'a'}])
