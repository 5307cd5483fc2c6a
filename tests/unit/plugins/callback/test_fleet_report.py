# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.fleet_report callback, fed task results as ansible-core hands them over."""

from __future__ import annotations

import json
import os
import tempfile
from unittest import mock

import pytest
import yaml
from ansible import constants as C
from ansible import context
from ansible.module_utils.common.collections import ImmutableDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.callback import fleet_report as plugin_module

NAME = 'existio.exist.fleet_report'
SECRET = 'fleet-report-s3cret-token-5150'


class FakeHost:
    def __init__(self, name, token=SECRET):
        self.name = name
        self._vars = {'exist_token': token, 'exist_username': name}

    def get_name(self):
        return self.name

    def get_vars(self):
        return self._vars


class FakeTask:
    def __init__(self, action, name=None, resolved_action=None, check_mode=False):
        self.action = action
        self.resolved_action = resolved_action
        self.check_mode = check_mode
        self.name = name or action

    def get_name(self):
        return self.name


class FakeResult:
    def __init__(self, host, task, result):
        self._host = host
        self._task = task
        self._result = result


def attribute_task(name='Converge ownership', check_mode=False):
    return FakeTask('existio.exist.attribute', name, 'existio.exist.attribute', check_mode)


def invocation():
    return {'module_args': {'token': SECRET, 'api_url': 'https://exist.io', 'attributes': [{'template': 'mood'}]}}


def attribute_result(**fields):
    result = dict(
        changed=False,
        acquired=[],
        released=[],
        created=[],
        takeovers=[],
        failed_items=[],
        owned=[{'name': 'mood', 'service': {'name': 'svc-from-owned-xyz'}}],
        api_requests=1,
        invocation=invocation(),
    )
    result.update(fields)
    return result


def new_callback(**options):
    """A callback with its options set as ansible-core sets them (its option definitions registered first: a test
    may run alone, or first in its worker)."""
    doc = yaml.safe_load(plugin_module.DOCUMENTATION)
    C.config.initialize_plugin_configuration_definitions('callback', NAME, doc['options'])
    plugin = plugin_module.CallbackModule()
    plugin._load_name = NAME
    plugin.set_options(direct=options)
    return plugin


@pytest.fixture
def callback(tmp_path, monkeypatch):
    monkeypatch.setattr(context, 'CLIARGS', ImmutableDict(check=False))
    return new_callback(output_dir=str(tmp_path / 'reports'))


LATEST_JSON = 'exist-fleet-report-latest.json'
LATEST_MD = 'exist-fleet-report-latest.md'


def finish(callback, tmp_path):
    """End the run; the report it wrote, read through the latest links."""
    callback.v2_playbook_on_stats(None)
    directory = tmp_path / 'reports'
    report = json.loads((directory / LATEST_JSON).read_text())
    markdown = (directory / LATEST_MD).read_text()
    return report, markdown


def report_files(directory):
    """The report files (not the latest links) in directory."""
    return sorted(
        name for name in os.listdir(str(directory)) if name.startswith('exist-fleet-report-') and '-latest' not in name
    )


def feed_a_fleet_run(callback, check_mode=False):
    task = attribute_task(check_mode=check_mode)
    callback.v2_playbook_on_start(type('Playbook', (), {'_file_name': '/srv/fleet/converge.yml'})())
    # alice: two takeovers and a created custom attribute.
    callback.v2_runner_on_ok(
        FakeResult(
            FakeHost('alice'),
            task,
            attribute_result(
                changed=True,
                acquired=['meditation_min', 'mood', 'steps'],
                created=['meditation_min'],
                takeovers=[
                    {'name': 'steps', 'previous_owner': 'withings'},
                    {'name': 'mood', 'previous_owner': 'exist_ios'},
                ],
                api_requests=4,
            ),
        )
    )
    # bob: converged already.
    callback.v2_runner_on_ok(FakeResult(FakeHost('bob'), task, attribute_result(api_requests=1)))
    # carol: one item refused, one released; the task fails.
    callback.v2_runner_on_failed(
        FakeResult(
            FakeHost('carol'),
            task,
            attribute_result(
                changed=True,
                released=['sleep'],
                takeovers=[{'name': 'steps', 'previous_owner': 'withings'}],
                acquired=['steps'],
                failed_items=[
                    {
                        'template': 'mood',
                        'error_code': 'not_allowed',
                        'error': "No permission to write to attributes in group 'mood'",
                    }
                ],
                msg="1 attribute(s) failed: template 'mood' (not_allowed: ...). Done all the same: acquired steps.",
                api_requests=3,
            ),
        )
    )
    # dave: a 401 before anything was written (no failed_items), the message quoting the token by mistake.
    callback.v2_runner_on_failed(
        FakeResult(
            FakeHost('dave'),
            task,
            dict(
                changed=False,
                acquired=[],
                released=[],
                failed_items=[],
                msg='GET /api/2/attributes/owned/ answered 401: Invalid token (%s).' % SECRET,
                api_requests=1,
                invocation=invocation(),
            ),
        ),
        ignore_errors=True,
    )
    # values for alice and bob, bob's in a loop of two items (short action name).
    values_task = FakeTask('values', 'Write the day', 'existio.exist.values', check_mode)
    callback.v2_runner_on_ok(
        FakeResult(
            FakeHost('alice'),
            values_task,
            dict(
                changed=True,
                updated=[
                    {'name': 'mood', 'date': '2026-11-27', 'previous': 6, 'value': 8},
                    {'name': 'meditation_min', 'date': '2026-11-27', 'previous': None, 'value': 20},
                ],
                incremented=[],
                # Sent to an attribute the token cannot read: taken, not a change, not a failure.
                unread=[{'name': 'energy', 'date': '2026-11-27', 'value': 4}],
                failed_items=[],
                api_requests=3,
                invocation=invocation(),
            ),
        )
    )
    callback.v2_runner_on_ok(
        FakeResult(
            FakeHost('bob'),
            values_task,
            dict(
                changed=True,
                results=[
                    dict(
                        changed=True,
                        updated=[],
                        incremented=[{'name': 'coffees', 'date': '2026-11-27', 'value': 1, 'current': 3}],
                        api_requests=2,
                        item='coffees',
                        invocation=invocation(),
                    ),
                    dict(changed=False, updated=[], incremented=[], api_requests=1, item='mood'),
                ],
            ),
        )
    )
    # attribute_info spends requests and changes nothing.
    callback.v2_runner_on_ok(
        FakeResult(
            FakeHost('bob'),
            FakeTask('existio.exist.attribute_info', 'List', 'existio.exist.attribute_info', check_mode),
            dict(changed=False, attributes=[], count=0, api_requests=2, invocation=invocation()),
        )
    )
    # Tasks of other collections are not counted, whatever they return.
    callback.v2_runner_on_ok(
        FakeResult(
            FakeHost('erin'),
            FakeTask('ansible.builtin.debug', 'Debug', 'ansible.builtin.debug'),
            dict(changed=True, api_requests=99, acquired=['x']),
        )
    )
    callback.v2_runner_on_ok(
        FakeResult(
            FakeHost('erin'),
            FakeTask('values', 'Not ours', 'other.collection.values'),
            dict(changed=True, api_requests=99),
        )
    )
    # A skipped task makes frank a skipped user.
    callback.v2_runner_on_skipped(FakeResult(FakeHost('frank'), task, dict(changed=False, skipped=True)))


