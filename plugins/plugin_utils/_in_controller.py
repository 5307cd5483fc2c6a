# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run an existio.exist task inside Ansible's worker process when it may.

Internal to this collection, not a stable API.

A module costs a fresh Python on every task (Ansible ships it as a zip and
imports ansible.module_utils.basic from it); the task itself is one or two
HTTP requests. On a local connection the same code (the shared *_task module
in module_utils) runs here instead, in the worker Ansible has already forked,
with everything imported once by the parent. Everywhere else the module runs
as usual.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.existio.exist.plugins.module_utils._client import HAS_REQUESTS

# Set this variable to false to always run the module, as on a remote host.
RUN_ON_CONTROLLER_VAR = 'existio_exist_run_on_controller'


class ExistActionBase(ActionBase):
    """Subclasses set MODULE (the FQCN) and TASK (its *_task module_utils)."""

    MODULE = None
    TASK = None
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True      # through the module

    def runs_in_controller(self, task_vars):
        """Whether this task may run here with the same outcome as the module.

        Only on a local connection, without become (the module would run as
        another user), without a task environment (the module would see it),
        not async, and with requests importable here.
        """
        wanted = self._templar.template(task_vars.get(RUN_ON_CONTROLLER_VAR, True))
        return (boolean(wanted, strict=False)
                and HAS_REQUESTS
                and self._connection.transport == 'local'
                and not self._play_context.become
                and not any(self._task.environment or [])  # Ansible keeps [{}] when none is set
                and not self._task.async_val)

    def _error_message(self, error):
        # Worded as AnsibleModule words it, so both paths fail alike.
        if isinstance(error, UnsupportedError):
            return 'Unsupported parameters for (%s) module: %s' % (self.MODULE, error.msg)
        return error.msg

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ExistActionBase, self).run(tmp, task_vars)
        if not self.runs_in_controller(task_vars):
            # As ansible.builtin.normal does for any module.
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(module_name=self.MODULE, module_args=self._task.args,
                                                             task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        validation = ArgumentSpecValidator(self.TASK.argument_spec()).validate(self._task.args)
        no_log_values = validation._no_log_values
        if validation.error_messages:
            result.update(failed=True, msg='; '.join(self._error_message(error) for error in validation.errors.errors))
            return remove_values(result, no_log_values)
        warnings = []
        result.update(self.TASK.run(validation.validated_parameters, check_mode=bool(self._play_context.check_mode),
                                    diff=bool(self._play_context.diff), warn=warnings.append))
        if warnings:
            result['warnings'] = warnings
        # The module path masks no_log values in everything it returns; so must we.
        return remove_values(result, no_log_values)
