# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""meta/runtime.yml and the plugins on disk must agree: hand-kept lists drift."""

from __future__ import annotations

import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _plugin_names(kind):
    folder = os.path.join(ROOT, 'plugins', kind)
    if not os.path.isdir(folder):
        return []
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith('.py') and name != '__init__.py')


def test_action_group_lists_exactly_the_modules():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        runtime = yaml.safe_load(handle)
    modules = _plugin_names('modules')
    assert modules, 'no modules found'
    assert sorted(runtime['action_groups']['exist']) == modules


def test_every_action_plugin_has_a_module_of_the_same_name():
    assert set(_plugin_names('action')) <= set(_plugin_names('modules'))
