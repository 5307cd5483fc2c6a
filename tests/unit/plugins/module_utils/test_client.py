# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTP client at the HTTP boundary: requests' transport is replaced by `responses`."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from ansible_collections.existio.exist.plugins.module_utils import _transport
from ansible_collections.existio.exist.plugins.module_utils._client import (
    MAX_ITEMS_PER_REQUEST,
    ExistClient,
    split_batches,
)
from ansible_collections.existio.exist.plugins.module_utils._errors import (
    ExistApiError,
    ExistConfigError,
    ExistOutcomeUnknown,
    ExistRateLimited,
)
from ansible_collections.existio.exist.plugins.module_utils._option_checks import check_api_url, tls_verify
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute

BASE = 'https://exist.example'
TOKEN = 's3cr3t-t0ken-value'
OWNED = BASE + '/api/2/attributes/owned/'
ACQUIRE = BASE + '/api/2/attributes/acquire/'
A = listed_attribute('a')  # a whole attribute object, as Exist's lists give it


class Recorder:
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
    return ExistClient.connect(BASE, TOKEN, rate_limit_wait=60, warn=rec.warn, sleep=rec.sleep)


def page(results, next_url=None):
    return {'count': len(results), 'next': next_url, 'previous': None, 'results': results}


def assert_no_token(*texts):
    for text in texts:
        assert TOKEN not in str(text)


# -- configuration -----------------------------------------------------------


@pytest.mark.parametrize(
    'url',
    [
        'http://127.0.0.1:8787',
        'http://localhost:1',
        'http://[::1]:80',
        'http://127.3.4.5',
        'https://exist.io',
        'https://exist.io/',
    ],
)
def test_accepted_api_urls(url):
    assert check_api_url(url) == url.rstrip('/')


@pytest.mark.parametrize(
    'url, fragment',
    [
        ('http://exist.io', "api_url 'http://exist.io' uses plain http:// to a host that is not loopback"),
        ('http://10.0.0.1:8787', 'not loopback'),
        ('ftp://exist.io', "got 'ftp://exist.io'"),
        ('exist.io', "got 'exist.io'"),
        ('https://exist.io/?x=1', 'must not carry a query'),
        ('', 'non-empty'),
    ],
)
def test_refused_api_urls_name_the_value(url, fragment):
    with pytest.raises(ExistConfigError) as excinfo:
        ExistClient.connect(url, TOKEN)
    assert fragment in excinfo.value.message


@pytest.mark.parametrize('token', ['', '   ', 'two words', 'tab\there', 'line\nbreak'])
def test_bad_tokens_are_refused_without_echo(token):
    with pytest.raises(ExistConfigError) as excinfo:
        ExistClient.connect(BASE, token)
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
    responses.add(
        responses.GET,
        OWNED,
        json=page([A], 'http://internal:9000/api/2/attributes/owned/?limit=100&page=2'),
    )
    responses.add(
        responses.GET, OWNED, json=page([listed_attribute('b')], BASE + '/api/2/attributes/owned/?limit=100&page=3')
    )
    responses.add(responses.GET, OWNED, json=page([listed_attribute('c')]))
    assert [a['name'] for a in client.list_owned()] == ['a', 'b', 'c']
    urls = [call.request.url for call in responses.calls]
    assert urls == [OWNED + '?limit=100', OWNED + '?limit=100&page=2', OWNED + '?limit=100&page=3']


