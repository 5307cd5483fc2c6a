# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.users inventory plugin: stores plain and vault-encrypted, groups, constructed
features, and validate_tokens against the emulator (in a background thread)."""

from __future__ import annotations

import datetime
import os
import pathlib
import tempfile
from unittest import mock

import pytest
import yaml
from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.plugins.doc_fragments import constructed
from ansible.template import Templar
from ansible.utils.display import Display
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.inventory import users as plugin_module
from ansible_collections.existio.exist.plugins.lookup import stored_token as stored_token_module
from ansible_collections.existio.exist.plugins.plugin_utils import _store_users
from ansible_collections.existio.exist.tests.unit.plugins import hostile_stores
from ansible_collections.existio.exist.tests.unit.plugins.documented import documented_options
from exist_emulator.testing import BackgroundEmulator

NAME = 'existio.exist.users'
VAULT_PASSWORD = b'fleet-vault-password'
TOKENS = {
    'alice': 'inv-alice-s3cret-7f01',
    'bob': 'inv-bob-s3cret-7f02',
    'carol': 'inv-carol-s3cret-7f03',
}
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def moment(days):
    return (NOW + datetime.timedelta(days=days)).strftime('%Y-%m-%dT%H:%M:%SZ')


def store_entries():
    return {
        'alice': {
            'username': 'alice',
            'access_token': TOKENS['alice'],
            'refresh_token': 'inv-alice-refresh',
            'expires_at': moment(300),
            'scope': 'mood_read mood_write activity_read',
        },
        'bob': {
            'username': 'bob',
            'access_token': TOKENS['bob'],
            'refresh_token': 'inv-bob-refresh',
            'expires_at': moment(10),
            'scope': 'activity_read activity_write',
        },
        'carol': {
            'access_token': TOKENS['carol'],
            'refresh_token': 'inv-carol-refresh',
            'expires_at': moment(-2),
            'scope': 'mood_read',
        },
    }


def plugin_options():
    """The options as the plugin loader declares them: the plugin's own, ansible-core's constructed fragment and
    this collection's connection fragments."""
    doc = yaml.safe_load(plugin_module.DOCUMENTATION)
    assert doc['extends_documentation_fragment'][0] == 'constructed'
    fragment = yaml.safe_load(constructed.ModuleDocFragment.DOCUMENTATION)
    return dict(fragment['options'], **documented_options(plugin_module))


@pytest.fixture
def captured(monkeypatch):
    """Everything the plugin shows, at the highest verbosity."""
    lines = []
    monkeypatch.setattr(Display, 'verbosity', 5, raising=False)
    monkeypatch.setattr(Display, 'display', lambda self, msg, *args, **kwargs: lines.append(str(msg)))
    monkeypatch.setattr(Display, 'warning', lambda self, msg, *args, **kwargs: lines.append('WARNING ' + str(msg)))
    monkeypatch.setattr(Display, 'debug', lambda self, msg, *args, **kwargs: lines.append(str(msg)))
    return lines


def write_store(directory, entries=None, encrypt=False, name='tokens.yml'):
    text = yaml.safe_dump(store_entries() if entries is None else entries).encode('utf-8')
    if encrypt:
        text = VaultLib([('default', VaultSecret(VAULT_PASSWORD))]).encrypt(text)
    path = directory / name
    path.write_bytes(text)
    return path


def write_config(directory, name='fleet.exist_users.yml', **options):
    config = dict(plugin=NAME, store='tokens.yml')
    config.update(options)
    path = directory / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def parse(config_path, vault=False):
    """Run the plugin as `ansible-inventory -i CONFIG` would; returns (inventory, loader)."""
    C.config.initialize_plugin_configuration_definitions('inventory', NAME, plugin_options())
    plugin = plugin_module.InventoryModule()
    plugin._load_name = NAME
    plugin._redirected_names = [NAME]
    loader = DataLoader()
    if vault:
        loader.set_vault_secrets([('default', VaultSecret(VAULT_PASSWORD))])
    inventory = InventoryData()
    assert plugin.verify_file(config_path)
    plugin.parse(inventory, loader, config_path, cache=False)
    return inventory, loader


def host_vars(inventory, name):
    return inventory.get_host(name).get_vars()


def members(inventory, group):
    return sorted(host.name for host in inventory.groups[group].get_hosts())


def assert_no_token(texts):
    for text in texts:
        for token in TOKENS.values():
            assert token not in str(text)


# -- hosts, variables and groups ---------------------------------------------


def test_one_host_per_user_with_its_token_and_groups(tmp_path, captured):
    write_store(tmp_path)
    inventory, unused_loader = parse(write_config(tmp_path))
    assert sorted(inventory.hosts) == ['alice', 'bob', 'carol']
    alice = host_vars(inventory, 'alice')
    assert alice['exist_token'] == TOKENS['alice']
    assert alice['exist_username'] == 'alice'
    assert alice['exist_token_expires_at'] == moment(300)
    assert alice['exist_token_expires_in_days'] in (299, 300)
    assert alice['exist_token_scopes'] == ['activity_read', 'mood_read', 'mood_write']
    assert alice['exist_token_store'] == str(tmp_path / 'tokens.yml')
    assert alice['ansible_connection'] == 'local'
    assert 'exist_token_error' not in alice
    assert host_vars(inventory, 'carol')['exist_token_expires_in_days'] < 0
    assert members(inventory, 'exist_users') == ['alice', 'bob', 'carol']
    assert members(inventory, 'scope_mood_read') == ['alice', 'carol']
    assert members(inventory, 'scope_mood_write') == ['alice']
    assert members(inventory, 'scope_activity_write') == ['bob']
    # bob expires in 10 days (within the default 30), carol has expired.
    assert members(inventory, 'exist_token_expiring') == ['bob', 'carol']
    assert members(inventory, 'exist_token_expired') == ['carol']
    # Exists (empty) without validate_tokens, so exist_users:!exist_token_invalid never warns.
    assert members(inventory, 'exist_token_invalid') == []
    assert_no_token(captured)


