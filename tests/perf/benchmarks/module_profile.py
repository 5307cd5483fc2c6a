# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Part `tasks`, second table: where the module path's time goes.

The AnsiballZ payload of a converged module-path task, kept by ANSIBLE_KEEP_REMOTE_FILES, run directly and under
`python -X importtime`, and the same steps timed phase by phase in a fresh Python.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

from .common import table
from .time_per_task import PART2_TEMPLATES

PHASES = r'''
import json, sys, time
t0 = time.perf_counter()
import ansible.module_utils.basic  # noqa
t1 = time.perf_counter()
import requests  # noqa
t2 = time.perf_counter()
from ansible_collections.existio.exist.plugins.module_utils import _attribute_task, _ownership_sync, _ownership_plan
from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import normalize_declared
t3 = time.perf_counter()
from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._connection_options import validate
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
# Every option with its default, as the module gets them.
params = ArgumentSpecValidator(_attribute_task.argument_spec()).validate(
    {'api_url': sys.argv[1], 'token': 'conv-token'}).validated_parameters
client = ExistClient(validate(params))
declared = normalize_declared([{'template': t} for t in sys.argv[2].split(',')], 'present')
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
        json.dump(
            [
                {
                    'name': 'One module-path task',
                    'hosts': 'localhost',
                    'gather_facts': False,
                    'tasks': [
                        {
                            'name': 'Declare 10 owned attributes',
                            'existio.exist.attribute': {
                                'api_url': emulator.url,
                                'token': 'conv-token',
                                'attributes': [{'template': t} for t in PART2_TEMPLATES],
                            },
                        }
                    ],
                }
            ],
            f,
        )
    runner.run(
        playbook,
        extra_vars={'existio_exist_worker_process': False},
        env={'ANSIBLE_KEEP_REMOTE_FILES': '1', 'ANSIBLE_REMOTE_TMP': remote_tmp},
    )
    payload = None
    for dirpath, dummy, files in os.walk(remote_tmp):
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
    proc = subprocess.run(
        [sys.executable, '-X', 'importtime', payload], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    total, roots = _importtime(proc.stderr)
    phases_env = dict(env, PYTHONPATH=collections_path)
    proc = subprocess.run(
        [sys.executable, '-c', PHASES, emulator.url, ','.join(PART2_TEMPLATES)],
        env=phases_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
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
    text += '\n\n' + table(
        ['top-level import in the AnsiballZ payload', 'cumulative ms'],
        [[name, '%.1f' % (cum / 1000.0)] for cum, name in roots],
    )
    if lines:
        text += '\n\n' + '\n'.join(lines)
    shutil.rmtree(remote_tmp, ignore_errors=True)
    return text
