# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark-only callback (tests/perf): per-task timings and emulator request counts.

Not part of the collection. tests/perf/bench.py enables it with
ANSIBLE_CALLBACK_PLUGINS=tests/perf/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=bench_timer.

For every task result it records the host, task name, status, `changed`, and
the time from the task's start (``v2_playbook_on_task_start``, sent by the
strategy in the controller just before the task is queued to a worker) to
its result arriving back in the controller (``v2_runner_on_ok``/``failed``).
That is the whole cost of the task as the playbook sees it: forking the
worker, templating, running the action (and, on the module path, shipping
the module and starting its Python), and returning the result.

When EXIST_BENCH_EMULATOR names the emulator, tasks whose name starts with
``measure`` are bracketed: the emulator's request log is cleared
(``DELETE /_emulator/requests``) when the task starts and read
(``GET /_emulator/requests``) when its result arrives, so the requests the
task sent are attached to its record. Admin requests are never logged by the
emulator, so the bracketing itself is not counted. Only for one host at a time.
The admin client is the emulator package's (exist_emulator.admin), imported
only then.

At the end of the playbook the records are written as JSON to EXIST_BENCH_OUT.
"""

from __future__ import annotations

DOCUMENTATION = r'''
name: bench_timer
type: aggregate
short_description: Per-task timings and emulator request counts for tests/perf
description:
  - Records per-task wall time and, for tasks named C(measure ...), the requests logged by the Exist emulator.
  - Writes them as JSON to the file named by the EXIST_BENCH_OUT environment variable.
requirements:
  - enabled in callbacks_enabled
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Collect timings; see the module docstring."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = os.environ.get('EXIST_BENCH_OUT')
        self._emulator = os.environ.get('EXIST_BENCH_EMULATOR', '').rstrip('/')
        self._admin = None
        if self._emulator:
            from exist_emulator.admin import Admin  # pylint: disable=import-outside-toplevel

            self._admin = Admin(self._emulator, timeout=30)
        self._task_start = None
        self._measuring = False
        self._records = []
        self._play_start = None

    def v2_playbook_on_play_start(self, play):
        if self._play_start is None:
            self._play_start = time.monotonic()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._measuring = self._admin is not None and task.get_name().startswith('measure')
        if self._measuring:
            self._admin.clear_requests()
        self._task_start = time.monotonic()

    def _record(self, result, status):
        end = time.monotonic()
        record = {
            'host': result._host.get_name(),
            'task': result._task.get_name(),
            'status': status,
            'changed': bool(result._result.get('changed')),
            'seconds': end - (self._task_start or end),
        }
        if status == 'failed':
            record['msg'] = str(result._result.get('msg', ''))[:500]
        if self._measuring:
            record['requests'] = [
                {'method': r['method'], 'path': r['path'], 'query': r.get('query') or {}}
                for r in self._admin.requests()
            ]
        self._records.append(record)

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_playbook_on_stats(self, stats):
        if not self._out:
            return
        data = {'records': self._records, 'play_seconds': time.monotonic() - (self._play_start or time.monotonic())}
        with open(self._out, 'w', encoding='utf-8') as f:
            json.dump(data, f)
