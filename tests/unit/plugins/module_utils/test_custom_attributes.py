# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Custom attributes through converge(), against the emulator's own request handling, in process."""

from __future__ import annotations

import requests

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import normalize_declared
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import converge
from exist_emulator.server import Emulator
from exist_emulator.testing import InProcessAdapter
from exist_emulator.world import world_from_seed

BASE = 'http://127.0.0.1:8787'
TOKEN = 'custom-token'


def emulator_with(attributes=(), scopes=('all',)):
    return Emulator(
        world_from_seed(
            {
                'services': [{'name': 'me', 'label': 'Me'}, {'name': 'other', 'label': 'Other'}],
                'clients': [],
                'users': [
                    {
                        'username': 'u',
                        'timezone': 'UTC',
                        'tokens': [{'token': TOKEN, 'service': 'me', 'scopes': list(scopes), 'kind': 'oauth2'}],
                        'attributes': list(attributes),
                    }
                ],
            }
        ),
        rate_limit=0,
    )


class Server(object):
    def __init__(self, emulator):
        self.emulator = emulator
        self.adapter = InProcessAdapter(emulator)
        self.log = []
        original = self.adapter.send

        def send(request, **kwargs):
            self.log.append((request.method, requests.utils.urlparse(request.url).path))
            return original(request, **kwargs)

        self.adapter.send = send

    def converge(self, items, check_mode=False, **options):
        client = ExistClient(BASE, TOKEN, sleep=lambda seconds: None)
        client._session.mount('http://', self.adapter)
        warnings = []
        self.log[:] = []
        result = converge(client, normalize_declared(items), check_mode=check_mode, warn=warnings.append, **options)
        return result, warnings

    def attribute(self, name):
        return self.emulator.world.users['u'].attributes.get(name)


STREAK = {'label': 'Meditation streak', 'group': 'health', 'value_type': 'integer'}


def test_a_missing_custom_attribute_is_created_owned_and_named_from_the_answer():
    server = Server(emulator_with())
    predicted, warnings = server.converge([STREAK], check_mode=True)
    assert predicted['created'] == predicted['acquired'] == ['meditation_streak']
    assert any("'meditation_streak' is a prediction" in w for w in warnings)
    result, unused_warnings = server.converge([STREAK])
    assert result['created'] == result['acquired'] == ['meditation_streak']
    created = server.attribute('meditation_streak')
    assert (created.label, created.group, created.value_type, created.service) == (
        'Meditation streak',
        'health',
        0,
        'me',
    )
    assert server.log == [
        ('GET', '/api/2/attributes/owned/'),
        ('GET', '/api/2/attributes/'),
        ('POST', '/api/2/attributes/create/'),
    ]
    again, unused_warnings = server.converge([STREAK])
    assert again['changed'] is False and again['created'] == []
    assert server.log == [('GET', '/api/2/attributes/owned/')]


def test_thirty_six_creations_take_two_posts():
    server = Server(emulator_with())
    items = [{'label': 'Habit %02d' % n, 'group': 'custom', 'value_type': 7} for n in range(36)]
    result, unused_warnings = server.converge(items)
    assert len(result['created']) == 36
    assert server.log.count(('POST', '/api/2/attributes/create/')) == 2
    assert len(server.log) == 4


def test_an_existing_custom_attribute_is_acquired_not_created():
    existing = {
        'name': 'meditation_streak',
        'label': 'Meditation streak',
        'group': 'health',
        'value_type': 0,
        'service': 'other',
        'available_services': ['other'],
    }
    server = Server(emulator_with([existing]))
    result, warnings = server.converge([STREAK])
    assert result['acquired'] == ['meditation_streak'] and result['created'] == []
    assert any('Other' in w and 'took it over' in w for w in warnings)
    assert ('POST', '/api/2/attributes/acquire/') in server.log


def test_an_existing_attribute_of_another_type_fails_and_nothing_is_written():
    existing = {
        'name': 'meditation_streak',
        'label': 'Meditation streak',
        'group': 'health',
        'value_type': 3,
        'service': 'other',
    }
    server = Server(emulator_with([existing]))
    result, unused_warnings = server.converge([STREAK])
    assert result['failed'] is True
    assert result['failed_items'][0]['error_code'] == 'group_or_type_differs'
    assert "name 'meditation_streak' (group_or_type_differs" in result['msg']
    assert all(method == 'GET' for method, path in server.log)
    assert server.attribute('meditation_streak').service == 'other'


def test_a_custom_attribute_the_token_cannot_see_exists_and_is_taken_over_by_name():
    existing = {
        'name': 'meditation_streak',
        'label': 'Meditation streak',
        'group': 'health',
        'value_type': 0,
        'service': 'other',
    }
    server = Server(emulator_with([existing], scopes=('health_write',)))
    result, warnings = server.converge([STREAK])
    assert result['acquired'] == ['meditation_streak'] and result['created'] == []
    assert any('previous owner unknown' in w for w in warnings)
    assert server.log[-2:] == [('POST', '/api/2/attributes/create/'), ('POST', '/api/2/attributes/acquire/')]
    assert server.attribute('meditation_streak').service == 'me'
