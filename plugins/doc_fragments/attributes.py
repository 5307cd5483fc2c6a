# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Descriptions of the attributes every existio.exist module documents; each module states its support."""

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it predicts, without any write to Exist.
  diff_mode:
    description: Returns details on what has changed (or would change, in check mode) when in diff mode.
  action:
    description: >-
      Has an action plugin. On a local connection (without C(become) or C(async)) the task runs inside
      Ansible's worker process instead of starting a fresh Python for the module, with the same options,
      checks and results; a task C(environment) is applied there as the module would see it. Set the
      variable C(existio_exist_worker_process=false) to always run the module, as on a remote host. On
      both paths the action plugin checks the arguments before anything runs or is shipped.
    support: full
  platform:
    description: Target on which the module acts.
    support: full
    platforms: exist.io
  action_group:
    description: Use C(group/existio.exist.exist) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - existio.exist.exist
'''

    # The attributes of a module that only reads (the *_info modules).
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module only reads.
  diff_mode:
    support: none
'''