@responses.activate
def test_paging_under_a_base_path(rec):
    base = 'https://proxy.example/exist'
    client = ExistClient.connect(base, TOKEN, warn=rec.warn, sleep=rec.sleep)
    url = base + '/api/2/attributes/'
    responses.add(responses.GET, url, json=page([A], url + '?page=2&limit=100'))
    responses.add(responses.GET, url, json=page([listed_attribute('b')]))
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
    responses.add(
        responses.POST,
        ACQUIRE,
        status=202,
        json={
            'success': [{'name': 'mood', 'manual': False}],
            'failed': [{'template': 'nope', 'error_code': 'not_found', 'error': 'Template not found'}],
        },
    )
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
    assert (error.status, error.method, error.path, error.detail) == (
        401,
        'GET',
        '/api/2/attributes/owned/',
        'Invalid token.',
    )
    assert error.message == (
        'GET /api/2/attributes/owned/: Exist answered 401 (the token is invalid, expired or revoked): Invalid token.'
    )


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
    assert_no_token(
        excinfo.value.message, excinfo.value.detail, unknown.value.message, unknown.value.detail, *rec.warnings
    )


# -- hostile servers: every wait and every request is bounded ----------------


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
def test_a_next_link_that_loops_is_an_error(client):
    responses.add(responses.GET, OWNED, json=page([A], OWNED + '?page=2'))
    responses.add(responses.GET, OWNED, json=page([listed_attribute('b')], OWNED + '?page=2'))
    with pytest.raises(ExistApiError, match='same "next" page twice'):
        list(client.list_owned())
    assert len(responses.calls) == 2


@pytest.mark.parametrize(
    'option, value',
    [('timeout', 0), ('timeout', 10**10), ('timeout', True), ('rate_limit_wait', -1), ('rate_limit_wait', 3601)],
)
def test_numeric_options_are_bounded_before_any_request(option, value):
    with pytest.raises(ExistConfigError) as excinfo:
        ExistClient.connect(BASE, TOKEN, **{option: value})
    assert excinfo.value.message.startswith('%s must be a whole number of seconds from' % option)
    assert repr(value) in excinfo.value.message


@pytest.mark.parametrize('option', ['timeout', 'retries', 'rate_limit_wait'])
@pytest.mark.parametrize(
    'value',
    [10**5000, -(10**5000), '1' * 5000, '²', '٣'],
    ids=['huge', 'huge-negative', 'long-text', 'sup2', 'arabic3'],
)
def test_a_number_option_of_any_size_or_script_fails_naming_it_shortened(option, value):
    with pytest.raises(ExistConfigError) as excinfo:
        ExistClient.connect(BASE, TOKEN, **{option: value})
    assert excinfo.value.message.startswith('%s must be a whole number of ' % option)
    assert len(excinfo.value.message) < 200


@pytest.mark.parametrize('url', ['https://exist.io/api/2', 'https://exist.io/api/2/', 'https://exist.io/api/2//'])
def test_api_url_may_end_in_the_api_prefix(url):
    assert check_api_url(url) == 'https://exist.io'


def test_api_url_with_a_bad_port_names_the_value():
    with pytest.raises(ExistConfigError, match="api_url 'https://exist.io:99999' is not a valid URL"):
        check_api_url('https://exist.io:99999')


# -- hostile servers: every answer is checked for shape ----------------------


@responses.activate
@pytest.mark.parametrize(
    'body, fragment',
    [
        ({}, "no 'success' list"),
        ({'success': [], 'failed': None}, "no 'failed' list"),
        ({'success': 'mood', 'failed': []}, "no 'success' list (got \"mood\")"),
        ({'success': [], 'failed': ['mood']}, 'failed[0] that is not an object ("mood")'),
        ([], 'a body that is not an object ([])'),
    ],
)
def test_a_malformed_2xx_write_answer_is_an_unknown_outcome_naming_the_endpoint(client, body, fragment):
    responses.add(responses.POST, ACQUIRE, json=body)
    with pytest.raises(ExistOutcomeUnknown) as excinfo:
        client.acquire([{'name': 'a'}])
    assert excinfo.value.message.startswith('POST /api/2/attributes/acquire/: Exist answered 200 with ')
    assert fragment in excinfo.value.message and excinfo.value.may_be_applied


