# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""run_task(): what every task returns, whatever the task: api_requests counts what was sent."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils import _attribute_task, _values_task
from ansible_collections.existio.exist.plugins.module_utils._remedies import TaskUser
from ansible_collections.existio.exist.plugins.module_utils._task_runner import run_task
from exist_emulator.testing import BackgroundEmulator

CONNECTION = dict(
    token='demo-token',
    token_type='bearer',
    validate_certs=True,
    ca_path=None,
    timeout=30,
    rate_limit_wait=60,
    use_proxy=False,
    retries=3,
    http_agent=None,
)


@pytest.fixture(scope='module')
def emulator():
    with BackgroundEmulator() as running:
        yield running


def attribute_params(url, **options):
    params = dict(CONNECTION, api_url=url, attributes=[], state='present', exclusive=False, release_all=False)
    params.update(takeover=True)
    params.update(options)
    return params


def test_api_requests_counts_the_requests_the_emulator_saw(emulator):
    emulator.admin.reset()
    emulator.admin.clear_requests()
    params = attribute_params(emulator.url, attributes=[{'template': 'steps'}, {'template': 'floors'}])
    result = run_task(_attribute_task, params, False, False, lambda message: None)
    assert result['api_requests'] == len(emulator.admin.requests()) == 4
    # steps was Withings' in the demo world; floors is new.
    assert result['takeovers'] == [{'name': 'steps', 'previous_owner': 'withings'}]
    assert result['created'] == ['floors']


def test_a_task_refused_before_any_request_spent_none(emulator):
    emulator.admin.clear_requests()
    params = dict(CONNECTION, api_url=emulator.url, values=[{'name': 'mood', 'date': 'yesterday', 'value': 1}])
    params.update(operation='set', acquire=False, takeover=True)
    result = run_task(_values_task, params, False, False, lambda message: None)
    assert result['failed'] is True and result['api_requests'] == 0
    assert emulator.admin.requests() == []


def test_a_task_whose_read_failed_reports_what_it_spent(emulator):
    params = attribute_params(emulator.url, attributes=[{'template': 'mood'}], token='no-such-token')
    result = run_task(_attribute_task, params, False, False, lambda message: None)
    assert result['failed'] is True and result['api_requests'] == 1
    assert 'no-such-token' not in result['msg']


def test_takeover_warnings_name_the_user_so_two_users_give_two_lines(emulator):
    seen = {}
    for name in ('alice', 'bob'):
        emulator.admin.reset()
        warnings = []
        params = attribute_params(emulator.url, attributes=[{'template': 'steps'}])
        run_task(_attribute_task, params, False, False, warnings.append, TaskUser(name, 'user', None))
        seen[name] = warnings
    assert seen['alice'] == ["user alice: attribute 'steps' was owned by Withings (withings); this client took it over"]
    assert seen['bob'] == ["user bob: attribute 'steps' was owned by Withings (withings); this client took it over"]


def test_without_a_user_the_warning_is_as_before(emulator):
    emulator.admin.reset()
    warnings = []
    run_task(
        _attribute_task,
        attribute_params(emulator.url, attributes=[{'template': 'steps'}]),
        False,
        False,
        warnings.append,
    )
    assert warnings == ["attribute 'steps' was owned by Withings (withings); this client took it over"]


def test_a_refused_token_fails_naming_the_user_and_the_refresh_never_the_token(emulator):
    emulator.admin.reset()
    params = attribute_params(emulator.url, token='revoked-or-wrong-token', attributes=[{'template': 'mood'}])
    result = run_task(_attribute_task, params, False, False, lambda message: None, TaskUser('alice', 'user', None))
    assert result['failed'] is True
    assert 'Exist answered 401 (the token of user alice was refused' in result['msg']
    assert 'existio.exist.token (grant=refresh_token)' in result['msg']
    assert 'revoked-or-wrong-token' not in result['msg']


def test_a_simple_token_sent_as_bearer_is_told_about_token_type(emulator):
    emulator.admin.reset()
    params = attribute_params(emulator.url, token='reader-simple-token', attributes=[{'template': 'mood'}])
    result = run_task(_attribute_task, params, False, False, lambda message: None)
    assert result['failed'] is True and 'Exist answered 401' in result['msg']
    assert 'a simple token needs token_type=token' in result['msg']
    assert 'reader-simple-token' not in result['msg']
