# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.existio.exist.plugins.modules import attribute
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute

TOKEN = 'unit-test-token-0123'
BASE = 'http://127.0.0.1:8787'


def args(**kwargs):
    base = {'token': TOKEN, 'api_url': BASE}
    base.update(kwargs)
    return base


@pytest.mark.parametrize(
    'items, fragment',
    [
        ([{'manual': True}], "attributes[0] {'manual': True} must have exactly one of name, template or label"),
        ([{'name': 'a', 'template': 'b'}], 'attributes[0]'),
        ([{'name': 'not a name'}], "attributes[0].name 'not a name' is not an attribute name"),
        (
            [{'template': 'mood'}, {'template': 'mood', 'state': 'absent'}],
            "attributes[0] and attributes[1] both declare 'mood'",
        ),
    ],
)
def test_bad_items_fail_before_any_request(run_module, no_http, items, fragment):
    result, failed = run_module(attribute.main, args(attributes=items))
    assert failed
    assert fragment in result['msg']


def test_unknown_item_key_is_refused_by_the_argument_spec(run_module, no_http):
    result, failed = run_module(attribute.main, args(attributes=[{'name': 'a', 'colour': 'red'}]))
    assert failed and 'colour' in result['msg']


def test_plain_http_to_a_remote_host_fails_before_any_request(run_module, no_http):
    result, failed = run_module(attribute.main, args(api_url='http://exist.io', attributes=[{'template': 'mood'}]))
    assert failed and "api_url 'http://exist.io' uses plain http://" in result['msg']
    assert TOKEN not in json.dumps(result)


@pytest.mark.parametrize(
    'option, value, fragment',
    [
        ('timeout', 0, 'timeout must be a whole number of seconds from 1 to 3600, got 0'),
        ('timeout', 10000000000, 'timeout must be a whole number of seconds from 1 to 3600, got 10000000000'),
        ('rate_limit_wait', -1, 'rate_limit_wait must be a whole number of seconds from 0 to 3600, got -1'),
        ('rate_limit_wait', 86401, 'rate_limit_wait must be a whole number of seconds from 0 to 3600, got 86401'),
    ],
)
def test_bad_numbers_name_option_and_value(run_module, no_http, option, value, fragment):
    result, failed = run_module(attribute.main, args(**{option: value}))
    assert failed and fragment in result['msg']


def test_token_is_required(run_module, no_http, monkeypatch):
    monkeypatch.delenv('EXIST_TOKEN', raising=False)
    result, failed = run_module(attribute.main, {'attributes': []})
    assert failed and 'token' in result['msg']


def test_token_and_url_from_environment(run_module, monkeypatch):
    monkeypatch.setenv('EXIST_TOKEN', TOKEN)
    monkeypatch.setenv('EXIST_API_URL', 'http://exist.io')
    result, failed = run_module(attribute.main, {'attributes': []})
    assert failed and "api_url 'http://exist.io'" in result['msg']


@responses.activate
def test_401_fails_cleanly_without_the_token(run_module):
    responses.add(responses.GET, BASE + '/api/2/attributes/owned/', status=401, json={'detail': 'Invalid token.'})
    result, failed = run_module(attribute.main, args(attributes=[{'template': 'mood'}]))
    assert failed and result['changed'] is False
    assert result['msg'] == (
        'GET /api/2/attributes/owned/: Exist answered 401 (this token was refused: wrong, expired or revoked. '
        'Refresh it with existio.exist.token (grant=refresh_token), or authorise the user again if the store '
        'marks them reauthorization_needed; a simple token needs token_type=token): Invalid token.'
    )
    assert TOKEN not in json.dumps(result)


@responses.activate
def test_the_module_names_the_user_the_action_plugin_put_in_its_environment(run_module, monkeypatch):
    monkeypatch.setenv('_EXIST_TASK_USER', 'alice')
    monkeypatch.setenv('_EXIST_TASK_USER_KIND', 'user')
    responses.add(responses.GET, BASE + '/api/2/attributes/owned/', status=401, json={'detail': 'Invalid token.'})
    result, failed = run_module(attribute.main, args(attributes=[{'template': 'mood'}]))
    assert failed and 'the token of user alice was refused' in result['msg']
    assert TOKEN not in json.dumps(result)


@responses.activate
def test_converged_run_returns_owned_and_no_diff_unless_asked(run_module):
    owned = [listed_attribute('mood', service={'name': 'me', 'label': 'Me'})]
    responses.add(responses.GET, BASE + '/api/2/attributes/owned/', json={'count': 1, 'next': None, 'results': owned})
    result, failed = run_module(attribute.main, args(attributes=[{'template': 'mood'}]))
    assert not failed
    assert result['changed'] is False and result['owned'] == owned
    assert result['acquired'] == [] and result['released'] == [] and result['failed_items'] == []
    assert 'diff' not in result
    assert len(responses.calls) == 1


@responses.activate
def test_check_mode_with_diff_sends_no_write(run_module):
    responses.add(responses.GET, BASE + '/api/2/attributes/owned/', json={'count': 0, 'next': None, 'results': []})
    responses.add(responses.GET, BASE + '/api/2/attributes/', json={'count': 0, 'next': None, 'results': []})
    result, failed = run_module(
        attribute.main, args(attributes=[{'template': 'mood'}], _ansible_check_mode=True, _ansible_diff=True)
    )
    assert not failed and result['changed'] is True and result['acquired'] == ['mood']
    assert result['diff']['after']['attributes'] == {'mood': {'owner': '(this client)', 'manual': False}}
    assert [c.request.method for c in responses.calls] == ['GET', 'GET']


def test_a_simple_token_cannot_write_and_fails_before_any_request(run_module, no_http):
    result, failed = run_module(attribute.main, args(token_type='token', attributes=[{'template': 'mood'}]))
    assert failed and 'token_type=token is a simple token' in result['msg']


@pytest.mark.parametrize('agent', ['', 'two\nlines'])
def test_a_broken_http_agent_is_refused(run_module, no_http, agent):
    result, failed = run_module(attribute.main, args(http_agent=agent))
    assert failed and result['msg'].startswith('http_agent must be a non-empty line of text')
