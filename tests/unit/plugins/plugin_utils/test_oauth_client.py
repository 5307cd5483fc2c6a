# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client's OAuth2 token requests at the HTTP boundary (`responses`): form, no bearer, never retried once sent."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from ansible_collections.existio.exist.plugins.module_utils._errors import (
    ExistApiError,
    ExistConfigError,
    ExistOutcomeUnknown,
)
from ansible_collections.existio.exist.plugins.plugin_utils._oauth_client import ExistOAuthRefused, OAuthClient

BASE = 'https://exist.example'
TOKEN_URL = BASE + '/oauth2/access_token'
PROFILE = BASE + '/api/2/accounts/profile/'
SECRET = 'sEcReT-client-secret-41'
REFRESH = 'sEcReT-refresh-9d'
CODE = 'sEcReT-code-0c'
NEW_ACCESS = 'sEcReT-new-access-11'
NEW_REFRESH = 'sEcReT-new-refresh-22'
ANSWER = {
    'access_token': NEW_ACCESS,
    'token_type': 'Bearer',
    'expires_in': 31535999,
    'refresh_token': NEW_REFRESH,
    'scope': 'mood_read mood_write',
}
REFRESH_FORM = {'grant_type': 'refresh_token', 'refresh_token': REFRESH, 'client_id': 'cid', 'client_secret': SECRET}
EVERY_SECRET = (SECRET, REFRESH, CODE, NEW_ACCESS, NEW_REFRESH)


@pytest.fixture
def client(rec):
    return OAuthClient.without_access_token(BASE, warn=rec.warn, sleep=rec.sleep, retries=3)


def assert_no_secret(*texts):
    for text in texts:
        for secret in EVERY_SECRET:
            assert secret not in str(text)


@responses.activate
def test_a_token_request_is_a_form_without_any_authorization_header(client):
    responses.add(responses.POST, TOKEN_URL, json=ANSWER)
    answer = client.oauth_token(REFRESH_FORM)
    assert answer == {
        'access_token': NEW_ACCESS,
        'refresh_token': NEW_REFRESH,
        'expires_in': 31535999,
        'scope': 'mood_read mood_write',
        'oddities': [],
    }
    sent = responses.calls[0].request
    assert 'Authorization' not in sent.headers
    assert sent.headers['Content-Type'] == 'application/x-www-form-urlencoded'
    assert dict(parse_qsl(sent.body)) == REFRESH_FORM
    assert client.requests_sent == 1


@responses.activate
def test_a_token_request_never_carries_a_bearer_even_from_a_client_that_has_one(rec):
    responses.add(responses.POST, TOKEN_URL, json=ANSWER)
    client = OAuthClient.connect(BASE, 'sEcReT-old-access', warn=rec.warn, sleep=rec.sleep)
    client.oauth_token(REFRESH_FORM)
    assert 'Authorization' not in responses.calls[0].request.headers


@responses.activate
def test_a_netrc_entry_never_adds_basic_auth_to_a_token_request(client, tmp_path, monkeypatch):
    netrc = tmp_path / '.netrc'
    netrc.write_text('machine exist.example login someone password hunter2\n')
    netrc.chmod(0o600)
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('NETRC', str(netrc))
    responses.add(responses.POST, TOKEN_URL, json=ANSWER)
    responses.add(responses.GET, PROFILE, json={'username': 'alice'})
    client.oauth_token(REFRESH_FORM)
    client.profile()  # no access token yet: no header at all
    assert ['Authorization' in call.request.headers for call in responses.calls] == [False, False]


@responses.activate
def test_use_access_token_sends_the_new_token_as_bearer(client):
    responses.add(responses.POST, TOKEN_URL, json=ANSWER)
    responses.add(responses.GET, PROFILE, json={'username': 'alice'})
    client.use_access_token(client.oauth_token(REFRESH_FORM)['access_token'])
    assert client.profile()['username'] == 'alice'
    assert responses.calls[1].request.headers['Authorization'] == 'Bearer ' + NEW_ACCESS


def test_a_client_without_an_access_token_checks_its_options_before_any_request():
    with pytest.raises(ExistConfigError, match='plain http://'):
        OAuthClient.without_access_token('http://exist.io')
    with pytest.raises(ExistConfigError, match='timeout must be'):
        OAuthClient.without_access_token(BASE, timeout=0)


