# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The action plugins: in the worker process on local connections, the module elsewhere."""

from __future__ import annotations

import json
import os

import pytest
import responses

from ansible_collections.existio.exist.plugins.action.attribute import ActionModule as AttributeAction
from ansible_collections.existio.exist.plugins.action.attribute_info import ActionModule as AttributeInfoAction
from ansible_collections.existio.exist.plugins.action.averages_info import ActionModule as AveragesInfoAction
from ansible_collections.existio.exist.plugins.action.correlations_info import ActionModule as CorrelationsInfoAction
from ansible_collections.existio.exist.plugins.action.insights_info import ActionModule as InsightsInfoAction
from ansible_collections.existio.exist.plugins.module_utils import _transport
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import average, correlation, insight

BASE = 'http://127.0.0.1:8787'
TOKEN = 'action-test-token-5566'
OWNED = BASE + '/api/2/attributes/owned/'


def page(results):
    return {'count': len(results), 'next': None, 'previous': None, 'results': results}


MOOD = listed_attribute('mood', service={'name': 'me', 'label': 'Me'})


@responses.activate
def test_local_connection_runs_in_process_without_the_module(make_action):
    responses.add(responses.GET, OWNED, json=page([MOOD]))
    action = make_action(AttributeAction, {'api_url': BASE, 'token': TOKEN, 'attributes': [{'template': 'mood'}]})
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result['changed'] is False and result['owned'] == [MOOD]
    assert 'diff' not in result and 'failed' not in result
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    'kwargs, task_vars',
    [
        ({'transport': 'ssh'}, {}),
        ({}, {'existio_exist_worker_process': False}),
        ({}, {'existio_exist_worker_process': 'no'}),
        ({'become': True}, {}),
    ],
)
def test_other_cases_run_the_module(kwargs, task_vars, make_action):
    args = {'api_url': BASE, 'token': TOKEN, 'attributes': [{'template': 'mood'}]}
    action = make_action(AttributeAction, args, **kwargs)
    result = action.run(task_vars=task_vars)
    action._execute_module.assert_called_once_with(
        module_name='existio.exist.attribute', module_args=args, task_vars=task_vars, wrap_async=0
    )
    assert result['from_module'] is True


def test_async_runs_the_module_wrapped(make_action):
    args = {'api_url': BASE, 'token': TOKEN, 'attributes': []}
    action = make_action(AttributeAction, args)
    action._task.async_val = 30
    action.run(task_vars={})
    assert action._execute_module.call_args.kwargs['wrap_async'] is True


@responses.activate
def test_check_mode_and_diff_come_from_the_play_context(make_action):
    responses.add(responses.GET, OWNED, json=page([]))
    responses.add(responses.GET, BASE + '/api/2/attributes/', json=page([]))
    action = make_action(
        AttributeAction,
        {'api_url': BASE, 'token': TOKEN, 'attributes': [{'template': 'mood'}]},
        check_mode=True,
        diff=True,
    )
    result = action.run(task_vars={})
    assert result['changed'] is True and result['acquired'] == ['mood']
    assert result['diff']['after']['attributes']['mood']['owner'] == '(this client)'
    assert [c.request.method for c in responses.calls] == ['GET', 'GET']


@responses.activate
def test_warnings_are_returned_like_a_module_does(monkeypatch, make_action):
    monkeypatch.setattr(_transport.time, 'sleep', lambda seconds: None)
    responses.add(responses.GET, OWNED, status=503)
    responses.add(responses.GET, OWNED, json=page([MOOD]))
    action = make_action(AttributeAction, {'api_url': BASE, 'token': TOKEN, 'attributes': [{'template': 'mood'}]})
    result = action.run(task_vars={})
    assert len(result['warnings']) == 1 and 'answered 503; retrying' in result['warnings'][0]


def test_invalid_arguments_fail_in_process_naming_the_option(make_action):
    action = make_action(
        AttributeAction,
        {'api_url': BASE, 'token': TOKEN, 'attributes': [{'name': 'a', 'colour': 'x'}], 'stat': 'present'},
    )
    result = action.run(task_vars={})
    assert result['failed'] is True
    assert result['msg'].startswith(
        'Unsupported parameters for (existio.exist.attribute) module: attributes.colour, stat.'
    )
    assert TOKEN not in json.dumps(result)


