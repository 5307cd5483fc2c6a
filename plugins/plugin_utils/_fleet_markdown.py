# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report in Markdown: render_markdown() of what _fleet_tally.build_report() made.

Internal to this collection, not a stable API. One function per section of the
page, each returning its lines; a drift report (check mode) says "would be"
where a run says what it did.
"""

from __future__ import annotations

from typing import Iterable

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.existio.exist.plugins.plugin_utils._store_users import STATE_VALID

# Markdown lists at most this many failed tasks, unknown items, users not run... (the JSON has them all).
MARKDOWN_FAILED_TASKS = 20
MARKDOWN_LISTED = 20


def _cell(text: object) -> str:
    return to_text(text).replace('\\', '\\\\').replace('|', '\\|').replace('\n', ' ')


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(' --- ' for dummy in header) + '|']
    lines.extend('| ' + ' | '.join(_cell(value) for value in row) + ' |' for row in rows)
    return lines


def _listing(counts: dict, limit: int = 8) -> str:
    items = list(counts.items())
    text = ', '.join('%s (%d)' % pair for pair in items[:limit])
    return text + (', ...' if len(items) > limit else '')


def _names_listed(names: Iterable[str], limit: int = MARKDOWN_LISTED) -> str:
    names = list(names)
    text = ', '.join(names[:limit])
    return text + (' and %d more' % (len(names) - limit) if len(names) > limit else '')


def _first_rows(header: list[str], rows: list[list], limit: int = MARKDOWN_LISTED) -> list[str]:
    """A table of the first limit rows, and how many more the JSON report has."""
    lines = _table(header, rows[:limit])
    if len(rows) > limit:
        lines += ['', '%d more in the JSON report.' % (len(rows) - limit)]
    return lines


def _heading(report: dict, drift: bool) -> list[str]:
    lines = ['# %s' % report['title'], '']
    lines.append(
        'Playbook %s, run from %s to %s (UTC, %s s) with ansible-core %s.'
        % (
            ', '.join(report['playbooks']) or '(unnamed)',
            report['started'],
            report['finished'],
            report['duration_seconds'],
            report['ansible_core'],
        )
    )
    if drift:
        lines += ['', 'Check mode: nothing was changed. The counts below are what a real run would change.']
    elif report['mode'] == 'mixed':
        lines += [
            '',
            '%d task result(s) ran in check mode: their changes are predictions, counted with the %d applied.'
            % (report['task_results']['check_mode'], report['task_results']['applied']),
        ]
    return lines


def _users(report: dict, drift: bool) -> list[str]:
    users = report['users']
    lines = ['', '## Users', '']
    lines += _table(
        [
            'users',
            'converged',
            'would change' if drift else 'changed',
            'unchanged',
            'failed',
            'outcome unknown',
            'skipped',
            'not run',
        ],
        [
            [
                users['total'],
                users['converged'],
                users['changed'],
                users['unchanged'],
                users['failed'],
                users['outcome_unknown'],
                users['skipped'],
                users['not_run'],
            ]
        ],
    )
    if users['outcome_unknown']:
        lines += [
            '',
            'Outcome unknown: %s. Whether Exist applied some of their items cannot be known (see Items); run '
            'again to converge them.' % _names_listed(users['by_outcome']['outcome_unknown']),
        ]
    return lines + _users_not_run(report) + _token_states(users)


def _users_not_run(report: dict) -> list[str]:
    lines = []
    if report['users'].get('outside_limit'):
        lines += [
            '',
            '%d user(s) of the inventory outside --limit: not users of this run, not counted above (another '
            'slice of the job counts them).' % report['users']['outside_limit'],
        ]
    not_run = [(name, data) for name, data in report['per_user'].items() if data['outcome'] == 'not_run']
    if not_run:
        lines += ['', '### Users no task of this collection ran for', '']
        lines += _first_rows(
            ['user', 'token state', 'reason'],
            [[name, data['token_state'] or '', data['reason']] for name, data in not_run],
        )
    left_out = report['users']['left_out_by_inventory']
    if left_out:
        lines += ['', '### Users of the token store the inventory left out', '']
        lines += _first_rows(['user', 'reason'], [[name, reason] for name, reason in left_out.items()])
    return lines


def _reauthorization(report: dict) -> list[str]:
    """The users who must authorise again, and how: no run converges them until they do."""
    names = report.get('reauthorization_needed') or []
    if not names:
        return []
    return [
        '',
        '## Users who must re-authorise',
        '',
        '%d user(s) of the token store: %s.' % (len(names), _names_listed(names, 100)),
        '',
        'Their token pair no longer works (the group exist_token_reauthorization_needed of the users inventory), '
        'so every task for them fails until they authorise this service again. Send each of them to the '
        'authorisation page, then exchange the code they come back with: the module existio.exist.token with '
        '`grant: authorization_code` and their `code`, which writes a new pair into the store.',
    ]


def _token_states(users: dict) -> list[str]:
    marked = dict(
        (state, names)
        for state, names in users['by_token_state'].items()
        if state not in (STATE_VALID,) and '(' not in state
    )
    if not marked:
        return []
    return [
        '',
        'Token states other than valid: %s.'
        % '; '.join('%s: %s' % (state, _names_listed(names)) for state, names in marked.items()),
    ]


def _items(report: dict, would: str) -> list[str]:
    items = report['items']
    lines = ['', '## Items', '']
    lines += _table(
        [would + 'changed', 'failed', 'outcome unknown'],
        [[items['changed'], items['failed'], items['outcome_unknown']]],
    )
    if items['unknown']:
        lines += ['', 'Items of unknown outcome (Exist may or may not have applied them; run again to converge):', '']
        lines += _first_rows(
            ['user', 'item', 'date', 'error'],
            [[item['user'], item['name'], item.get('date', ''), item['error']] for item in items['unknown']],
        )
    return lines


def _by_attribute(section: dict, kinds: tuple[str, ...]) -> list[list]:
    """Rows of counts per attribute for the kinds of a section ({kind: {total, by_attribute}}), and the totals."""
    names = sorted(set().union(*(section[kind]['by_attribute'] for kind in kinds)))
    rows = [[name] + [section[kind]['by_attribute'].get(name, 0) for kind in kinds] for name in names]
    if rows:
        rows.append(['**total**'] + [section[kind]['total'] for kind in kinds])
    return rows


def _attributes(report: dict, would: str) -> list[str]:
    lines = ['', '## Attributes', '']
    rows = _by_attribute(report['attributes'], ('acquired', 'released', 'created'))
    if rows:
        lines += _table(['attribute', would + 'acquired', would + 'released', would + 'created'], rows)
    else:
        lines.append('No attribute %sacquired, released or created.' % would)
    return lines


def _takeovers(report: dict, would: str) -> list[str]:
    lines = ['', '## Takeovers by previous owner', '']
    owners = report['takeovers']['by_previous_owner']
    if owners:
        lines += _table(
            ['previous owner', 'takeovers', 'users', 'attributes'],
            [[owner, data['total'], data['users'], _listing(data['by_attribute'])] for owner, data in owners.items()],
        )
    else:
        lines.append('No attribute %staken from another service.' % would)
    return lines


def _failures(report: dict) -> list[str]:
    lines = ['', '## Failures by error code', '']
    failures = report['failures']
    if failures['by_error_code']:
        lines += _table(
            ['error code', 'items', 'users', 'attributes', 'example'],
            [
                [code, data['total'], data['users'], _listing(data['by_attribute']), data['example']]
                for code, data in failures['by_error_code'].items()
            ],
        )
    else:
        lines.append('No item failed.')
    if failures['tasks']:
        lines += ['', '### Failed tasks', '']
        lines += _first_rows(
            ['user', 'task', 'message'],
            [[entry['user'], entry['task'], entry['msg']] for entry in failures['tasks']],
            MARKDOWN_FAILED_TASKS,
        )
    return lines


def _values(report: dict, drift: bool, would: str) -> list[str]:
    lines = ['', '## Values', '']
    rows = _by_attribute(report['values'], ('updated', 'incremented', 'unread'))
    if rows:
        sent_unread = 'would be sent, unread' if drift else 'sent, unread'
        lines += _table(['attribute', would + 'updated', would + 'incremented', sent_unread], rows)
    else:
        lines.append('No value %supdated or incremented.' % would)
    return lines


def _tokens(report: dict, drift: bool) -> list[str]:
    tokens = report['tokens']
    if not any(tokens['tasks'].values()):
        return []
    lines = ['', '## Tokens', '']
    lines += _table(
        ['exchanged' if not drift else 'would be exchanged', 'refreshed' if not drift else 'would be refreshed'],
        [[tokens['exchanged']['total'], tokens['refreshed']['total']]],
    )
    if tokens['refreshed']['users']:
        lines += ['', 'Refreshed: %s.' % _listing(dict((name, 1) for name in tokens['refreshed']['users']), 20)]
    if tokens['recovered']['users']:
        lines += ['', 'Merged back from recovery files: %s.' % _names_listed(tokens['recovered']['users'])]
    if tokens['failures']['by_error_code']:
        lines += ['']
        lines += _table(
            ['error code', 'users'],
            [[code, ', '.join(data['users'])] for code, data in tokens['failures']['by_error_code'].items()],
        )
    return lines


def _api_requests(report: dict) -> list[str]:
    users, requests = report['users'], report['api_requests']
    lines = ['', '## API requests', '']
    lines.append(
        '%d request(s) for %d user(s), %s per user on average; Exist allows %d per user and hour.'
        % (requests['total'], users['ran'], requests['mean_per_user'], requests['budget_per_user_per_hour'])
    )
    if requests['token_tasks']:
        lines.append(
            'Of these, %d by existio.exist.token tasks (counted apart from the users).' % requests['token_tasks']
        )
    if requests['over_budget']:
        lines += ['', '**Over the hourly budget in this run:** %s.' % ', '.join(requests['over_budget'])]
    if requests['busiest']:
        lines += ['', '### Busiest users', '']
        lines += _table(
            ['user', 'requests', 'share of the hourly budget'],
            [
                [entry['user'], entry['requests'], '%.1f %%' % (entry['budget_share'] * 100)]
                for entry in requests['busiest']
            ],
        )
    return lines


def render_markdown(report: dict) -> str:
    """The report (build_report()'s dictionary) as a Markdown page, ending with a newline."""
    drift = report['mode'] == 'drift'
    would = 'would be ' if drift else ''
    lines = _heading(report, drift)
    lines += _users(report, drift)
    lines += _reauthorization(report)
    lines += _items(report, would)
    lines += _attributes(report, would)
    lines += _takeovers(report, would)
    lines += _failures(report)
    lines += _values(report, drift, would)
    lines += _tokens(report, drift)
    lines += _api_requests(report)
    return '\n'.join(lines) + '\n'


def summary_lines(report: dict, written: list[str]) -> list[str]:
    """The few lines the report callback prints at default verbosity: users by outcome, requests, where it went."""
    users, requests = report['users'], report['api_requests']
    counts = [
        '%d %s' % (users[key], key.replace('_', ' '))
        for key in ('changed', 'unchanged', 'failed', 'outcome_unknown', 'skipped', 'not_run')
        if users[key] or key in ('changed', 'failed')
    ]
    lines = ['%s: %d user(s): %s' % (report['title'], users['total'], ', '.join(counts))]
    if report.get('reauthorization_needed'):
        lines[0] += '; %d must re-authorise' % len(report['reauthorization_needed'])
    busiest = requests['busiest'][0] if requests['busiest'] else None
    lines.append(
        'API requests: %d%s'
        % (
            requests['total'],
            ' (busiest: %s, %d of %d an hour)'
            % (busiest['user'], busiest['requests'], requests['budget_per_user_per_hour'])
            if busiest
            else '',
        )
    )
    lines.append('Report: %s' % ' and '.join(written))
    return lines


def progress_line(elapsed: float, users: dict, total: int | None, api_requests: int, task: str | None) -> str:
    """One line of a long run's progress: time so far, users with results (of how many), by outcome, requests."""
    minutes, seconds = divmod(int(max(elapsed, 0)), 60)
    seen = sum(users.values())
    counts = ', '.join(
        '%d %s' % (users[key], key.replace('_', ' '))
        for key in ('changed', 'unchanged', 'failed', 'outcome_unknown', 'skipped')
        if users.get(key) or key in ('changed', 'failed')
    )
    line = 'progress %dm%02ds: %d%s user(s) with results (%s); %d API request(s)' % (
        minutes,
        seconds,
        seen,
        ' of %d' % total if total else '',
        counts,
        api_requests,
    )
    if task:
        line += '; task %r' % task
    return line
