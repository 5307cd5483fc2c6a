# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checks of what a user gives (_option_checks.py): URLs, tokens, numbers, CA bundles."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError
from ansible_collections.existio.exist.plugins.module_utils._option_checks import (
    check_api_url,
    check_number,
    check_token,
    is_loopback_host,
    short,
    shown,
    tls_verify,
)


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


@pytest.mark.parametrize('url', ['https://exist.io/api/2', 'https://exist.io/api/2/', 'https://exist.io/api/2//'])
def test_api_url_may_end_in_the_api_prefix(url):
    assert check_api_url(url) == 'https://exist.io'


def test_api_url_with_a_bad_port_names_the_value():
    with pytest.raises(ExistConfigError, match="api_url 'https://exist.io:99999' is not a valid URL"):
        check_api_url('https://exist.io:99999')


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


# -- each check on its own ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'host, loopback',
    [
        ('localhost', True),
        ('LOCALHOST.', True),
        ('app.localhost', True),
        ('127.0.0.1', True),
        ('[::1]', True),
        ('localhost.example', False),
        ('10.0.0.1', False),
        ('', False),
    ],
)
def test_is_loopback_host_means_only_this_machine(host, loopback):
    assert is_loopback_host(host) is loopback


def test_check_token_strips_a_vault_newline_and_refuses_an_empty_one():
    assert check_token('abc123\n') == 'abc123'
    with pytest.raises(ExistConfigError, match='token is empty'):
        check_token(None)


@pytest.mark.parametrize(
    'value, problem',
    [
        (5, None),
        (0, None),
        (10, None),
        (11, 'retries must be a whole number of retries from 0 to 10, got 11'),
        (-1, 'retries must be a whole number of retries from 0 to 10, got -1'),
        (True, 'retries must be a whole number of retries from 0 to 10, got True'),
        ('3', "retries must be a whole number of retries from 0 to 10, got '3'"),
        (2.0, 'retries must be a whole number of retries from 0 to 10, got 2.0'),
    ],
)
def test_check_number_takes_whole_numbers_within_the_bounds_only(value, problem):
    assert check_number('retries', value, (0, 10), 'retries') == problem


def test_short_writes_json_shortened_and_never_fails_on_a_huge_integer():
    assert short({'a': [1, None]}) == '{"a": [1, null]}'
    assert short('x' * 100) == '"' + 'x' * 56 + '...'
    assert short(10**5000) == '<an integer of more than 100 digits>'
    assert short(b'raw') == "b'raw'"


def test_shown_writes_repr_shortened():
    assert shown('two words') == "'two words'"
    assert len(shown(list(range(100)), limit=20)) == 20