def test_the_python_of_the_playbook_is_a_template_and_the_token_is_not(tmp_path):
    entries = store_entries()
    entries['alice']['access_token'] = 'braces{{ 7 * 7 }}s3cret'
    write_store(tmp_path, entries)
    inventory, loader = parse(write_config(tmp_path))
    variables = dict(host_vars(inventory, 'alice'), ansible_playbook_python='/opt/venv/bin/python')
    templar = Templar(loader=loader, variables=variables)
    assert templar.template(variables['ansible_python_interpreter']) == '/opt/venv/bin/python'
    assert templar.template(variables['exist_token']) == 'braces{{ 7 * 7 }}s3cret'


def test_expiring_within_days_and_no_local_connection(tmp_path):
    write_store(tmp_path)
    inventory, unused_loader = parse(write_config(tmp_path, expiring_within_days=5, local_connection=False))
    assert members(inventory, 'exist_token_expiring') == ['carol']
    assert 'ansible_connection' not in host_vars(inventory, 'alice')
    assert 'ansible_python_interpreter' not in host_vars(inventory, 'alice')
    inventory, unused_loader = parse(write_config(tmp_path, expiring_within_days=365))
    assert members(inventory, 'exist_token_expiring') == ['alice', 'bob', 'carol']


def test_keyed_groups_groups_and_compose(tmp_path):
    write_store(tmp_path)
    config = write_config(
        tmp_path,
        keyed_groups=[
            {'key': "exist_token_scopes | map('regex_replace', '_(read|write)$', '') | unique", 'prefix': 'group'}
        ],
        groups={'due_soon': 'exist_token_expires_in_days < 30', 'reads_mood': "'mood_read' in exist_token_scopes"},
        compose={'exist_days_left': 'exist_token_expires_in_days * 1', 'region': "'eu'"},
    )
    inventory, unused_loader = parse(config)
    assert members(inventory, 'group_mood') == ['alice', 'carol']
    assert members(inventory, 'group_activity') == ['alice', 'bob']
    assert members(inventory, 'due_soon') == ['bob', 'carol']
    assert members(inventory, 'reads_mood') == ['alice', 'carol']
    assert host_vars(inventory, 'bob')['region'] == 'eu'
    assert host_vars(inventory, 'bob')['exist_days_left'] == host_vars(inventory, 'bob')['exist_token_expires_in_days']


def test_strict_fails_on_a_bad_expression_without_the_token(tmp_path, captured):
    write_store(tmp_path)
    config = write_config(tmp_path, strict=True, compose={'broken': 'exist_token ~ no_such_variable'})
    with pytest.raises(AnsibleError) as excinfo:
        parse(config)
    assert_no_token([excinfo.value, excinfo.value.message] + captured)
    # Without strict the host simply does not get the variable.
    inventory, unused_loader = parse(write_config(tmp_path, compose={'broken': 'exist_token ~ no_such_variable'}))
    assert 'broken' not in host_vars(inventory, 'alice')


def stored_token_lookup(loader):
    """The existio.exist.stored_token lookup as the plugin loader makes it (a plain pytest run has no collection
    loader configured)."""
    C.config.initialize_plugin_configuration_definitions(
        'lookup', 'existio.exist.stored_token', documented_options(stored_token_module)
    )
    plugin = stored_token_module.LookupModule(loader=loader)
    plugin._load_name = 'existio.exist.stored_token'
    return plugin


def test_include_token_false_reads_the_token_from_the_store_when_used(tmp_path):
    store = write_store(tmp_path)
    inventory, loader = parse(write_config(tmp_path, include_token=False))
    variables = host_vars(inventory, 'bob')
    assert_no_token(repr(value) for value in variables.values())
    assert variables['exist_token'] == "{{ lookup('existio.exist.stored_token', '%s', user='bob') }}" % store
    assert stored_token_lookup(loader).run([str(store)], variables=variables, user='bob') == [TOKENS['bob']]


def test_include_token_false_a_task_reads_no_store_after_the_inventory(tmp_path, store_reads):
    store = write_store(tmp_path, encrypt=True, name='tokens.vault.yml')
    inventory, loader = parse(write_config(tmp_path, store='tokens.vault.yml', include_token=False), vault=True)
    assert store_reads == [str(store)]
    lookup = stored_token_lookup(loader)
    for username in ('alice', 'bob', 'carol', 'alice'):
        assert lookup.run([str(store)], variables={}, user=username) == [TOKENS[username]]
    assert store_reads == [str(store)]


def test_include_token_false_a_forked_worker_inherits_the_tokens_the_inventory_read(tmp_path, store_reads):
    # Ansible templates a task's arguments in a worker forked from the controller for each host-task.
    store = write_store(tmp_path)
    inventory, loader = parse(write_config(tmp_path, include_token=False))
    lookup = stored_token_lookup(loader)
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's result is its exit status)
        try:
            good = lookup.run([str(store)], variables={}, user='carol') == [TOKENS['carol']]
            os._exit(0 if good and store_reads == [str(store)] else 3)
        except BaseException:
            os._exit(4)
    unused_pid, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 0


