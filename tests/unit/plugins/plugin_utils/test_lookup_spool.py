# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The spool that carries the values lookup's request counts from forked workers to the fleet report."""

from __future__ import annotations

import json
import os
import stat
import tempfile

import pytest
import yaml
from ansible import constants as C
from ansible import context
from ansible.module_utils.common.collections import ImmutableDict

from ansible_collections.existio.exist.plugins.callback import fleet_report
from ansible_collections.existio.exist.plugins.plugin_utils import _lookup_spool as spool
from ansible_collections.existio.exist.plugins.plugin_utils._fleet_tally import UserTally


@pytest.fixture
def no_spool(monkeypatch):
    monkeypatch.delenv(spool.SPOOL_VARIABLE, raising=False)


@pytest.fixture
def opened(no_spool):
    directory = spool.open_spool()
    yield directory
    spool.close_spool(directory)


def lines_of(directory):
    with open(os.path.join(directory, spool.SPOOL_FILE), encoding='utf-8') as f:
        return [json.loads(line) for line in f.read().splitlines()]


def test_open_makes_a_private_directory_under_the_temp_dir_and_names_it(opened):
    assert stat.S_IMODE(os.stat(opened).st_mode) == 0o700
    assert os.path.dirname(opened) == tempfile.gettempdir()
    assert os.environ[spool.SPOOL_VARIABLE] == '%d:%s' % (os.getpid(), opened)


def test_close_removes_the_spool_and_its_name(opened):
    assert spool.record_requests('alice', 2)
    spool.close_spool(opened)
    assert not os.path.exists(opened)
    assert spool.SPOOL_VARIABLE not in os.environ


def test_without_a_spool_nothing_is_written(no_spool, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    assert spool.record_requests('alice', 3) is False
    assert list(tmp_path.iterdir()) == []


def test_one_line_per_call_and_read_adds_them_up_per_host(opened):
    for host, requests in (('alice', 1), ('bob', 4), ('alice', 2)):
        assert spool.record_requests(host, requests)
    assert lines_of(opened) == [
        {'host': 'alice', 'requests': 1},
        {'host': 'bob', 'requests': 4},
        {'host': 'alice', 'requests': 2},
    ]
    assert spool.read_spool(opened) == {'alice': 3, 'bob': 4}
    assert stat.S_IMODE(os.stat(os.path.join(opened, spool.SPOOL_FILE)).st_mode) == 0o600


@pytest.mark.parametrize('host, requests', [('alice', 0), ('', 2), (None, 2), ('x' * 501, 2)])
def test_no_request_or_no_host_writes_nothing(opened, host, requests):
    assert spool.record_requests(host, requests) is False
    assert spool.read_spool(opened) == {}


def test_a_process_that_is_neither_the_controller_nor_its_worker_writes_nothing(opened, monkeypatch):
    # A nested ansible-playbook (a command task) inherits the environment; its parent is not the controller.
    stranger = max(os.getpid(), os.getppid()) + 1
    monkeypatch.setenv(spool.SPOOL_VARIABLE, '%d:%s' % (stranger, opened))
    assert spool.record_requests('alice', 2) is False
    assert spool.read_spool(opened) == {}


def test_lines_that_are_not_ours_are_skipped(opened):
    spool.record_requests('alice', 2)
    with open(os.path.join(opened, spool.SPOOL_FILE), 'ab') as f:
        f.write(b'not json\n{"host": "bob", "requests": "9"}\n{"host": 7, "requests": 1}\n')
        f.write(b'{"host": "carol", "requests": true}\n{"host": "dave", "requests": -4}\n{"hos')
    assert spool.read_spool(opened) == {'alice': 2}


def test_forked_workers_append_whole_lines_the_controller_reads(opened):
    """What ansible-core does: workers forked after the spool was opened, writing at the same time."""
    children = []
    for worker in range(8):
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            ok = all(spool.record_requests('user%02d' % (n % 5), worker + 1) for n in range(50))
            os._exit(0 if ok else 1)
        children.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    assert statuses == [0] * 8
    assert len(lines_of(opened)) == 400
    # user k gets 10 lines of every worker w, each w + 1 requests: 10 * (1 + ... + 8).
    assert spool.read_spool(opened) == dict(('user%02d' % k, 360) for k in range(5))


def test_add_spooled_requests_counts_them_for_the_users_and_removes_the_spool(opened):
    alice = UserTally('alice')
    alice.api_requests = 5
    users = {'alice': alice}
    spool.record_requests('alice', 2)
    spool.record_requests('bob', 3)
    added = spool.add_spooled_requests(opened, users, UserTally)
    assert added == {'alice': 2, 'bob': 3}
    assert users['alice'] is alice and alice.api_requests == 7
    assert isinstance(users['bob'], UserTally) and users['bob'].api_requests == 3
    assert not os.path.exists(opened) and spool.SPOOL_VARIABLE not in os.environ


def test_add_spooled_requests_without_a_spool_changes_nothing():
    users = {'alice': UserTally('alice')}
    assert spool.add_spooled_requests(None, users, UserTally) == {}
    assert users['alice'].api_requests == 0


def test_the_fleet_report_counts_the_lookups_requests_per_user(no_spool, tmp_path, monkeypatch):
    doc = yaml.safe_load(fleet_report.DOCUMENTATION)
    C.config.initialize_plugin_configuration_definitions(
        'callback', fleet_report.CallbackModule.CALLBACK_NAME, doc['options']
    )
    monkeypatch.setattr(context, 'CLIARGS', ImmutableDict(check=False))
    callback = fleet_report.CallbackModule()
    callback._load_name = fleet_report.CallbackModule.CALLBACK_NAME
    callback.set_options(direct={'output_dir': str(tmp_path), 'summary': False})
    callback.v2_playbook_on_start(type('Playbook', (), {'_file_name': 'read.yml'})())
    directory = callback.lookup_spool
    # Lookups of two users, as their workers would count them.
    spool.record_requests('alice', 1)
    spool.record_requests('bob', 4)
    spool.record_requests('alice', 1)
    callback.v2_playbook_on_stats(None)
    report = json.loads((tmp_path / 'exist-fleet-report-latest.json').read_text())
    assert report['api_requests']['per_user'] == {'alice': 2, 'bob': 4}
    assert report['api_requests']['total'] == 6
    assert not os.path.exists(directory) and spool.SPOOL_VARIABLE not in os.environ
