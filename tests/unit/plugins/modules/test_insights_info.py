# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.insights_info module: its main() through AnsibleModule, and its docs. The task:
module_utils/test_insights_info_task.py."""

from __future__ import annotations

import responses
import yaml

from ansible_collections.existio.exist.plugins.module_utils import _insights_info_task
from ansible_collections.existio.exist.plugins.modules import insights_info
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import insight, page

BASE = 'http://127.0.0.1:8787'


def test_the_documented_options_are_the_argument_spec():
    documented = yaml.safe_load(insights_info.DOCUMENTATION)['options']
    yaml.safe_load(insights_info.EXAMPLES)
    assert set(yaml.safe_load(insights_info.RETURN)) == {'api_requests', 'insights', 'count'}
    for name in ('date_min', 'date_max', 'priority'):
        assert documented[name]['type'] == _insights_info_task.argument_spec()[name]['type'], name


def test_a_priority_out_of_range_fails_before_any_request(run_module, no_http):
    result, failed = run_module(insights_info.main, {'token': 'tok', 'api_url': BASE, 'priority': 7})
    assert failed and 'priority must be a whole number from 1 (today) to 4 (last month), got 7' in result['msg']


@responses.activate
def test_main_reads_the_insights(run_module):
    url = BASE + '/api/2/insights/'
    responses.add(responses.GET, url, json=page([insight()]))
    result, failed = run_module(insights_info.main, {'token': 'tok', 'api_url': BASE, 'date_min': '2026-11-01'})
    assert not failed and result['changed'] is False
    assert result['insights'] == [insight()] and result['count'] == 1 and result['api_requests'] == 1
    assert responses.calls[0].request.url == url + '?date_min=2026-11-01&limit=100'