def test_include_token_false_a_store_replaced_after_the_inventory_is_read_again(tmp_path, store_reads):
    store = write_store(tmp_path)
    inventory, loader = parse(write_config(tmp_path, include_token=False))
    refreshed = store_entries()
    refreshed['bob']['access_token'] = 'inv-bob-refreshed-7f09'
    write_store(tmp_path, refreshed, name='tokens.yml.new')
    os.replace(str(tmp_path / 'tokens.yml.new'), str(store))
    assert stored_token_lookup(loader).run([str(store)], variables={}, user='bob') == ['inv-bob-refreshed-7f09']
    assert store_reads == [str(store), str(store)]


def test_include_token_false_leaves_out_a_name_it_cannot_quote(tmp_path, captured):
    entries = store_entries()
    entries["o'brien"] = dict(entries['alice'], username="o'brien")
    write_store(tmp_path, entries)
    inventory, unused_loader = parse(write_config(tmp_path, include_token=False))
    # One user's name never takes the others' inventory down.
    assert sorted(inventory.hosts) == ['alice', 'bob', 'carol']
    assert "o'brien" in inventory.groups['exist_users'].get_vars()['exist_users_left_out']
    assert any('"o\'brien": a name include_token=false cannot quote' in line for line in captured)


def test_include_token_false_refuses_a_store_path_it_cannot_quote(tmp_path):
    folder = tmp_path / "o'brien"
    folder.mkdir()
    write_store(folder)
    with pytest.raises(AnsibleParserError, match='include_token=false cannot name the store path'):
        parse(write_config(folder, include_token=False))


# -- the store ---------------------------------------------------------------


def test_a_vault_encrypted_store(tmp_path, captured):
    path = write_store(tmp_path, encrypt=True, name='tokens.vault.yml')
    assert path.read_bytes().startswith(b'$ANSIBLE_VAULT;')
    config = write_config(tmp_path, store='tokens.vault.yml')
    inventory, unused_loader = parse(config, vault=True)
    assert host_vars(inventory, 'carol')['exist_token'] == TOKENS['carol']
    assert members(inventory, 'exist_token_expired') == ['carol']
    with pytest.raises(AnsibleParserError, match='vault-encrypted and cannot be decrypted') as excinfo:
        parse(config)
    assert_no_token([excinfo.value.message] + captured)


def test_the_store_path_absolute_or_relative_to_the_configuration(tmp_path):
    elsewhere = tmp_path / 'secrets'
    elsewhere.mkdir()
    path = write_store(elsewhere)
    config_dir = tmp_path / 'inventory'
    config_dir.mkdir()
    for store in (str(path), '../secrets/tokens.yml'):
        inventory, unused_loader = parse(write_config(config_dir, store=store))
        assert host_vars(inventory, 'alice')['exist_token_store'] == str(path)


def test_the_store_path_may_be_a_template(tmp_path, monkeypatch):
    (tmp_path / 'secrets').mkdir()
    path = write_store(tmp_path / 'secrets')
    monkeypatch.setenv('FLEET_SECRETS', str(tmp_path / 'secrets'))
    inventory, unused_loader = parse(write_config(tmp_path, store="{{ lookup('env', 'FLEET_SECRETS') }}/tokens.yml"))
    assert host_vars(inventory, 'alice')['exist_token_store'] == str(path)


def test_a_store_template_that_fails_names_the_option(tmp_path):
    write_store(tmp_path)
    config = write_config(tmp_path, store='{{ no_such_variable }}/tokens.yml')
    with pytest.raises(AnsibleParserError) as excinfo:
        parse(config)
    assert excinfo.value.message.startswith(
        "existio.exist.users: %s: store '{{ no_such_variable }}/tokens.yml' cannot be rendered: " % config
    )


def write_config_without_store(directory, **options):
    path = directory / 'fleet.exist_users.yml'
    path.write_text(yaml.safe_dump(dict(options, plugin=NAME)))
    return str(path)


def test_the_store_from_the_environment_when_the_file_gives_none(tmp_path, monkeypatch):
    path = write_store(tmp_path)
    monkeypatch.setenv('EXIST_TOKEN_STORE', str(path))
    (tmp_path / 'inventory').mkdir()
    inventory, unused_loader = parse(write_config_without_store(tmp_path / 'inventory'))
    assert sorted(inventory.hosts) == ['alice', 'bob', 'carol']
    assert host_vars(inventory, 'alice')['exist_token_store'] == str(path)


def test_the_file_s_store_wins_over_the_environment_s(tmp_path, monkeypatch):
    path = write_store(tmp_path)
    monkeypatch.setenv('EXIST_TOKEN_STORE', str(tmp_path / 'elsewhere.yml'))
    inventory, unused_loader = parse(write_config(tmp_path))
    assert host_vars(inventory, 'alice')['exist_token_store'] == str(path)


def test_the_environment_s_store_is_a_path_not_a_template(tmp_path, monkeypatch):
    monkeypatch.setenv('EXIST_TOKEN_STORE', str(tmp_path / '{{ 7 * 6 }}.yml'))
    with pytest.raises(AnsibleParserError, match=r'the token store .*/\{\{ 7 \* 6 \}\}\.yml does not exist'):
        parse(write_config_without_store(tmp_path))


def test_no_store_in_the_file_nor_the_environment_names_both(tmp_path, monkeypatch):
    monkeypatch.delenv('EXIST_TOKEN_STORE', raising=False)
    config = write_config_without_store(tmp_path)
    with pytest.raises(AnsibleParserError) as excinfo:
        parse(config)
    assert excinfo.value.message == (
        'existio.exist.users: %s: no token store: give its path as store in this file or in the environment '
        'variable EXIST_TOKEN_STORE' % config
    )