@responses.activate
def test_an_html_2xx_write_answer_is_an_unknown_outcome_not_a_refusal(client):
    responses.add(
        responses.POST, ACQUIRE, body='<html><body>Proxy says hi</body></html>', status=200, content_type='text/html'
    )
    with pytest.raises(ExistOutcomeUnknown, match='answered 200 with a body that is not JSON'):
        client.acquire([{'name': 'a'}])


@responses.activate
@pytest.mark.parametrize(
    'result, fragment',
    [
        ('mood', 'results[0] is "mood", not an object'),
        ({'label': 'Mood'}, "results[0] has no 'name' (got null)"),
        ({'name': 7}, "results[0] has no 'name' (got 7)"),
        ({'name': 'mood', 'manual': 'yes'}, "results[0] 'manual' is \"yes\", expected true or false"),
        ({'name': 'mood', 'service': ['x']}, "results[0] 'service' is [\"x\"]"),
        ({'name': 'mood', 'group': 3}, "results[0] 'group' is 3"),
        ({'name': 'mood', 'available_services': 'x'}, "'available_services' is \"x\", expected a list"),
        # A list's objects are whole: the plan decides by label, group, value type and manual.
        ({'name': 'mood', 'values': 'none'}, "results[0] has no 'label' (got null)"),
        (listed_attribute('mood', label=''), "results[0] has no 'label' (got \"\")"),
        (listed_attribute('mood', group=None), "results[0] has no 'group'"),
        (listed_attribute('mood', value_type='0'), "results[0] 'value_type' is \"0\", expected an integer"),
        (listed_attribute('mood', value_type=True), "results[0] 'value_type' is true, expected an integer"),
        (listed_attribute('mood', manual=None), "results[0] 'manual' is null, expected true or false"),
    ],
)
def test_a_malformed_attribute_in_a_list_is_an_error_naming_the_endpoint(client, result, fragment):
    responses.add(responses.GET, OWNED, json=page([result]))
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    assert excinfo.value.message.startswith('GET /api/2/attributes/owned/ answered a malformed item: ')
    assert fragment in excinfo.value.message


@responses.activate
def test_results_that_are_not_a_list_is_an_error(client):
    responses.add(responses.GET, OWNED, json={'results': A, 'next': None})
    with pytest.raises(ExistApiError, match='not a page of results'):
        list(client.list_owned())


@responses.activate
def test_a_body_too_large_is_refused_without_reading_it_all(client, monkeypatch):
    monkeypatch.setattr(_transport, 'MAX_BODY_BYTES', 1000)
    responses.add(responses.POST, ACQUIRE, body='x' * 5000)
    with pytest.raises(ExistOutcomeUnknown, match='larger than 1000 bytes'):
        client.acquire([{'name': 'a'}])


# -- transport failures name the host and the cause --------------------------


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
def test_a_next_link_to_another_endpoint_is_not_followed(client):
    responses.add(responses.GET, OWNED, json=page([A], BASE + '/api/2/attributes/acquire/?page=2'))
    with pytest.raises(ExistApiError, match="answered a 'next' for another endpoint"):
        list(client.list_owned())
    assert len(responses.calls) == 1


@responses.activate
def test_a_body_nested_too_deeply_is_not_json_not_a_crash(client):
    responses.add(responses.POST, ACQUIRE, body='[' * 100000 + ']' * 100000)
    with pytest.raises(ExistOutcomeUnknown, match='a body that is not JSON'):
        client.acquire([{'name': 'a'}])


@pytest.mark.parametrize('token', ['Bearer ' + TOKEN, 'token ' + TOKEN])
def test_a_token_with_its_header_prefix_says_so_without_echo(token):
    with pytest.raises(ExistConfigError) as excinfo:
        ExistClient.connect(BASE, token)
    assert "without the 'Bearer ' or 'Token ' prefix" in excinfo.value.message
    assert TOKEN not in excinfo.value.message


# -- transport: netrc, token kinds, CA bundles, proxies, retries, agent ---------


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


def test_an_unknown_token_type_is_refused():
    with pytest.raises(ExistConfigError, match="token_type must be one of bearer, token, got 'basic'"):
        ExistClient.connect(BASE, TOKEN, token_type='basic')


