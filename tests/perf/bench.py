# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmarks of existio.exist against the local Exist emulator (`make bench`).

  python tests/perf/bench.py --collections-path DIR [--parts requests,tasks,scale]
                             [--rounds 5] [--users 200] [--large] [--rst FILE]
                             [--result-file FILE] [--paths worker,module]

Run with the Python of the ansible-core virtualenv (tests/perf/bench.sh does
it). DIR holds ansible_collections/existio/exist (installed or laid out).
It starts its own emulator on 127.0.0.1 (rate limit off) and stops it.

Parts:

requests  For 1, 10, 35, 36, 71 and 100 declared attributes, five runs of
          existio.exist.attribute in one real ansible-playbook run: first run,
          converged run, check-mode run, exclusive run, release-all run. The
          requests each task sent are read from the emulator's request log
          (cleared before the task, by the bench_timer callback) and compared
          with the minimum the API allows, computed from the scenario's own
          numbers. Exit status 1 if any ratio is not 1.00.
tasks     Median milliseconds per task of five 20-task playbooks on localhost,
          run alternately for --rounds rounds, and a profile of the module path.
scale     N users (one host each with its own token), forks 10 and 25: ping,
          converge 20 attributes from scratch, converge again.

--rst writes the tables, with the machine, into the given file
(docs/docsite/rst/performance.rst). --result-file writes `passed failed skipped`
for `make test` (one result per size of the requests part).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PLAYBOOKS = os.path.join(HERE, 'playbooks')

SERVICE = 'bench_service'
SIZES = (1, 10, 35, 36, 71, 100)
SCENARIOS = ('first', 'converged', 'check', 'exclusive', 'release-all')
PAGE = 100
BATCH = 35
PATHS = {
    'worker': 'worker process (action plugin, the default on a local connection)',
    'module': 'module (existio_exist_worker_process=false, as on a remote host)',
}
SCALE_TEMPLATES = ('steps', 'floors', 'steps_distance', 'active_energy', 'workouts', 'productive_min',
                   'commits', 'tasks_completed', 'words_written', 'emails_sent', 'coffees', 'water',
                   'caffeine', 'money_spent', 'mood', 'mood_note', 'energy_level', 'stress_level',
                   'alcoholic_drinks', 'pomodoros_min')
# A run of this many playbooks per part is bounded; so is every wait below.
MAX_USERS = 1000


# ---------------------------------------------------------------------------
# The emulator