def test_cache_options_are_ignored_with_a_warning_naming_them(tmp_path, captured):
    write_store(tmp_path)
    config = write_config(tmp_path, cache=True, cache_plugin='ansible.builtin.jsonfile', cache_timeout=3600)
    inventory, unused_loader = parse(config)
    assert sorted(inventory.hosts) == ['alice', 'bob', 'carol']
    warnings = [line for line in captured if line.startswith('WARNING ')]
    assert warnings == [
        'WARNING existio.exist.users: %s: cache, cache_plugin, cache_timeout are ignored: this inventory plugin does '
        'not cache (it is not Cacheable); its store is a local file read in milliseconds, and an inventory cache '
        "would write every token in plain text into the cache plugin's files" % config
    ]


def test_no_cache_option_no_warning(tmp_path, captured):
    write_store(tmp_path)
    parse(write_config(tmp_path))
    assert not [line for line in captured if line.startswith('WARNING ')]


def test_a_missing_store_is_an_error_not_an_empty_inventory(tmp_path):
    with pytest.raises(AnsibleParserError, match='does not exist; exchange a code into it with existio.exist.token'):
        parse(write_config(tmp_path))


@pytest.mark.parametrize(
    'text, message',
    [
        ('alice: [not, a, mapping]\n', "user 'alice' must be a mapping"),
        ('alice: {access_token: %s, expires_at: "2027-01-01T00:00:00Z"}\n' % TOKENS['alice'], 'has no refresh_token'),
        ('alice: {access_token: %s, refresh_token: r, expires_at: soon}\n' % TOKENS['alice'], 'not an ISO 8601'),
        ('alice:\n  access_token: %s\n bad: [indent\n' % TOKENS['alice'], 'not valid YAML'),
    ],
)
def test_a_broken_store_names_the_problem_never_the_token(tmp_path, captured, text, message):
    (tmp_path / 'tokens.yml').write_text(text)
    with pytest.raises(AnsibleParserError) as excinfo:
        parse(write_config(tmp_path))
    assert message in excinfo.value.message
    assert_no_token([excinfo.value.message] + captured)


@pytest.mark.parametrize(
    'options, message',
    [
        ({'expiring_within_days': -1}, 'expiring_within_days must be a whole number of days from 0 to 3660'),
        ({'validate_concurrency': 0}, 'validate_concurrency must be a whole number of requests from 1 to 64'),
        ({'validate_tokens': True, 'timeout': 0}, 'timeout must be a whole number of seconds from 1 to 3600'),
    ],
)
def test_options_are_checked_before_anything_is_read(tmp_path, options, message):
    write_store(tmp_path)
    with pytest.raises(AnsibleParserError, match=message):
        parse(write_config(tmp_path, **options))


def test_verify_file(tmp_path):
    plugin = plugin_module.InventoryModule()
    write_store(tmp_path)
    assert plugin.verify_file(write_config(tmp_path, name='prod.exist_users.yml'))
    assert plugin.verify_file(write_config(tmp_path, name='exist_users.yaml'))
    assert plugin.verify_file(write_config(tmp_path, name='fleet.yml'))
    (tmp_path / 'other.yml').write_text('plugin: amazon.aws.aws_ec2\n')
    (tmp_path / 'hosts.yml').write_text('all:\n  hosts:\n    a:\n')
    (tmp_path / 'weird.yml').write_text('!!python/object:os.system\n')
    for name in ('other.yml', 'hosts.yml', 'weird.yml', 'tokens.yml', 'missing.exist_users.yml'):
        assert not plugin.verify_file(str(tmp_path / name)), name


# -- validate_tokens against the emulator ------------------------------------


def emulator_seed():
    def user(name, token, scopes):
        return {
            'username': name,
            'timezone': 'UTC',
            'tokens': [{'token': token, 'service': 'fleet', 'scopes': scopes, 'refresh_token': name + '-refresh'}],
            'attributes': [],
        }

    return {
        'services': [{'name': 'fleet', 'label': 'Fleet'}],
        'clients': [],
        'users': [
            user('alice', TOKENS['alice'], ['all']),
            user('bob', TOKENS['bob'], ['activity_read']),
            # carol's store entry holds a token Exist does not know.
            user('carol', 'inv-carol-current-token', ['all']),
            user('dave', 'inv-dave-s3cret-7f04', ['all']),
        ],
    }


@pytest.fixture(scope='module')
def emulator():
    with BackgroundEmulator(seed=emulator_seed()) as server:
        yield server


def test_validate_tokens_one_profile_request_per_user(tmp_path, emulator, captured):
    entries = store_entries()
    # eve's entry holds dave's token: it works, but for another user.
    entries['eve'] = dict(entries['alice'], username='eve', access_token='inv-dave-s3cret-7f04')
    write_store(tmp_path, entries)
    emulator.admin.clear_requests()
    config = write_config(tmp_path, validate_tokens=True, api_url=emulator.url, use_proxy=False, validate_concurrency=3)
    inventory, unused_loader = parse(config)
    log = emulator.admin.requests()
    assert sorted((entry['method'], entry['path'], entry['status']) for entry in log) == sorted(
        [('GET', '/api/2/accounts/profile/', 200)] * 3 + [('GET', '/api/2/accounts/profile/', 401)]
    )
    assert members(inventory, 'exist_token_invalid') == ['carol', 'eve']
    carol, eve = host_vars(inventory, 'carol'), host_vars(inventory, 'eve')
    assert '401' in carol['exist_token_error']
    assert eve['exist_token_error'] == "the token belongs to the Exist user 'dave', not 'eve'"
    assert 'exist_token_error' not in host_vars(inventory, 'alice')
    # A working token that has expired in the store is still a user of the fleet: the store says when to refresh.
    assert members(inventory, 'exist_users') == ['alice', 'bob', 'carol', 'eve']
    assert any('2 of 4 token(s) failed validation' in line and 'carol, eve' in line for line in captured)
    assert_no_token([carol['exist_token_error'], eve['exist_token_error'], 'inv-dave-s3cret-7f04'] + captured)
    assert not any('inv-dave-s3cret-7f04' in line for line in captured)


