# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""existio.exist.correlations_info: in the worker process on local connections, the module elsewhere."""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.module_utils import _correlations_info_task
from ansible_collections.existio.exist.plugins.plugin_utils._worker_process import ExistActionBase


class ActionModule(ExistActionBase):
    MODULE = 'existio.exist.correlations_info'
    TASK = _correlations_info_task
