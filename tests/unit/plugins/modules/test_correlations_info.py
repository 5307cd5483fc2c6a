# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.correlations_info module: its main() through AnsibleModule, and its docs. The task:
module_utils/test_correlations_info_task.py."""

from __future__ import annotations

import responses
import yaml
from ansible.module_utils import basic

from ansible_collections.existio.exist.plugins.module_utils import _correlations_info_task
from ansible_collections.existio.exist.plugins.modules import correlations_info
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import page

BASE = 'http://127.0.0.1:8787'


def test_the_documented_options_are_the_argument_spec():
    documented = yaml.safe_load(correlations_info.DOCUMENTATION)['options']
    yaml.safe_load(correlations_info.EXAMPLES)
    assert set(yaml.safe_load(correlations_info.RETURN)) == {'api_requests', 'correlations', 'count'}
    for name in ('attribute', 'attribute2', 'strong', 'confident'):
        assert documented[name]['type'] == _correlations_info_task.argument_spec()[name]['type'], name
        assert documented[name].get('default') == _correlations_info_task.argument_spec()[name].get('default'), name


def test_attribute2_alone_fails_before_any_request(run_module, no_http):
    result, failed = run_module(correlations_info.main, {'token': 'tok', 'api_url': BASE, 'attribute2': 'mood'})
    assert failed and "attribute2 'mood' needs attribute" in result['msg'] and result['api_requests'] == 0


@responses.activate
def test_no_combination_is_an_empty_result(run_module, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: warnings.append(message))
    responses.add(responses.GET, BASE + '/api/2/correlations/combo/', status=404, json={'error': 'not_found'})
    responses.add(responses.GET, BASE + '/api/2/attributes/', json=page([listed_attribute('steps')]))
    result, failed = run_module(
        correlations_info.main, {'token': 'tok', 'api_url': BASE, 'attribute': 'steps', 'attribute2': 'mood'}
    )
    assert not failed and result['changed'] is False
    assert result['correlations'] == [] and result['count'] == 0 and result['api_requests'] == 2
    assert len(warnings) == 1 and warnings[0].startswith("attribute2: nothing was returned for 'mood'")
