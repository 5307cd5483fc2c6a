# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Part `fleet`: a service's fleet of Exist users, as the fleet guide runs it.

N users x 20 attributes seeded in the emulator (exist_emulator.fleet.fleet_seed), their token store
(fleet_store, write_store), the inventory from the collection's own inventory plugin (existio.exist.users), and
one existio.exist.attribute task declaring the 20 templates every user has, with module_defaults
`token: "{{ exist_token }}"`. For forks 10 and 25: the first run (acquires and takeovers), then rounds of
ansible.builtin.debug (an action plugin with no I/O: Ansible's own floor for a task) and the converged run,
interleaved so that they share the machine's state (medians), with ansible.builtin.ping in the first round. Requests are counted from the
emulator's log and checked with counts.check (the converged run: exactly one GET of the owned list per user);
CPU: the emulator's own (/proc/PID/stat), the controller process's (os.times() in the bench_stats callback, which
implements no per-result method, so the runs cost what they cost with the default callback alone) and all of
ansible-playbook's (its workers included, from this process's RUSAGE_CHILDREN).
"""

from __future__ import annotations

import json
import os
import statistics
import sys

from . import counts
from .common import PLAYBOOKS, log, table, with_problems

# Imported first: it makes this checkout's exist_emulator importable when it is not installed.
from .emulator import FROM_TREE  # noqa: F401  pylint: disable=unused-import

from exist_emulator.fleet import TEMPLATE_POOL, fleet_seed, fleet_store, write_store  # noqa: E402  isort: skip

ATTRIBUTES = 20
DEFAULT_USERS = 200
LARGE_USERS = 1000
MAX_USERS = 5000
FORKS = (10, 25)
SERVICE = 'fleet_service'
# Interleaved in every round, in this order; ping (a fresh Python per user, several times slower) in the first only.
RUNS = ('ping', 'debug', 'converged')
PING_ROUNDS = 1
PLAYBOOK_OF = {'ping': 'fleet_ping.yml', 'debug': 'fleet_debug.yml'}
# The bench_stats callback alone (no per-result method: no copy of any result is made for it), so that a run costs
# what it costs a user with the default callback.
ONLY_STATS = {'ANSIBLE_CALLBACKS_ENABLED': 'bench_stats'}


def converge_playbook(path, templates):
    """The converge playbook of the fleet guide (docs/docsite/rst/guide_fleet.rst): one task, the token from the
    inventory through the one module_defaults line; the emulator's URL comes from EXIST_API_URL (see API_URL), as a
    play against Exist itself names no URL."""
    lines = [
        '---',
        '# Written by tests/perf/benchmarks/fleet.py: the 20 templates every fleet user has.',
        '- name: Converge the attributes of every user',
        '  hosts: all',
        '  gather_facts: false',
        '  module_defaults:',
        '    group/existio.exist.exist:',
        '      token: "{{ exist_token }}"',
        '  tasks:',
        '    - name: Declare the attributes this service owns',
        '      existio.exist.attribute:',
        '        attributes:',
    ]
    lines += ['          - template: %s' % name for name in templates]
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


def _least_first(seed):
    """The fewest requests the first run allows, summed over the users (from the seed, not from the module)."""
    total = 0
    for user in seed['users']:
        owned = sum(1 for a in user['attributes'] if a['service'] == SERVICE)
        missing = len(user['attributes']) - owned
        total += counts.minimum(owned, missing, missing, 0, len(user['attributes']), False)
    return total


def _median(values):
    return statistics.median(values) if values else float('nan')


def _spread(values):
    if len(values) < 2:
        return '%.1f' % values[0]
    return '%.1f (%.1f-%.1f)' % (statistics.median(values), min(values), max(values))


def part_fleet(runner, emulator, users, rounds, forks_list=FORKS):
    """Returns (table text, ok, numbers): numbers[forks][run] = medians, for the page's prose."""
    seed = fleet_seed(users, ATTRIBUTES, service=SERVICE)
    templates = TEMPLATE_POOL[:ATTRIBUTES]
    store = os.path.join(runner.workdir, 'fleet-store.yml')
    write_store(fleet_store(seed), store)
    inventory = os.path.join(runner.workdir, 'fleet.exist_users.yml')
    with open(inventory, 'w', encoding='utf-8') as f:
        f.write('plugin: existio.exist.users\nstore: %s\n' % store)
    playbooks = dict((run, os.path.join(PLAYBOOKS, name)) for run, name in PLAYBOOK_OF.items())
    playbooks['first'] = playbooks['converged'] = os.path.join(runner.workdir, 'fleet_attribute.yml')
    converge_playbook(playbooks['first'], templates)
    least = {'ping': 0, 'debug': 0, 'first': _least_first(seed), 'converged': users}
    kinds = {'ping': (), 'debug': (), 'first': counts.OWNERSHIP_KINDS, 'converged': ('owned',)}
    env = dict(ONLY_STATS, EXIST_API_URL=emulator.url)

    problems = []
    numbers = {}
    rows = []
    for forks in forks_list:
        emulator.admin.reset(seed)
        samples = dict((run, []) for run in ('first',) + RUNS)
        order = [('first', 0)] + [
            (run, rnd) for rnd in range(rounds) for run in RUNS if run != 'ping' or rnd < PING_ROUNDS
        ]
        for run, rnd in order:
            emulator.admin.clear_requests()
            cpu0 = emulator.cpu_seconds()
            wall, data = runner.run(playbooks[run], inventory=inventory, forks=forks, env=env)
            emulator_cpu = emulator.cpu_seconds() - cpu0
            logged = emulator.admin.requests()
            where = 'forks %d, %s, round %d' % (forks, run, rnd + 1)
            hosts = data.get('hosts', [])
            ok = [h for h in hosts if h['ok'] == 1 and not (h['failed'] or h['unreachable'] or h['skipped'])]
            changed = sum(1 for h in ok if h['changed'])
            if len(ok) != users:
                problems.append('%s: %d of %d users ok' % (where, len(ok), users))
            if run == 'first' and changed != users:
                problems.append('%s: %d of %d users changed' % (where, changed, users))
            if run == 'converged' and changed:
                problems.append('%s: %d users changed' % (where, changed))
            problem = counts.check(where, logged, least[run], kinds=kinds[run])
            if problem:
                problems.append(problem)
            samples[run].append(
                {
                    'wall': wall,
                    'requests': len(logged),
                    'emulator_cpu': emulator_cpu,
                    'controller_cpu': data.get('controller_cpu_seconds', float('nan')),
                    'controller_rss': data.get('controller_maxrss_kb', 0) / 1024.0,
                    'cpu': data['cpu_seconds'],
                }
            )
            log('fleet: %d users, forks %d, %s (round %d): %.1f s' % (users, forks, run, rnd + 1, wall))
        med = {}
        for run, runs in samples.items():
            med[run] = dict((key, _median([s[key] for s in runs])) for key in runs[0])
            med[run]['walls'] = [s['wall'] for s in runs]
        numbers[forks] = med
        for run in ('ping', 'debug', 'first', 'converged'):
            m = med[run]
            rows.append(
                [
                    forks,
                    run,
                    _spread(m['walls']),
                    '%.0f' % (users / m['wall']),
                    '%.2f' % (m['wall'] / med['debug']['wall']),
                    '%.2f' % (m['wall'] / med['ping']['wall']),
                    '%d' % m['requests'],
                    least[run],
                    '%.0f%%' % (100.0 * m['emulator_cpu'] / m['wall']),
                    '%.0f%%' % (100.0 * m['controller_cpu'] / m['wall']),
                    '%.0f%%' % (100.0 * m['cpu'] / m['wall']),
                    '%.0f' % m['controller_rss'],
                ]
            )
    text = table(
        [
            'forks',
            'run',
            'wall s',
            'users/s',
            'x debug',
            'x ping',
            'requests',
            'minimum',
            'emulator CPU',
            'controller CPU',
            'ansible CPU',
            'controller MB',
        ],
        rows,
    )
    return with_problems(text, problems), not problems, numbers


