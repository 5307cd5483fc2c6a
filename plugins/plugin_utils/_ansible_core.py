# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The private parts of ansible-core the action plugins rely on, in one place.

Internal to this collection, not a stable API. Each function below wraps one
underscore attribute of ansible-core that has no public equivalent; every
ansible-core action plugin that runs a module uses the same ones. The unit
test tests/unit/plugins/plugin_utils/test_ansible_core.py fails loudly when a
new ansible-core changes any of them (PRIVATE_API lists what it checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ansible.module_utils.common.arg_spec import ValidationResult
    from ansible.plugins.action import ActionBase

# (owner, attribute) pairs this module relies on; the unit test checks each.
PRIVATE_API = (
    ('ansible.plugins.action.ActionBase', '_compute_environment_string'),
    ('ansible.plugins.action.ActionBase', '_execute_module'),
    ('ansible.plugins.action.ActionBase', '_remove_tmp_path'),
    ('ansible.module_utils.common.arg_spec.ValidationResult', '_no_log_values'),
    ('ansible.plugins.shell.ShellBase', 'tmpdir'),
)


def task_environment(action: ActionBase) -> dict[str, str]:
    """The task's `environment:` merged over play and block, templated, as one dict of strings."""
    environment: dict = {}
    action._compute_environment_string(environment)
    return dict((str(key), str(value)) for key, value in environment.items())


def no_log_values(validation: ValidationResult) -> set:
    """The no_log values an ArgumentSpecValidator found (there is no public accessor)."""
    return set(validation._no_log_values)


def execute_module(action: ActionBase, module_name: str | None, module_args: dict, task_vars: dict) -> dict:
    """Run a module on the task's host as ansible.builtin.normal does, async included."""
    wrap_async = action._task.async_val and not action._connection.has_native_async
    result = action._execute_module(
        module_name=module_name, module_args=module_args, task_vars=task_vars, wrap_async=wrap_async
    )
    if not wrap_async:
        action._remove_tmp_path(action._connection._shell.tmpdir)
    return result
