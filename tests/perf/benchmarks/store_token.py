# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Part `fleet`, third table: what include_token=false of the users inventory costs per host-task.

A vault-encrypted token store of STORE_USERS users (exist_emulator.fleet, as the fleet part's), the users inventory
over it, and one ansible.builtin.debug task that templates `exist_token` (its length, never the token) for HOSTS of
them, in three ways, alternated for `rounds` rounds:

- include_token=true: the token is a host variable (the floor);
- include_token=false: exist_token is the existio.exist.stored_token lookup, which finds the store the inventory
  read in the controller (before the workers forked) and reads nothing;
- the 0.2.0 expression: include_token=false with the expression the inventory gave until then (a play variable
  that reads, decrypts and parses the whole store with ansible.builtin.file and from_yaml for each host-task).

Per host-task: the wall time and the CPU of all of Ansible (RUSAGE_CHILDREN) over include_token=true's, divided by
the hosts. Target (issue 19, item 5): include_token=false within TARGET_MS of include_token=true, wall and CPU.
No API request is sent: no emulator is needed.
"""

from __future__ import annotations

import os
import statistics

from ansible.parsing.vault import VaultLib, VaultSecret

from .common import log, table, with_problems

# Imported first: it makes this checkout's exist_emulator importable when it is not installed.
from .emulator import FROM_TREE  # noqa: F401  pylint: disable=unused-import

from exist_emulator.fleet import fleet_seed, fleet_store  # noqa: E402  isort: skip

STORE_USERS = 1000
HOSTS = 50
FORKS = 10
TARGET_MS = 10.0
VAULT_PASSWORD = 'bench-store-vault-password'
ONLY_STATS = {'ANSIBLE_CALLBACKS_ENABLED': 'bench_stats'}
# label, include_token, the play's own exist_token (None: the inventory's)
MODES = (
    ('include_token=true', True, None),
    ('include_token=false', False, None),
    (
        'include_token=false, 0.2.0 expression',
        False,
        "{{ (lookup('ansible.builtin.file', '%s') | from_yaml)[inventory_hostname].access_token }}",
    ),
)


def _write_vault_store(path, password_file):
    import yaml  # pylint: disable=import-outside-toplevel

    text = yaml.safe_dump(fleet_store(fleet_seed(STORE_USERS, 1)), default_flow_style=False, sort_keys=True)
    with open(password_file, 'w', encoding='utf-8') as f:
        f.write(VAULT_PASSWORD + '\n')
    secret = VaultSecret(VAULT_PASSWORD.encode('utf-8'))
    data = VaultLib([('default', secret)]).encrypt(text.encode('utf-8'), secret=secret)
    with open(path, 'wb') as f:
        f.write(data)
    os.chmod(path, 0o600)


def _playbook(path, own_token):
    lines = [
        '---',
        '# Written by tests/perf/benchmarks/store_token.py: one task that templates exist_token for %d users.' % HOSTS,
        '- name: Template the token of %d users' % HOSTS,
        '  hosts: exist_users[0:%d]' % (HOSTS - 1),
        '  gather_facts: false',
    ]
    if own_token:
        lines += ['  vars:', '    exist_token: "%s"' % own_token]
    lines += [
        '  tasks:',
        '    - name: Length of the token',
        '      ansible.builtin.debug:',
        '        msg: "{{ exist_token | length }}"',
    ]
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


def part_store_token(runner, rounds):
    """Returns (table text, ok, numbers for the page's prose)."""
    work = os.path.join(runner.workdir, 'store-token')
    os.makedirs(work, exist_ok=True)
    store = os.path.join(work, 'tokens.vault.yml')
    password_file = os.path.join(work, 'vault-password')
    _write_vault_store(store, password_file)
    env = dict(ONLY_STATS, ANSIBLE_VAULT_PASSWORD_FILE=password_file)
    runs = []
    for index, (label, include_token, own_token) in enumerate(MODES):
        inventory = os.path.join(work, 'mode%d.exist_users.yml' % index)
        with open(inventory, 'w', encoding='utf-8') as f:
            f.write('plugin: existio.exist.users\nstore: %s\ninclude_token: %s\n' % (store, str(include_token).lower()))
        playbook = os.path.join(work, 'mode%d.yml' % index)
        _playbook(playbook, own_token % store if own_token else None)
        runs.append((label, inventory, playbook))

    samples = dict((label, []) for label, dummy, dummy in runs)
    problems = []
    for rnd in range(rounds):
        for label, inventory, playbook in runs:
            wall, data = runner.run(playbook, inventory=inventory, forks=FORKS, env=env)
            hosts = data.get('hosts', [])
            ok = [h for h in hosts if h['ok'] == 1 and not (h['failed'] or h['unreachable'] or h['skipped'])]
            if len(ok) != HOSTS:
                problems.append('%s, round %d: %d of %d hosts ok' % (label, rnd + 1, len(ok), HOSTS))
            samples[label].append((wall, data['cpu_seconds']))
            log('store token: %s (round %d): %.2f s' % (label, rnd + 1, wall))

    floor = MODES[0][0]
    floor_wall = statistics.median(wall for wall, dummy in samples[floor])
    floor_cpu = statistics.median(cpu for dummy, cpu in samples[floor])
    rows, numbers = [], {}
    for label, dummy, dummy in runs:
        wall = statistics.median(w for w, dummy in samples[label])
        cpu = statistics.median(c for dummy, c in samples[label])
        extra_wall = 1000.0 * (wall - floor_wall) / HOSTS
        extra_cpu = 1000.0 * (cpu - floor_cpu) / HOSTS
        walls = sorted(w for w, dummy in samples[label])
        rows.append(
            [
                label,
                '%.2f (%.2f-%.2f)' % (wall, walls[0], walls[-1]),
                '%.2f' % cpu,
                '%+.1f' % extra_wall,
                '%+.1f' % extra_cpu,
            ]
        )
        if label == MODES[1][0]:
            numbers['store_token_extra_wall_ms'] = '%.1f' % extra_wall
            numbers['store_token_extra_cpu_ms'] = '%.1f' % extra_cpu
            if max(extra_wall, extra_cpu) > TARGET_MS:
                problems.append(
                    '%s: %.1f ms wall, %.1f ms CPU per host-task over include_token=true (target %.0f ms)'
                    % (label, extra_wall, extra_cpu, TARGET_MS)
                )
        elif label == MODES[2][0]:
            numbers['store_token_old_extra_cpu_ms'] = '%.0f' % extra_cpu
    numbers.update(store_token_users=STORE_USERS, store_token_hosts=HOSTS, store_token_forks=FORKS)
    text = table(
        [
            'exist_token',
            'wall s',
            'ansible CPU s',
            'wall ms per host-task, over true',
            'CPU ms per host-task, over true',
        ],
        rows,
    )
    return with_problems(text, problems), not problems, numbers