def test_item_errors_name_the_item_in_process(make_action):
    action = make_action(AttributeAction, {'api_url': BASE, 'token': TOKEN, 'attributes': [{'manual': True}]})
    result = action.run(task_vars={})
    assert result['failed'] is True
    assert result['msg'] == "attributes[0] {'manual': True} must have exactly one of name, template or label"


@responses.activate
def test_no_log_values_are_masked_in_everything_returned(make_action):
    # Whatever a server sends back, the token never leaves the action.
    echoed = dict(MOOD, label=TOKEN)
    responses.add(responses.GET, OWNED, json=page([echoed]))
    action = make_action(AttributeAction, {'api_url': BASE, 'token': TOKEN, 'attributes': [{'template': 'mood'}]})
    result = action.run(task_vars={})
    assert TOKEN not in json.dumps(result)
    assert result['owned'][0]['label'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_token_from_the_environment(monkeypatch, make_action):
    monkeypatch.setenv('EXIST_TOKEN', TOKEN)
    monkeypatch.setenv('EXIST_API_URL', 'http://exist.io')
    action = make_action(AttributeInfoAction, {})
    result = action.run(task_vars={})
    assert result['failed'] is True and "api_url 'http://exist.io' uses plain http://" in result['msg']


@responses.activate
def test_attribute_info_in_process(make_action):
    responses.add(responses.GET, BASE + '/api/2/attributes/templates/', json=page([{'name': 'steps'}]))
    action = make_action(AttributeInfoAction, {'api_url': BASE, 'token': TOKEN, 'source': 'templates'})
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result['templates'] == [{'name': 'steps'}] and result['count'] == 1 and result['changed'] is False


@responses.activate
@pytest.mark.parametrize(
    'action_class, path, args, key, item',
    [
        (AveragesInfoAction, '/api/2/averages/', {'date_min': '2026-11-01'}, 'averages', average()),
        (CorrelationsInfoAction, '/api/2/correlations/', {'confident': True}, 'correlations', correlation()),
        (InsightsInfoAction, '/api/2/insights/', {'priority': 2}, 'insights', insight()),
    ],
)
def test_the_read_side_modules_in_process(make_action, action_class, path, args, key, item):
    responses.add(responses.GET, BASE + path, json=page([item]))
    action = make_action(action_class, dict(args, api_url=BASE, token=TOKEN), check_mode=True)
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result[key] == [item] and result['count'] == 1 and result['changed'] is False
    assert result['api_requests'] == 1 and TOKEN not in json.dumps(result)


@responses.activate
def test_task_environment_is_applied_in_the_worker_and_restored(monkeypatch, make_action):
    # A task environment no longer sends the task to the module path.
    monkeypatch.delenv('EXIST_TOKEN', raising=False)
    seen = {}

    def owned(request):
        seen['authorization'] = request.headers['Authorization']
        seen['proxy'] = os.environ.get('NO_PROXY')
        return 200, {}, json.dumps(page([MOOD]))

    responses.add_callback(responses.GET, OWNED, callback=owned)
    action = make_action(
        AttributeAction,
        {'api_url': BASE, 'attributes': [{'template': 'mood'}]},
        environment=[{'EXIST_TOKEN': TOKEN, 'NO_PROXY': '127.0.0.1'}],
    )
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert 'failed' not in result and result['owned'][0]['name'] == 'mood'
    assert seen == {'authorization': 'Bearer ' + TOKEN, 'proxy': '127.0.0.1'}
    assert 'EXIST_TOKEN' not in os.environ


def test_module_path_moves_the_token_out_of_the_environment(make_action):
    # Ansible prints a module's environment in its EXEC line at -vvv; the token
    # travels as a no_log module argument instead.
    args = {'api_url': BASE, 'attributes': []}
    action = make_action(
        AttributeAction, args, transport='ssh', environment=[{'EXIST_TOKEN': TOKEN, 'HTTPS_PROXY': 'http://proxy:3128'}]
    )
    action.run(task_vars={})
    assert action._execute_module.call_args.kwargs['module_args'] == dict(args, token=TOKEN)
    assert action._task.environment == [{'HTTPS_PROXY': 'http://proxy:3128'}]


@pytest.mark.parametrize('transport', ['local', 'ssh'])
@pytest.mark.parametrize(
    'attributes, fragment',
    [
        ('mood', "attributes must be a list of dictionaries, got a string: 'mood'"),
        (['mood', 'sleep'], "attributes[0] must be a dictionary, got a string: 'mood'; attributes[1] must be"),
        ({'name': 'mood'}, "attributes must be a list, got a dictionary: {'name': 'mood'}"),
        ([{'name': ['mood']}], "attributes[0].name must be a string, got a list: ['mood']"),
    ],
)
def test_wrong_shapes_fail_before_the_module_is_shipped_and_mask_the_token(
    transport, attributes, fragment, make_action
):
    action = make_action(
        AttributeAction, {'api_url': BASE, 'token': TOKEN + '\n', 'attributes': attributes}, transport=transport
    )
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result['failed'] is True and result['msg'].startswith(fragment)
    assert TOKEN not in json.dumps(result)


@responses.activate
def test_a_token_with_a_trailing_newline_is_masked_in_both_forms(make_action):
    # A vault block scalar ends in a newline: the client sends it stripped,
    # and a server echoing the stripped form must not leak it.
    echoed = dict(MOOD, label='token was ' + TOKEN)
    responses.add(responses.GET, OWNED, json=page([echoed]))
    action = make_action(
        AttributeAction, {'api_url': BASE, 'token': TOKEN + '\n', 'attributes': [{'template': 'mood'}]}
    )
    result = action.run(task_vars={})
    assert TOKEN not in json.dumps(result)
    assert responses.calls[0].request.headers['Authorization'] == 'Bearer ' + TOKEN


def test_a_list_of_strings_holding_a_dictionary_names_the_element(make_action):
    action = make_action(AttributeInfoAction, {'api_url': BASE, 'token': TOKEN, 'groups': ['mood', {'x': 1}]})
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result['msg'] == "groups[1] must be a string, got a dictionary: {'x': 1}"


@pytest.mark.parametrize('transport', ['local', 'ssh'])
@pytest.mark.parametrize('token', [[TOKEN], {'value': TOKEN}, [[TOKEN, 12345]]])
def test_a_token_of_the_wrong_shape_is_refused_and_never_quoted(transport, token, make_action):
    action = make_action(
        AttributeAction, {'api_url': BASE, 'token': token, 'attributes': [{'template': 'mood'}]}, transport=transport
    )
    result = action.run(task_vars={})
    action._execute_module.assert_not_called()
    assert result['failed'] is True and result['msg'].startswith('token must be a string')
    assert TOKEN not in json.dumps(result)


@responses.activate
def test_warnings_in_process_are_led_by_the_users_exist_username(monkeypatch, make_action):
    monkeypatch.setattr(_transport.time, 'sleep', lambda seconds: None)
    responses.add(responses.GET, OWNED, status=503)
    responses.add(responses.GET, OWNED, json=page([MOOD]))
    action = make_action(AttributeAction, {'api_url': BASE, 'token': TOKEN, 'attributes': [{'template': 'mood'}]})
    result = action.run(task_vars={'exist_username': 'alice', 'inventory_hostname': 'alice'})
    assert len(result['warnings']) == 1 and result['warnings'][0].startswith('user alice: GET /api/2/attributes/owned/')


@pytest.mark.parametrize(
    'task_vars, user',
    [
        (
            {'exist_username': 'alice', 'exist_token_scopes': ['mood_read'], 'inventory_hostname': 'h1'},
            ('alice', 'user', ('mood_read',)),
        ),
        ({'inventory_hostname': 'web1'}, ('web1', 'host', None)),
        ({'inventory_hostname': 'localhost'}, (None, 'user', None)),
        ({}, (None, 'user', None)),
    ],
)
def test_the_user_is_exist_username_else_a_host_that_is_not_this_machine(task_vars, user, make_action):
    action = make_action(AttributeAction, {'api_url': BASE, 'token': TOKEN, 'attributes': []})
    assert tuple(action.task_user(task_vars)) == user


def test_module_path_names_the_user_in_the_environment_never_the_token(make_action):
    args = {'api_url': BASE, 'token': TOKEN, 'attributes': []}
    action = make_action(AttributeAction, args, transport='ssh')
    action.run(task_vars={'exist_username': 'alice', 'exist_token_scopes': ['mood_read', 'mood_write']})
    assert action._task.environment == [
        {'_EXIST_TASK_USER': 'alice', '_EXIST_TASK_USER_KIND': 'user', '_EXIST_TASK_SCOPES': 'mood_read mood_write'}
    ]
    assert TOKEN not in json.dumps(action._task.environment)
