# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checks of what a user gives (_option_checks.py): URLs, tokens, numbers, CA bundles."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError
from ansible_collections.existio.exist.plugins.module_utils._option_checks import check_api_url, tls_verify


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
