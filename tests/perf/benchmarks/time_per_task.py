# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Part `tasks`: median milliseconds per task of five 20-task playbooks on localhost, run alternately.

ansible.builtin.ping, existio.exist.attribute converged and with changes (worker process), ansible.builtin.uri
making one GET of the owned list, and the converged task on the module path; bars on the ratios.
"""

from __future__ import annotations

import os
import statistics

from .common import PLAYBOOKS, SERVICE, log, seed, table, user, with_problems

TASK_KINDS = (
    # key, label, playbook, extra vars
    ('ping', 'ansible.builtin.ping', 'tasks_ping.yml', {}),
    (
        'converged',
        'existio.exist.attribute converged (worker process)',
        'tasks_converged.yml',
        {'exist_token': 'conv-token'},
    ),
    (
        'changes',
        'existio.exist.attribute with changes (worker process)',
        'tasks_changes.yml',
        {'exist_token': 'change-token'},
    ),
    ('uri', 'ansible.builtin.uri, one GET of the owned list', 'tasks_uri.yml', {'exist_token': 'conv-token'}),
    (
        'module',
        'existio.exist.attribute converged (module path)',
        'tasks_converged.yml',
        {'exist_token': 'conv-token', 'existio_exist_worker_process': False},
    ),
)

PART2_TEMPLATES = (
    'steps',
    'floors',
    'active_energy',
    'productive_min',
    'commits',
    'coffees',
    'water',
    'money_spent',
    'mood',
    'energy_level',
)


def part_tasks(runner, emulator, rounds):
    emulator.admin.reset(
        seed(
            [
                user('conv', [{'template': t, 'service': SERVICE, 'manual': False} for t in PART2_TEMPLATES]),
                user('change'),
            ]
        )
    )
    per_task = dict((kind[0], []) for kind in TASK_KINDS)
    wall = dict((kind[0], []) for kind in TASK_KINDS)
    problems = []
    for rnd in range(rounds):
        for key, dummy, playbook, extra in TASK_KINDS:
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
    for key, label, dummy, dummy in TASK_KINDS:
        rows.append(
            [
                label,
                '%.0f' % med[key],
                '%.0f' % med_wall[key],
                '%.2f' % (med[key] / med['ping']),
                '%.2f' % (med[key] / med['uri']),
            ]
        )
    text = table(['task (20 per playbook)', 'median ms/task', 'playbook wall / 20', 'x ping', 'x uri'], rows)
    bars = [
        (
            'converged task, worker process path, under 0.25x ping',
            med['converged'] / med['ping'] < 0.25,
            '%.2fx' % (med['converged'] / med['ping']),
        ),
        (
            'converged task, module path, within 1.10x ping',
            med['module'] / med['ping'] <= 1.10,
            '%.2fx' % (med['module'] / med['ping']),
        ),
        (
            'converged task, module path, at most 0.8x uri',
            med['module'] / med['uri'] <= 0.8,
            '%.2fx' % (med['module'] / med['uri']),
        ),
    ]
    bar_rows = [[name, value, 'holds' if ok else 'DOES NOT HOLD'] for name, ok, value in bars]
    text += '\n\n' + table(['bar', 'measured', ''], bar_rows)
    return with_problems(text, sorted(set(problems))), not problems
