# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""main() of every module: the task (a *_task module_utils) run by AnsibleModule.

Internal to this collection, not a stable API.
"""

from __future__ import annotations

import os
from types import ModuleType

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.existio.exist.plugins.module_utils._remedies import TaskUser
from ansible_collections.existio.exist.plugins.module_utils._task_args import secret_values
from ansible_collections.existio.exist.plugins.module_utils._task_runner import run_task
from ansible_collections.existio.exist.plugins.module_utils._transport import HAS_REQUESTS, REQUESTS_IMPORT_ERROR


def run_module(task: ModuleType) -> None:
    """Run `task` (a *_task module: argument_spec(), prepare(), work(), NOTHING_DONE) as a module."""
    spec = task.argument_spec()
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    # AnsibleModule masks a no_log value as given; the client uses it stripped
    # (a vault block scalar ends in a newline), so mask that form too.
    module.no_log_values.update(secret_values(spec, module.params, {}))
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    # The action plugin names the user in the task's environment (see _remedies.TaskUser).
    user = TaskUser.from_environment(os.environ)
    result = run_task(task, module.params, module.check_mode, module._diff, module.warn, user)
    if result.pop('failed', False):
        module.fail_json(**result)
    module.exit_json(**result)