class Emulator(object):
    """An exist-emulator process on 127.0.0.1 with its admin API."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.proc = None
        self.url = None
        self._stderr = None

    def start(self):
        env = dict(os.environ)
        try:
            __import__('exist_emulator')
        except ImportError:
            env['PYTHONPATH'] = os.pathsep.join(p for p in (os.path.join(ROOT, 'tests', 'emulator'),
                                                            env.get('PYTHONPATH')) if p)
        self._stderr = open(self.log_path, 'w', encoding='utf-8')  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen([sys.executable, '-m', 'exist_emulator', '--host', '127.0.0.1', '--port', '0',  # pylint: disable=consider-using-with
                                      '--rate-limit', '0'], stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r'listening on (http://\S+)', line)
        if not match:
            self.stop()
            raise SystemExit('the emulator did not start: %r (see %s)' % (line, self.log_path))
        self.url = match.group(1).rstrip('/')
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()
        self.proc = None

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode('utf-8')
        request = urllib.request.Request(self.url + '/_emulator/' + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def reset(self, seed):
        self.admin('POST', 'reset', seed)

    def requests(self):
        return self.admin('GET', 'requests')

    def clear_requests(self):
        self.admin('DELETE', 'requests')

    def cpu_seconds(self):
        """utime + stime of the emulator process, from /proc/PID/stat."""
        with open('/proc/%d/stat' % self.proc.pid, encoding='ascii') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        # Fields 14 and 15 of stat(5) are the 12th and 13th after the ")" that ends the command name.
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf('SC_CLK_TCK'))


def seed(users):
    return {'services': [{'name': SERVICE, 'label': 'Bench Service'}], 'clients': [], 'users': users}


def user(name, attributes=()):
    return {'username': name, 'timezone': 'UTC', 'attributes': list(attributes),
            'tokens': [{'token': name + '-token', 'service': SERVICE, 'scopes': ['all'], 'kind': 'oauth2'}]}


def custom(name, owned=False):
    return {'name': name, 'label': name, 'group': 'custom', 'value_type': 7,
            'service': SERVICE if owned else None, 'manual': True, 'active': True}


# ---------------------------------------------------------------------------
# Running playbooks


class Runner(object):
    """Runs ansible-playbook with the bench_timer callback and collects its records."""

    def __init__(self, collections_path, workdir, emulator):
        self.workdir = workdir
        self.emulator = emulator
        self.count = 0
        bindir = os.path.dirname(sys.executable)
        self.playbook_cmd = os.path.join(bindir, 'ansible-playbook')
        if not os.path.exists(self.playbook_cmd):
            self.playbook_cmd = shutil.which('ansible-playbook') or 'ansible-playbook'
        self.env = dict(os.environ)
        self.env.update({
            'PATH': bindir + os.pathsep + self.env.get('PATH', ''),
            'ANSIBLE_COLLECTIONS_PATH': collections_path,
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'bench_timer',
            'ANSIBLE_STDOUT_CALLBACK': 'default',
            'ANSIBLE_LOCALHOST_WARNING': 'false',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
            'ANSIBLE_RETRY_FILES_ENABLED': 'false',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_CONFIG': os.path.join(workdir, 'ansible.cfg'),
        })
        with open(self.env['ANSIBLE_CONFIG'], 'w', encoding='utf-8') as f:
            f.write('# Empty: tests/perf/bench.py configures Ansible through the environment.\n[defaults]\n')
        for key in ('EXIST_TOKEN', 'EXIST_API_URL', 'ANSIBLE_KEEP_REMOTE_FILES'):
            self.env.pop(key, None)

    def run(self, playbook, extra_vars=None, inventory=None, forks=None, measure=False, env=None, check=True):
        """Run one playbook; returns (wall seconds, callback data). Raises on failure when check is set."""
        self.count += 1
        tag = '%03d-%s' % (self.count, os.path.splitext(os.path.basename(playbook))[0])
        out = os.path.join(self.workdir, tag + '.json')
        log = os.path.join(self.workdir, tag + '.log')
        cmd = [self.playbook_cmd, playbook]
        if inventory:
            cmd += ['-i', inventory]
        if forks:
            cmd += ['--forks', str(forks)]
        for key, value in (extra_vars or {}).items():
            cmd += ['-e', json.dumps({key: value})]
        run_env = dict(self.env, EXIST_BENCH_OUT=out)
        if measure:
            run_env['EXIST_BENCH_EMULATOR'] = self.emulator.url
        run_env.update(env or {})
        start = time.monotonic()
        with open(log, 'w', encoding='utf-8') as f:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=run_env, cwd=self.workdir, timeout=3600)
        wall = time.monotonic() - start
        data = {'records': []}
        if os.path.exists(out):
            with open(out, encoding='utf-8') as f:
                data = json.load(f)
        if check and rc != 0:
            with open(log, encoding='utf-8', errors='replace') as f:
                tail = f.read()[-3000:]
            raise SystemExit('ansible-playbook %s failed (rc %d), see %s:\n%s' % (playbook, rc, log, tail))
        data['rc'] = rc
        data['log'] = log
        return wall, data


# ---------------------------------------------------------------------------
# Tables


def table(headers, rows, title=None):
    """An RST simple table (also readable on a terminal)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    rule = '  '.join('=' * w for w in widths)

    def fmt(row):
        return '  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    lines = []
    if title:
        lines += [title, '']
    lines += [rule, fmt(cells[0]), rule] + [fmt(row) for row in cells[1:]] + [rule]
    return '\n'.join(lines)


# ---------------------------------------------------------------------------
# Part 1: requests per run


def half(n):
    return int(math.ceil(n / 2.0))


def scenario_numbers(n):
    """{scenario: (owned_before, to_acquire_not_owned, acquires, releases, visible, check_mode)} for n attributes.

    Attributes are b001...; the user has b001..b{n+h}, all visible to the token;
    the first run declares b001..b{n}; the exclusive set is shifted by
    h = ceil(n/2): b{h+1}..b{h+n}, so h new ones and h released.
    """
    h = half(n)
    return {
        'first': (0, n, n, 0, n + h, False),
        'converged': (n, 0, 0, 0, n + h, False),
        'check': (n, h, h, h, n + h, True),
        'exclusive': (n, h, h, h, n + h, False),
        'release-all': (n, 0, 0, n, n + h, False),
    }