def test_validate_tokens_takes_the_api_url_from_the_environment(tmp_path, emulator, monkeypatch):
    write_store(tmp_path, dict((name, store_entries()[name]) for name in ('alice', 'bob')))
    monkeypatch.setenv('EXIST_API_URL', emulator.url)
    emulator.admin.clear_requests()
    inventory, unused_loader = parse(write_config(tmp_path, validate_tokens=True, use_proxy=False))
    assert len(emulator.admin.requests()) == 2
    assert members(inventory, 'exist_token_invalid') == []


def test_validate_tokens_when_exist_cannot_be_reached(tmp_path, captured):
    write_store(tmp_path)
    config = write_config(tmp_path, validate_tokens=True, api_url='http://127.0.0.1:9', retries=0, use_proxy=False)
    inventory, unused_loader = parse(config)
    assert members(inventory, 'exist_token_invalid') == ['alice', 'bob', 'carol']
    assert '127.0.0.1:9' in host_vars(inventory, 'alice')['exist_token_error']
    assert any('3 of 3 token(s) failed validation' in line for line in captured)
    assert_no_token(captured + [host_vars(inventory, name)['exist_token_error'] for name in TOKENS])


@pytest.mark.parametrize(
    'options, message',
    [
        ({'api_url': 'http://exist.io'}, 'plain http://'),
        ({'ca_path': '/nonexistent/ca.pem'}, "ca_path '/nonexistent/ca.pem' is not a readable CA bundle file"),
    ],
)
def test_validate_tokens_with_unusable_connection_options_fails_the_inventory(tmp_path, options, message):
    write_store(tmp_path)
    with pytest.raises(AnsibleParserError, match=message):
        parse(write_config(tmp_path, validate_tokens=True, **options))


def test_no_request_without_validate_tokens(tmp_path, monkeypatch):
    import requests

    def refuse(*args, **kwargs):
        raise AssertionError('an HTTP request was made')

    monkeypatch.setattr(requests.Session, 'request', refuse)
    write_store(tmp_path)
    inventory, unused_loader = parse(write_config(tmp_path))
    assert len(inventory.hosts) == 3


# -- whatever the store holds --------------------------------------------------


def groups_from_variables(variables, entry, expiring_within_days=30):
    """The groups a host belongs in, from its own variables and store entry (its marks)."""
    sanitize = plugin_module.InventoryModule._sanitize_group_name
    groups = set(['exist_users'] + [sanitize('scope_' + scope) for scope in variables['exist_token_scopes']])
    days = variables['exist_token_expires_in_days']
    if days < expiring_within_days:
        groups.add('exist_token_expiring')
    if days < 0:
        groups.add('exist_token_expired')
    # reauthorization_needed marks when true, refresh_outcome_unknown whenever present (a time).
    if entry.get('reauthorization_needed'):
        groups.add('exist_token_reauthorization_needed')
    if entry.get('refresh_outcome_unknown') is not None:
        groups.add('exist_token_refresh_outcome_unknown')
    return groups


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store=hostile_stores.marked_stores)
def test_any_store_gives_hosts_or_a_parser_error_and_never_shows_a_token(store):
    shown = []
    with tempfile.TemporaryDirectory() as directory, mock.patch.object(
        Display, 'display', lambda self, msg, *args, **kwargs: shown.append(str(msg))
    ), mock.patch.object(Display, 'warning', lambda self, msg, *args, **kwargs: shown.append(str(msg))):
        folder = pathlib.Path(directory)
        (folder / 'tokens.yml').write_text(hostile_stores.store_text(store), encoding='utf-8')
        try:
            inventory, dummy = parse(write_config(folder))
        except AnsibleParserError as exc:
            shown.append(exc.message)
        else:
            # One host per user, named by the username, with that user's token, or a user left out and named.
            entries = yaml.safe_load(hostile_stores.store_text(store)) or {}
            refused = left_out(inventory)
            assert sorted(list(inventory.hosts) + list(refused)) == sorted(entries)
            for username in refused:
                assert any(repr(username[:80]) in text for text in shown), username
            shown.append(repr(refused))
            for username in inventory.hosts:
                variables = host_vars(inventory, username)
                assert variables['exist_token'] == entries[username]['access_token']
                # Each host is in exactly the groups its own entry puts it in.
                groups = set(group.name for group in inventory.get_host(username).get_groups())
                assert groups - {'all'} == groups_from_variables(variables, entries[username]), username
            assert not set(inventory.hosts) & set(inventory.groups)
    assert not any(secret in text for text in shown for secret in hostile_stores.SECRETS), shown


# -- host names that collide with group names ---------------------------------

KEYED_BY_SCOPE_GROUP = {
    'key': "exist_token_scopes | map('regex_replace', '_(read|write)$', '') | unique",
    'prefix': 'group',
}


def left_out(inventory):
    return inventory.groups['exist_users'].get_vars()['exist_users_left_out']


