# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every part shares: paths, the bench service and its seeds, the log line and the table format."""

from __future__ import annotations

import os
import sys

PERF = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(PERF))
PLAYBOOKS = os.path.join(PERF, 'playbooks')
CALLBACK_PLUGINS = os.path.join(PERF, 'callback_plugins')

SERVICE = 'bench_service'


def log(message):
    print('[bench] %s' % message, file=sys.stderr, flush=True)


def seed(users):
    return {'services': [{'name': SERVICE, 'label': 'Bench Service'}], 'clients': [], 'users': users}


def user(name, attributes=()):
    return {
        'username': name,
        'timezone': 'UTC',
        'attributes': list(attributes),
        'tokens': [{'token': name + '-token', 'service': SERVICE, 'scopes': ['all'], 'kind': 'oauth2'}],
    }


def custom(name, owned=False):
    return {
        'name': name,
        'label': name,
        'group': 'custom',
        'value_type': 7,
        'service': SERVICE if owned else None,
        'manual': True,
        'active': True,
    }


def table(headers, rows, title=None):
    """An RST simple table (also readable on a terminal)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    rule = '  '.join('=' * w for w in widths)

    def fmt(row):
        return '  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    lines = []
    if title:
        lines += [title, '']
    lines += [rule, fmt(cells[0]), rule] + [fmt(row) for row in cells[1:]] + [rule]
    return '\n'.join(lines)


def with_problems(text, problems):
    """A part's table, followed by its problems (if any) one a line."""
    if problems:
        text += '\n\nPROBLEMS:\n' + '\n'.join('  ' + p for p in problems)
    return text
