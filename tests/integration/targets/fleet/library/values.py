#!/usr/bin/python
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A module of the playbook's own library/, named like existio.exist.values: the fleet report must not count it.

It answers like the collection's module would (changed, api_requests, items), so that a report that counted
it would show requests the emulator never saw.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(note=dict(type='str')), supports_check_mode=True)
    module.exit_json(
        changed=True,
        api_requests=99,
        acquired=['local_values'],
        updated=[{'name': 'local_values', 'date': '2026-11-27', 'value': 1}],
        failed_items=[{'name': 'local_values', 'error_code': 'outcome_unknown', 'error': 'not ours'}],
    )


if __name__ == '__main__':
    main()