def assert_groups_as_the_store_says(inventory, entries, admitted, expiring_within_days=30, constructed=False):
    """Every group holds exactly the users the store puts there: nobody is in another's groups."""
    expected = dict(
        (group, set())
        for group in (
            'exist_users',
            'exist_token_expiring',
            'exist_token_expired',
            'exist_token_invalid',
            'exist_token_reauthorization_needed',
            'exist_token_refresh_outcome_unknown',
            'exist_token_recovery_pending',
        )
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    for username in admitted:
        entry = entries[username]
        expires = datetime.datetime.strptime(entry['expires_at'], '%Y-%m-%dT%H:%M:%SZ').replace(
            tzinfo=datetime.timezone.utc
        )
        groups = ['exist_users'] + ['scope_' + scope for scope in entry['scope'].split()]
        if expires <= now + datetime.timedelta(days=expiring_within_days):
            groups.append('exist_token_expiring')
        if expires <= now:
            groups.append('exist_token_expired')
        if entry.get('reauthorization_needed'):
            groups.append('exist_token_reauthorization_needed')
        if entry.get('refresh_outcome_unknown') is not None:
            groups.append('exist_token_refresh_outcome_unknown')
        if constructed:
            groups.extend('group_' + scope.rsplit('_', 1)[0] for scope in entry['scope'].split())
            if (expires - now).total_seconds() // 86400 < 30:
                groups.append('due_soon')
        for group in groups:
            expected.setdefault(group, set()).add(username)
    actual = dict(
        (name, set(host.name for host in group.get_hosts()))
        for name, group in inventory.groups.items()
        if name not in ('all', 'ungrouped')
    )
    assert actual == expected
    assert not set(inventory.hosts) & set(inventory.groups)


@pytest.mark.parametrize(
    'username',
    [
        'all',
        'ungrouped',
        'localhost',
        'exist_users',
        'scope_mood_read',
        'exist_token_expired',
        'exist_token_expiring',
        'exist_token_invalid',
        'exist_token_refresh_outcome_unknown',
    ],
)
def test_a_user_named_like_a_group_is_left_out_and_nobody_is_misgrouped(tmp_path, captured, username):
    entries = store_entries()
    entries[username] = dict(entries['bob'], username=username, access_token='inv-clash-s3cret-7f09')
    write_store(tmp_path, entries)
    inventory, unused_loader = parse(write_config(tmp_path))
    assert sorted(inventory.hosts) == ['alice', 'bob', 'carol']
    assert_groups_as_the_store_says(inventory, entries, ['alice', 'bob', 'carol'])
    assert username in left_out(inventory) and 'named like' in left_out(inventory)[username]
    warning = [line for line in captured if line.startswith('WARNING') and 'not hosts of this inventory' in line]
    assert len(warning) == 1 and repr(username) in warning[0]
    assert not any('inv-clash-s3cret-7f09' in line for line in captured)


@pytest.mark.parametrize(
    'username, origin',
    [
        ('group_mood', 'keyed_groups makes (give it another prefix)'),
        ('due_soon', 'the groups option makes (rename that group)'),
    ],
)
def test_a_user_named_like_a_constructed_group_is_left_out(tmp_path, captured, username, origin):
    entries = store_entries()
    # The clashing user holds mood_read too: its own keyed group would hold it and every other mood user.
    entries[username] = dict(entries['alice'], username=username, expires_at=moment(3))
    write_store(tmp_path, entries)
    config = write_config(
        tmp_path, keyed_groups=[KEYED_BY_SCOPE_GROUP], groups={'due_soon': 'exist_token_expires_in_days < 30'}
    )
    inventory, unused_loader = parse(config)
    assert sorted(inventory.hosts) == ['alice', 'bob', 'carol']
    assert_groups_as_the_store_says(inventory, entries, ['alice', 'bob', 'carol'], constructed=True)
    assert left_out(inventory) == {username: 'named like the group %r that %s' % (username, origin)}
    assert any(repr(username) in line and origin in line for line in captured if line.startswith('WARNING'))


def test_a_user_named_like_a_group_or_host_of_another_source_is_left_out(tmp_path, captured):
    entries = store_entries()
    for name in ('webservers', 'db1'):
        entries[name] = dict(entries['bob'], username=name)
    write_store(tmp_path, entries)
    C.config.initialize_plugin_configuration_definitions('inventory', NAME, plugin_options())
    inventory = InventoryData()
    inventory.add_group('webservers')
    inventory.add_host('db1', group='webservers')
    plugin = plugin_module.InventoryModule()
    plugin._load_name = NAME
    plugin._redirected_names = [NAME]
    plugin.parse(inventory, DataLoader(), write_config(tmp_path), cache=False)
    assert members(inventory, 'webservers') == ['db1']
    assert members(inventory, 'exist_users') == ['alice', 'bob', 'carol']
    assert 'exist_token' not in host_vars(inventory, 'db1')
    assert left_out(inventory) == {
        'db1': 'already a host of another inventory source',
        'webservers': "named like the group 'webservers' of another inventory source",
    }


@pytest.mark.parametrize('username', ['a,b', 'a:b', 'a b', '*', 'bo?', 'x[0]', '!bob', '~b.b', '@file', 'nl\n'])
def test_a_user_a_host_pattern_cannot_select_is_left_out(tmp_path, captured, username):
    entries = store_entries()
    entries[username] = dict(entries['bob'], username=username)
    write_store(tmp_path, entries)
    inventory, unused_loader = parse(write_config(tmp_path))
    assert sorted(inventory.hosts) == ['alice', 'bob', 'carol']
    assert 'host pattern cannot select' in left_out(inventory)[username]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    store=hostile_stores.username_stores(),
    include_token=st.booleans(),
    constructed=st.booleans(),
)
def test_any_usernames_give_one_host_each_or_a_named_refusal_and_nobody_misgrouped(store, include_token, constructed):
    shown = []
    options = dict(include_token=include_token)
    if constructed:
        options.update(keyed_groups=[KEYED_BY_SCOPE_GROUP], groups={'due_soon': 'exist_token_expires_in_days < 30'})
    with tempfile.TemporaryDirectory() as directory, mock.patch.object(
        Display, 'display', lambda self, msg, *args, **kwargs: shown.append(str(msg))
    ), mock.patch.object(Display, 'warning', lambda self, msg, *args, **kwargs: shown.append(str(msg))):
        folder = pathlib.Path(directory)
        (folder / 'tokens.yml').write_text(hostile_stores.store_text(store), encoding='utf-8')
        inventory, dummy = parse(write_config(folder, **options))
    refused = left_out(inventory)
    admitted = sorted(inventory.hosts)
    # The store as YAML reads it back (a NEL in a key reads as a space, for one).
    store = yaml.safe_load(hostile_stores.store_text(store))
    # Every user is one host (with its own token) or refused, and a refusal is named in a warning.
    assert sorted(admitted + sorted(refused)) == sorted(store)
    for username in admitted:
        variables = host_vars(inventory, username)
        assert variables['exist_username'] == username
        if include_token:
            assert variables['exist_token'] == store[username]['access_token']
    for username in refused:
        assert any(repr(username[:80]) in text for text in shown), username
    # Nobody is refused whose name collides with nothing.
    for username in store:
        if (
            username not in hostile_stores.GROUP_NAMES
            and not _store_users.PATTERN_UNSAFE.search(username)
            and (include_token or plugin_module.PLAIN_LITERAL.match(username))
        ):
            assert username in admitted, (username, refused.get(username))
    assert_groups_as_the_store_says(inventory, store, admitted, constructed=constructed)
    texts = shown + [repr(refused)]
    assert not any(secret in text for text in texts for secret in hostile_stores.SECRETS)


