# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The emulator the benchmarks run against: its own process, started with its command line.

A process rather than exist_emulator.testing.BackgroundEmulator (a thread of this one): the scale part reports
the emulator's own CPU time (/proc/PID/stat), which must not mix with bench.py's. Its admin API is reached through
exist_emulator.admin.Admin, as everywhere else.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

from .common import ROOT

EMULATOR_TREE = os.path.join(ROOT, 'tests', 'emulator')
# Normally installed in the virtualenv (tests/tools/venv.sh); else this checkout's copy.
FROM_TREE = importlib.util.find_spec('exist_emulator') is None
if FROM_TREE:
    sys.path.insert(0, EMULATOR_TREE)

from exist_emulator.admin import Admin  # noqa: E402  pylint: disable=wrong-import-position


def importable(env):
    """`env` for a child process that imports exist_emulator (ansible-playbook's bench_timer callback too)."""
    env = dict(env)
    if FROM_TREE:
        env['PYTHONPATH'] = os.pathsep.join(p for p in (EMULATOR_TREE, env.get('PYTHONPATH')) if p)
    return env


class Emulator:
    """An exist-emulator process on 127.0.0.1 (rate limit off); `admin` is its admin client."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.proc = None
        self.url = None
        self.admin = None
        self._stderr = None

    def start(self):
        self._stderr = open(self.log_path, 'w', encoding='utf-8')  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(
            [
                sys.executable,
                '-m',
                'exist_emulator',
                '--host',
                '127.0.0.1',
                '--port',
                '0',  # pylint: disable=consider-using-with
                '--rate-limit',
                '0',
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=importable(os.environ),
            text=True,
        )
        line = self.proc.stdout.readline()
        match = re.search(r'listening on (http://\S+)', line)
        if not match:
            self.stop()
            raise SystemExit('the emulator did not start: %r (see %s)' % (line, self.log_path))
        self.url = match.group(1).rstrip('/')
        self.admin = Admin(self.url, timeout=60)
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

    def cpu_seconds(self):
        """utime + stime of the emulator process, from /proc/PID/stat."""
        with open('/proc/%d/stat' % self.proc.pid, encoding='ascii') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        # Fields 14 and 15 of stat(5) are the 12th and 13th after the ")" that ends the command name.
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf('SC_CLK_TCK'))