def test_a_fleet_run(callback, tmp_path):
    feed_a_fleet_run(callback)
    report, markdown = finish(callback, tmp_path)
    assert report['title'] == 'Exist fleet report' and report['mode'] == 'run' and report['check_mode'] is False
    assert report['playbooks'] == ['converge.yml']
    users = report['users']
    assert (users['total'], users['converged'], users['changed'], users['unchanged'], users['failed']) == (
        5,
        2,
        2,
        0,
        2,
    )
    assert users['skipped'] == 1
    assert users['by_outcome'] == {
        'changed': ['alice', 'bob'],
        'unchanged': [],
        'failed': ['carol', 'dave'],
        'skipped': ['frank'],
        'outcome_unknown': [],
        'not_run': [],
    }
    attributes = report['attributes']
    assert attributes['acquired'] == {'total': 4, 'by_attribute': {'steps': 2, 'meditation_min': 1, 'mood': 1}}
    assert attributes['released'] == {'total': 1, 'by_attribute': {'sleep': 1}}
    assert attributes['created'] == {'total': 1, 'by_attribute': {'meditation_min': 1}}
    assert report['takeovers'] == {
        'total': 3,
        'by_previous_owner': {
            'withings': {'total': 2, 'users': 2, 'by_attribute': {'steps': 2}},
            'exist_ios': {'total': 1, 'users': 1, 'by_attribute': {'mood': 1}},
        },
    }
    failures = report['failures']
    assert failures['items'] == 1
    assert failures['by_error_code'] == {
        'not_allowed': {
            'total': 1,
            'users': 1,
            'by_attribute': {'mood': 1},
            'example': "No permission to write to attributes in group 'mood'",
        }
    }
    assert [(entry['user'], entry['task']) for entry in failures['tasks']] == [
        ('carol', 'Converge ownership'),
        ('dave', 'Converge ownership'),
    ]
    assert report['values'] == {
        'updated': {'total': 2, 'by_attribute': {'meditation_min': 1, 'mood': 1}},
        'incremented': {'total': 1, 'by_attribute': {'coffees': 1}},
        'unread': {'total': 1, 'by_attribute': {'energy': 1}},
    }
    assert report['per_user']['alice']['values_unread'] == 1
    # An unread value is neither a changed nor a failed item.
    assert report['per_user']['alice']['items'] == {'changed': 5, 'failed': 0, 'outcome_unknown': 0}
    requests = report['api_requests']
    assert requests['total'] == 4 + 1 + 3 + 1 + 3 + (2 + 1) + 2 == 17
    assert requests['per_user'] == {'alice': 7, 'bob': 6, 'carol': 3, 'dave': 1, 'frank': 0}
    assert requests['busiest'][:2] == [
        {'user': 'alice', 'requests': 7, 'budget_share': round(7 / 300.0, 4)},
        {'user': 'bob', 'requests': 6, 'budget_share': 0.02},
    ]
    assert report['per_user']['carol']['failed_items'] == [
        {'name': 'mood', 'error_code': 'not_allowed', 'error': "No permission to write to attributes in group 'mood'"}
    ]
    assert report['per_user']['bob']['tasks'] == {'ok': 2, 'changed': 1, 'failed': 0, 'skipped': 0, 'unreachable': 0}
    assert 'erin' not in report['per_user']
    assert markdown.startswith('# Exist fleet report\n')
    for line in (
        '| 5 | 2 | 2 | 0 | 2 | 0 | 1 | 0 |',
        '| steps | 2 | 0 | 0 |',
        '| **total** | 4 | 1 | 1 |',
        '| withings | 2 | 2 | steps (2) |',
        "| not_allowed | 1 | 1 | mood (1) | No permission to write to attributes in group 'mood' |",
        '| coffees | 0 | 1 | 0 |',
        '| energy | 0 | 0 | 1 |',
        '17 request(s) for 5 user(s), 3.4 per user on average; Exist allows 300 per user and hour.',
        '| alice | 7 | 2.3 % |',
    ):
        assert line in markdown.splitlines(), line


def test_check_mode_makes_a_drift_report(callback, tmp_path, monkeypatch):
    monkeypatch.setattr(context, 'CLIARGS', ImmutableDict(check=True))
    feed_a_fleet_run(callback, check_mode=True)
    report, markdown = finish(callback, tmp_path)
    assert report['mode'] == 'drift' and report['check_mode'] is True
    assert report['title'] == 'Exist fleet drift report: what would change'
    assert report['attributes']['acquired']['total'] == 4
    assert markdown.startswith('# Exist fleet drift report: what would change\n')
    assert 'Check mode: nothing was changed. The counts below are what a real run would change.' in markdown
    assert '| attribute | would be acquired | would be released | would be created |' in markdown
    assert '| users | converged | would change | unchanged | failed | outcome unknown | skipped | not run |' in markdown


