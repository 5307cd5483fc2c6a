# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The connection options' one check (_connection_options.validate), as the client meets it: every bad value
fails before any request, naming the option and never the token."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
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
