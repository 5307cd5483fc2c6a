# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only callback (the `compat` stage of noxfile.py): a run's outcome as JSON.

Not part of the collection (tests/tools is not in the Galaxy tarball). The
stage enables it with ANSIBLE_CALLBACK_PLUGINS=tests/tools/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=compat_stats next to the default stdout callback,
so the log stays readable and the verdict does not depend on parsing the
PLAY RECAP. Only ansible-core's own callback API is used, so that it loads on
every ansible-core the collection supports (2.16 and later).

At the end of the playbook it writes to the file named by EXIST_COMPAT_STATS::

    {"stats": {HOST: {"ok": N, "changed": N, "failures": N, "unreachable": N, ...}},
     "changed_tasks": ["HOST: TASK", ...], "failed_tasks": ["HOST: TASK: MSG", ...]}
"""

from __future__ import annotations

DOCUMENTATION = r'''
name: compat_stats
type: aggregate
short_description: Per-host stats and the changed and failed tasks of a run, as JSON
description:
  - Writes the play recap's numbers, the tasks that reported a change and the tasks that failed
    to the file named by the EXIST_COMPAT_STATS environment variable.
requirements:
  - enabled in callbacks_enabled
'''

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Collect a run's outcome; see the module docstring."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'compat_stats'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.changed_tasks = []
        self.failed_tasks = []

    @staticmethod
    def _label(result):
        return '%s: %s' % (result._host.get_name(), result._task.get_name())

    def v2_runner_on_ok(self, result):
        if result._result.get('changed'):
            self.changed_tasks.append(self._label(result))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self.failed_tasks.append('%s: %s' % (self._label(result), result._result.get('msg', '')))

    def v2_runner_on_unreachable(self, result):
        self.failed_tasks.append('%s: unreachable' % self._label(result))

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('EXIST_COMPAT_STATS')
        if not path:
            return
        data = {
            'stats': dict((host, stats.summarize(host)) for host in sorted(stats.processed)),
            'changed_tasks': self.changed_tasks,
            'failed_tasks': self.failed_tasks,
        }
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(data, f, indent=2, sort_keys=True)
