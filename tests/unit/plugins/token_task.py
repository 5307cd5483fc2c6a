# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests of existio.exist.token share: a seeded emulator's world, a token store, the task's action.

Internal to this collection, not a stable API. The fixtures emulator, world and store are in
tests/unit/plugins/conftest.py.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import stat

import pytest
import requests
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.existio.exist.plugins.action.token import ActionModule
from ansible_collections.existio.exist.plugins.plugin_utils import _token_store
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import TokenStore, format_expires_at
from ansible_collections.existio.exist.tests.unit.plugins.emulated import build_action
from exist_emulator.testing import BackgroundEmulator

CLIENT_ID = 'unit-client'
CLIENT_SECRET = 'sEcReT-client-5f1e90'
CODE = 'sEcReT-code-77aa01'
REDIRECT = 'https://service.example/callback'
USERS = ('alice', 'bob', 'carol')
SCOPES = ['mood_read', 'mood_write']


def access(user):
    return 'sEcReT-access-%s-0a9b' % user


def refresh(user):
    return 'sEcReT-refresh-%s-3c4d' % user


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def seed(days=None, codes=(), refresh_tokens=None, more_pairs=None):
    """Users alice, bob and carol, each with one pair for the client, expiring in days[user] days (default 300),
    and the pairs of more_pairs ({user: [(access, refresh)]}) besides, valid as theirs."""
    days = days or {}
    refresh_tokens = refresh_tokens or {}
    more_pairs = more_pairs or {}
    world = {
        'services': [{'name': 'unit_service', 'label': 'Unit Service'}],
        'clients': [
            {
                'client_id': CLIENT_ID,
                'client_secret': CLIENT_SECRET,
                'service': 'unit_service',
                'codes': [{'code': code, 'user': user, 'scopes': SCOPES} for code, user in codes],
            }
        ],
        'users': [
            {
                'username': user,
                'timezone': 'UTC',
                'tokens': [
                    {
                        'token': access(user),
                        'refresh_token': refresh_tokens.get(user, refresh(user)),
                        'service': 'unit_service',
                        'scopes': SCOPES,
                        'expires_in_days': days.get(user, 300),
                    }
                ],
                'attributes': [],
            }
            for user in USERS
        ],
    }
    for user in world['users']:
        own = user['tokens'][0]
        user['tokens'] += [
            dict(own, token=token, refresh_token=refresh) for token, refresh in more_pairs.get(user['username'], [])
        ]
    return world


def store_entries(days=None, users=USERS):
    days = days or {}
    return dict(
        (
            user,
            {
                'username': user,
                'access_token': access(user),
                'refresh_token': refresh(user),
                'expires_at': format_expires_at(now() + datetime.timedelta(days=days.get(user, 300))),
                'scope': ' '.join(SCOPES),
            },
        )
        for user in users
    )


ALL_SECRETS = [CLIENT_SECRET, CODE] + [access(u) for u in USERS] + [refresh(u) for u in USERS]


def make_action(args, check_mode=False, diff=False, secrets=None, environment=None):
    # The task runs in the controller whatever the connection, and never ships a module.
    return build_action(
        ActionModule,
        args,
        transport='ssh',
        check_mode=check_mode,
        diff=diff,
        environment=environment,
        action='existio.exist.token',
        vault_secrets=secrets or [],
        module_answer=AssertionError('the token task never ships a module'),
    )


def run(emulator, check_mode=False, diff=False, secrets=None, **args):
    base = dict(api_url=emulator.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retries=0)
    base.update(args)
    return make_action(base, check_mode=check_mode, diff=diff, secrets=secrets).run(task_vars={})


def refresh_store(emulator, path, **args):
    return run(emulator, grant='refresh_token', store=path, **args)


def exchange(emulator, **args):
    return run(emulator, grant='authorization_code', code=CODE, redirect_uri=REDIRECT, **args)


def assert_no_secret(result, *extra):
    text = json.dumps(result)
    for secret in ALL_SECRETS + list(extra):
        assert secret not in text


def api_log(emulator):
    return ['%s %s %s' % (r['method'], r['path'], r['status']) for r in emulator.admin.requests()]


def profile_status(emulator, token):
    return requests.get(
        emulator.url + '/api/2/accounts/profile/', headers={'Authorization': 'Bearer ' + token}, timeout=10
    ).status_code


def read_store(path, secrets=None):
    return TokenStore(path, secrets).load()


def recovery_files(path):
    return sorted(glob.glob(path + '.recovered-*'))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


VAULT = [('prod', VaultSecret(b'unit-vault-password'))]


def encrypt_store(path):
    with open(path, 'rb') as handle:
        data = handle.read()
    with open(path, 'wb') as handle:
        handle.write(VaultLib(VAULT).encrypt(data, secret=VAULT[0][1], vault_id='prod'))


class FailingSaves:
    """Make TokenStore.save fail for the paths a test names (a full disk, a read-only file system...)."""

    def __init__(self, monkeypatch, fail):
        self.fail = fail
        original = TokenStore.save

        def save(store, entries):
            if self.fail(store.path):
                raise _token_store.TokenStoreError(
                    '%s: cannot write the token store (No space left on device)' % store.path
                )
            return original(store, entries)

        monkeypatch.setattr(TokenStore, 'save', save)


# -- fixtures: re-exported by the conftest.py of action/ and plugin_utils/, the folders of the token task's tests
# (not of tests/unit/plugins/: ansible-test runs the modules' tests where controller code cannot be imported).
# emulator: an emulator over HTTP, one per test module (a test module may define its own); world(**seed options):
# reset the emulator to seed(...) and return it; store(entries=None, **store_entries options): write a token
# store and return its path (store.path).


@pytest.fixture(scope='module')
def emulator():
    with BackgroundEmulator() as running:
        yield running


@pytest.fixture
def world(emulator):
    """Load a seed; returns the emulator."""

    def load(**kwargs):
        emulator.admin.reset(seed(**kwargs))
        return emulator

    return load


@pytest.fixture
def store(tmp_path):
    path = str(tmp_path / 'tokens.yml')

    def write(entries=None, **kwargs):
        TokenStore(path).save(entries if entries is not None else store_entries(**kwargs))
        return path

    write.path = path
    return write
