# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import responses
from ansible.module_utils import basic

from ansible_collections.existio.exist.plugins.modules import attribute_info
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute

BASE = 'http://127.0.0.1:8787'


def args(**kwargs):
    base = {'token': 'tok', 'api_url': BASE}
    base.update(kwargs)
    return base


@pytest.mark.parametrize(
    'kwargs, fragment',
    [
        ({'source': 'templates', 'names': ['steps']}, 'names cannot be used with source=templates'),
        (
            {'source': 'templates', 'manual': False, 'include_inactive': True},
            'manual, include_inactive cannot be used with source=templates',
        ),
        ({'groups': ['mood', 'bad group']}, "groups: 'bad group' is not a valid name"),
        ({'names': ['']}, "names: '' is not a valid name"),
    ],
)
def test_bad_filters_fail_naming_option_and_value(run_module, no_http, kwargs, fragment):
    result, failed = run_module(attribute_info.main, args(**kwargs))
    assert failed and fragment in result['msg']


@responses.activate
def test_filters_become_the_api_query_and_every_page_is_read(run_module):
    url = BASE + '/api/2/attributes/'
    responses.add(responses.GET, url, json={'count': 2, 'next': url + '?page=2&limit=100', 'results': [listed('a')]})
    responses.add(responses.GET, url, json={'count': 2, 'next': None, 'results': [listed('b')]})
    result, failed = run_module(
        attribute_info.main,
        args(groups=['mood', 'sleep'], names=['a', 'b'], manual=False, include_inactive=True, exclude_custom=True),
    )
    assert not failed and result['changed'] is False
    assert (
        [a['name'] for a in result['attributes']] == ['a', 'b'] and result['count'] == 2 and result['templates'] == []
    )
    first = responses.calls[0].request.url
    for part in (
        'groups=mood%2Csleep',
        'attributes=a%2Cb',
        'manual=false',
        'include_inactive=true',
        'exclude_custom=true',
        'limit=100',
    ):
        assert part in first
    assert 'include_low_priority' not in first


@pytest.mark.parametrize(
    'source, path, key',
    [
        ('owned', '/api/2/attributes/owned/', 'attributes'),
        ('templates', '/api/2/attributes/templates/', 'templates'),
    ],
)
@responses.activate
def test_sources(run_module, source, path, key):
    responses.add(responses.GET, BASE + path, json={'count': 1, 'next': None, 'results': [listed('x')]})
    result, failed = run_module(attribute_info.main, args(source=source, include_low_priority=True))
    assert not failed and result[key] == [listed('x')]
    assert 'include_low_priority=true' in responses.calls[0].request.url


# -- with_values -----------------------------------------------------------------

WITH_VALUES = BASE + '/api/2/attributes/with-values/'


def listed(name):
    return listed_attribute(name, label=name.title())


def with_values_item(name, rows):
    return dict(listed(name), label=name.title(), values=[{'date': d, 'value': v} for d, v in rows])


@pytest.mark.parametrize(
    'kwargs, fragment',
    [
        ({'with_values': 32}, 'with_values must be a number of days from 1 to 31 (0 or omitted for no values), got 32'),
        ({'with_values': -1}, 'with_values must be a number of days from 1 to 31 (0 or omitted for no values), got -1'),
        ({'source': 'templates', 'with_values': 7}, 'with_values cannot be used with source=templates'),
    ],
)
def test_bad_with_values_fails_before_any_request(run_module, no_http, kwargs, fragment):
    result, failed = run_module(attribute_info.main, args(**kwargs))
    assert failed and fragment in result['msg']


@responses.activate
def test_with_values_adds_the_values_of_the_listed_attributes_in_one_more_request(run_module, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: warnings.append(message))
    url = BASE + '/api/2/attributes/owned/'
    responses.add(responses.GET, url, json={'count': 2, 'next': None, 'results': [listed('mood'), listed('sleep')]})
    responses.add(
        responses.GET,
        WITH_VALUES,
        json={
            'count': 3,
            'next': None,
            'results': [
                with_values_item('sleep', [('2026-11-27', 452)]),
                with_values_item('mood', [('2026-11-27', 8), ('2026-11-26', None), ('2026-11-25', 6)]),
                # Exist has been seen to ignore the attributes= filter: what was not listed is not added.
                with_values_item('steps', [('2026-11-27', 9000)]),
            ],
        },
    )
    result, failed = run_module(attribute_info.main, args(source='owned', with_values=7))
    assert not failed and result['count'] == 2
    assert [(a['name'], a['values']) for a in result['attributes']] == [
        ('mood', {'2026-11-25': 6, '2026-11-27': 8}),
        ('sleep', {'2026-11-27': 452}),
    ]
    assert list(result['attributes'][0]['values']) == ['2026-11-25', '2026-11-27']  # oldest first
    assert [call.request.url.split('?')[0] for call in responses.calls] == [url, WITH_VALUES]
    query = responses.calls[1].request.url
    for part in ('days=7', 'attributes=mood%2Csleep', 'include_low_priority=true', 'limit=100'):
        assert part in query
    assert 'date_max' not in query
    assert warnings == []


@responses.activate
def test_with_values_follows_every_page_and_warns_about_what_it_did_not_show(run_module, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message: warnings.append(message))
    url = BASE + '/api/2/attributes/'
    responses.add(
        responses.GET, url, json={'count': 3, 'next': None, 'results': [listed('a'), listed('b'), listed('gone')]}
    )
    responses.add(
        responses.GET,
        WITH_VALUES,
        json={'count': 2, 'next': WITH_VALUES + '?page=2', 'results': [with_values_item('a', [('2026-11-27', 1)])]},
    )
    responses.add(responses.GET, WITH_VALUES, json={'count': 2, 'next': None, 'results': [with_values_item('b', [])]})
    result, failed = run_module(attribute_info.main, args(with_values=1, include_inactive=True))
    assert not failed and len(responses.calls) == 3
    assert dict((a['name'], a['values']) for a in result['attributes']) == {'a': {'2026-11-27': 1}, 'b': {}, 'gone': {}}
    assert len(warnings) == 1 and 'gone' in warnings[0] and 'a,' not in warnings[0]


@pytest.mark.parametrize('with_values', [None, 0])
@responses.activate
def test_without_with_values_one_request_and_no_values_key(run_module, with_values):
    url = BASE + '/api/2/attributes/'
    responses.add(responses.GET, url, json={'count': 1, 'next': None, 'results': [listed('mood')]})
    kwargs = {} if with_values is None else {'with_values': with_values}
    result, failed = run_module(attribute_info.main, args(**kwargs))
    assert not failed and len(responses.calls) == 1 and 'values' not in result['attributes'][0]


@responses.activate
def test_with_values_and_nothing_listed_sends_no_values_request(run_module):
    responses.add(responses.GET, BASE + '/api/2/attributes/', json={'count': 0, 'next': None, 'results': []})
    result, failed = run_module(attribute_info.main, args(with_values=31, names=['ghost']))
    assert not failed and result['attributes'] == [] and len(responses.calls) == 1


@responses.activate
def test_a_with_values_error_fails_the_task_without_the_token(run_module):
    token = 'info-s3cret-token-4242'
    responses.add(responses.GET, BASE + '/api/2/attributes/', json={'count': 1, 'next': None, 'results': [listed('a')]})
    responses.add(responses.GET, WITH_VALUES, status=403, json={'detail': 'no %s here' % token})
    result, failed = run_module(attribute_info.main, args(token=token, with_values=3))
    assert failed and 'with-values' in result['msg'] and 'answered 403' in result['msg']
    assert token not in str(result)
