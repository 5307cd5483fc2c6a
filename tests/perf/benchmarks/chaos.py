# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Part `chaos`: the fleet flow while the emulator injects faults, and a checker that accounts for everything.

N users x 20 attributes (exist_emulator.fleet.fleet_seed), their token store, the inventory from
existio.exist.users, the fleet report callback (existio.exist.fleet_report). The emulator's chaos mode faults a share
of the API requests at random, from a seed (429s with and without Retry-After, 5xx and drops before and after apply,
delays past the client's timeout, trickles, revoked tokens and pairs) and logs every fault it injected.

- Run 1, under chaos: the fleet guide's site.yml: one existio.exist.token task refreshing every user of the store
  (refresh_before large enough for all), the inventory read again, then the converge play: existio.exist.attribute
  acquiring the 20 templates and existio.exist.values setting five values of a day.
- Run 2, chaos off: the converge play again.

The checker (benchmarks/chaos_check.py) then compares the emulator's state, the chaos log, the token store (and its
recovery files) and the fleet reports of both runs.
"""

from __future__ import annotations

import datetime
import glob
import os
import time

import yaml

from . import chaos_check
from .common import log

# Imported first: it makes this checkout's exist_emulator importable when it is not installed.
from .emulator import FROM_TREE  # noqa: F401  pylint: disable=unused-import

from exist_emulator.chaos import KINDS as CHAOS_KINDS  # noqa: E402  isort: skip
from exist_emulator.fleet import TEMPLATE_POOL, fleet_seed, fleet_store, write_store  # noqa: E402  isort: skip

ATTRIBUTES = 20
DEFAULT_USERS = 1000
MAX_USERS = 5000
FORKS = 25
SERVICE = 'fleet_service'
CLIENT_ID = 'fleet-client'
CLIENT_SECRET = 'fleet-secret'
# Every request of the run has this timeout; chaos delays a request past it and trickles an answer over three times it.
TIMEOUT = 5
DELAY = TIMEOUT + 3
TRICKLE = 3 * TIMEOUT
RETRY_AFTER = 1
DEFAULT_RATE = 0.04
# A seed whose refresh meets a 429, a revoked pair (invalid_grant) and then a refresh delayed past the timeout
# (a refresh that lands after the client gave up) before the token task stops; found by drawing the first requests
# of users in store order (a refresh that stops the task leaves the users after it not attempted).
DEFAULT_SEED = 308
# refresh_before's largest value: every token of the fleet (30 to 365 days left) is due.
REFRESH_BEFORE = 3660
# The values every user declares for one day: (attribute, Jinja expression of the user's number n, the same in
# Python). One of each value type the fleet's attributes have but time of day: integer, scale, float, string,
# duration.
VALUES = (
    ('steps', '{{ 1000 + 7 * (chaos_n | int) }}', lambda n: 1000 + 7 * n),
    ('mood', '{{ (chaos_n | int) % 9 + 1 }}', lambda n: n % 9 + 1),
    ('money_spent', '{{ (chaos_n | int) % 200 + 0.5 }}', lambda n: n % 200 + 0.5),
    ('mood_note', 'chaos note {{ chaos_n | int }}', lambda n: 'chaos note %d' % n),
    ('productive_min', '{{ (3 * (chaos_n | int)) % 600 + 1 }}', lambda n: (3 * n) % 600 + 1),
)


def declared_values(username):
    """{attribute: value} a user declares (the Python twin of the playbook's expressions)."""
    number = int(username[len('user') :])
    return dict((name, python(number)) for name, dummy, python in VALUES)


def write_playbooks(directory, store, templates, day):
    """site.yml (run 1: refresh, inventory again, converge) and converge.yml (run 2); their paths."""
    converge = os.path.join(directory, 'converge.yml')
    lines = [
        '---',
        '# Written by tests/perf/benchmarks/chaos.py: the converge play of the fleet guide, with values. Every user',
        '# not known invalid or expired, marked or not: run 2 must converge every user whose token still works.',
        '- name: Converge every user',
        '  hosts: exist_users:!exist_token_invalid:!exist_token_expired',
        '  gather_facts: false',
        '  module_defaults:',
        '    group/existio.exist.exist:',
        '      token: "{{ exist_token }}"',
        '      timeout: %d' % TIMEOUT,
        '  vars:',
        '    chaos_n: "{{ inventory_hostname[4:] | int }}"',
        '  tasks:',
        '    - name: Declare the attributes this service owns',
        '      existio.exist.attribute:',
        '        attributes:',
    ]
    lines += ['          - template: %s' % name for name in templates]
    lines += [
        '    - name: Set the values of %s' % day,
        '      existio.exist.values:',
        '        values:',
    ]
    lines += ['          - {name: %s, date: "%s", value: "%s"}' % (name, day, jinja) for name, jinja, dummy in VALUES]
    with open(converge, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    site = os.path.join(directory, 'site.yml')
    with open(site, 'w', encoding='utf-8') as f:
        f.write(
            '\n'.join(
                [
                    '---',
                    '# Written by tests/perf/benchmarks/chaos.py: the fleet guide\'s site.yml (refresh, inventory, converge).',
                    '- name: Refresh every user\'s pair',
                    '  hosts: localhost',
                    '  gather_facts: false',
                    '  tasks:',
                    '    - name: One task for the whole store',
                    '      existio.exist.token:',
                    '        grant: refresh_token',
                    '        client_id: %s' % CLIENT_ID,
                    '        client_secret: %s' % CLIENT_SECRET,
                    '        store: %s' % store,
                    '        refresh_before: %d' % REFRESH_BEFORE,
                    '        timeout: %d' % TIMEOUT,
                    '      # The converge runs whatever the refresh did; the report keeps the failure.',
                    '      ignore_errors: true',
                    '',
                    '- name: Read the refreshed store again',
                    '  hosts: localhost',
                    '  gather_facts: false',
                    '  tasks:',
                    '    - name: Build the inventory again from the store',
                    '      ansible.builtin.meta: refresh_inventory',
                    '',
                    '- name: Converge',
                    '  ansible.builtin.import_playbook: converge.yml',
                ]
            )
            + '\n'
        )
    return site, converge


def read_store(store):
    """(the store's entries, {recovery file name: its entries}), as plain YAML (the bench store is not encrypted)."""
    entries = {}
    if os.path.exists(store):
        with open(store, encoding='utf-8') as f:
            entries = yaml.safe_load(f) or {}
    recovered = {}
    for path in sorted(glob.glob(glob.escape(store) + '.recovered-*')):
        with open(path, encoding='utf-8') as f:
            recovered[os.path.basename(path)] = yaml.safe_load(f) or {}
    return entries, recovered


def _report(directory):
    path = os.path.join(directory, 'exist-fleet-report-latest.json')
    if not os.path.exists(path):
        return None
    with open(path, encoding='utf-8') as f:
        return chaos_check.load_json(f.read())


def _texts(directory, run_log):
    """The texts a secret must never appear in: the run's output and both report files."""
    texts = {}
    for name in ('exist-fleet-report-latest.json', 'exist-fleet-report-latest.md'):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            with open(path, encoding='utf-8', errors='replace') as f:
                texts[name] = f.read()
    with open(run_log, encoding='utf-8', errors='replace') as f:
        texts['ansible-playbook output'] = f.read()
    return texts


def part_chaos(runner, emulator, users, seed=DEFAULT_SEED, rate=DEFAULT_RATE, kinds=None, forks=FORKS):
    """Returns (text for the page, ok, numbers for the page's prose). kinds: the chaos kinds (default: all)."""
    fleet = fleet_seed(users, ATTRIBUTES, service=SERVICE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    templates = TEMPLATE_POOL[:ATTRIBUTES]
    directory = os.path.join(runner.workdir, 'chaos')
    os.makedirs(directory, exist_ok=True)
    store = os.path.join(directory, 'exist-tokens.yml')
    for stale in [store] + glob.glob(glob.escape(store) + '.recovered-*'):
        if os.path.exists(stale):
            os.unlink(stale)
    write_store(fleet_store(fleet), store)
    inventory = os.path.join(directory, 'fleet.exist_users.yml')
    with open(inventory, 'w', encoding='utf-8') as f:
        f.write('plugin: existio.exist.users\nstore: %s\n' % store)
    day = (datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)).isoformat()
    site, converge = write_playbooks(directory, store, templates, day)
    config = {
        'rate': rate,
        'seed': seed,
        'retry_after': RETRY_AFTER,
        'delay': DELAY,
        'trickle': TRICKLE,
    }
    if kinds:
        unknown = sorted(set(kinds) - set(CHAOS_KINDS))
        if unknown:
            raise ValueError('unknown chaos kind(s): %s' % ', '.join(unknown))
        config['kinds'] = list(kinds)
    emulator.admin.reset(fleet)
    before = emulator.admin.state()
    runs = []
    for number, playbook, chaos in ((1, site, True), (2, converge, False)):
        out = os.path.join(directory, 'run%d' % number)
        os.makedirs(out, exist_ok=True)
        env = {
            'ANSIBLE_CALLBACKS_ENABLED': 'existio.exist.fleet_report,bench_stats',
            'EXIST_FLEET_REPORT_DIR': out,
            'EXIST_API_URL': emulator.url,
        }
        if chaos:
            emulator.admin.chaos(config)
        requests0 = emulator.admin.stats()['requests']
        wall, data = runner.run(playbook, inventory=inventory, forks=forks, env=env, check=False)
        if chaos:
            # Nothing may still be in flight when the log is read: a delayed or trickled request finishes within
            # DELAY or TRICKLE seconds of the run's end.
            _wait_for_chaos(emulator, DELAY + TRICKLE + 5)
            emulator.admin.chaos_off()
        entries, recovered = read_store(store)
        runs.append(
            chaos_check.Run(
                number=number,
                state=emulator.admin.state(),
                store=entries,
                recovered=recovered,
                report=_report(out),
                texts=_texts(out, data['log']),
                rc=data['rc'],
                wall=wall,
                requests=emulator.admin.stats()['requests'] - requests0,
            )
        )
        log(
            'chaos: %d users, run %d (%s): %.1f s, rc %d'
            % (users, number, 'chaos' if chaos else 'no chaos', wall, data['rc'])
        )
    chaos_log = emulator.admin.chaos_log()
    declared = chaos_check.Declared(
        service=SERVICE,
        templates=list(templates),
        day=day,
        values=dict((user['username'], declared_values(user['username'])) for user in fleet['users']),
        timeout=TIMEOUT,
    )
    chaos_check.save(directory, declared, before, chaos_log, runs)
    findings = chaos_check.check(declared, before, chaos_log, runs)
    replay = 'make bench BENCH_ARGS="--parts chaos --chaos-users %d --chaos-seed %d --chaos-rate %s%s"' % (
        users,
        seed,
        rate,
        ' --chaos-kinds %s' % ','.join(kinds) if kinds else '',
    )
    text = chaos_check.render(findings, declared, chaos_log, runs, replay)
    numbers = {
        'chaos_users': users,
        'chaos_seed': seed,
        'chaos_rate': '%g' % (100 * rate),
        'chaos_forks': forks,
        'chaos_timeout': TIMEOUT,
        'chaos_delay': DELAY,
        'chaos_trickle': TRICKLE,
        'chaos_problems': len(findings.problems),
    }
    return text, not findings.problems, numbers


def _wait_for_chaos(emulator, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if all(entry['finished'] for entry in emulator.admin.chaos_log()):
            return
        time.sleep(0.5)