@pytest.mark.parametrize(
    'environ, ca_path, expected',
    [
        ({}, None, True),
        ({'REQUESTS_CA_BUNDLE': '{a}'}, None, '{a}'),
        ({'SSL_CERT_FILE': '{b}'}, None, '{b}'),
        ({'REQUESTS_CA_BUNDLE': '{a}', 'SSL_CERT_FILE': '{b}'}, None, '{a}'),
        ({'REQUESTS_CA_BUNDLE': '{a}', 'SSL_CERT_FILE': '{b}'}, '{c}', '{c}'),
    ],
)
def test_which_ca_bundle_wins(tmp_path, environ, ca_path, expected):
    files = {}
    for key in 'abc':
        files[key] = str(tmp_path / ('%s.pem' % key))
        open(files[key], 'w').close()
    environ = dict((k, v.format(**files)) for k, v in environ.items())
    ca_path = ca_path.format(**files) if ca_path else None
    expected = expected.format(**files) if isinstance(expected, str) else expected
    assert tls_verify(True, ca_path, environ) == expected
    assert tls_verify(False, ca_path, environ) is False


@pytest.mark.parametrize(
    'environ, ca_path, fragment',
    [
        ({}, '/nonexistent/ca.pem', "ca_path '/nonexistent/ca.pem' is not a readable CA bundle file"),
        (
            {'REQUESTS_CA_BUNDLE': '/nonexistent/x.pem'},
            None,
            "REQUESTS_CA_BUNDLE '/nonexistent/x.pem' is not a readable",
        ),
    ],
)
def test_an_unreadable_ca_bundle_fails_before_any_request(environ, ca_path, fragment):
    with pytest.raises(ExistConfigError, match=fragment.replace('(', r'\(')):
        tls_verify(True, ca_path, environ)


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


@responses.activate
@pytest.mark.parametrize('retries', [0, 1, 5])
def test_retries_bound_the_read_retries(rec, retries):
    client = ExistClient.connect(BASE, TOKEN, retries=retries, warn=rec.warn, sleep=rec.sleep)
    for dummy in range(retries + 2):
        responses.add(responses.GET, OWNED, status=503)
    with pytest.raises(ExistApiError):
        list(client.list_owned())
    assert len(responses.calls) == retries + 1


def test_retries_are_bounded():
    with pytest.raises(ExistConfigError, match='retries must be a whole number of retries from 0 to 10, got 11'):
        ExistClient.connect(BASE, TOKEN, retries=11)


@responses.activate
def test_http_agent_is_sent(rec):
    responses.add(responses.GET, OWNED, json=page([]))
    client = ExistClient.connect(BASE, TOKEN, http_agent='my-pipeline/2.0', warn=rec.warn, sleep=rec.sleep)
    list(client.list_owned())
    assert responses.calls[0].request.headers['User-Agent'] == 'my-pipeline/2.0'


def test_validate_certs_false_warns_once_for_https(rec):
    ExistClient.connect(BASE, TOKEN, validate_certs=False, warn=rec.warn, sleep=rec.sleep)
    assert len(rec.warnings) == 1 and 'validate_certs=false' in rec.warnings[0] and 'exist.example' in rec.warnings[0]
    assert TOKEN not in rec.warnings[0]


@responses.activate
def test_malformed_bodies_that_echo_the_token_are_redacted(client):
    responses.add(responses.GET, OWNED, json={'results': 'token ' + TOKEN})
    with pytest.raises(ExistApiError) as listing:
        list(client.list_owned())
    responses.add(responses.POST, ACQUIRE, json={'success': TOKEN, 'failed': []})
    with pytest.raises(ExistOutcomeUnknown) as writing:
        client.acquire([{'name': 'a'}])
    assert_no_token(listing.value.message, writing.value.message)
    assert '********' in listing.value.message and '********' in writing.value.message
