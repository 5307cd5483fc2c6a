# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Running ansible-playbook with the bench_timer callback and collecting its records."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time

from .common import CALLBACK_PLUGINS
from .emulator import importable


class Runner:
    """Runs ansible-playbook with the bench_timer callback and collects its records."""

    def __init__(self, collections_path, workdir, emulator):
        self.workdir = workdir
        self.emulator = emulator
        self.count = 0
        bindir = os.path.dirname(sys.executable)
        self.playbook_cmd = os.path.join(bindir, 'ansible-playbook')
        if not os.path.exists(self.playbook_cmd):
            self.playbook_cmd = shutil.which('ansible-playbook') or 'ansible-playbook'
        self.env = importable(os.environ)
        self.env.update(
            {
                'PATH': bindir + os.pathsep + self.env.get('PATH', ''),
                'ANSIBLE_COLLECTIONS_PATH': collections_path,
                'ANSIBLE_CALLBACK_PLUGINS': CALLBACK_PLUGINS,
                'ANSIBLE_CALLBACKS_ENABLED': 'bench_timer',
                'ANSIBLE_STDOUT_CALLBACK': 'default',
                'ANSIBLE_LOCALHOST_WARNING': 'false',
                'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
                'ANSIBLE_RETRY_FILES_ENABLED': 'false',
                'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_FORCE_COLOR': '0',
                'ANSIBLE_CONFIG': os.path.join(workdir, 'ansible.cfg'),
            }
        )
        with open(self.env['ANSIBLE_CONFIG'], 'w', encoding='utf-8') as f:
            f.write('# Empty: tests/perf/bench.py configures Ansible through the environment.\n[defaults]\n')
        for key in ('EXIST_TOKEN', 'EXIST_API_URL', 'ANSIBLE_KEEP_REMOTE_FILES'):
            self.env.pop(key, None)

    def run(
        self, playbook, extra_vars=None, inventory=None, forks=None, measure=False, env=None, check=True, wrapper=()
    ):
        """Run one playbook; returns (wall seconds, callback data). Raises on failure when check is set.

        wrapper: a command line that runs ansible-playbook's own (given as its last arguments), e.g. phase_timer.py.
        """
        self.count += 1
        tag = '%03d-%s' % (self.count, os.path.splitext(os.path.basename(playbook))[0])
        out = os.path.join(self.workdir, tag + '.json')
        log = os.path.join(self.workdir, tag + '.log')
        cmd = list(wrapper) + [self.playbook_cmd, playbook]
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
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        with open(log, 'w', encoding='utf-8') as f:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=run_env, cwd=self.workdir, timeout=3600)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        data = {'records': []}
        if os.path.exists(out):
            with open(out, encoding='utf-8') as f:
                data = json.load(f)
        if check and rc != 0:
            with open(log, encoding='utf-8', errors='replace') as f:
                tail = f.read()[-3000:]
            raise SystemExit('ansible-playbook %s failed (rc %d), see %s:\n%s' % (playbook, rc, log, tail))
        data['rc'] = rc
        # CPU seconds of ansible-playbook and every process it waited for (its workers, modules): this process's
        # only other child, the emulator, is not waited for until the end.
        data['cpu_seconds'] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        data['log'] = log
        return wall, data