# -- options as the configuration file gives them ------------------------------


@pytest.mark.parametrize(
    'option, value, message',
    [
        (
            'expiring_within_days',
            '\u00b2',
            "expiring_within_days must be a whole number of days from 0 to 3660, got '\u00b2'",
        ),
        # int() reads this Arabic-Indic digit as 3: accepted silently, it would be a number nobody wrote.
        ('expiring_within_days', '\u0663', "got '\u0663'"),
        ('expiring_within_days', '1' * 5000, "got '11111111111111111111'... (5000 characters)"),
        ('expiring_within_days', 2.5, 'got 2.5'),
        ('expiring_within_days', True, 'got True'),
        ('expiring_within_days', [30], 'got a list'),
        ('validate_concurrency', '9' * 4301, 'validate_concurrency must be a whole number of requests from 1 to 64'),
        ('timeout', '\u00b2', "timeout must be a whole number of seconds from 1 to 3600, got '\u00b2'"),
        ('retries', -1, 'retries must be a whole number of retries from 0 to 10, got -1'),
        ('rate_limit_wait', '1e3', "rate_limit_wait must be a whole number of seconds from 0 to 3600, got '1e3'"),
        ('include_token', 'flase', "include_token must be true or false, got 'flase'"),
        ('validate_tokens', 'yes please', "validate_tokens must be true or false, got 'yes please'"),
        ('strict', 'maybe', "strict must be true or false, got 'maybe'"),
    ],
)
def test_an_option_value_is_refused_naming_the_option_and_the_value(tmp_path, option, value, message):
    write_store(tmp_path)
    config = write_config(tmp_path, **{option: value})
    with pytest.raises(AnsibleParserError) as excinfo:
        parse(config)
    assert excinfo.value.message.startswith('existio.exist.users: %s: ' % config)
    assert message in excinfo.value.message
    assert len(excinfo.value.message) < 400


def test_numbers_written_as_text_in_ascii_still_work(tmp_path):
    write_store(tmp_path)
    inventory, unused_loader = parse(write_config(tmp_path, expiring_within_days='5', validate_concurrency=' 2 '))
    assert members(inventory, 'exist_token_expiring') == ['carol']


def test_a_number_yaml_cannot_read_names_its_option(tmp_path):
    write_store(tmp_path)
    config = tmp_path / 'fleet.exist_users.yml'
    config.write_text('plugin: %s\nstore: tokens.yml\nexpiring_within_days: %s\n' % (NAME, '7' * 5000))
    with pytest.raises(AnsibleParserError) as excinfo:
        parse(str(config))
    assert excinfo.value.message == (
        'existio.exist.users: %s: expiring_within_days must be a number Python can read, got a number of 5000 digits '
        '(77777777777777777777...)' % config
    )


@pytest.mark.parametrize(
    'option, message',
    [
        ('include_tokens', "unknown option 'include_tokens' (did you mean include_token?)"),
        ('expiring_within', "unknown option 'expiring_within' (did you mean expiring_within_days?)"),
        (
            'frobnicate',
            "unknown option 'frobnicate'; the options are listed by ansible-doc -t inventory existio.exist.users",
        ),
    ],
)
def test_an_unknown_option_is_an_error_naming_it_and_the_option_meant(tmp_path, captured, option, message):
    write_store(tmp_path)
    config = write_config(tmp_path, **{option: False})
    with pytest.raises(AnsibleParserError) as excinfo:
        parse(config)
    assert message in excinfo.value.message and config in excinfo.value.message
    assert_no_token([excinfo.value.message] + captured)


