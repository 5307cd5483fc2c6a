# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.stored_token lookup: one user's access token from a token store, the store read once per
process and again when the file changes; errors name the store and the user, never a token."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.existio.exist.plugins.lookup import stored_token as plugin_module
from ansible_collections.existio.exist.plugins.plugin_utils import _token_store
from ansible_collections.existio.exist.tests.unit.plugins.documented import documented_options

NAME = 'existio.exist.stored_token'
VAULT_PASSWORD = b'stored-token-vault-password'
TOKENS = {'alice': 'stored-alice-s3cret-0001', 'bob': 'stored-bob-s3cret-0002'}


def entries(tokens=None):
    return dict(
        (
            username,
            {'access_token': token, 'refresh_token': 'refresh-' + username, 'expires_at': '2030-01-01T00:00:00Z'},
        )
        for username, token in (tokens or TOKENS).items()
    )


def write_store(path, tokens=None, encrypt=False):
    data = yaml.safe_dump(entries(tokens)).encode('utf-8')
    if encrypt:
        data = VaultLib([('default', VaultSecret(VAULT_PASSWORD))]).encrypt(data)
    # As existio.exist.token writes it: a new file renamed over the store.
    temporary = str(path) + '.new'
    with open(temporary, 'wb') as f:
        f.write(data)
    os.replace(temporary, str(path))
    return str(path)


@pytest.fixture(autouse=True)
def empty_cache():
    _token_store.forget_access_tokens()
    yield
    _token_store.forget_access_tokens()


@pytest.fixture
def lookup():
    """The plugin as the plugin loader makes it (a plain pytest run has no collection loader configured)."""
    C.config.initialize_plugin_configuration_definitions('lookup', NAME, documented_options(plugin_module))

    def run(store, user, vault=False, basedir=None):
        loader = DataLoader()
        if basedir:
            loader.set_basedir(str(basedir))
        if vault:
            loader.set_vault_secrets([('default', VaultSecret(VAULT_PASSWORD))])
        plugin = plugin_module.LookupModule(loader=loader)
        plugin._load_name = NAME
        return plugin.run([store], variables={}, user=user)

    return run


def test_returns_the_user_s_access_token(tmp_path, lookup):
    store = write_store(tmp_path / 'tokens.yml')
    assert lookup(store, 'alice') == [TOKENS['alice']]
    assert lookup(store, 'bob') == [TOKENS['bob']]


def test_a_vault_encrypted_store_is_read_with_the_loader_s_secrets(tmp_path, lookup):
    store = write_store(tmp_path / 'tokens.vault.yml', encrypt=True)
    assert lookup(store, 'bob', vault=True) == [TOKENS['bob']]


def test_the_store_is_read_once_while_it_stays_the_same(tmp_path, lookup, store_reads):
    store = write_store(tmp_path / 'tokens.yml')
    for username in ['alice', 'bob'] * 5:
        assert lookup(store, username) == [TOKENS[username]]
    assert store_reads == [store]


def test_a_store_replaced_since_is_read_again(tmp_path, lookup, store_reads):
    store = write_store(tmp_path / 'tokens.yml')
    assert lookup(store, 'alice') == [TOKENS['alice']]
    write_store(store, tokens={'alice': 'stored-alice-refreshed-0003'})
    assert lookup(store, 'alice') == ['stored-alice-refreshed-0003']
    assert store_reads == [store, store]


def test_a_store_rewritten_in_place_with_another_size_is_read_again(tmp_path, lookup):
    store = write_store(tmp_path / 'tokens.yml')
    assert lookup(store, 'alice') == [TOKENS['alice']]
    with open(store, 'w', encoding='utf-8') as f:
        f.write(yaml.safe_dump(entries({'alice': 'stored-alice-edited-by-hand-0004'})))
    assert lookup(store, 'alice') == ['stored-alice-edited-by-hand-0004']


def test_a_relative_store_is_relative_to_the_playbook_directory(tmp_path, lookup):
    write_store(tmp_path / 'tokens.yml')
    assert lookup('tokens.yml', 'alice', basedir=tmp_path) == [TOKENS['alice']]


def test_a_user_not_in_the_store_is_named_with_the_store_and_no_token(tmp_path, lookup):
    store = write_store(tmp_path / 'tokens.yml')
    with pytest.raises(AnsibleLookupError) as excinfo:
        lookup(store, 'carol')
    message = excinfo.value.message
    assert message == (
        "%s: user 'carol' is not in the token store %s; exchange a code for that user into it with "
        'existio.exist.token' % (NAME, store)
    )


def test_a_missing_store_is_named(tmp_path, lookup):
    store = str(tmp_path / 'nowhere.yml')
    with pytest.raises(AnsibleLookupError, match='%s: the token store does not exist' % store):
        lookup(store, 'alice')


def test_a_broken_store_is_named_never_quoted(tmp_path, lookup):
    store = tmp_path / 'tokens.yml'
    store.write_text('alice:\n  access_token: %s\n  refresh_token: [unclosed\n' % TOKENS['alice'])
    with pytest.raises(AnsibleLookupError) as excinfo:
        lookup(str(store), 'alice')
    assert str(store) in excinfo.value.message and 'not valid YAML' in excinfo.value.message
    assert TOKENS['alice'] not in excinfo.value.message


def test_a_vault_store_without_the_password_says_what_to_give(tmp_path, lookup):
    store = write_store(tmp_path / 'tokens.vault.yml', encrypt=True)
    with pytest.raises(AnsibleLookupError, match='cannot be decrypted.*give the vault password'):
        lookup(store, 'alice')


@pytest.mark.parametrize('terms', [[], ['a.yml', 'b.yml']])
def test_exactly_one_store(tmp_path, terms):
    C.config.initialize_plugin_configuration_definitions('lookup', NAME, documented_options(plugin_module))
    plugin = plugin_module.LookupModule(loader=DataLoader())
    plugin._load_name = NAME
    with pytest.raises(AnsibleLookupError, match='give one token store, got %d' % len(terms)):
        plugin.run(terms, variables={}, user='alice')


def test_the_user_option_is_required(lookup, tmp_path):
    store = write_store(tmp_path / 'tokens.yml')
    with pytest.raises(AnsibleLookupError, match='user must be the username'):
        lookup(store, '')
