# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The connection options' one check (_connection_options.validate), as the client meets it: every bad value
fails before any request, naming the option and never the token."""

from __future__ import annotations

import pytest
from ansible.module_utils.basic import env_fallback

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    ALL,
    TRANSPORT,
    Connection,
    connection_argument_spec,
    validate,
    with_token,
)
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import BASE, TOKEN


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


@pytest.mark.parametrize('token', ['Bearer ' + TOKEN, 'token ' + TOKEN])
def test_a_token_with_its_header_prefix_says_so_without_echo(token):
    with pytest.raises(ExistConfigError) as excinfo:
        ExistClient.connect(BASE, token)
    assert "without the 'Bearer ' or 'Token ' prefix" in excinfo.value.message
    assert TOKEN not in excinfo.value.message


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


def test_an_unknown_token_type_is_refused():
    with pytest.raises(ExistConfigError, match="token_type must be one of bearer, token, got 'basic'"):
        ExistClient.connect(BASE, TOKEN, token_type='basic')


def test_retries_are_bounded():
    with pytest.raises(ExistConfigError, match='retries must be a whole number of retries from 0 to 10, got 11'):
        ExistClient.connect(BASE, TOKEN, retries=11)


# -- the table and its check, on their own ---------------------------------------------------------------------


def test_the_argument_spec_follows_the_table():
    spec = connection_argument_spec()
    assert list(spec) == list(ALL)
    assert spec['token'] == {
        'type': 'str',
        'fallback': (env_fallback, ['EXIST_TOKEN']),
        'no_log': True,
        'required': True,
    }
    assert spec['token_type'] == {'type': 'str', 'default': 'bearer', 'choices': ['bearer', 'token']}
    assert spec['retries'] == {'type': 'int', 'default': 3}
    assert connection_argument_spec(('ca_path',)) == {
        'ca_path': {'type': 'path', 'fallback': (env_fallback, ['EXIST_CA_PATH'])}
    }


def test_validate_gives_every_value_checked_and_the_defaults_for_the_missing_ones(monkeypatch):
    # Without a CA bundle named anywhere, verify is True (certifi's bundle).
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    monkeypatch.delenv('SSL_CERT_FILE', raising=False)
    connection = validate({'api_url': 'https://exist.io/api/2/', 'token': ' abc\n', 'token_type': 'token'})
    assert connection == Connection(
        base_url='https://exist.io',
        token='abc',
        scheme='Token',
        verify=True,
        use_proxy=True,
        timeout=30,
        retries=3,
        rate_limit_wait=60,
        http_agent=None,
    )


def test_validate_without_the_token_options_leaves_the_token_to_with_token():
    connection = validate({'api_url': BASE}, TRANSPORT)
    assert connection.token is None and connection.scheme == 'Bearer'
    assert with_token(connection, TOKEN + '\n', 'token')[1:3] == (TOKEN, 'Token')
    with pytest.raises(ExistConfigError, match='token is empty'):
        with_token(connection, '')


@pytest.mark.parametrize('agent', ['', '  ', 'two\nlines', 7])
def test_an_http_agent_that_is_not_one_line_of_text_is_refused(agent):
    with pytest.raises(ExistConfigError, match='http_agent must be a non-empty line of text'):
        validate({'token': TOKEN, 'http_agent': agent})