def test_the_task_check_mode_counts_and_a_mixed_run_says_so(callback, tmp_path):
    callback.v2_runner_on_ok(FakeResult(FakeHost('a'), attribute_task(check_mode=True), attribute_result()))
    report, unused_markdown = finish(callback, tmp_path)
    assert report['mode'] == 'drift'
    callback.v2_runner_on_ok(FakeResult(FakeHost('b'), attribute_task(), attribute_result()))
    report, markdown = finish(callback, tmp_path)
    assert report['mode'] == 'mixed' and report['task_results'] == {'check_mode': 1, 'applied': 1}
    assert '1 task result(s) ran in check mode' in markdown


def test_a_run_without_a_task_of_ours_writes_nothing(callback, tmp_path, monkeypatch):
    directory = tmp_path / 'reports'
    directory.mkdir()
    (directory / LATEST_JSON).write_text('{"the": "last report"}')
    shown = []
    monkeypatch.setattr(callback._display, 'display', lambda message, *args, **kwargs: shown.append(message))
    # A ping and a debug: other modules, for hosts of no users inventory.
    callback.v2_runner_on_ok(
        FakeResult(FakeHost('web1'), FakeTask('ansible.builtin.ping', None, 'ansible.builtin.ping'), {'ping': 'pong'})
    )
    callback.v2_runner_on_failed(
        FakeResult(FakeHost('web2'), FakeTask('ansible.builtin.debug', None, 'ansible.builtin.debug'), {'msg': 'no'})
    )
    callback.v2_playbook_on_stats(None)
    assert os.listdir(str(directory)) == [LATEST_JSON]
    assert (directory / LATEST_JSON).read_text() == '{"the": "last report"}'
    assert shown == []


def test_a_skipped_task_of_ours_is_a_run_of_ours(callback, tmp_path):
    callback.v2_runner_on_skipped(FakeResult(FakeHost('alice'), attribute_task(), dict(changed=False, skipped=True)))
    report, markdown = finish(callback, tmp_path)
    assert report['users']['skipped'] == 1 and report['api_requests']['total'] == 0
    assert 'No attribute acquired, released or created.' in markdown


def test_no_secret_and_nothing_from_invocation(callback, tmp_path):
    feed_a_fleet_run(callback)
    unused_report, unused_markdown = finish(callback, tmp_path)
    names = report_files(tmp_path / 'reports')
    assert len(names) == 2
    for name in names:
        text = (tmp_path / 'reports' / name).read_text()
        assert SECRET not in text, name
        assert 'module_args' not in text and 'invocation' not in text and 'https://exist.io' not in text, name
        assert 'svc-from-owned-xyz' not in text, name  # results are read key by key, `owned` is not one
    report = json.loads((tmp_path / 'reports' / LATEST_JSON).read_text())
    assert (
        report['failures']['tasks'][1]['msg'] == 'GET /api/2/attributes/owned/ answered 401: Invalid token (********).'
    )


def test_the_busiest_ten_against_the_hourly_budget(callback, tmp_path):
    for index in range(12):
        callback.v2_runner_on_ok(
            FakeResult(FakeHost('u%02d' % index), attribute_task(), attribute_result(api_requests=10 * index + 5))
        )
    callback.v2_runner_on_ok(FakeResult(FakeHost('u11'), attribute_task(), attribute_result(api_requests=300)))
    report, markdown = finish(callback, tmp_path)
    busiest = report['api_requests']['busiest']
    assert [entry['user'] for entry in busiest] == [
        'u11',
        'u10',
        'u09',
        'u08',
        'u07',
        'u06',
        'u05',
        'u04',
        'u03',
        'u02',
    ]
    assert busiest[0] == {'user': 'u11', 'requests': 415, 'budget_share': round(415 / 300.0, 4)}
    assert report['api_requests']['over_budget'] == ['u11']
    assert '| u11 | 415 | 138.3 % |' in markdown
    assert '**Over the hourly budget in this run:** u11.' in markdown


def test_a_report_of_its_own_name_and_the_latest_links_to_it(callback, tmp_path, monkeypatch):
    directory = tmp_path / 'reports'
    directory.mkdir()
    # A report of an earlier version: not this version's name pattern, left alone.
    (directory / 'exist-fleet-report.json').write_text('old')
    monkeypatch.setattr(plugin_module.time, 'time', lambda: 1796669100.0)  # 2026-12-07 18:45:00 UTC
    plugin = new_callback(output_dir=str(directory))
    plugin.v2_playbook_on_start(type('Playbook', (), {'_file_name': '/srv/fleet/converge.yml'})())
    plugin.v2_runner_on_ok(FakeResult(FakeHost('a'), attribute_task(), attribute_result(api_requests=2)))
    report, unused_markdown = finish(plugin, tmp_path)
    assert report['api_requests']['total'] == 2
    stem = 'exist-fleet-report-converge-20261207T184500Z'
    assert sorted(os.listdir(str(directory))) == [
        'exist-fleet-report-converge-20261207T184500Z.json',
        'exist-fleet-report-converge-20261207T184500Z.md',
        LATEST_JSON,
        LATEST_MD,
        'exist-fleet-report.json',
    ]
    assert os.readlink(str(directory / LATEST_JSON)) == stem + '.json'
    assert os.readlink(str(directory / LATEST_MD)) == stem + '.md'
    assert (directory / 'exist-fleet-report.json').read_text() == 'old'


def test_a_report_that_cannot_be_written_is_a_warning(callback, tmp_path, monkeypatch):
    blocker = tmp_path / 'reports'
    blocker.write_text('a file where the directory should be')
    warnings = []
    monkeypatch.setattr(callback._display, 'warning', lambda message, *args, **kwargs: warnings.append(message))
    callback.v2_runner_on_ok(FakeResult(FakeHost('a'), attribute_task(), attribute_result()))
    callback.v2_playbook_on_stats(None)
    assert len(warnings) == 1 and 'could not write the report to %s' % blocker in warnings[0]