def minimum(owned_before, not_owned, acquires, releases, visible, check_mode):
    """The fewest requests the API allows (computed from the scenario, not from the module).

    Learning who owns what this client does not own takes the user's attribute
    list: Exist was seen ignoring its name filter, so that is every attribute the
    token can see, whatever the number of names.
    """
    gets = max(1, int(math.ceil(owned_before / float(PAGE))))
    if not_owned:
        gets += max(1, int(math.ceil(visible / float(PAGE))))
    if check_mode:
        return gets
    return gets + int(math.ceil(acquires / float(BATCH))) + int(math.ceil(releases / float(BATCH)))


def names(first, last):
    return [{'name': 'b%03d' % i} for i in range(first, last + 1)]


def requests_playbook(url):
    plays = []
    for n in SIZES:
        h = half(n)
        first_set, shifted = names(1, n), names(h + 1, h + n)
        tasks = [
            {'name': 'measure %d first' % n, 'existio.exist.attribute': {'attributes': first_set}},
            {'name': 'measure %d converged' % n, 'existio.exist.attribute': {'attributes': first_set}},
            {'name': 'measure %d check' % n, 'check_mode': True,
             'existio.exist.attribute': {'exclusive': True, 'attributes': shifted}},
            {'name': 'measure %d exclusive' % n, 'existio.exist.attribute': {'exclusive': True, 'attributes': shifted}},
            {'name': 'measure %d release-all' % n, 'existio.exist.attribute': {'state': 'absent', 'attributes': shifted}},
        ]
        plays.append({'name': 'Requests with %d declared attributes' % n, 'hosts': 'localhost', 'gather_facts': False,
                      'module_defaults': {'group/existio.exist.exist': {'api_url': url, 'token': 'bench%d-token' % n}},
                      'tasks': tasks})
    return plays


def requests_seed():
    return seed([user('bench%d' % n, [custom('b%03d' % i) for i in range(1, n + half(n) + 1)]) for n in SIZES])


EXPECT_CHANGED = {'first': True, 'converged': False, 'check': True, 'exclusive': True, 'release-all': True}


def classify(requests):
    counts = {'owned': 0, 'lookup': 0, 'acquire': 0, 'release': 0, 'other': 0}
    for r in requests:
        if r['method'] == 'GET' and r['path'] == '/api/2/attributes/owned/':
            counts['owned'] += 1
        elif r['method'] == 'GET' and r['path'] == '/api/2/attributes/':
            counts['lookup'] += 1
        elif r['method'] == 'POST' and r['path'] in ('/api/2/attributes/acquire/', '/api/2/attributes/create/'):
            # A template the user lacks is created (create never takes over): it counts as an acquire.
            counts['acquire'] += 1
        elif r['method'] == 'POST' and r['path'] == '/api/2/attributes/release/':
            counts['release'] += 1
        else:
            counts['other'] += 1
    return counts