def test_every_number_option_is_checked_before_ansible_converts_it():
    numbers = sorted(name for name, option in plugin_options().items() if option.get('type') in ('int', 'integer'))
    assert numbers == sorted(plugin_module.NUMBER_OPTIONS)


# -- marks in the store, recovery files ----------------------------------------


def test_marked_users_have_their_token_state_their_group_and_a_warning(tmp_path, captured):
    entries = store_entries()
    entries['alice']['reauthorization_needed'] = True
    entries['bob']['refresh_outcome_unknown'] = '2026-11-28T10:00:00Z'
    entries['dave'] = dict(entries['alice'], username='dave', access_token='inv-dave-s3cret-7f04')
    del entries['dave']['reauthorization_needed']
    write_store(tmp_path, entries)
    inventory, unused_loader = parse(write_config(tmp_path))
    states = dict((name, host_vars(inventory, name)['exist_token_state']) for name in sorted(inventory.hosts))
    assert states == {
        'alice': 'reauthorization_needed',
        'bob': 'refresh_outcome_unknown',
        'carol': 'expired',
        'dave': 'valid',
    }
    assert members(inventory, 'exist_token_reauthorization_needed') == ['alice']
    assert members(inventory, 'exist_token_refresh_outcome_unknown') == ['bob']
    warnings = [line for line in captured if line.startswith('WARNING')]
    assert any("marked reauthorization_needed" in line and "'alice'" in line for line in warnings)
    assert any(
        "marked refresh_outcome_unknown" in line and "'bob' (refresh sent 2026-11-28T10:00:00Z)" in line
        for line in warnings
    )
    assert_no_token(captured)


def test_the_groups_of_the_marks_exist_when_nobody_is_marked(tmp_path, captured):
    write_store(tmp_path)
    inventory, unused_loader = parse(write_config(tmp_path))
    for group in (
        'exist_token_reauthorization_needed',
        'exist_token_refresh_outcome_unknown',
        'exist_token_recovery_pending',
    ):
        assert members(inventory, group) == []
    assert host_vars(inventory, 'alice')['exist_token_state'] == 'valid'
    assert not [line for line in captured if line.startswith('WARNING')]


def test_validate_tokens_sets_the_state_invalid(tmp_path):
    write_store(tmp_path)
    config = write_config(tmp_path, validate_tokens=True, api_url='http://127.0.0.1:9', retries=0, use_proxy=False)
    inventory, unused_loader = parse(config)
    assert set(host_vars(inventory, name)['exist_token_state'] for name in TOKENS) == {'invalid'}


def recovery_file(tmp_path, username, days, name=None, encrypt=False):
    entry = dict(
        store_entries()['alice'],
        username=username,
        access_token='inv-%s-recovered-s3cret' % username,
        refresh_token='inv-recovered-refresh',
        expires_at=moment(days),
    )
    key = username
    if name and name.startswith('pending-'):
        # A pair whose profile could not be read yet: no username anywhere.
        key = '(unknown user)'
        del entry['username']
    return write_store(tmp_path, {key: entry}, encrypt=encrypt, name='tokens.yml.recovered-%s' % (name or username))


def test_a_working_pair_in_a_recovery_file_is_named_with_what_to_do(tmp_path, captured):
    write_store(tmp_path)
    newer = recovery_file(tmp_path, 'bob', 365)
    older = recovery_file(tmp_path, 'alice', 1)
    only = recovery_file(tmp_path, 'erin', 365)
    pending = recovery_file(tmp_path, 'frank', 365, name='pending-20261128T100000000000Z')
    inventory, unused_loader = parse(write_config(tmp_path))
    assert host_vars(inventory, 'bob')['exist_token_state'] == 'recovery_pending'
    assert members(inventory, 'exist_token_recovery_pending') == ['bob']
    assert host_vars(inventory, 'alice')['exist_token_state'] == 'valid'
    warnings = [line for line in captured if line.startswith('WARNING')]
    merge = 'Run existio.exist.token with this store (any grant): it settles recovery files'
    for path, says in (
        (newer, "holds the working pair of user 'bob'; the store's pair no longer works"),
        (older, "holds an older pair of user 'alice' than the store"),
        (only, "holds the only pair of user 'erin', who is not in the store"),
        (pending, 'holds a new pair of a user whose name is not known yet'),
    ):
        assert any(str(path) in line and says in line and merge in line for line in warnings), says
    assert not any('recovered-s3cret' in line for line in captured)


def test_a_recovery_file_that_cannot_be_read_is_named(tmp_path, captured):
    write_store(tmp_path)
    path = recovery_file(tmp_path, 'bob', 365, encrypt=True)
    inventory, unused_loader = parse(write_config(tmp_path))
    assert any(str(path) in line and 'cannot be read' in line for line in captured if line.startswith('WARNING'))
    # With the vault secret, the pair in it is read.
    inventory, unused_loader = parse(write_config(tmp_path), vault=True)
    assert members(inventory, 'exist_token_recovery_pending') == ['bob']


def test_a_store_listing_a_user_twice_fails_the_inventory_naming_the_user(tmp_path, captured):
    entry = store_entries()['alice']
    text = yaml.safe_dump({'alice': entry}) + yaml.safe_dump({'alice': dict(entry, access_token=TOKENS['bob'])})
    (tmp_path / 'tokens.yml').write_text(text)
    with pytest.raises(AnsibleParserError) as excinfo:
        parse(write_config(tmp_path))
    assert 'existio.exist.users: ' in excinfo.value.message
    assert "lists user 'alice' twice" in excinfo.value.message
    assert_no_token([excinfo.value.message] + captured)