@pytest.mark.parametrize('summary, shown_at', [(True, 'display'), (False, 'vv')])
def test_the_summary_is_on_screen_by_default_and_at_vv_when_off(callback, tmp_path, monkeypatch, summary, shown_at):
    lines = {'display': [], 'vv': []}
    for method in lines:
        monkeypatch.setattr(
            callback._display, method, lambda message, *args, _m=method, **kwargs: lines[_m].append(message)
        )
    callback.set_options(direct={'output_dir': str(tmp_path / 'reports'), 'summary': summary})
    feed_a_fleet_run(callback)
    callback.v2_playbook_on_stats(None)
    other = 'vv' if shown_at == 'display' else 'display'
    assert len(lines[shown_at]) == 3 and lines[other] == []
    assert lines[shown_at][0].startswith('existio.exist.fleet_report: Exist fleet report: 5 user(s): 2 changed')
    assert 'API requests: ' in lines[shown_at][1]
    stem = str(tmp_path / 'reports' / report_files(tmp_path / 'reports')[0])[: -len('.json')]
    assert lines[shown_at][2] == 'existio.exist.fleet_report: Report: %s.json and %s.md' % (stem, stem)
    assert all(SECRET not in line for line in lines[shown_at])


def test_the_output_dir_defaults_to_the_current_directory(tmp_path, monkeypatch):
    doc = yaml.safe_load(plugin_module.DOCUMENTATION)
    C.config.initialize_plugin_configuration_definitions('callback', NAME, doc['options'])
    monkeypatch.delenv('EXIST_FLEET_REPORT_DIR', raising=False)
    monkeypatch.delenv('AWX_ISOLATED_DATA_DIR', raising=False)
    monkeypatch.chdir(tmp_path)

    def one_run():
        plugin = plugin_module.CallbackModule()
        plugin._load_name = NAME
        plugin.set_options()
        plugin.v2_runner_on_ok(FakeResult(FakeHost('a'), attribute_task(), attribute_result()))
        plugin.v2_playbook_on_stats(None)

    one_run()
    assert len(report_files(tmp_path)) == 2 and os.path.exists(str(tmp_path / LATEST_MD))
    # ansible-runner's artifacts directory for the job, when output_dir is not set.
    monkeypatch.setenv('AWX_ISOLATED_DATA_DIR', str(tmp_path / 'artifacts' / 'job-1'))
    one_run()
    assert len(report_files(tmp_path / 'artifacts' / 'job-1')) == 2
    # output_dir (here from its environment variable) comes first.
    monkeypatch.setenv('EXIST_FLEET_REPORT_DIR', str(tmp_path / 'from-env'))
    one_run()
    assert len(report_files(tmp_path / 'from-env')) == 2
    assert len(report_files(tmp_path / 'artifacts' / 'job-1')) == 2
    # Environment variables in the path are expanded: one directory per AWX job (and so per slice).
    monkeypatch.setenv('JOB_ID', '4711')
    monkeypatch.setenv('EXIST_FLEET_REPORT_DIR', str(tmp_path / 'jobs' / '$JOB_ID'))
    one_run()
    assert os.path.exists(str(tmp_path / 'jobs' / '4711' / LATEST_JSON))


def test_token_tasks_go_to_their_own_section(callback, tmp_path):
    token_task = FakeTask('existio.exist.token', 'Refresh the store', 'existio.exist.token')
    localhost = FakeHost('localhost', token=None)
    callback.v2_runner_on_ok(FakeResult(FakeHost('alice'), attribute_task(), attribute_result(api_requests=1)))
    callback.v2_runner_on_failed(
        FakeResult(
            localhost,
            token_task,
            dict(
                changed=True,
                refreshed=['alice', 'bob'],
                failed_items=[
                    {'username': 'carol', 'error_code': 'reauthorization_needed', 'error': 'authorise again'},
                    {'username': None, 'error_code': 'outcome_unknown', 'error': 'lost'},
                ],
                expires_at={'alice': '2027-11-28T19:00:00Z'},
                api_requests=4,
                msg='2 failed: user carol: reauthorization_needed. Refreshed all the same: alice, bob',
                invocation={'module_args': {'client_secret': SECRET}},
            ),
        )
    )
    callback.v2_runner_on_ok(
        FakeResult(
            localhost,
            FakeTask('token', 'Exchange a code', 'existio.exist.token'),
            dict(changed=True, refreshed=[], username='dave', api_requests=2),
        )
    )
    # Without a store the result is no_log: ansible-core hands over a censored result.
    callback.v2_runner_on_ok(
        FakeResult(localhost, token_task, {'censored': 'the output has been hidden', 'changed': True})
    )
    report, markdown = finish(callback, tmp_path)
    assert sorted(report['per_user']) == ['alice'] and report['users']['total'] == 1
    tokens = report['tokens']
    assert tokens['tasks'] == {'ok': 0, 'changed': 2, 'failed': 1, 'skipped': 0, 'unreachable': 0}
    assert tokens['refreshed'] == {'total': 2, 'users': ['alice', 'bob']}
    assert tokens['exchanged'] == {'total': 1, 'users': ['dave']}
    assert tokens['failures']['by_error_code'] == {
        'outcome_unknown': {'total': 1, 'users': ['(unknown)']},
        'reauthorization_needed': {'total': 1, 'users': ['carol']},
    }
    assert tokens['failures']['tasks'][0]['host'] == 'localhost'
    assert report['api_requests']['total'] == 7 and report['api_requests']['token_tasks'] == 6
    assert report['api_requests']['per_user'] == {'alice': 1}
    assert '## Tokens' in markdown and '| reauthorization_needed | carol |' in markdown
    assert 'Of these, 6 by existio.exist.token tasks (counted apart from the users).' in markdown
    assert SECRET not in json.dumps(report) and SECRET not in markdown


def test_the_actions_are_the_action_group_of_meta_runtime():
    runtime = os.path.join(os.path.dirname(plugin_module.__file__), '..', '..', 'meta', 'runtime.yml')
    with open(runtime) as f:
        group = yaml.safe_load(f)['action_groups']['exist']
    short = set(group) | set(['token'])
    assert plugin_module._action_group() == frozenset('existio.exist.' + name for name in short)
    assert {'existio.exist.attribute', 'existio.exist.values', 'existio.exist.attribute_info'} <= (
        plugin_module._action_group()
    )
    assert {'existio.exist.averages_info', 'existio.exist.correlations_info', 'existio.exist.insights_info'} <= (
        plugin_module._action_group()
    )
    # The fallback, should meta/runtime.yml be unreadable, names the same modules.
    assert set(plugin_module.KNOWN_MODULES) == short
    # Only full names: a short name may be a module of the playbook's own library/.
    assert not {'values', 'attribute', 'token'} & plugin_module._action_group()


