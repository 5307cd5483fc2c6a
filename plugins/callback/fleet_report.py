# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: fleet_report
type: aggregate
short_description: A JSON and a Markdown report of what existio.exist tasks did to every Exist user
version_added: 0.2.0
description:
  - >-
    Collects the results of the tasks of this collection (M(existio.exist.attribute), M(existio.exist.values),
    M(existio.exist.attribute_info) and every other module of its C(existio.exist.exist) action group) for every
    host, usually one host per Exist user (see the P(existio.exist.users#inventory) inventory plugin). A task counts
    when the module that ran is this collection's, by its resolved full name (C(existio.exist.values)), however the
    task names it; a module of the playbook's own C(library/) named C(values) or C(attribute) is not counted.
  - >-
    At the end of the run it writes two files to O(output_dir): C(exist-fleet-report.json) and
    C(exist-fleet-report.md). Each says how many users converged, changed, failed (each failure with its reason:
    the item's C(error_code) and C(error), or the task's message) or ended with C(outcome_unknown) (their only
    failures are items Exist may or may not have applied: run again to converge them); the items changed, failed
    and of unknown outcome, with every unknown item named; the attributes acquired,
    released and created (in total and by attribute); the takeovers by previous owner; the failures by
    C(error_code); the values updated and incremented, and those sent to attributes the token cannot read (taken
    by Exist, whether they changed anything unknown: C(values.unread)); the API requests spent, in total and per user; and the ten
    busiest users against Exist's budget of 300 requests per user and hour.
  - >-
    With the P(existio.exist.users#inventory) inventory, every user is accounted for: a task of another module that
    fails for a user fails that user, with its message; the users of the group C(exist_users) that no task of this
    collection ran for are C(not_run), with the reason (not in the plays' host patterns or C(--limit), or no such
    task ran) and their C(exist_token_state); the users the inventory left out (C(exist_users_left_out)) are listed
    with the reason; and C(users.by_token_state) groups every user by C(exist_token_state).
  - >-
    M(existio.exist.token) tasks run once for the whole token store, usually on C(localhost): their results go to
    a C(tokens) section (pairs exchanged, refreshed and merged back from recovery files, failures by C(error_code)
    with the users they name and each failure's reason, the requests they spent), not to a user named after their
    host.
  - >-
    A run with C(--check) writes the same report titled as a drift report: what a real run would change. The
    counts are then predictions.
  - >-
    Both files are written whole and atomically (a temporary file in O(output_dir), renamed over the old report),
    so a reader never sees half a report. A report that cannot be written is a warning; it never fails the run.
  - >-
    The report holds no token and nothing from a result's C(invocation): only the counts, names, error codes and
    messages listed above. A failed task's C(msg) is kept (shortened), with the host's C(exist_token) masked all
    the same.
  - Enable it like any callback, in C(callbacks_enabled) or E(ANSIBLE_CALLBACKS_ENABLED); it does not change the
    output on the screen.
author:
  - Existio maintainers (@existio)
requirements:
  - enabled in C(callbacks_enabled) (E(ANSIBLE_CALLBACKS_ENABLED))
options:
  output_dir:
    description:
      - The directory to write C(exist-fleet-report.json) and C(exist-fleet-report.md) into, created when missing.
      - When not set, the current working directory of C(ansible-playbook).
      - Environment variables in it are expanded, so that C(/srv/exist-reports/$JOB_ID) gives every job of
        Automation Platform (every slice of a sliced job) a directory of its own.
    type: path
    env:
      - name: EXIST_FLEET_REPORT_DIR
    ini:
      - section: callback_existio_exist_fleet_report
        key: output_dir
seealso:
  - name: Running a fleet of Exist users
    description: The token store, the inventory, converging every user and this report.
    link: https://github.com/existio/exist/blob/main/docs/docsite/rst/guide_fleet.rst
'''

EXAMPLES = r'''
# ansible.cfg
# [defaults]
# callbacks_enabled = existio.exist.fleet_report
#
# [callback_existio_exist_fleet_report]
# output_dir = reports/
#
# or for one run:
# ANSIBLE_CALLBACKS_ENABLED=existio.exist.fleet_report EXIST_FLEET_REPORT_DIR=reports \
#   ansible-playbook -i fleet.exist_users.yml converge.yml
'''

# ansible-test wants the documentation before any import, as in a module.
import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Mapping  # noqa: E402

import yaml  # noqa: E402
from ansible import context  # noqa: E402
from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.plugins.callback import CallbackBase  # noqa: E402
from ansible.release import __version__ as ansible_version  # noqa: E402

COLLECTION = 'existio.exist'
ACTION_GROUP = 'exist'
# An item the module cannot tell applied or not: neither changed nor failed.
UNKNOWN_CODE = 'outcome_unknown'
# What the existio.exist.users inventory gives: the group of every user, its group variable naming the users it
# left out (username: reason), and each host's token state.
USERS_GROUP = 'exist_users'
LEFT_OUT_VARIABLE = 'exist_users_left_out'
STATE_VARIABLE = 'exist_token_state'
STATE_VALID = 'valid'
# Used when meta/runtime.yml cannot be read (it ships with the collection, so it normally can).
KNOWN_MODULES = ('attribute', 'attribute_info', 'token', 'values')
# existio.exist.token runs once for the whole store (on localhost): its results go to the report's
# `tokens` section, per Exist user it names, not to a user named after its host.
TOKEN_MODULE = 'token'
REPORT_NAME = 'exist-fleet-report'
REPORT_VERSION = 1
# Exist allows each user's token this many requests in a rolling hour.
HOURLY_BUDGET = 300
BUSIEST = 10
# Markdown lists at most this many failed tasks, unknown items, users not run... (the JSON has them all).
MARKDOWN_FAILED_TASKS = 20
MARKDOWN_LISTED = 20
MESSAGE_LIMIT = 300
MASK = '********'


def _action_group():
    """The full names of the modules of the collection's action group, from meta/runtime.yml, and the token module.

    Only full names: a task's resolved action is the full name of the module that ran, and a short name such as
    `values` may be a module of the playbook's own library/ (ansible-core resolves that as `values`).
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'meta', 'runtime.yml')
    try:
        with open(path, 'rb') as f:
            groups = (yaml.safe_load(f) or {}).get('action_groups') or {}
        names = [name for name in groups.get(ACTION_GROUP) or [] if isinstance(name, str)]
    except (OSError, yaml.YAMLError, AttributeError):
        names = []
    short = (set(name.split('.')[-1] for name in names) or set(KNOWN_MODULES)) | set([TOKEN_MODULE])
    return frozenset('%s.%s' % (COLLECTION, name) for name in short)


def _count(value):
    """A request count from a result: a non-negative int, anything else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _names(value):
    return [to_text(name) for name in value if isinstance(name, str)] if isinstance(value, list) else []


def _dicts(value):
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _short(text, limit=MESSAGE_LIMIT):
    text = ' '.join(to_text(text).split())
    return text if len(text) <= limit else text[: limit - 3] + '...'


def _bump(counter, key, by=1):
    counter[key] = counter.get(key, 0) + by


def _sorted_counts(counter):
    """{key: n}, largest first, then by key (JSON keeps the order)."""
    return dict(sorted(counter.items(), key=lambda pair: (-pair[1], pair[0])))


def _masked(text, secret):
    """text with every occurrence of secret (when there is one) replaced by MASK."""
    text = to_text(text)
    return text.replace(secret, MASK) if secret and secret in text else text


def _item_name(item):
    for key in ('name', 'template', 'label'):
        if isinstance(item.get(key), str) and item[key]:
            return to_text(item[key])
    return '(unnamed)'


def _text_or_none(value):
    return to_text(value) if isinstance(value, str) and value else None


class _User:
    """What the tasks of one host (one Exist user) did."""

    def __init__(self, name):
        self.name = name
        self.tasks = dict(ok=0, changed=0, failed=0, skipped=0, unreachable=0)
        # Failed or unreachable tasks whose failure is more than items of unknown outcome, and those that are not.
        self.hard_failures = 0
        self.unknown_failures = 0
        self.token_state = None  # the inventory's exist_token_state of the host, when it has one
        self.api_requests = 0
        self.acquired = []
        self.released = []
        self.created = []
        self.takeovers = []  # [{name, previous_owner}]
        self.failed_items = []  # [{name, error_code, error}]
        self.updated = []  # attribute names, one per value set
        self.incremented = []
        # Values sent to attributes the token cannot read: Exist took them, whether they changed anything is unknown.
        self.unread = []
        self.task_failures = []  # [{task, msg}]
        self.secret = None  # the host's exist_token, only ever used to mask it

    def outcome(self):
        if self.hard_failures:
            return 'failed'
        if self.unknown_failures:
            return UNKNOWN_CODE
        if self.tasks['changed']:
            return 'changed'
        if self.tasks['ok']:
            return 'unchanged'
        return 'skipped'

    def mask(self, text):
        return _masked(text, self.secret)

    def add(self, data):
        """Add one module result (or one loop item's)."""
        self.api_requests += _count(data.get('api_requests'))
        self.acquired.extend(_names(data.get('acquired')))
        self.released.extend(_names(data.get('released')))
        self.created.extend(_names(data.get('created')))
        for takeover in _dicts(data.get('takeovers')):
            self.takeovers.append(
                dict(
                    name=_item_name(takeover),
                    previous_owner=to_text(takeover.get('previous_owner') or '(unknown)'),
                )
            )
        for item in _dicts(data.get('failed_items')):
            failed = dict(
                name=_item_name(item),
                error_code=to_text(item.get('error_code') or '(none)'),
                error=_short(self.mask(item.get('error') or ''), 200),
            )
            date = _text_or_none(item.get('date'))
            if date:
                failed['date'] = _short(date, 40)
            self.failed_items.append(failed)
        self.updated.extend(_item_name(item) for item in _dicts(data.get('updated')))
        self.incremented.extend(_item_name(item) for item in _dicts(data.get('incremented')))
        self.unread.extend(_item_name(item) for item in _dicts(data.get('unread')))

    def items(self):
        """(changed, failed, unknown): this user's items, each counted once (a created attribute is acquired too)."""
        unknown = sum(1 for item in self.failed_items if item['error_code'] == UNKNOWN_CODE)
        changed = len(self.acquired) + len(self.released) + len(self.updated) + len(self.incremented)
        return changed, len(self.failed_items) - unknown, unknown

    def summary(self):
        changed, failed, unknown = self.items()
        return dict(
            outcome=self.outcome(),
            token_state=self.token_state,
            items=dict(changed=changed, failed=failed, outcome_unknown=unknown),
            tasks=dict(self.tasks),
            api_requests=self.api_requests,
            acquired=sorted(self.acquired),
            released=sorted(self.released),
            created=sorted(self.created),
            takeovers=sorted(self.takeovers, key=lambda entry: (entry['name'], entry['previous_owner'])),
            failed_items=[dict(item) for item in self.failed_items],
            values_updated=len(self.updated),
            values_incremented=len(self.incremented),
            values_unread=len(self.unread),
            task_failures=list(self.task_failures),
        )


class _Tokens:
    """What existio.exist.token tasks did: pairs exchanged and refreshed, failures by user."""

    def __init__(self):
        self.tasks = dict(ok=0, changed=0, failed=0, skipped=0, unreachable=0)
        self.api_requests = 0
        self.refreshed = set()
        self.exchanged = set()
        self.recovered = set()
        self.failed_items = []  # [{username, error_code, error}]
        self.task_failures = []  # [{host, task, msg}]
        self.secret = None  # the token task's host's exist_token, only to mask it

    def add(self, data):
        self.api_requests += _count(data.get('api_requests'))
        refreshed = _names(data.get('refreshed'))
        self.refreshed.update(refreshed)
        self.recovered.update(_names(data.get('recovered')))
        username = data.get('username')
        if data.get('changed') and isinstance(username, str) and username and username not in refreshed:
            self.exchanged.add(to_text(username))
        for item in _dicts(data.get('failed_items')):
            self.failed_items.append(
                dict(
                    username=to_text(item.get('username') or '(unknown)'),
                    error_code=to_text(item.get('error_code') or '(none)'),
                    error=_short(_masked(item.get('error') or '', self.secret), 200),
                )
            )

    def summary(self):
        codes = {}
        for item in self.failed_items:
            code = codes.setdefault(item['error_code'], dict(total=0, users=set()))
            code['total'] += 1
            code['users'].add(item['username'])
        return dict(
            tasks=dict(self.tasks),
            api_requests=self.api_requests,
            exchanged=dict(total=len(self.exchanged), users=sorted(self.exchanged)),
            refreshed=dict(total=len(self.refreshed), users=sorted(self.refreshed)),
            recovered=dict(total=len(self.recovered), users=sorted(self.recovered)),
            failures=dict(
                items=len(self.failed_items),
                list=list(self.failed_items),
                by_error_code=dict(
                    (code, dict(total=data['total'], users=sorted(data['users'])))
                    for code, data in sorted(codes.items(), key=lambda pair: (-pair[1]['total'], pair[0]))
                ),
                tasks=list(self.task_failures),
            ),
        )


def build_report(
    users,
    check_results,
    real_results,
    cli_check,
    playbooks,
    started,
    finished,
    tokens=None,
    not_run=None,
    left_out=None,
):
    """The report as a dictionary (what the JSON file holds) from the collected users.

    started and finished are Unix times; tokens is a _Tokens (None: no token task ran); not_run: {username:
    {token_state, reason}} for the inventory's users no task of this collection ran for; left_out: {username:
    reason} for the users of the token store the inventory could not make hosts of.
    """
    tokens = tokens or _Tokens()
    not_run = dict((name, data) for name, data in (not_run or {}).items() if name not in users)
    left_out = left_out or {}
    if check_results and not real_results:
        mode = 'drift'
    elif check_results and real_results:
        mode = 'mixed'
    elif real_results:
        mode = 'run'
    else:
        mode = 'drift' if cli_check else 'run'
    outcomes = dict(changed=[], unchanged=[], failed=[], skipped=[], outcome_unknown=[], not_run=sorted(not_run))
    for user in users.values():
        outcomes[user.outcome()].append(user.name)
    states = {}
    for name, user in users.items():
        states.setdefault(user.token_state or '(not from the users inventory)', []).append(name)
    for name, data in not_run.items():
        states.setdefault(data.get('token_state') or '(not from the users inventory)', []).append(name)
    items = dict(changed=0, failed=0, outcome_unknown=0)
    unknown_items = []
    acquired, released, created, updated, incremented, unread = {}, {}, {}, {}, {}, {}
    owners, codes, failed_tasks, per_user = {}, {}, [], {}
    for name in sorted(users):
        user = users[name]
        for counter, names in (
            (acquired, user.acquired),
            (released, user.released),
            (created, user.created),
            (updated, user.updated),
            (incremented, user.incremented),
            (unread, user.unread),
        ):
            for attribute in names:
                _bump(counter, attribute)
        for takeover in user.takeovers:
            owner = owners.setdefault(takeover['previous_owner'], dict(total=0, users=set(), by_attribute={}))
            owner['total'] += 1
            owner['users'].add(name)
            _bump(owner['by_attribute'], takeover['name'])
        for key, count in zip(('changed', 'failed', 'outcome_unknown'), user.items()):
            items[key] += count
        unknown_items.extend(dict(item, user=name) for item in user.failed_items if item['error_code'] == UNKNOWN_CODE)
        for item in user.failed_items:
            code = codes.setdefault(item['error_code'], dict(total=0, users=set(), by_attribute={}, example=''))
            code['total'] += 1
            code['users'].add(name)
            _bump(code['by_attribute'], item['name'])
            code['example'] = code['example'] or item['error']
        for failure in user.task_failures:
            failed_tasks.append(dict(user=name, task=failure['task'], msg=failure['msg']))
        per_user[name] = user.summary()
    for name in sorted(not_run):
        per_user[name] = dict(
            outcome='not_run', token_state=not_run[name].get('token_state'), reason=not_run[name]['reason']
        )
    requests = dict((name, users[name].api_requests) for name in users)
    busiest = sorted(requests.items(), key=lambda pair: (-pair[1], pair[0]))[:BUSIEST]
    user_requests = sum(requests.values())
    total_requests = user_requests + tokens.api_requests
    kind_title = {
        'run': 'Exist fleet report',
        'drift': 'Exist fleet drift report: what would change',
        'mixed': 'Exist fleet report (some tasks in check mode)',
    }
    return dict(
        report=REPORT_NAME,
        version=REPORT_VERSION,
        title=kind_title[mode],
        mode=mode,
        check_mode=mode == 'drift',
        task_results=dict(check_mode=check_results, applied=real_results),
        playbooks=list(playbooks),
        started=_utc(started),
        finished=_utc(finished),
        duration_seconds=round(finished - started, 1),
        ansible_core=ansible_version,
        users=dict(
            total=len(users) + len(not_run),
            ran=len(users),
            converged=len(outcomes['changed']) + len(outcomes['unchanged']),
            changed=len(outcomes['changed']),
            unchanged=len(outcomes['unchanged']),
            failed=len(outcomes['failed']),
            outcome_unknown=len(outcomes['outcome_unknown']),
            skipped=len(outcomes['skipped']),
            not_run=len(not_run),
            by_outcome=dict((key, sorted(value)) for key, value in outcomes.items()),
            by_token_state=dict((state, sorted(names)) for state, names in sorted(states.items())),
            left_out_by_inventory=dict(sorted(left_out.items())),
        ),
        items=dict(items, unknown=sorted(unknown_items, key=lambda item: (item['user'], item['name']))),
        attributes=dict(
            acquired=dict(total=sum(acquired.values()), by_attribute=_sorted_counts(acquired)),
            released=dict(total=sum(released.values()), by_attribute=_sorted_counts(released)),
            created=dict(total=sum(created.values()), by_attribute=_sorted_counts(created)),
        ),
        takeovers=dict(
            total=sum(owner['total'] for owner in owners.values()),
            by_previous_owner=dict(
                (
                    owner,
                    dict(
                        total=data['total'], users=len(data['users']), by_attribute=_sorted_counts(data['by_attribute'])
                    ),
                )
                for owner, data in sorted(owners.items(), key=lambda pair: (-pair[1]['total'], pair[0]))
            ),
        ),
        failures=dict(
            items=sum(code['total'] for code in codes.values()),
            by_error_code=dict(
                (
                    code,
                    dict(
                        total=data['total'],
                        users=len(data['users']),
                        by_attribute=_sorted_counts(data['by_attribute']),
                        example=data['example'],
                    ),
                )
                for code, data in sorted(codes.items(), key=lambda pair: (-pair[1]['total'], pair[0]))
            ),
            tasks=failed_tasks,
        ),
        values=dict(
            updated=dict(total=sum(updated.values()), by_attribute=_sorted_counts(updated)),
            incremented=dict(total=sum(incremented.values()), by_attribute=_sorted_counts(incremented)),
            unread=dict(total=sum(unread.values()), by_attribute=_sorted_counts(unread)),
        ),
        api_requests=dict(
            total=total_requests,
            per_user=dict(sorted(requests.items())),
            token_tasks=tokens.api_requests,
            mean_per_user=round(float(user_requests) / len(users), 2) if users else 0,
            budget_per_user_per_hour=HOURLY_BUDGET,
            busiest=[
                dict(user=name, requests=count, budget_share=round(float(count) / HOURLY_BUDGET, 4))
                for name, count in busiest
            ],
            over_budget=sorted(name for name, count in requests.items() if count > HOURLY_BUDGET),
        ),
        tokens=tokens.summary(),
        per_user=per_user,
    )


# -- Markdown -----------------------------------------------------------------


def _cell(text):
    return to_text(text).replace('\\', '\\\\').replace('|', '\\|').replace('\n', ' ')


def _table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(' --- ' for dummy in header) + '|']
    lines.extend('| ' + ' | '.join(_cell(value) for value in row) + ' |' for row in rows)
    return lines


def _listing(counts, limit=8):
    items = list(counts.items())
    text = ', '.join('%s (%d)' % pair for pair in items[:limit])
    return text + (', ...' if len(items) > limit else '')


def _names_listed(names, limit=MARKDOWN_LISTED):
    names = list(names)
    text = ', '.join(names[:limit])
    return text + (' and %d more' % (len(names) - limit) if len(names) > limit else '')


def render_markdown(report):
    drift = report['mode'] == 'drift'
    would = 'would be ' if drift else ''
    users, attributes, requests = report['users'], report['attributes'], report['api_requests']
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
    lines += ['', '## Users', '']
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
    not_run = [(name, data) for name, data in report['per_user'].items() if data['outcome'] == 'not_run']
    if not_run:
        lines += ['', '### Users no task of this collection ran for', '']
        lines += _table(
            ['user', 'token state', 'reason'],
            [[name, data['token_state'] or '', data['reason']] for name, data in not_run[:MARKDOWN_LISTED]],
        )
        if len(not_run) > MARKDOWN_LISTED:
            lines += ['', '%d more in the JSON report.' % (len(not_run) - MARKDOWN_LISTED)]
    if users['left_out_by_inventory']:
        lines += ['', '### Users of the token store the inventory left out', '']
        left_out = list(users['left_out_by_inventory'].items())
        lines += _table(['user', 'reason'], [[name, reason] for name, reason in left_out[:MARKDOWN_LISTED]])
        if len(left_out) > MARKDOWN_LISTED:
            lines += ['', '%d more in the JSON report.' % (len(left_out) - MARKDOWN_LISTED)]
    marked = dict(
        (state, names)
        for state, names in users['by_token_state'].items()
        if state not in (STATE_VALID,) and '(' not in state
    )
    if marked:
        lines += [
            '',
            'Token states other than valid: %s.'
            % '; '.join('%s: %s' % (state, _names_listed(names)) for state, names in marked.items()),
        ]
    items = report['items']
    lines += ['', '## Items', '']
    lines += _table(
        [would + 'changed', 'failed', 'outcome unknown'],
        [[items['changed'], items['failed'], items['outcome_unknown']]],
    )
    if items['unknown']:
        lines += ['', 'Items of unknown outcome (Exist may or may not have applied them; run again to converge):', '']
        shown = items['unknown'][:MARKDOWN_LISTED]
        lines += _table(
            ['user', 'item', 'date', 'error'],
            [[item['user'], item['name'], item.get('date', ''), item['error']] for item in shown],
        )
        if len(items['unknown']) > len(shown):
            lines += ['', '%d more in the JSON report.' % (len(items['unknown']) - len(shown))]
    lines += ['', '## Attributes', '']
    names = sorted(
        set(attributes['acquired']['by_attribute'])
        | set(attributes['released']['by_attribute'])
        | set(attributes['created']['by_attribute'])
    )
    if names:
        rows = [
            [
                name,
                attributes['acquired']['by_attribute'].get(name, 0),
                attributes['released']['by_attribute'].get(name, 0),
                attributes['created']['by_attribute'].get(name, 0),
            ]
            for name in names
        ]
        rows.append(
            [
                '**total**',
                attributes['acquired']['total'],
                attributes['released']['total'],
                attributes['created']['total'],
            ]
        )
        lines += _table(['attribute', would + 'acquired', would + 'released', would + 'created'], rows)
    else:
        lines.append('No attribute %sacquired, released or created.' % would)
    lines += ['', '## Takeovers by previous owner', '']
    owners = report['takeovers']['by_previous_owner']
    if owners:
        lines += _table(
            ['previous owner', 'takeovers', 'users', 'attributes'],
            [[owner, data['total'], data['users'], _listing(data['by_attribute'])] for owner, data in owners.items()],
        )
    else:
        lines.append('No attribute %staken from another service.' % would)
    lines += ['', '## Failures by error code', '']
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
        shown = failures['tasks'][:MARKDOWN_FAILED_TASKS]
        lines += _table(['user', 'task', 'message'], [[entry['user'], entry['task'], entry['msg']] for entry in shown])
        if len(failures['tasks']) > len(shown):
            lines += ['', '%d more in the JSON report.' % (len(failures['tasks']) - len(shown))]
    lines += ['', '## Values', '']
    values = report['values']
    kinds = ('updated', 'incremented', 'unread')
    value_names = sorted(set().union(*(values[kind]['by_attribute'] for kind in kinds)))
    if value_names:
        rows = [[name] + [values[kind]['by_attribute'].get(name, 0) for kind in kinds] for name in value_names]
        rows.append(['**total**'] + [values[kind]['total'] for kind in kinds])
        sent_unread = 'would be sent, unread' if drift else 'sent, unread'
        lines += _table(['attribute', would + 'updated', would + 'incremented', sent_unread], rows)
    else:
        lines.append('No value %supdated or incremented.' % would)
    tokens = report['tokens']
    if any(tokens['tasks'].values()):
        lines += ['', '## Tokens', '']
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
    lines += ['', '## API requests', '']
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
    return '\n'.join(lines) + '\n'


def write_atomically(directory, name, text):
    """Write text to directory/name through a temporary file in the same directory and a rename."""
    path = os.path.join(directory, name)
    fd, temporary = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(text.encode('utf-8'))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def _utc(moment):
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class CallbackModule(CallbackBase):
    """Collect the existio.exist task results of every host; write the report at the end of the run."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'existio.exist.fleet_report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.actions = _action_group()
        self.users = {}
        self.tokens = _Tokens()
        self.playbooks = []
        self.started = time.time()
        self.check_results = 0
        self.real_results = 0
        self.inventory = None  # the run's inventory manager, once a play started

    # -- what to collect -----------------------------------------------------

    def _action_of(self, task):
        """The short name of the collection's module the task runs, or None."""
        action = getattr(task, 'action', None)
        if isinstance(action, str) and '{{' in action:
            # A templated action: only the resolved name counts (asking resolved_action too early warns).
            resolved = getattr(task, '_resolved_action', None)
        else:
            resolved = getattr(task, 'resolved_action', None) or action
        if not isinstance(resolved, str) or resolved not in self.actions:
            return None
        return resolved.split('.')[-1]

    def _is_ours(self, task):
        return self._action_of(task) is not None

    @staticmethod
    def _in_check_mode(task):
        value = getattr(task, 'check_mode', None)
        if isinstance(value, bool):
            return value
        return bool(context.CLIARGS.get('check', False))

    @staticmethod
    def _host_secret(result):
        """The host's exist_token, only to mask it should a message ever quote it; never written anywhere."""
        with contextlib.suppress(Exception):
            secret = result._host.get_vars().get('exist_token')
            if isinstance(secret, str) and '{{' not in secret and len(secret.strip()) >= 8:
                return to_text(secret.strip())
        return None

    @staticmethod
    def _host_vars(host):
        with contextlib.suppress(Exception):
            variables = host.get_vars()
            if isinstance(variables, Mapping):
                return variables
        return {}

    def _user(self, result):
        name = to_text(result._host.get_name())
        user = self.users.get(name)
        if user is None:
            user = self.users[name] = _User(name)
            user.secret = self._host_secret(result)
            user.token_state = _text_or_none(self._host_vars(result._host).get(STATE_VARIABLE))
        return user

    def _record_other(self, result, status, data):
        """A task of another module failed for a user of the users inventory: the user failed, with the reason."""
        if status not in ('failed', 'unreachable') or 'exist_username' not in self._host_vars(result._host):
            return
        user = self._user(result)
        user.tasks[status] += 1
        user.hard_failures += 1
        msg = data.get('msg') or status
        user.task_failures.append(dict(task=_short(result._task.get_name(), 120), msg=_short(user.mask(msg))))

    def _record(self, result, status):
        task = result._task
        module = self._action_of(task)
        data = result._result if isinstance(result._result, dict) else {}
        if module is None:
            self._record_other(result, status, data)
            return
        if status == 'ok' and data.get('changed'):
            status = 'changed'
        if module == TOKEN_MODULE:
            # A token task is no user of the report, but it may run on one's host: its token is masked too.
            collector, user = self.tokens, None
            secret = self.tokens.secret = self._host_secret(result)
        else:
            collector = user = self._user(result)
            secret = user.secret
        collector.tasks[status] += 1
        if status == 'skipped':
            return
        if self._in_check_mode(task):
            self.check_results += 1
        else:
            self.real_results += 1
        failures, unknown_only = [], status == 'failed'
        loop = isinstance(data.get('results'), list)
        for one in _dicts(data['results']) if loop else [data]:
            collector.add(one)
            # ansible-core 2.19 drops `failed` from the task's own result, not from a loop item's.
            if status == 'failed' and (one.get('failed') or not loop):
                failures.append(one.get('msg') or 'failed')
                codes = [item.get('error_code') for item in _dicts(one.get('failed_items'))]
                unknown_only = unknown_only and bool(codes) and all(code == UNKNOWN_CODE for code in codes)
        if status == 'unreachable':
            failures.append(data.get('msg') or 'unreachable')
        if user is not None and status in ('failed', 'unreachable'):
            # Failed only because items of unknown outcome: the user's outcome is unknown, not failed.
            if unknown_only and failures:
                user.unknown_failures += 1
            else:
                user.hard_failures += 1
        for msg in failures:
            failure = dict(task=_short(task.get_name(), 120), msg=_short(_masked(msg, secret)))
            if user is None:
                failure['host'] = to_text(result._host.get_name())
            collector.task_failures.append(failure)

    # -- the callback API ----------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        name = getattr(playbook, '_file_name', None)
        if name:
            self.playbooks.append(os.path.basename(to_text(name)))

    def v2_playbook_on_play_start(self, play):
        # The inventory, to name the users no task ran for (read at the end: refresh_inventory may renew it).
        with contextlib.suppress(Exception):
            inventory = getattr(play.get_variable_manager(), '_inventory', None)
            if inventory is not None:
                self.inventory = inventory

    def _inventory_users(self, stats):
        """(not_run, left_out) from the users inventory: {username: {token_state, reason}}, {username: reason}."""
        not_run, left_out = {}, {}
        try:
            group = self.inventory.groups.get(USERS_GROUP) if self.inventory is not None else None
        except Exception:  # pylint: disable=broad-exception-caught
            group = None
        if group is None:
            return not_run, left_out
        processed = getattr(stats, 'processed', None) or {}
        with contextlib.suppress(Exception):
            named = group.get_vars().get(LEFT_OUT_VARIABLE)
            if isinstance(named, Mapping):
                left_out = dict((to_text(name), _short(to_text(reason), 200)) for name, reason in named.items())
        for host in group.get_hosts():
            name = to_text(host.get_name())
            if name in self.users:
                continue
            state = _text_or_none(self._host_vars(host).get(STATE_VARIABLE))
            if name in processed:
                reason = 'no task of this collection ran for this user'
            else:
                reason = 'not in the hosts of this run (the plays\' host patterns, --limit)'
            if state and state != STATE_VALID:
                reason += '; its token state is %s' % state
            not_run[name] = dict(token_state=state, reason=reason)
        return not_run, left_out

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        not_run, left_out = self._inventory_users(stats)
        report = build_report(
            self.users,
            self.check_results,
            self.real_results,
            bool(context.CLIARGS.get('check', False)),
            self.playbooks,
            self.started,
            time.time(),
            self.tokens,
            not_run,
            left_out,
        )
        directory = self.get_option('output_dir') or os.getcwd()
        try:
            os.makedirs(directory, exist_ok=True)
            written = [
                write_atomically(directory, REPORT_NAME + '.json', json.dumps(report, indent=2) + '\n'),
                write_atomically(directory, REPORT_NAME + '.md', render_markdown(report)),
            ]
        except OSError as exc:
            self._display.warning(
                '%s: could not write the report to %s: %s' % (self.CALLBACK_NAME, directory, exc.strerror or exc)
            )
            return
        self._display.vv('%s: wrote %s' % (self.CALLBACK_NAME, ' and '.join(written)))