@pytest.mark.parametrize(
    'failure',
    [
        {'status': 502, 'json': {'detail': 'bad gateway'}},
        {'status': 500, 'body': '<html>oops</html>'},
        {'body': requests.exceptions.ReadTimeout('read timed out')},
        {'body': requests.exceptions.ConnectionError('connection reset by peer')},
    ],
    ids=['502', '500-html', 'read-timeout', 'dropped'],
)
@responses.activate
def test_a_token_request_that_may_have_reached_exist_is_never_retried(client, rec, failure):
    responses.add(responses.POST, TOKEN_URL, **failure)
    responses.add(responses.POST, TOKEN_URL, json=ANSWER)
    with pytest.raises(ExistOutcomeUnknown) as excinfo:
        client.oauth_token(REFRESH_FORM)
    assert len(responses.calls) == 1 and client.requests_sent == 1 and rec.sleeps == []
    assert 'whether Exist issued a new token pair is unknown' in excinfo.value.message
    assert excinfo.value.path == '/oauth2/access_token'


@pytest.mark.parametrize(
    'body, problem',
    [
        ({}, "no usable 'access_token'"),
        ([], 'a body that is not an object'),
        (dict(ANSWER, access_token=''), "no usable 'access_token'"),
        (dict(ANSWER, access_token='two words'), "no usable 'access_token'"),
        (dict(ANSWER, refresh_token=None), "no usable 'refresh_token'"),
    ],
)
@responses.activate
def test_a_2xx_that_is_not_a_token_is_an_unknown_outcome_that_quotes_nothing(client, body, problem):
    responses.add(responses.POST, TOKEN_URL, json=body)
    with pytest.raises(ExistOutcomeUnknown) as excinfo:
        client.oauth_token(REFRESH_FORM)
    assert problem in excinfo.value.message and 'unknown' in excinfo.value.message
    assert_no_secret(excinfo.value.message)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    'odd, expires_in, scope, oddity',
    [
        ('"expires_in": "soon"', 0, 'mood_read', "no 'expires_in' that is a positive number"),
        ('"expires_in": true', 0, 'mood_read', "no 'expires_in' that is a positive number"),
        ('"expires_in": -5', 0, 'mood_read', "no 'expires_in' that is a positive number"),
        ('"expires_in": ' + '9' * 5001, 0, 'mood_read', "no 'expires_in' that is a positive number"),
        ('"expires_in": NaN', 0, 'mood_read', "no 'expires_in' that is a positive number"),
        ('"expires_in": 31535999, "token_type": "mac"', 31535999, 'mood_read', "'token_type' that is not Bearer"),
        ('"expires_in": 31535999, "scope": ["mood_read"]', 31535999, '', "'scope' that is not a string"),
    ],
)
def test_a_pair_in_an_odd_answer_is_kept_with_a_warning_never_lost(rec, odd, expires_in, scope, oddity):
    """The answer holds the user's only valid pair (the old one died as Exist issued it): keep it, say the rest."""
    body = '{"access_token": "%s", "refresh_token": "%s", "scope": "mood_read", %s}' % (NEW_ACCESS, NEW_REFRESH, odd)
    client = OAuthClient.without_access_token(BASE, warn=rec.warn, sleep=rec.sleep)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, TOKEN_URL, body=body, content_type='application/json')
        answer = client.oauth_token(REFRESH_FORM)
    assert answer['access_token'] == NEW_ACCESS and answer['refresh_token'] == NEW_REFRESH
    assert answer['expires_in'] == expires_in
    assert answer['scope'] == scope
    assert any(oddity in odd for odd in answer['oddities'])
    assert len(rec.warnings) == 1 and oddity in rec.warnings[0] and 'kept' in rec.warnings[0]
    assert_no_secret(rec.warnings[0])


@responses.activate
def test_a_body_that_is_not_json_is_an_unknown_outcome(client):
    responses.add(responses.POST, TOKEN_URL, body='access_token=%s' % NEW_ACCESS)
    with pytest.raises(ExistOutcomeUnknown, match='a body that is not JSON') as excinfo:
        client.oauth_token(REFRESH_FORM)
    assert_no_secret(excinfo.value.message)


