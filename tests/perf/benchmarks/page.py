# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The generated page: the machine table, and docs/docsite/rst/performance.rst from its template.

The prose lives in tests/perf/performance.rst.in, a str.format template: {machine}, {requests},
{values_requests}, {custom_requests}, {read_requests}, {tasks}, {profile}, {scale}, {fleet}, {fleet_profile}, {fleet_token} and {chaos} are the
tables,
{cores} and the numbers bench.py passes ({rounds}, {users}, {fleet_users}, {fleet_rounds}...); a literal brace is
written twice.
"""

from __future__ import annotations

import datetime
import os
import platform

from .common import PERF, table

TEMPLATE = os.path.join(PERF, 'performance.rst.in')
# The parts of bench.py, in the order they run; the page is written only when all of them ran.
PARTS = ('requests', 'tasks', 'scale', 'fleet', 'chaos')
SECTIONS = (
    'requests',
    'values_requests',
    'custom_requests',
    'read_requests',
    'tasks',
    'profile',
    'scale',
    'fleet',
    'fleet_profile',
    'fleet_token',
    'chaos',
)


def machine():
    cpu = platform.processor() or 'unknown'
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    from ansible.release import __version__ as core_version  # pylint: disable=import-outside-toplevel

    return [
        ['CPU', cpu],
        ['cores', str(os.cpu_count())],
        ['Python', platform.python_version()],
        ['ansible-core', core_version],
        ['OS', '%s %s' % (platform.system(), platform.release())],
        ['date', datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')],
    ]


def write(path, sections, machine_rows, **numbers):
    """Fill the template with the tables of every part and the numbers, and write it to `path`."""
    with open(TEMPLATE, encoding='utf-8') as f:
        template = f.read()
    with open(path, 'w', encoding='utf-8') as f:
        f.write(
            template.format(
                machine=table(['item', 'value'], machine_rows),
                cores=os.cpu_count(),
                **dict(numbers, **sections),
            )
        )
