# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shared fixtures of tests/unit/conftest.py do what the other tests rely on."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.existio.exist.plugins.action.attribute import ActionModule as AttributeAction
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError
from ansible_collections.existio.exist.tests.unit.plugins.emulated import OWNED, USER, one_user_seed


def test_a_connection_beyond_loopback_is_refused_and_recorded(no_network):
    with pytest.raises(AssertionError, match='unit tests use loopback only'):
        socket.create_connection(('192.0.2.1', 9), timeout=1)
    assert no_network == [('192.0.2.1', 9)]
    # Recorded attempts fail the test at teardown, even when the code under test swallowed the error.
    no_network.clear()


def test_loopback_connections_pass(no_network):
    with socket.socket() as server:
        server.bind(('127.0.0.1', 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    assert no_network == []


def test_the_default_world_is_one_user_without_attributes(exist, exist_client):
    assert exist_client.profile()['username'] == USER
    assert list(exist_client.list_owned()) == []
    assert exist.log == [('GET', '/api/2/accounts/profile/'), ('GET', OWNED)]


@pytest.mark.parametrize('exist_seed', [one_user_seed([{'template': 'mood', 'service': 'me'}])])
def test_a_module_or_test_may_seed_another_world(exist_client):
    assert [entry['name'] for entry in exist_client.list_owned()] == ['mood']


def test_a_fault_hits_the_nth_matching_request_and_as_many_as_asked(exist):
    client = exist.client(retries=0)
    exist.fault('refused', path=OWNED, nth=2, times=2)
    outcomes = []
    for dummy in range(4):
        try:
            list(client.list_owned())
            outcomes.append('ok')
        except ExistApiError as exc:
            outcomes.append(exc.status)
    assert outcomes == ['ok', 400, 400, 'ok']
    # Other paths are not counted, nor faulted.
    client.profile()
    assert exist.log[-1] == ('GET', '/api/2/accounts/profile/')


def test_make_action_builds_a_plugin_whose_module_is_mocked(make_action):
    plugin = make_action(AttributeAction, {'attributes': []}, transport='ssh', check_mode=True)
    assert plugin._task.action == 'existio.exist.attribute' and plugin._connection.transport == 'ssh'
    assert plugin._play_context.check_mode is True and plugin._loader is None
    assert plugin._execute_module() == {'changed': False, 'from_module': True}
    refusing = make_action(AttributeAction, {}, vault_secrets=['s'], module_answer=RuntimeError('never'))
    assert refusing._loader._vault.secrets == ['s']
    with pytest.raises(RuntimeError):
        refusing._execute_module()