def part_requests(runner, emulator, paths):
    """Returns (text, {size: ok}, all ok)."""
    playbook = os.path.join(runner.workdir, 'requests.json.yml')
    with open(playbook, 'w', encoding='utf-8') as f:
        json.dump(requests_playbook(emulator.url), f, indent=1)  # JSON is YAML
    measured = {}
    for path in paths:
        emulator.reset(requests_seed())
        extra = {} if path == 'worker' else {'existio_exist_worker_process': False}
        wall, data = runner.run(playbook, extra_vars=extra, measure=True, check=False)
        log('requests, %s path: %d tasks in %.1f s' % (path, len(data['records']), wall))
        if data['rc'] != 0:
            log('ansible-playbook exited %d: see %s' % (data['rc'], data['log']))
        for record in data['records']:
            match = re.match(r'measure (\d+) (\S+)$', record['task'])
            if match:
                measured[(path, int(match.group(1)), match.group(2))] = record
    rows = []
    size_ok = {}
    problems = []
    for n in SIZES:
        size_ok[n] = True
        for scenario, numbers in scenario_numbers(n).items():
            least = minimum(*numbers)
            row = [n, scenario, '%d/%d/%d/%d/%d' % numbers[:5]]
            for path in paths:
                record = measured.get((path, n, scenario))
                if record is None:
                    row += ['-', '-']
                    size_ok[n] = False
                    problems.append('%s path, %d %s: no result' % (path, n, scenario))
                    continue
                counts = classify(record['requests'])
                total = len(record['requests'])
                ratio = total / float(least)
                row += ['%d (%d+%d+%d+%d)' % (total, counts['owned'], counts['lookup'], counts['acquire'], counts['release']),
                        '%.2f' % ratio]
                if record['status'] != 'ok':
                    problems.append('%s path, %d %s: task %s: %s' % (path, n, scenario, record['status'], record.get('msg')))
                    size_ok[n] = False
                if record['changed'] != EXPECT_CHANGED[scenario]:
                    problems.append('%s path, %d %s: changed=%s, expected %s'
                                    % (path, n, scenario, record['changed'], EXPECT_CHANGED[scenario]))
                    size_ok[n] = False
                if total != least or counts['other']:
                    problems.append('%s path, %d %s: %d requests, minimum %d' % (path, n, scenario, total, least))
                    size_ok[n] = False
            row.insert(3, least)
            rows.append(row)
    headers = ['attributes', 'run', 'owned/new/acq/rel/visible', 'minimum']
    for path in paths:
        headers += ['requests (%s)' % path, 'ratio']
    text = table(headers, rows)
    if problems:
        text += '\n\nPROBLEMS:\n' + '\n'.join('  ' + p for p in problems)
    return text, size_ok, not problems


# ---------------------------------------------------------------------------
# Part 2: per-task time


TASK_KINDS = (
    # key, label, playbook, extra vars
    ('ping', 'ansible.builtin.ping', 'tasks_ping.yml', {}),
    ('converged', 'existio.exist.attribute converged (worker process)', 'tasks_converged.yml',
     {'exist_token': 'conv-token'}),
    ('changes', 'existio.exist.attribute with changes (worker process)', 'tasks_changes.yml',
     {'exist_token': 'change-token'}),
    ('uri', 'ansible.builtin.uri, one GET of the owned list', 'tasks_uri.yml', {'exist_token': 'conv-token'}),
    ('module', 'existio.exist.attribute converged (module path)', 'tasks_converged.yml',
     {'exist_token': 'conv-token', 'existio_exist_worker_process': False}),
)

PART2_TEMPLATES = ('steps', 'floors', 'active_energy', 'productive_min', 'commits', 'coffees', 'water',
                   'money_spent', 'mood', 'energy_level')


def part_tasks(runner, emulator, rounds):
    emulator.reset(seed([
        user('conv', [{'template': t, 'service': SERVICE, 'manual': False} for t in PART2_TEMPLATES]),
        user('change'),
    ]))
    per_task = dict((key, []) for key, _label, _pb, _vars in TASK_KINDS)
    wall = dict((key, []) for key, _label, _pb, _vars in TASK_KINDS)
    problems = []
    for rnd in range(rounds):
        for key, _label, playbook, extra in TASK_KINDS:
            extra = dict(extra, exist_api_url=emulator.url)
            seconds, data = runner.run(os.path.join(PLAYBOOKS, playbook), extra_vars=extra)
            records = data['records']
            if len(records) != 20:
                problems.append('%s: %d task results, expected 20' % (key, len(records)))
            changed = [r['changed'] for r in records]
            if key == 'changes' and not all(changed):
                problems.append('%s: %d of 20 tasks changed nothing' % (key, changed.count(False)))
            if key in ('converged', 'module') and any(changed):
                problems.append('%s: %d of 20 tasks changed something' % (key, sum(changed)))
            per_task[key].extend(r['seconds'] for r in records)
            wall[key].append(seconds)
        log('tasks: round %d of %d done' % (rnd + 1, rounds))
    med = dict((key, statistics.median(values) * 1000.0) for key, values in per_task.items())
    med_wall = dict((key, statistics.median(values) * 1000.0 / 20.0) for key, values in wall.items())
    rows = []
    for key, label, _pb, _vars in TASK_KINDS:
        rows.append([label, '%.0f' % med[key], '%.0f' % med_wall[key], '%.2f' % (med[key] / med['ping']),
                     '%.2f' % (med[key] / med['uri'])])
    text = table(['task (20 per playbook)', 'median ms/task', 'playbook wall / 20', 'x ping', 'x uri'], rows)
    bars = [
        ('converged task, worker process path, under 0.25x ping', med['converged'] / med['ping'] < 0.25,
         '%.2fx' % (med['converged'] / med['ping'])),
        ('converged task, module path, within 1.10x ping', med['module'] / med['ping'] <= 1.10,
         '%.2fx' % (med['module'] / med['ping'])),
        ('converged task, module path, at most 0.8x uri', med['module'] / med['uri'] <= 0.8,
         '%.2fx' % (med['module'] / med['uri'])),
    ]
    bar_rows = [[name, value, 'holds' if ok else 'DOES NOT HOLD'] for name, ok, value in bars]
    text += '\n\n' + table(['bar', 'measured', ''], bar_rows)
    if problems:
        text += '\n\nPROBLEMS:\n' + '\n'.join('  ' + p for p in sorted(set(problems)))
    return text, not problems


