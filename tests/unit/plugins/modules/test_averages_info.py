# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.averages_info module: its main() through AnsibleModule, and its docs. The task:
module_utils/test_averages_info_task.py."""

from __future__ import annotations

import responses
import yaml

from ansible_collections.existio.exist.plugins.module_utils import _averages_info_task
from ansible_collections.existio.exist.plugins.modules import averages_info
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import average, page

BASE = 'http://127.0.0.1:8787'


def test_the_documented_options_are_the_argument_spec():
    documented = yaml.safe_load(averages_info.DOCUMENTATION)['options']
    yaml.safe_load(averages_info.EXAMPLES)
    assert set(yaml.safe_load(averages_info.RETURN)) == {'api_requests', 'averages', 'count'}
    for name in ('attributes', 'groups', 'date_min', 'date_max', 'include_historical'):
        assert documented[name]['type'] == _averages_info_task.argument_spec()[name]['type'], name
        assert documented[name].get('default') == _averages_info_task.argument_spec()[name].get('default'), name


def test_a_bad_date_fails_before_any_request(run_module, no_http):
    result, failed = run_module(averages_info.main, {'token': 'tok', 'api_url': BASE, 'date_max': '2026-04-31'})
    assert failed and "date_max must be a real calendar date written YYYY-MM-DD, got '2026-04-31'" in result['msg']
    assert result['api_requests'] == 0


@responses.activate
def test_main_reads_the_averages_in_check_mode_too(run_module):
    url = BASE + '/api/2/averages/'
    responses.add(responses.GET, url, json=page([average()]))
    result, failed = run_module(
        averages_info.main, {'token': 'tok', 'api_url': BASE, 'groups': ['activity'], '_ansible_check_mode': True}
    )
    assert not failed and result['changed'] is False
    assert result['averages'] == [average()] and result['count'] == 1 and result['api_requests'] == 1
    assert responses.calls[0].request.url == url + '?groups=activity&limit=100'
