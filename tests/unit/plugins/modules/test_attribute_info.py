# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import responses

from ansible_collections.existio.exist.plugins.modules import attribute_info

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
    responses.add(responses.GET, url, json={'count': 2, 'next': url + '?page=2&limit=100', 'results': [{'name': 'a'}]})
    responses.add(responses.GET, url, json={'count': 2, 'next': None, 'results': [{'name': 'b'}]})
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
    responses.add(responses.GET, BASE + path, json={'count': 1, 'next': None, 'results': [{'name': 'x'}]})
    result, failed = run_module(attribute_info.main, args(source=source, include_low_priority=True))
    assert not failed and result[key] == [{'name': 'x'}]
    assert 'include_low_priority=true' in responses.calls[0].request.url