@pytest.mark.parametrize('module', ['averages_info', 'correlations_info', 'insights_info'])
def test_the_read_side_modules_requests_are_counted_for_their_user(callback, tmp_path, module):
    name = 'existio.exist.' + module
    task = FakeTask(name, 'Read ' + module, name)
    result = dict(changed=False, count=0, api_requests=3, invocation=invocation())
    callback.v2_runner_on_ok(FakeResult(FakeHost('alice'), task, result))
    callback.v2_runner_on_ok(FakeResult(FakeHost('alice'), attribute_task(), attribute_result(api_requests=2)))
    report, markdown = finish(callback, tmp_path)
    assert report['api_requests']['total'] == 5 and report['api_requests']['per_user'] == {'alice': 5}
    assert report['per_user']['alice']['tasks']['ok'] == 2
    assert SECRET not in json.dumps(report) and SECRET not in markdown


def test_a_templated_action_is_matched_only_once_resolved(callback):
    task = FakeTask('{{ module }}', 'Templated', None)
    task._resolved_action = 'existio.exist.attribute'
    assert callback._is_ours(task)
    task._resolved_action = None
    assert not callback._is_ours(task)


# -- whatever a result holds -----------------------------------------------------

_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
# Messages may quote the host's token (a module's bug, a server's echo): the report must not.
_messages = st.one_of(_json_values, st.text(max_size=10).map(lambda text: text + SECRET + text))
_items = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                'name': _json_values,
                'template': _json_values,
                'label': _json_values,
                'previous_owner': _json_values,
                'error_code': _json_values,
                'error': _messages,
                'username': _json_values,
            },
        ),
        _json_values,
    ),
    max_size=3,
)
_result_keys = {
    'changed': _json_values,
    'api_requests': _json_values,
    'acquired': _json_values,
    'released': _json_values,
    'created': _json_values,
    'refreshed': _json_values,
    'username': _json_values,
    'takeovers': _items,
    'failed_items': _items,
    'updated': _items,
    'incremented': _items,
    'unread': _items,
    'msg': _messages,
    'failed': _json_values,
}
_results = st.fixed_dictionaries({}, optional=_result_keys).flatmap(
    lambda result: st.one_of(
        st.just(result),
        st.lists(st.fixed_dictionaries({}, optional=_result_keys), max_size=3).map(
            lambda items: dict(result, results=items)
        ),
    )
)
_events = st.lists(
    st.tuples(
        st.sampled_from(
            ['existio.exist.attribute', 'existio.exist.values', 'existio.exist.token', 'ansible.builtin.debug']
        ),
        st.sampled_from(['ok', 'failed', 'skipped', 'unreachable']),
        st.sampled_from(['alice', 'bob']),
        st.booleans(),
        _results,
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_events)
def test_any_results_make_a_report_that_quotes_no_token(events):
    with tempfile.TemporaryDirectory() as directory, mock.patch.object(context, 'CLIARGS', ImmutableDict(check=False)):
        plugin = new_callback(output_dir=directory)
        for action, status, host, check_mode, result in events:
            handler = getattr(plugin, 'v2_runner_on_%s' % status)
            handler(FakeResult(FakeHost(host), FakeTask(action, None, action, check_mode), result))
        plugin.v2_playbook_on_stats(None)
        written = os.listdir(directory)
        if not any(action.startswith('existio.exist.') for action, status, host, check_mode, result in events):
            assert written == []  # no task of ours: no report
            return
        with open(os.path.join(directory, LATEST_JSON), encoding='utf-8') as handle:
            report = json.load(handle)
        with open(os.path.join(directory, LATEST_MD), encoding='utf-8') as handle:
            markdown = handle.read()
    # Users: the hosts of this collection's tasks, and (they are users of the inventory) those any task failed for.
    ours = set(
        host
        for action, status, host, check_mode, result in events
        if action.endswith(('attribute', 'values')) or status in ('failed', 'unreachable') and 'token' not in action
    )
    assert report['users']['total'] == len(ours)
    assert SECRET not in json.dumps(report) and SECRET not in markdown


# -- only this collection's modules, by their resolved full name ----------------


@pytest.mark.parametrize('action, resolved', [('values', 'values'), ('attribute', 'attribute'), ('values', None)])
def test_a_module_of_the_playbook_named_like_ours_is_not_counted(callback, tmp_path, action, resolved):
    # ansible-core resolves a module of the playbook's library/ to its short name.
    callback.v2_runner_on_ok(
        FakeResult(FakeHost('alice'), FakeTask(action, 'Local', resolved), dict(changed=True, api_requests=9))
    )
    callback.v2_runner_on_ok(FakeResult(FakeHost('bob'), attribute_task(), attribute_result(api_requests=1)))
    report, unused_markdown = finish(callback, tmp_path)
    assert sorted(report['per_user']) == ['bob']
    assert report['api_requests']['total'] == 1


# -- every user and every item ----------------------------------------------------


class FakeStats:
    def __init__(self, processed):
        self.processed = dict((name, 1) for name in processed)


def fleet_inventory(states, left_out=None):
    """The groups the users inventory makes: exist_users with each host's exist_token_state."""
    from ansible.inventory.data import InventoryData

    inventory = InventoryData()
    inventory.add_group('exist_users')
    inventory.set_variable('exist_users', 'exist_users_left_out', left_out or {})
    for name, state in states.items():
        inventory.add_host(name, group='exist_users')
        inventory.set_variable(name, 'exist_token_state', state)
        inventory.set_variable(name, 'exist_username', name)
    return inventory


class FakePlay:
    def __init__(self, inventory):
        self._variable_manager = type('VariableManager', (), {'_inventory': inventory})()

    def get_variable_manager(self):
        return self._variable_manager


def test_every_user_and_every_item_is_changed_failed_with_a_reason_or_unknown(callback, tmp_path):
    states = {
        'alice': 'valid',
        'bob': 'valid',
        'carol': 'valid',
        'dave': 'refresh_outcome_unknown',
        'erin': 'reauthorization_needed',
        'frank': 'valid',
        'gina': 'valid',
        'hank': 'valid',
    }
    inventory = fleet_inventory(states, left_out={'all': 'named like the group all that Ansible itself makes'})
    callback.v2_playbook_on_play_start(FakePlay(inventory))

    def host(name):
        return inventory.get_host(name)

    values = FakeTask('existio.exist.values', 'Write the day', 'existio.exist.values')
    # alice: one value written, one whose answer was lost: her outcome is unknown, not failed.
    callback.v2_runner_on_failed(
        FakeResult(
            host('alice'),
            values,
            dict(
                changed=True,
                updated=[{'name': 'mood', 'date': '2026-11-27', 'previous': 6, 'value': 8}],
                failed_items=[
                    {'name': 'steps', 'date': '2026-11-26', 'error_code': 'outcome_unknown', 'error': 'lost answer'},
                ],
                api_requests=3,
                msg='1 value(s) failed',
            ),
        )
    )
    # bob: one refused, one unknown: failed (a reason is known for one of them).
    callback.v2_runner_on_failed(
        FakeResult(
            host('bob'),
            values,
            dict(
                changed=False,
                updated=[],
                failed_items=[
                    {'name': 'mood', 'date': '2026-11-27', 'error_code': 'not_allowed', 'error': 'no mood_write'},
                    {'name': 'steps', 'date': '2026-11-27', 'error_code': 'outcome_unknown', 'error': 'lost'},
                ],
                api_requests=2,
                msg='2 value(s) failed',
            ),
        )
    )
    # carol: a task of another module failed for her before any of ours ran (the token expression, say).
    callback.v2_runner_on_failed(
        FakeResult(host('carol'), FakeTask('ansible.builtin.set_fact', 'Prepare'), dict(msg='store unreadable'))
    )
    # dave (marked refresh_outcome_unknown) ran and failed with a 401.
    callback.v2_runner_on_failed(
        FakeResult(host('dave'), attribute_task(), dict(changed=False, msg='answered 401', api_requests=1))
    )
    # frank: unreachable on our task; gina converged; a debug task for hank does not make him a user that ran.
    callback.v2_runner_on_unreachable(FakeResult(host('frank'), attribute_task(), dict(msg='no connection')))
    callback.v2_runner_on_ok(FakeResult(host('gina'), attribute_task(), attribute_result()))
    callback.v2_runner_on_ok(FakeResult(host('hank'), FakeTask('ansible.builtin.debug', 'Debug'), dict(msg='hi')))
    callback.v2_playbook_on_stats(FakeStats(['alice', 'bob', 'carol', 'dave', 'frank', 'gina', 'hank']))
    report = json.loads((tmp_path / 'reports' / LATEST_JSON).read_text())
    markdown = (tmp_path / 'reports' / LATEST_MD).read_text()
    users = report['users']
    assert users['by_outcome'] == {
        'changed': [],
        'unchanged': ['gina'],
        'failed': ['bob', 'carol', 'dave', 'frank'],
        'outcome_unknown': ['alice'],
        'skipped': [],
        'not_run': ['erin', 'hank'],
    }
    assert (users['total'], users['ran'], users['outcome_unknown'], users['not_run']) == (8, 6, 1, 2)
    # Every user of the inventory, and every user it left out, is in the report.
    assert sorted(report['per_user']) == sorted(states)
    assert users['left_out_by_inventory'] == {'all': 'named like the group all that Ansible itself makes'}
    assert users['by_token_state'] == {
        'reauthorization_needed': ['erin'],
        'refresh_outcome_unknown': ['dave'],
        'valid': ['alice', 'bob', 'carol', 'frank', 'gina', 'hank'],
    }
    assert report['per_user']['erin'] == {
        'outcome': 'not_run',
        'token_state': 'reauthorization_needed',
        'reason': "in no play's hosts (the plays' host patterns); its token state is reauthorization_needed",
    }
    assert report['per_user']['hank']['reason'] == 'no task of this collection ran for this user'
    # Every failure has its reason.
    assert report['per_user']['carol']['task_failures'] == [{'task': 'Prepare', 'msg': 'store unreadable'}]
    assert report['per_user']['frank']['task_failures'] == [{'task': 'Converge ownership', 'msg': 'no connection'}]
    assert report['per_user']['bob']['failed_items'] == [
        {'name': 'mood', 'date': '2026-11-27', 'error_code': 'not_allowed', 'error': 'no mood_write'},
        {'name': 'steps', 'date': '2026-11-27', 'error_code': 'outcome_unknown', 'error': 'lost'},
    ]
    # Every item: changed, failed or unknown, and the unknown ones by name.
    assert {key: report['items'][key] for key in ('changed', 'failed', 'outcome_unknown')} == {
        'changed': 1,
        'failed': 1,
        'outcome_unknown': 2,
    }
    assert [(item['user'], item['name'], item['date']) for item in report['items']['unknown']] == [
        ('alice', 'steps', '2026-11-26'),
        ('bob', 'steps', '2026-11-27'),
    ]
    for line in (
        '| 8 | 1 | 0 | 1 | 4 | 1 | 0 | 2 |',
        '| 1 | 1 | 2 |',
        '| alice | steps | 2026-11-26 | lost answer |',
        "| erin | reauthorization_needed | in no play's hosts (the plays' host patterns); its token state is "
        'reauthorization_needed |',
        '| all | named like the group all that Ansible itself makes |',
    ):
        assert line in markdown.splitlines(), line
    assert 'Token states other than valid: reauthorization_needed: erin; refresh_outcome_unknown: dave.' in markdown


def test_token_tasks_keep_each_failure_reason_and_the_recovered_users(callback, tmp_path):
    callback.v2_runner_on_failed(
        FakeResult(
            FakeHost('localhost', token=None),
            FakeTask('existio.exist.token', 'Refresh', 'existio.exist.token'),
            dict(
                changed=True,
                refreshed=['alice'],
                recovered=['bob'],
                failed_items=[
                    {'username': 'carol', 'error_code': 'outcome_unknown', 'error': 'the answer was lost; marked'},
                ],
                api_requests=3,
                msg='1 failed',
            ),
        )
    )
    report, markdown = finish(callback, tmp_path)
    tokens = report['tokens']
    assert tokens['recovered'] == {'total': 1, 'users': ['bob']}
    assert tokens['failures']['list'] == [
        {'username': 'carol', 'error_code': 'outcome_unknown', 'error': 'the answer was lost; marked'}
    ]
    assert 'Merged back from recovery files: bob.' in markdown


# -- one report per run: kept, and only when ours ran --------------------------------


def test_keep_deletes_the_oldest_reports_of_its_own_pattern(tmp_path):
    directory = tmp_path / 'reports'
    directory.mkdir()
    older = ['exist-fleet-report-converge-2026120%dT060000Z' % day for day in range(1, 6)]
    for stem in older:
        for extension in ('.json', '.md'):
            (directory / (stem + extension)).write_text('old')
    (directory / 'exist-fleet-report.md').write_text('of an earlier version')
    (directory / 'notes.md').write_text('mine')
    plugin = new_callback(output_dir=str(directory), keep=2)
    plugin.v2_runner_on_ok(FakeResult(FakeHost('a'), attribute_task(), attribute_result()))
    plugin.v2_playbook_on_stats(None)
    stems = sorted(set(os.path.splitext(name)[0] for name in report_files(directory)))
    assert stems[:2] == older[3:] and len(stems) == 3 and stems[2] == plugin.stem
    assert (directory / 'exist-fleet-report.md').exists() and (directory / 'notes.md').exists()


def test_two_runs_in_one_second_write_two_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(plugin_module.time, 'time', lambda: 1796669100.0)
    for dummy in range(2):
        plugin = new_callback(output_dir=str(tmp_path))
        plugin.v2_playbook_on_start(type('Playbook', (), {'_file_name': 'converge.yml'})())
        plugin.v2_runner_on_ok(FakeResult(FakeHost('a'), attribute_task(), attribute_result()))
        plugin.v2_playbook_on_stats(None)
    stem = 'exist-fleet-report-converge-20261207T184500Z'
    assert report_files(tmp_path) == [stem + '-2.json', stem + '-2.md', stem + '.json', stem + '.md']
    assert os.readlink(str(tmp_path / LATEST_JSON)) == stem + '-2.json'


# -- the job's artifact data (ansible-runner, AWX) ------------------------------------


def the_run_of(callback):
    """A TaskQueueManager that sends v2_playbook_on_start as ansible-core does; its stats."""
    from ansible.executor.stats import AggregateStats
    from ansible.executor.task_queue_manager import TaskQueueManager

    class Manager(TaskQueueManager):
        def __init__(self):  # pylint: disable=super-init-not-called
            self._stats = AggregateStats()

        def send_callback(self, method_name, *args):
            getattr(callback, method_name)(*args)

    manager = Manager()
    manager.send_callback('v2_playbook_on_start', type('Playbook', (), {'_file_name': 'converge.yml'})())
    return manager._stats


def test_the_summary_is_in_the_run_stats_as_results_arrive(callback, tmp_path):
    stats = the_run_of(callback)
    callback.v2_runner_on_ok(
        FakeResult(FakeHost('web1'), FakeTask('ansible.builtin.ping', None, 'ansible.builtin.ping'), {})
    )
    assert stats.custom == {}  # no task of ours yet: nothing for the job's artifacts
    callback.v2_runner_on_ok(
        FakeResult(FakeHost('alice'), attribute_task(), attribute_result(changed=True, api_requests=3))
    )
    callback.v2_runner_on_ok(FakeResult(FakeHost('bob'), attribute_task(), attribute_result(api_requests=1)))
    summary = stats.custom['_run']['exist_fleet_report']
    assert summary['users'] == {'changed': 1, 'unchanged': 1, 'failed': 0, 'outcome_unknown': 0, 'skipped': 0}
    assert summary['api_requests'] == 4
    # A user's later failure moves the user, it does not count the user twice.
    callback.v2_runner_on_failed(
        FakeResult(
            FakeHost('alice'),
            FakeTask('existio.exist.values', 'Write', 'existio.exist.values'),
            dict(msg='refused', api_requests=2),
        )
    )
    token_task = FakeTask('existio.exist.token', 'Refresh', 'existio.exist.token')
    callback.v2_runner_on_ok(
        FakeResult(FakeHost('localhost', token=None), token_task, dict(changed=False, api_requests=5))
    )
    assert summary['users'] == {'changed': 0, 'unchanged': 1, 'failed': 1, 'outcome_unknown': 0, 'skipped': 0}
    assert summary['api_requests'] == 3 + 1 + 2 + 5
    # What ansible-runner's awx_display serialises before this callback's v2_playbook_on_stats.
    artifact = json.loads(json.dumps(stats.custom['_run']))
    report, unused_markdown = finish(callback, tmp_path)
    assert artifact['exist_fleet_report']['api_requests'] == report['api_requests']['total']
    assert artifact['exist_fleet_report']['users']['failed'] == report['users']['failed']
    assert artifact['exist_fleet_report']['report'] == {
        'directory': str(tmp_path / 'reports'),
        'json': report_files(tmp_path / 'reports')[0],
        'markdown': report_files(tmp_path / 'reports')[1],
    }
    assert SECRET not in json.dumps(artifact)


def test_without_the_run_stats_no_artifact_data_and_a_vvv_note(callback, tmp_path, monkeypatch):
    notes = []
    monkeypatch.setattr(callback._display, 'vvv', lambda message, *args, **kwargs: notes.append(message))
    callback.v2_playbook_on_start(type('Playbook', (), {'_file_name': 'converge.yml'})())
    assert callback.stats is None
    assert notes == ["existio.exist.fleet_report: the run's stats were not found: no summary in the artifact data"]
    callback.v2_runner_on_ok(FakeResult(FakeHost('alice'), attribute_task(), attribute_result()))
    report, unused_markdown = finish(callback, tmp_path)
    assert report['users']['unchanged'] == 1


# -- --limit, and the users who must re-authorise ----------------------------------------


def limited_inventory(states, limit):
    """An InventoryManager of the users inventory's groups, with --limit applied."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    inventory = InventoryManager(loader=DataLoader(), sources=[])
    inventory.add_group('exist_users')
    inventory.add_group('exist_token_reauthorization_needed')
    for name, state in states.items():
        inventory.add_host(name, group='exist_users')
        inventory._inventory.set_variable(name, 'exist_token_state', state)
        inventory._inventory.set_variable(name, 'exist_username', name)
        if state == 'reauthorization_needed':
            inventory.add_host(name, group='exist_token_reauthorization_needed')
    inventory.reconcile_inventory()  # as after parsing: every host in all and ungrouped
    inventory.subset(limit)
    return inventory


def test_users_outside_limit_are_not_this_runs_and_reauthorisation_is_listed(callback, tmp_path, monkeypatch):
    states = {
        'alice': 'valid',
        'bob': 'reauthorization_needed',
        'carol': 'valid',
        'dave': 'reauthorization_needed',
        'erin': 'valid',
        'frank': 'reauthorization_needed',
    }
    # This slice: alice, bob, carol, dave; no play matched carol and bob, for whom no task ran.
    inventory = limited_inventory(states, 'alice,bob,carol,dave')
    stats = the_run_of(callback)
    callback.v2_playbook_on_play_start(FakePlay(inventory))
    callback.v2_runner_on_ok(FakeResult(inventory.get_host('alice'), attribute_task(), attribute_result()))
    callback.v2_runner_on_failed(FakeResult(inventory.get_host('dave'), attribute_task(), attribute_result(msg='401')))
    assert stats.custom['_run']['exist_fleet_report']['reauthorization_needed'] == 2
    assert stats.custom['_run']['exist_fleet_report']['outside_limit'] == 2
    lines = []
    monkeypatch.setattr(callback._display, 'display', lambda message, *args, **kwargs: lines.append(message))
    callback.v2_playbook_on_stats(FakeStats(['alice', 'dave']))
    report = json.loads((tmp_path / 'reports' / LATEST_JSON).read_text())
    markdown = (tmp_path / 'reports' / LATEST_MD).read_text()
    users = report['users']
    assert (users['total'], users['ran'], users['not_run'], users['outside_limit']) == (4, 2, 2, 2)
    assert users['by_outcome']['not_run'] == ['bob', 'carol']
    assert report['per_user']['carol']['reason'] == "in no play's hosts (the plays' host patterns)"
    assert 'erin' not in report['per_user'] and 'frank' not in report['per_user']
    assert report['reauthorization_needed'] == ['bob', 'dave']
    assert '## Users who must re-authorise' in markdown and '2 user(s) of the token store: bob, dave.' in markdown
    assert 'existio.exist.token with `grant: authorization_code`' in markdown
    assert '2 user(s) of the inventory outside --limit' in markdown
    assert lines[0].endswith('; 2 must re-authorise')


def test_the_summary_says_nothing_of_reauthorisation_when_none_is_needed(callback, tmp_path, monkeypatch):
    inventory = limited_inventory({'alice': 'valid'}, 'all')
    callback.v2_playbook_on_play_start(FakePlay(inventory))
    callback.v2_runner_on_ok(FakeResult(inventory.get_host('alice'), attribute_task(), attribute_result()))
    lines = []
    monkeypatch.setattr(callback._display, 'display', lambda message, *args, **kwargs: lines.append(message))
    report, markdown = finish(callback, tmp_path)
    assert report['reauthorization_needed'] == [] and report['users']['outside_limit'] == 0
    assert 're-authorise' not in lines[0] and 're-authorise' not in markdown and 'outside --limit' not in markdown


def test_a_name_taken_after_it_was_chosen_is_not_overwritten(callback, tmp_path):
    stats = the_run_of(callback)
    callback.v2_runner_on_ok(FakeResult(FakeHost('a'), attribute_task(), attribute_result()))
    chosen = callback.stem
    # Another run into the same directory, started within the same second, wrote its report meanwhile.
    (tmp_path / 'reports').mkdir()
    (tmp_path / 'reports' / (chosen + '.json')).write_text('the other run')
    unused_report, unused_markdown = finish(callback, tmp_path)
    assert (tmp_path / 'reports' / (chosen + '.json')).read_text() == 'the other run'
    assert callback.stem == chosen + '-2'
    assert stats.custom['_run']['exist_fleet_report']['report']['json'] == chosen + '-2.json'
    assert os.readlink(str(tmp_path / 'reports' / LATEST_JSON)) == chosen + '-2.json'


def test_progress_is_off_by_default(callback, monkeypatch):
    lines = []
    monkeypatch.setattr(callback._display, 'display', lambda message, *args, **kwargs: lines.append(message))
    callback.progress_shown -= 10**6  # long past any interval
    callback.v2_runner_on_ok(FakeResult(FakeHost('alice'), attribute_task(), attribute_result()))
    assert lines == []


def test_progress_prints_at_most_one_line_per_interval_with_the_users_of_the_limit(callback, monkeypatch, tmp_path):
    clock = [1000.0]
    monkeypatch.setattr(plugin_module.time, 'monotonic', lambda: clock[0])
    callback.set_options(direct={'output_dir': str(tmp_path / 'reports'), 'progress': 60})
    callback.progress_shown = clock[0]
    inventory = limited_inventory(
        dict((name, 'valid') for name in ('alice', 'bob', 'carol', 'dave')), 'alice,bob,carol'
    )
    callback.v2_playbook_on_play_start(FakePlay(inventory))
    lines = []
    monkeypatch.setattr(callback._display, 'display', lambda message, *args, **kwargs: lines.append(message))
    task = attribute_task('Own mood')
    callback.v2_runner_on_ok(FakeResult(inventory.get_host('alice'), task, attribute_result(changed=True)))
    assert lines == []  # less than 60 s since the start
    clock[0] += 61
    callback.v2_runner_on_ok(FakeResult(inventory.get_host('bob'), task, attribute_result(api_requests=3)))
    clock[0] += 30
    callback.v2_runner_on_failed(FakeResult(inventory.get_host('carol'), task, attribute_result(msg='boom')))
    assert len(lines) == 1  # the second result was within 60 s of the first line
    assert lines[0].startswith('existio.exist.fleet_report: progress ')
    assert "2 of 3 user(s) with results (1 changed, 1 unchanged, 0 failed)" in lines[0]
    assert lines[0].endswith("; task 'Own mood'")
    clock[0] += 60
    callback.v2_runner_on_ok(FakeResult(inventory.get_host('alice'), task, attribute_result()))
    assert len(lines) == 2 and '3 of 3 user(s) with results (1 changed, 1 unchanged, 1 failed)' in lines[1]