# ---------------------------------------------------------------------------
# Profile of the module path


PHASES = r'''
import json, sys, time
t0 = time.perf_counter()
import ansible.module_utils.basic  # noqa
t1 = time.perf_counter()
import requests  # noqa
t2 = time.perf_counter()
from ansible_collections.existio.exist.plugins.module_utils import _attribute_task, _ownership_sync, _ownership_plan
t3 = time.perf_counter()
from ansible_collections.existio.exist.plugins.module_utils._connection_options import client_from_params
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
# Every option with its default, as the module gets them.
params = ArgumentSpecValidator(_attribute_task.argument_spec()).validate(
    {'api_url': sys.argv[1], 'token': 'conv-token'}).validated_parameters
client = client_from_params(params, None)
declared = _ownership_plan.normalize_declared([{'template': t} for t in sys.argv[2].split(',')], 'present')
owned = _ownership_sync.read_owned(client)
t4 = time.perf_counter()
for dummy in range(200):
    plan = _ownership_plan.plan_ownership(owned, declared, {}, takeover=True, exclusive=False)
t5 = time.perf_counter()
print(json.dumps({'basic': t1 - t0, 'requests': t2 - t1, 'collection': t3 - t2, 'request': t4 - t3,
                  'plan': (t5 - t4) / 200}))
'''


def _importtime(stderr, top=12):
    """Top-level imports (not nested in another) by cumulative microseconds, from -X importtime output."""
    entries = []
    for line in stderr.splitlines():
        match = re.match(r'import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)', line)
        if match:
            entries.append((int(match.group(2)), len(match.group(3)), match.group(4)))
    roots = [(cum, name) for cum, depth, name in entries if depth == 0]
    total = sum(cum for cum, _name in roots)
    return total, sorted(roots, reverse=True)[:top]


def _run_timed(cmd, env, repeat=5):
    best = None
    for dummy in range(repeat):
        start = time.monotonic()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)
        took = time.monotonic() - start
        best = took if best is None else min(best, took)
    return best