@responses.activate
def test_a_request_never_sent_is_retried(client, rec):
    refused = requests.exceptions.ConnectionError(NewConnectionError(None, 'Connection refused'))
    responses.add(responses.POST, TOKEN_URL, body=refused)
    responses.add(responses.POST, TOKEN_URL, json=ANSWER)
    assert client.oauth_token(REFRESH_FORM)['access_token'] == NEW_ACCESS
    assert len(responses.calls) == 2 and len(rec.warnings) == 1


@responses.activate
def test_a_429_is_waited_out_and_sent_again(client, rec):
    responses.add(responses.POST, TOKEN_URL, status=429, headers={'Retry-After': '2'}, json={'detail': 'slow down'})
    responses.add(responses.POST, TOKEN_URL, json=ANSWER)
    assert client.oauth_token(REFRESH_FORM)['refresh_token'] == NEW_REFRESH
    assert rec.sleeps == [2.0]


@pytest.mark.parametrize(
    'status, body, error, concerns_client, fragment',
    [
        (400, {'error': 'invalid_grant'}, 'invalid_grant', False, 'already used, expired, revoked'),
        (401, {'error': 'invalid_client'}, 'invalid_client', True, 'client_id or client_secret is wrong'),
        (400, {'error': 'unsupported_grant_type'}, 'unsupported_grant_type', True, 'does not support this grant'),
        (401, {'detail': 'Invalid token.'}, None, True, 'client_id or client_secret is wrong): Invalid token.'),
        (
            400,
            {'error': 'invalid_request', 'error_description': 'Missing code'},
            'invalid_request',
            False,
            'Missing code',
        ),
        (403, '<html>denied</html>', None, False, 'Exist answered 403: <html>denied</html>'),
    ],
)
@responses.activate
def test_refusals_say_what_oauth2_said(client, status, body, error, concerns_client, fragment):
    if isinstance(body, dict):
        responses.add(responses.POST, TOKEN_URL, status=status, json=body)
    else:
        responses.add(responses.POST, TOKEN_URL, status=status, body=body)
    with pytest.raises(ExistOAuthRefused) as excinfo:
        client.oauth_token(REFRESH_FORM)
    assert excinfo.value.error == error and excinfo.value.concerns_client is concerns_client
    assert excinfo.value.status == status and fragment in excinfo.value.message
    assert isinstance(excinfo.value, ExistApiError) and len(responses.calls) == 1


@responses.activate
def test_secrets_an_answer_echoes_are_redacted(client):
    description = 'bad form: code=%s client_secret=%s refresh_token=%s' % (CODE, SECRET, REFRESH)
    responses.add(
        responses.POST, TOKEN_URL, status=400, json={'error': 'invalid_request', 'error_description': description}
    )
    form = dict(REFRESH_FORM, code=CODE)
    with pytest.raises(ExistOAuthRefused) as excinfo:
        client.oauth_token(form)
    assert 'bad form: code=********' in excinfo.value.message
    assert_no_secret(excinfo.value.message, excinfo.value.detail)


@responses.activate
def test_the_new_tokens_are_redacted_from_later_messages(client):
    responses.add(responses.POST, TOKEN_URL, json=ANSWER)
    responses.add(responses.GET, PROFILE, status=500, json={'detail': 'token %s and %s' % (NEW_ACCESS, NEW_REFRESH)})
    client.use_access_token(client.oauth_token(REFRESH_FORM)['access_token'])
    client.retries = 0
    with pytest.raises(ExistApiError) as excinfo:
        client.profile()
    assert 'token ******** and ********' in excinfo.value.message


def test_the_authorize_url_holds_no_secret(client):
    url = client.authorize_url('cid', 'mood_read mood_write', 'https://svc.example/cb?x=1')
    assert url == (
        BASE + '/oauth2/authorize?response_type=code&client_id=cid'
        '&redirect_uri=https%3A%2F%2Fsvc.example%2Fcb%3Fx%3D1&scope=mood_read+mood_write'
    )
    assert client.authorize_url('cid') == BASE + '/oauth2/authorize?response_type=code&client_id=cid'
