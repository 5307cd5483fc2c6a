# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The private ansible-core API the action plugins rely on is still there, and still behaves.

When this fails after an ansible-core upgrade, plugins/plugin_utils/_ansible_core.py
is the one file to adapt.
"""

from __future__ import annotations

import importlib
import inspect
from unittest.mock import MagicMock

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.existio.exist.plugins.plugin_utils import _ansible_core


def owner(dotted):
    module, name = dotted.rsplit('.', 1)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(
    'dotted, attribute', [pair for pair in _ansible_core.PRIVATE_API if pair[1] not in ('_no_log_values', 'tmpdir')]
)
def test_private_methods_exist(dotted, attribute):
    assert callable(getattr(owner(dotted), attribute, None)), '%s.%s is gone' % (dotted, attribute)


def test_execute_module_takes_the_arguments_we_pass():
    parameters = inspect.signature(ActionBase._execute_module).parameters
    assert set(['module_name', 'module_args', 'task_vars', 'wrap_async']) <= set(parameters)


def test_compute_environment_string_fills_the_dict_it_is_given():
    assert 'raw_environment_out' in inspect.signature(ActionBase._compute_environment_string).parameters

    class Action(ActionBase):
        def run(self, tmp=None, task_vars=None):
            return {}

    action = Action(MagicMock(), MagicMock(), MagicMock(), loader=None, templar=MagicMock(), shared_loader_obj=None)
    action._task.environment = [{'A': 1}, None, {'B': 'two', 'A': 'one'}]
    action._templar.template.side_effect = lambda value: value
    assert _ansible_core.task_environment(action) == {'A': 'one', 'B': 'two'}


def test_validation_lists_its_no_log_values():
    spec = {'token': {'type': 'str', 'no_log': True}, 'other': {'type': 'str'}}
    validation = ArgumentSpecValidator(spec).validate({'token': 'sekrit', 'other': 'x'})
    assert _ansible_core.no_log_values(validation) == {'sekrit'}


def test_shells_have_a_tmpdir():
    from ansible.plugins.shell.sh import ShellModule

    assert hasattr(ShellModule(), 'tmpdir')