def part_profile(runner, emulator, collections_path):
    """Where the module path's time goes: the AnsiballZ payload under -X importtime, and timed phases."""
    remote_tmp = os.path.join(runner.workdir, 'remote_tmp')
    shutil.rmtree(remote_tmp, ignore_errors=True)
    os.makedirs(remote_tmp)
    playbook = os.path.join(runner.workdir, 'profile.json.yml')
    with open(playbook, 'w', encoding='utf-8') as f:
        json.dump([{'name': 'One module-path task', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [
            {'name': 'Declare 10 owned attributes', 'existio.exist.attribute': {
                'api_url': emulator.url, 'token': 'conv-token',
                'attributes': [{'template': t} for t in PART2_TEMPLATES]}}]}], f)
    runner.run(playbook, extra_vars={'existio_exist_worker_process': False},
               env={'ANSIBLE_KEEP_REMOTE_FILES': '1', 'ANSIBLE_REMOTE_TMP': remote_tmp})
    payload = None
    for dirpath, _dirs, files in os.walk(remote_tmp):
        for name in files:
            if name == 'AnsiballZ_attribute.py':
                payload = os.path.join(dirpath, name)
    if payload is None:
        return 'AnsiballZ_attribute.py was not kept; no profile.'
    env = dict(os.environ)
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    lines = []
    # A fresh python, the payload as Ansible runs it, and the payload under -X importtime.
    bare = _run_timed([sys.executable, '-c', 'pass'], env)
    whole = _run_timed([sys.executable, payload], env)
    proc = subprocess.run([sys.executable, '-X', 'importtime', payload], env=env, capture_output=True, text=True,
                          check=False, timeout=120)
    total, roots = _importtime(proc.stderr)
    phases_env = dict(env, PYTHONPATH=collections_path)
    proc = subprocess.run([sys.executable, '-c', PHASES, emulator.url, ','.join(PART2_TEMPLATES)], env=phases_env,
                          capture_output=True, text=True, check=False, timeout=120)
    try:
        phases = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        phases = None
        lines.append('phase timing failed: %s' % proc.stderr[-1000:])
    rows = [
        ['python -c pass (interpreter start-up, best of 5)', '%.0f' % (bare * 1000)],
        ['AnsiballZ_attribute.py run directly (whole module, best of 5)', '%.0f' % (whole * 1000)],
        ['of which imports (-X importtime, sum of top-level imports)', '%.0f' % (total / 1000.0)],
    ]
    if phases:
        rows += [
            ['direct run: import ansible.module_utils.basic', '%.0f' % (phases['basic'] * 1000)],
            ['direct run: import requests (after basic)', '%.0f' % (phases['requests'] * 1000)],
            ["direct run: import the collection's module_utils", '%.0f' % (phases['collection'] * 1000)],
            ['direct run: client + GET owned list (one request)', '%.1f' % (phases['request'] * 1000)],
            ['direct run: planning 10 attributes', '%.2f' % (phases['plan'] * 1000)],
        ]
    text = table(['module path, where the time goes', 'ms'], rows)
    text += '\n\n' + table(['top-level import in the AnsiballZ payload', 'cumulative ms'],
                           [[name, '%.1f' % (cum / 1000.0)] for cum, name in roots])
    if lines:
        text += '\n\n' + '\n'.join(lines)
    shutil.rmtree(remote_tmp, ignore_errors=True)
    return text


# ---------------------------------------------------------------------------
# Part 3: scale


def part_scale(runner, emulator, users, forks_list=(10, 25)):
    inventory = os.path.join(runner.workdir, 'scale-inventory.json')
    hosts = {}
    for i in range(1, users + 1):
        name = 'user%04d' % i
        hosts[name] = {'exist_token': name + '-token'}
    with open(inventory, 'w', encoding='utf-8') as f:
        json.dump({'all': {'hosts': hosts, 'vars': {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
            'exist_api_url': emulator.url,
            'scale_attributes': [{'template': t} for t in SCALE_TEMPLATES]}}}, f, indent=1)
    world = seed([user(name) for name in hosts])
    rows = []
    problems = []
    for forks in forks_list:
        emulator.reset(world)
        ping_wall = None
        for run in ('ping', 'first', 'again'):
            playbook = 'scale_ping.yml' if run == 'ping' else 'scale_attribute.yml'
            emulator.clear_requests()
            cpu0 = emulator.cpu_seconds()
            wall, data = runner.run(os.path.join(PLAYBOOKS, playbook), inventory=inventory, forks=forks)
            cpu = emulator.cpu_seconds() - cpu0
            requests = len(emulator.requests())
            records = data['records']
            ok = [r for r in records if r['status'] == 'ok']
            changed = sum(1 for r in ok if r['changed'])
            if len(ok) != users:
                problems.append('forks %d, %s: %d of %d hosts ok' % (forks, run, len(ok), users))
            if run == 'first' and changed != users:
                problems.append('forks %d, first: %d of %d hosts changed' % (forks, changed, users))
            if run == 'again' and changed:
                problems.append('forks %d, again: %d hosts changed' % (forks, changed))
            if run == 'ping':
                ping_wall = wall
            least = {'ping': 0, 'first': 3 * users, 'again': users}[run]
            if requests != least:
                problems.append('forks %d, %s: %d requests, minimum %d' % (forks, run, requests, least))
            rows.append([forks, run, '%.1f' % wall, '%.1f' % (users / wall), requests, least,
                         '%.2f' % (requests / float(users)), '%.2f' % (wall / ping_wall),
                         '%.1f%%' % (100.0 * cpu / wall)])
            log('scale: %d users, forks %d, %s: %.1f s' % (users, forks, run, wall))
    text = table(['forks', 'run', 'wall s', 'users/s', 'requests', 'minimum', 'req/user', 'x ping', 'emulator CPU'], rows)
    if problems:
        text += '\n\nPROBLEMS:\n' + '\n'.join('  ' + p for p in problems)
    return text, not problems


