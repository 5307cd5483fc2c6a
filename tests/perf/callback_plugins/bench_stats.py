# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark-only callback (tests/perf): a run's outcome per host and the controller's own cost, at the end only.

Not part of the collection. The fleet part of tests/perf/bench.py enables it (instead of bench_timer) with
ANSIBLE_CALLBACKS_ENABLED=bench_stats: it implements no per-result method, so ansible-core makes no copy of any
task result for it and the run costs what it costs a user with the default callback alone.

At the end of the playbook it writes JSON to EXIST_BENCH_OUT: one record per host (ok, changed, failed,
unreachable, skipped task counts, from the play recap's statistics), the controller process's own CPU seconds
(os.times(): inventory, strategy, every result and callback) and its peak memory (every fork copies its page
tables).
"""

from __future__ import annotations

DOCUMENTATION = r'''
name: bench_stats
type: aggregate
short_description: Per-host outcome and controller cost at the end of a run, for tests/perf
description:
  - Writes the play recap's statistics per host and the controller process's CPU time and peak memory as JSON to
    the file named by the EXIST_BENCH_OUT environment variable.
requirements:
  - enabled in callbacks_enabled
'''

import json
import os
import resource

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Collect the recap; see the module docstring."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_stats'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = os.environ.get('EXIST_BENCH_OUT')

    def v2_playbook_on_stats(self, stats):
        if not self._out:
            return
        hosts = sorted(stats.processed)
        records = []
        for host in hosts:
            summary = stats.summarize(host)
            records.append(
                {
                    'host': host,
                    'ok': summary['ok'],
                    'changed': summary['changed'],
                    'failed': summary['failures'],
                    'unreachable': summary['unreachable'],
                    'skipped': summary['skipped'],
                }
            )
        times = os.times()
        data = {
            'hosts': records,
            'controller_cpu_seconds': times.user + times.system,
            'controller_maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
        with open(self._out, 'w', encoding='utf-8') as f:
            json.dump(data, f)
