# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.users inventory as a user runs it: `ansible-inventory` and `ansible-playbook` in a
subprocess, with this collection on ANSIBLE_COLLECTIONS_PATH. The store from EXIST_TOKEN_STORE (as an Automation
Platform credential injects it), a templated store path, the warning for cache options, and include_token=false
end to end (the token reaches the task; no output holds it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.existio.exist.plugins.inventory import users as plugin_module

# plugins/inventory/users.py -> the directory that holds ansible_collections/existio/exist.
COLLECTIONS_PATH = os.path.abspath(os.path.join(os.path.dirname(plugin_module.__file__), *(['..'] * 5)))
TOKENS = {'alice': 'cli-alice-s3cret-5501', 'bob': 'cli-bob-s3cret-5502'}


def write_store(path):
    entries = dict(
        (
            username,
            {'access_token': token, 'refresh_token': 'refresh-' + username, 'expires_at': '2030-01-01T00:00:00Z'},
        )
        for username, token in TOKENS.items()
    )
    path.write_text(yaml.safe_dump(entries))
    return str(path)


def write_config(directory, **options):
    path = directory / 'fleet.exist_users.yml'
    path.write_text(yaml.safe_dump(dict(options, plugin='existio.exist.users')))
    return str(path)


CLI_MAIN = 'import sys; sys.argv[0] = "ansible-%s"; from ansible.cli.%s import main; main()'


def ansible(tool, *args, cwd, **env):
    """(exit status, stdout, stderr) of `ansible-TOOL args`, through the CLI's main() as its script calls it.

    Not `python -m ansible TOOL`: that finds the tools by the distribution's entry points, which ansible-test
    units does not install.
    """
    run_env = dict(os.environ)
    for key in list(run_env):
        if key.startswith(('ANSIBLE_', 'EXIST_')):
            del run_env[key]
    run_env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH,
        ANSIBLE_INVENTORY_ENABLED='existio.exist.users',
        ANSIBLE_INVENTORY_UNPARSED_FAILED='true',
        ANSIBLE_CONFIG=str(cwd / 'ansible.cfg'),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_LOCAL_TEMP=str(cwd / 'tmp'),
        ANSIBLE_HOME=str(cwd / 'home'),
    )
    run_env.update(env)
    (cwd / 'ansible.cfg').write_text('[defaults]\n')
    done = subprocess.run(
        [sys.executable, '-c', CLI_MAIN % (tool, tool)] + list(args),
        cwd=str(cwd),
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def assert_no_token(*texts):
    for text in texts:
        for token in TOKENS.values():
            assert token not in text


@pytest.fixture
def fleet(tmp_path):
    (tmp_path / 'secrets').mkdir()
    store = write_store(tmp_path / 'secrets' / 'tokens.yml')
    (tmp_path / 'inventory').mkdir()
    return tmp_path, store


def test_the_store_from_exist_token_store(fleet):
    tmp_path, store = fleet
    config = write_config(tmp_path / 'inventory', include_token=False)
    status, out, err = ansible('inventory', '-i', config, '--list', cwd=tmp_path, EXIST_TOKEN_STORE=store)
    assert status == 0, err
    hostvars = json.loads(out)['_meta']['hostvars']
    assert sorted(hostvars) == ['alice', 'bob']
    assert hostvars['bob']['exist_token'] == "{{ lookup('existio.exist.stored_token', '%s', user='bob') }}" % store
    assert_no_token(out, err)


def test_neither_file_nor_environment_names_both(fleet):
    tmp_path, unused_store = fleet
    config = write_config(tmp_path / 'inventory')
    status, out, err = ansible('inventory', '-i', config, '--graph', cwd=tmp_path)
    assert status != 0
    assert 'no token store: give its path as store in this file or in the environment variable EXIST_TOKEN_STORE' in (
        ' '.join(err.split())
    )


def test_a_templated_store_and_the_warning_for_cache_options(fleet):
    tmp_path, store = fleet
    config = write_config(
        tmp_path / 'inventory',
        store="{{ lookup('ansible.builtin.env', 'FLEET_SECRETS') }}/tokens.yml",
        cache=True,
        cache_plugin='ansible.builtin.jsonfile',
    )
    status, out, err = ansible(
        'inventory', '-i', config, '--graph', cwd=tmp_path, FLEET_SECRETS=str(tmp_path / 'secrets')
    )
    assert status == 0, err
    assert '|--alice' in out and '|--bob' in out
    # Display wraps long warnings: compare the words.
    assert (
        'existio.exist.users: %s: cache, cache_plugin are ignored: this inventory plugin does not cache (it is not '
        'Cacheable)' % config
    ) in ' '.join(err.split())


def test_include_token_false_gives_the_task_the_token_and_shows_none(fleet):
    tmp_path, store = fleet
    config = write_config(tmp_path / 'inventory', store=store, include_token=False)
    playbook = tmp_path / 'check.yml'
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    'name': 'Every user gets its own token',
                    'hosts': 'exist_users',
                    'gather_facts': False,
                    'tasks': [
                        {
                            'name': 'The token is the store entry of this user',
                            'ansible.builtin.assert': {'that': ['exist_token == expected[inventory_hostname]']},
                            'vars': {'expected': TOKENS},
                        }
                    ],
                }
            ]
        )
    )
    status, out, err = ansible('playbook', '-i', config, str(playbook), '-v', cwd=tmp_path)
    assert status == 0, out + err
    assert 'ok=1' in out and 'failed=0' in out
    assert out.count('ok=1') == 2
    assert_no_token(out, err)