# ---------------------------------------------------------------------------
# Machine and RST


def machine():
    cpu = platform.processor() or 'unknown'
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    from ansible.release import __version__ as core_version  # pylint: disable=import-outside-toplevel
    return [
        ['CPU', cpu],
        ['cores', str(os.cpu_count())],
        ['Python', platform.python_version()],
        ['ansible-core', core_version],
        ['OS', '%s %s' % (platform.system(), platform.release())],
        ['date', datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')],
    ]


RST_HEAD = """.. _ansible_collections.existio.exist.docsite.performance:

Performance
===========

What this collection costs, in the two currencies users pay: API requests
(Exist allows 300 an hour per user token) and pipeline time (Ansible runs a
task per host). Measured side by side with the references a user would
compare with, in one run of ``make bench`` on one machine, against the local
Exist emulator on loopback (rate limit off). This page is generated by
``tests/perf/bench.py``; do not edit the tables by hand.

Machine
-------

{machine}

Requests per run
----------------

Each row is one ``existio.exist.attribute`` task in a real ``ansible-playbook``
run; the requests it sent are read from the emulator's request log, cleared
just before the task. Attributes are custom attributes ``b001``, ``b002`` and
so on, acquired by name. For ``n`` declared attributes:

- *first*: declare ``b001`` to ``b<n>``, none owned yet;
- *converged*: the same again;
- *check*: in check mode, declare ``exclusive: true`` a set shifted by
  ``h = ceil(n/2)`` (``b<h+1>`` to ``b<h+n>``): ``h`` to acquire, ``h`` to release;
- *exclusive*: the same for real;
- *release-all*: ``state: absent`` for every attribute owned.

The minimum the API allows is computed from each scenario's own numbers
(``owned/new/acq/rel/visible``: owned before the run, declared present but not
owned, acquires, releases, attributes the token can see): ``max(1,
ceil(owned/100))`` GETs of the owned list; when something not owned is to be
acquired, ``ceil(visible/100)`` GETs of the user's attribute list to learn who
owns it (Exist was seen ignoring the list's name filter, so reading the whole
list is what a look-up really costs); ``ceil(acq/35)`` acquire POSTs and
``ceil(rel/35)`` release POSTs (no POST in check mode). The requests column splits the count as
``owned-list GETs + look-up GETs + acquire POSTs + release POSTs``. Both
paths are measured: the task in Ansible's worker process (the default on a
local connection) and the module (``existio_exist_worker_process: false``,
as on a remote host). ``make test`` runs this part too and fails when a ratio
is not 1.00.

{requests}

Time per task
-------------

Five playbooks of 20 tasks each on ``localhost``, run alternately (A B C D E,
A B C D E, ...) for {rounds} rounds:

- ``ansible.builtin.ping``: Ansible's own floor for a task that runs a module;
- ``existio.exist.attribute`` declaring 10 attributes the user already owns
  (converged, one GET), in the worker process (the default on a local connection);
- the same module with changes to apply: its tasks alternately acquire the 10
  attributes and release them (every task changes something: GET, look-up GET
  and one POST, or GET and one POST);
- ``ansible.builtin.uri`` making the single owned-list GET a hand-written
  playbook would make;
- the converged task again on the module path
  (``existio_exist_worker_process: false``), for comparison.

How it is measured: a small callback (``tests/perf/callback_plugins/bench_timer.py``)
takes the time from ``v2_playbook_on_task_start`` (sent by the controller just
before the task is queued to a worker) to the task's result arriving back in
the controller. That is the whole cost of a task as the playbook sees it:
forking the worker, templating, running the action plugin (and, on the module
path, writing and starting the module in a fresh Python) and returning the
result. Nothing is subtracted. The column *median ms/task* is the median over
all ``20 x rounds`` tasks; *playbook wall / 20* is the median wall time of a
whole ``ansible-playbook`` run divided by 20, so it includes Ansible's own
start-up (about two seconds) spread over the tasks.

{tasks}

Where the module path's time goes
---------------------------------

The module, kept by ``ANSIBLE_KEEP_REMOTE_FILES`` from a module-path run of the
converged task, is run directly (as Ansible runs it) and under
``python -X importtime``; a direct run of the same steps in a fresh Python
times each phase.

{profile}

Fanning out over users
----------------------

An inventory of {users} Exist users, one host each with its own token
(``connection: local``), seeded into the emulator; one task converges 20
attributes (templates) per user: from scratch (*first*), then *again*
(``changed=0``). *ping* is one ``ansible.builtin.ping`` task per host on the
same inventory, the reference for what fanning out costs in Ansible itself.
Requests are counted from the emulator's log; the minimum is one GET of
the owned list per user, plus on the first run one look-up GET and one
acquire POST (20 attributes fit in one request). The emulator's CPU share is its own
``utime + stime`` (``/proc/PID/stat``) over the run's wall time, in percent of
one core (the machine has {cores}): well below 100 % means the emulator is not
the bottleneck.

{scale}

See :ref:`ansible_collections.existio.exist.docsite.guide_ownership` for how
to fan out over many users.
"""


# ---------------------------------------------------------------------------


def log(message):
    print('[bench] %s' % message, file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--collections-path', required=True,
                        help='folder that holds ansible_collections/existio/exist')
    parser.add_argument('--parts', default='requests,tasks,scale')
    parser.add_argument('--paths', default='worker,module', help='paths for the requests part')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--users', type=int, default=200)
    parser.add_argument('--large', action='store_true', help='1000 users in the scale part')
    parser.add_argument('--rst', help='write the tables into this RST file')
    parser.add_argument('--result-file', help='write "passed failed skipped" of the requests part here')
    parser.add_argument('--workdir', help='scratch folder (default: a temporary one)')
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(',') if p]
    paths = [p for p in args.paths.split(',') if p]
    if set(paths) - set(PATHS) or set(parts) - {'requests', 'tasks', 'scale'}:
        parser.error('unknown part or path')
    users = MAX_USERS if args.large else max(1, min(args.users, MAX_USERS))
    rounds = max(1, min(args.rounds, 50))

    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix='existio-bench-'))
    os.makedirs(workdir, exist_ok=True)
    emulator = Emulator(os.path.join(workdir, 'emulator.log')).start()
    log('emulator pid %d at %s; work folder %s' % (emulator.proc.pid, emulator.url, workdir))
    runner = Runner(os.path.abspath(args.collections_path), workdir, emulator)
    sections = {}
    ok = True
    try:
        if 'requests' in parts:
            text, size_ok, good = part_requests(runner, emulator, paths)
            sections['requests'] = text
            ok = ok and good
            print('\nRequests per run\n' + text + '\n', flush=True)
            if args.result_file:
                passed = sum(1 for v in size_ok.values() if v)
                with open(args.result_file, 'w', encoding='utf-8') as f:
                    f.write('%d %d 0\n' % (passed, len(size_ok) - passed))
        if 'tasks' in parts:
            text, good = part_tasks(runner, emulator, rounds)
            ok = ok and good
            print('\nTime per task\n' + text + '\n', flush=True)
            sections['tasks'] = text
            profile = part_profile(runner, emulator, os.path.abspath(args.collections_path))
            print('\nModule path profile\n' + profile + '\n', flush=True)
            sections['profile'] = profile
        if 'scale' in parts:
            text, good = part_scale(runner, emulator, users)
            ok = ok and good
            print('\nScale: %d users\n' % users + text + '\n', flush=True)
            sections['scale'] = text
    finally:
        emulator.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    mach = machine()
    print(table(['machine', ''], mach))
    if args.rst:
        if set(sections) != {'requests', 'tasks', 'profile', 'scale'}:
            log('not writing %s: it needs all three parts' % args.rst)
        else:
            with open(args.rst, 'w', encoding='utf-8') as f:
                f.write(RST_HEAD.format(machine=table(['item', 'value'], mach), rounds=rounds, users=users,
                                        cores=os.cpu_count(), **sections))
            log('wrote %s' % args.rst)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
