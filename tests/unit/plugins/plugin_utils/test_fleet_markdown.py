# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report in Markdown (_fleet_markdown.py), rendered from small reports built by hand.

A whole report from a play: callback/test_fleet_report.py.
"""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.plugin_utils._fleet_markdown import (
    MARKDOWN_LISTED,
    progress_line,
    render_markdown,
    summary_lines,
)
from ansible_collections.existio.exist.plugins.plugin_utils._fleet_tally import TokenTally, UserTally, build_report


def report_of(*results, check_mode=False, not_run=None, tokens=None):
    """The report of one task per (user, status, result)."""
    users = {}
    for name, status, result in results:
        tally = users.setdefault(name, UserTally(name))
        tally.tasks[status] += 1
        failures, unknown_only = tally.add_result(result, status)
        if failures:
            tally.count_failure(unknown_only)
            tally.add_task_failures('Converge', failures)
    checked = len(results) if check_mode else 0
    return build_report(users, checked, len(results) - checked, check_mode, ['site.yml'], 0, 60, tokens, not_run)


def test_a_run_renders_each_section_with_its_counts():
    page = render_markdown(
        report_of(
            ('alice', 'changed', {'acquired': ['mood'], 'updated': [{'name': 'mood'}], 'api_requests': 3}),
            ('bob', 'ok', {'api_requests': 1}),
        )
    )
    assert page.startswith('# Exist fleet report\n\nPlaybook site.yml, run from 1970-01-01T00:00:00Z to ')
    assert page.endswith('\n')
    assert '| 2 | 2 | 1 | 1 | 0 | 0 | 0 | 0 |' in page  # users: total, converged, changed, unchanged...
    assert '| attribute | acquired | released | created |' in page and '| mood | 1 | 0 | 0 |' in page
    assert '| **total** | 1 | 0 | 0 |' in page
    assert '4 request(s) for 2 user(s), 2.0 per user on average; Exist allows 300 per user and hour.' in page
    assert 'No attribute taken from another service.' in page and 'No item failed.' in page
    assert '## Tokens' not in page  # no token task ran


def test_a_drift_report_says_would_be_where_a_run_says_what_it_did():
    page = render_markdown(report_of(('alice', 'changed', {'acquired': ['mood']}), check_mode=True))
    assert page.startswith('# Exist fleet drift report: what would change\n')
    assert 'Check mode: nothing was changed.' in page
    assert '| attribute | would be acquired | would be released | would be created |' in page
    assert 'No value would be updated or incremented.' in page


def test_failures_are_tabled_by_error_code_and_a_pipe_in_a_message_cannot_break_the_table():
    page = render_markdown(
        report_of(
            (
                'alice',
                'failed',
                {'msg': 'one | two', 'failed_items': [{'name': 'mood', 'error_code': 'not_found', 'error': 'a|b'}]},
            )
        )
    )
    assert '| not_found | 1 | 1 | mood (1) | a\\|b |' in page
    assert '| alice | Converge | one \\| two |' in page


def test_long_lists_are_cut_with_how_many_more_the_json_has():
    not_run = dict(
        ('user%02d' % n, {'token_state': 'expired', 'reason': 'no host'}) for n in range(MARKDOWN_LISTED + 5)
    )
    page = render_markdown(report_of(not_run=not_run))
    assert '### Users no task of this collection ran for' in page
    assert '5 more in the JSON report.' in page
    assert 'Token states other than valid: expired: user00, ' in page and ' and 5 more.' in page


def test_token_tasks_get_their_own_section():
    tokens = TokenTally()
    tokens.tasks['changed'] += 1
    tokens.add({'changed': True, 'username': 'bob', 'refreshed': ['bob'], 'api_requests': 1})
    page = render_markdown(report_of(tokens=tokens))
    assert '## Tokens' in page and 'Refreshed: bob (1).' in page
    assert 'Of these, 1 by existio.exist.token tasks (counted apart from the users).' in page


def test_the_summary_says_users_by_outcome_requests_and_where_the_report_went():
    report = report_of(
        ('alice', 'changed', {'acquired': ['mood'], 'api_requests': 3}),
        ('bob', 'ok', {'api_requests': 1}),
        ('carol', 'failed', {'msg': 'Exist answered 401', 'api_requests': 1}),
        not_run={'dave': {'token_state': 'reauthorization_needed', 'reason': 'no task ran'}},
    )
    assert summary_lines(report, ['/r/exist-fleet-report.json', '/r/exist-fleet-report.md']) == [
        'Exist fleet report: 4 user(s): 1 changed, 1 unchanged, 1 failed, 1 not run',
        'API requests: 5 (busiest: alice, 3 of 300 an hour)',
        'Report: /r/exist-fleet-report.json and /r/exist-fleet-report.md',
    ]


def test_the_summary_of_an_empty_run_names_changed_and_failed_even_at_zero():
    assert summary_lines(report_of(), ['x.json'])[:2] == [
        'Exist fleet report: 0 user(s): 0 changed, 0 failed',
        'API requests: 0',
    ]


def test_progress_line_counts_and_time():
    users = dict(changed=2, unchanged=5, failed=1, outcome_unknown=0, skipped=0)
    line = progress_line(125.7, users, 20, 31, 'Converge')
    assert (
        line
        == "progress 2m05s: 8 of 20 user(s) with results (2 changed, 5 unchanged, 1 failed); 31 API request(s); task 'Converge'"
    )
    assert progress_line(5, dict(changed=0, failed=0), None, 0, None) == (
        'progress 0m05s: 0 user(s) with results (0 changed, 0 failed); 0 API request(s)'
    )