# Where the time goes: the phases phase_timer.py clocks, as rows of the page (label, phase, unit). CPU milliseconds
# per task (the thread's own CPU time; a worker runs one task), averaged over the workers of a run.
PHASE_TIMER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'phase_timer.py')
PROFILE_ROWS = (
    ('worker', 'all of it, from fork to result sent', 'worker: run() in all'),
    ('worker', 'task post-validation', 'worker: task post_validate'),
    ('worker', '- of which the arguments templated', 'worker: task args templated'),
    (
        'worker',
        'connection plugin, its options, play context',
        ('worker: connection plugin', 'worker: connection options', 'worker: play context'),
    ),
    ('worker', 'action plugin run()', 'worker: action plugin run()'),
    ('worker', '- arguments checked (ArgumentSpecValidator)', 'existio: check arguments'),
    ('worker', '- HTTP client set up (requests.Session)', 'existio: client set-up'),
    ('worker', '- the GET of the owned list (requests, JSON decoded)', 'existio: GET and decode'),
    (
        'worker',
        '- declaration, plan, result, masking',
        ('existio: declaration checked', 'existio: plan', 'existio: build result', 'existio: masked'),
    ),
    ('worker', 'garbage collection', tuple('worker: garbage collection, generation %d' % g for g in range(3))),
    ('worker', 'result pickled and sent', 'worker: send result'),
    ('worker', 'page faults (copy-on-write of the controller\'s memory)', 'worker: run() in all', 'faults'),
    ('controller', 'all of it (inventory and start-up included)', 'controller cpu'),
    ('controller', 'variables of the host (get_vars)', 'controller: get_vars'),
    ('controller', 'fork a worker', 'controller: fork worker'),
    ('controller', 'result read (unpickled)', 'controller: unpickle result'),
    ('controller', 'results processed (callbacks included)', 'controller: process results'),
)


