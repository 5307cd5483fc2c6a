# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Part `scale`: N users (one host each with its own token), forks 10 and 25: ping, converge 20 attributes from
scratch, converge again; requests counted from the emulator's log, its CPU share from /proc/PID/stat."""

from __future__ import annotations

import json
import os
import sys

from . import counts
from .common import PLAYBOOKS, log, seed, table, user, with_problems

SCALE_TEMPLATES = (
    'steps',
    'floors',
    'steps_distance',
    'active_energy',
    'workouts',
    'productive_min',
    'commits',
    'tasks_completed',
    'words_written',
    'emails_sent',
    'coffees',
    'water',
    'caffeine',
    'money_spent',
    'mood',
    'mood_note',
    'energy_level',
    'stress_level',
    'alcoholic_drinks',
    'pomodoros_min',
)
# A run of this many playbooks per part is bounded; so is every wait below.
MAX_USERS = 1000


def part_scale(runner, emulator, users, forks_list=(10, 25)):
    inventory = os.path.join(runner.workdir, 'scale-inventory.json')
    hosts = {}
    for i in range(1, users + 1):
        name = 'user%04d' % i
        hosts[name] = {'exist_token': name + '-token'}
    with open(inventory, 'w', encoding='utf-8') as f:
        json.dump(
            {
                'all': {
                    'hosts': hosts,
                    'vars': {
                        'ansible_connection': 'local',
                        'ansible_python_interpreter': sys.executable,
                        'exist_api_url': emulator.url,
                        'scale_attributes': [{'template': t} for t in SCALE_TEMPLATES],
                    },
                }
            },
            f,
            indent=1,
        )
    world = seed([user(name) for name in hosts])
    # Per user, in the numbers counts.minimum takes: the first run finds nothing owned and nothing visible and
    # acquires every template (created: the user has none); the second owns them all. Ping sends no request.
    n = len(SCALE_TEMPLATES)
    least_per_user = {
        'ping': 0,
        'first': counts.minimum(0, n, n, 0, 0, False),
        'again': counts.minimum(n, 0, 0, 0, n, False),
    }
    rows = []
    problems = []
    for forks in forks_list:
        emulator.admin.reset(world)
        ping_wall = None
        for run in ('ping', 'first', 'again'):
            playbook = 'scale_ping.yml' if run == 'ping' else 'scale_attribute.yml'
            emulator.admin.clear_requests()
            cpu0 = emulator.cpu_seconds()
            wall, data = runner.run(os.path.join(PLAYBOOKS, playbook), inventory=inventory, forks=forks)
            cpu = emulator.cpu_seconds() - cpu0
            logged = emulator.admin.requests()
            requests = len(logged)
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
            least = least_per_user[run] * users
            problem = counts.check('forks %d, %s' % (forks, run), logged, least)
            if problem:
                problems.append(problem)
            rows.append(
                [
                    forks,
                    run,
                    '%.1f' % wall,
                    '%.1f' % (users / wall),
                    requests,
                    least,
                    '%.2f' % (requests / float(users)),
                    '%.2f' % (wall / ping_wall),
                    '%.1f%%' % (100.0 * cpu / wall),
                ]
            )
            log('scale: %d users, forks %d, %s: %.1f s' % (users, forks, run, wall))
    text = table(
        ['forks', 'run', 'wall s', 'users/s', 'requests', 'minimum', 'req/user', 'x ping', 'emulator CPU'], rows
    )
    return with_problems(text, problems), not problems