def _profile_run(runner, playbook, inventory, forks, env, out):
    """One run under phase_timer.py: {phase: [cpu ms, faults] per task}, the controller's numbers, the result size."""
    wall, data = runner.run(
        playbook, inventory=inventory, forks=forks, env=env, wrapper=[sys.executable, PHASE_TIMER, out]
    )
    totals = {}
    workers = 0
    imports = set()
    for name in os.listdir(out):
        if not name.startswith('worker-') or not name.endswith('.json'):
            continue
        with open(os.path.join(out, name), encoding='utf-8') as f:
            worker = json.load(f)
        workers += 1
        imports.update(worker.get('imports', ()))
        for phase, (dummy, dummy, cpu, faults) in worker['phases'].items():
            entry = totals.setdefault(phase, [0.0, 0.0])
            entry[0] += cpu
            entry[1] += faults
    with open(os.path.join(out, 'controller.json'), encoding='utf-8') as f:
        controller = json.load(f)
    for phase, (dummy, dummy, cpu, dummy) in controller['phases'].items():
        totals.setdefault(phase, [0.0, 0.0])[0] += cpu
    workers = max(workers, 1)
    per_task = dict((phase, (1000.0 * cpu / workers, faults / workers)) for phase, (cpu, faults) in totals.items())
    per_task['controller cpu'] = (1000.0 * data['controller_cpu_seconds'] / workers, 0.0)
    per_task['ansible cpu'] = (1000.0 * data['cpu_seconds'] / workers, 0.0)
    sizes = sorted(controller.get('result_bytes') or [0])
    return per_task, {'wall': wall, 'imports': len(imports), 'result_bytes': sizes[len(sizes) // 2]}


def fleet_profile(runner, emulator, users, forks=25, rounds=2):
    """Part `fleet`, second table: where the time of a converged task goes, next to debug's, per task.

    The fleet is seeded and converged, then debug and the converged run alternate for `rounds` rounds under
    phase_timer.py; medians of the rounds. Returns (table text, numbers for the page's prose).
    """
    seed = fleet_seed(users, ATTRIBUTES, service=SERVICE)
    store = os.path.join(runner.workdir, 'fleet-store.yml')
    write_store(fleet_store(seed), store)
    inventory = os.path.join(runner.workdir, 'fleet.exist_users.yml')
    with open(inventory, 'w', encoding='utf-8') as f:
        f.write('plugin: existio.exist.users\nstore: %s\n' % store)
    playbooks = {'debug': os.path.join(PLAYBOOKS, PLAYBOOK_OF['debug'])}
    playbooks['converged'] = os.path.join(runner.workdir, 'fleet_attribute.yml')
    converge_playbook(playbooks['converged'], TEMPLATE_POOL[:ATTRIBUTES])
    env = dict(ONLY_STATS, EXIST_API_URL=emulator.url)
    emulator.admin.reset(seed)
    runner.run(playbooks['converged'], inventory=inventory, forks=forks, env=env)
    samples = {'debug': [], 'converged': []}
    for rnd in range(rounds):
        for run in ('debug', 'converged'):
            out = os.path.join(runner.workdir, 'phases-%s-%d' % (run, rnd + 1))
            cpu0 = emulator.cpu_seconds()
            per_task, other = _profile_run(runner, playbooks[run], inventory, forks, env, out)
            per_task['emulator cpu'] = (1000.0 * (emulator.cpu_seconds() - cpu0) / users, 0.0)
            samples[run].append((per_task, other))
            log(
                'fleet profile: %d users, forks %d, %s (round %d): %.1f s' % (users, forks, run, rnd + 1, other['wall'])
            )

    def value(run, phases, index=0):
        phases = (phases,) if isinstance(phases, str) else phases
        return _median([sum(per_task.get(p, (0.0, 0.0))[index] for p in phases) for per_task, dummy in samples[run]])

    rows = []
    for row in PROFILE_ROWS:
        where, label, phases = row[:3]
        index = 1 if row[3:] == ('faults',) else 0
        debug, converged = value('debug', phases, index), value('converged', phases, index)
        fmt = '%.0f' if index else '%.2f'
        rows.append(
            [where, label, fmt % debug, fmt % converged, (('%+.0f' if index else '%+.2f') % (converged - debug))]
        )
    for label, key in (('all of Ansible (controller and workers)', 'ansible cpu'), ('emulator', 'emulator cpu')):
        debug, converged = value('debug', key), value('converged', key)
        rows.append(
            [
                'total' if key == 'ansible cpu' else 'emulator',
                label,
                '%.2f' % debug,
                '%.2f' % converged,
                '%+.2f' % (converged - debug),
            ]
        )
    other = dict((run, samples[run][0][1]) for run in samples)
    rows.append(
        ['worker', 'modules first imported in a worker', other['debug']['imports'], other['converged']['imports'], '']
    )
    rows.append(
        ['controller', 'bytes of a result read', other['debug']['result_bytes'], other['converged']['result_bytes'], '']
    )
    text = table(['where', 'step (CPU ms per task)', 'debug', 'converged', 'difference'], rows)
    numbers = {
        'fleet_profile_users': users,
        'fleet_profile_forks': forks,
        'fleet_profile_rounds': rounds,
    }
    return text, numbers
