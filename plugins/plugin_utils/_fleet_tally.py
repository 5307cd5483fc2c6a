# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report's tallies: what the tasks did for each Exist user and for the tokens, and the report they make.

Internal to this collection, not a stable API. The fleet_report callback feeds
task results to a UserTally per host and to one TokenTally, and build_report()
turns them into the report (what the JSON file holds; _fleet_markdown renders it).
The result keys come from _result_keys: a list the declarations below name is
counted for every module that returns it.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Iterable

from ansible.module_utils.common.text.converters import to_text
from ansible.release import __version__ as ansible_version

from ansible_collections.existio.exist.plugins.module_utils._result_keys import (
    ACQUIRED,
    API_REQUESTS,
    CHANGED_ITEM_KEYS,
    CREATED,
    FAILED_ITEMS,
    INCREMENTED,
    OUTCOME_UNKNOWN,
    RECOVERED,
    REFRESHED,
    RELEASED,
    TAKEOVERS,
    UNREAD,
    UPDATED,
    USERNAME,
)
from ansible_collections.existio.exist.plugins.module_utils._secrets import Secrets

# The lists of a result tallied by attribute, as (result key, the report's field for it).
# Attribute names: the report's `attributes` section.
ATTRIBUTE_LISTS = ((ACQUIRED, 'acquired'), (RELEASED, 'released'), (CREATED, 'created'))
# Items named by their attribute: the report's `values` section (per user: values_<field>, a count).
VALUE_LISTS = ((UPDATED, 'updated'), (INCREMENTED, 'incremented'), (UNREAD, 'unread'))
# The lists of usernames of a token result: the report's `tokens` section.
TOKEN_USER_LISTS = ((REFRESHED, 'refreshed'), (RECOVERED, 'recovered'))

# The existio.exist.users inventory's exist_token_state of a user whose pair works.
NO_STATE = '(not from the users inventory)'
REPORT_NAME = 'exist-fleet-report'
REPORT_VERSION = 1
# Exist allows each user's token this many requests in a rolling hour.
HOURLY_BUDGET = 300
BUSIEST = 10
MESSAGE_LIMIT = 300
TITLES = {
    'run': 'Exist fleet report',
    'drift': 'Exist fleet drift report: what would change',
    'mixed': 'Exist fleet report (some tasks in check mode)',
}


def _count(value: object) -> int:
    """A request count from a result: a non-negative int, anything else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _names(value: object) -> list[str]:
    return [to_text(name) for name in value if isinstance(name, str)] if isinstance(value, list) else []


def dicts(value: object) -> list[dict]:
    """The mappings of a list (a result's items); anything else holds none."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def short(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """text on one line, cut to limit characters."""
    text = ' '.join(to_text(text).split())
    return text if len(text) <= limit else text[: limit - 3] + '...'


def masked(text: object, secret: str | None) -> str:
    """text with the secret (when there is one) masked."""
    return Secrets(secret).mask(to_text(text))


def text_or_none(value: object) -> str | None:
    return to_text(value) if isinstance(value, str) and value else None


def _bump(counter: dict, key: str, by: int = 1) -> None:
    counter[key] = counter.get(key, 0) + by


def _largest_first(mapping: dict, size: Callable[[Any], int] = lambda value: value) -> dict:
    """mapping ordered by size, largest first, then by key (JSON keeps the order)."""
    return dict(sorted(mapping.items(), key=lambda pair: (-size(pair[1]), pair[0])))


def _item_name(item: dict) -> str:
    for key in ('name', 'template', 'label'):
        if isinstance(item.get(key), str) and item[key]:
            return to_text(item[key])
    return '(unnamed)'


def _utc(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class _TaskTally:
    """What a user's or the token tasks' results have in common: the tasks by status, and the failed ones."""

    def __init__(self) -> None:
        self.tasks = dict(ok=0, changed=0, failed=0, skipped=0, unreachable=0)
        self.api_requests = 0
        self.failed_items: list = []  # a user's [{name, error_code, error, date?}], the tokens' [{username, error_code, error}]
        self.task_failures: list = []  # [{task, msg}], and host for a token task
        self.secret = None  # the host's exist_token, only ever used to mask it

    def mask(self, text: object) -> str:
        return masked(text, self.secret)

    def add(self, data: dict) -> None:
        raise NotImplementedError

    def add_result(self, data: dict, status: str) -> tuple[list[str], bool]:
        """Add a task's result (each loop item's); (its failure messages, whether only items of unknown outcome failed)."""
        failures, unknown_only = [], status == 'failed'
        loop = isinstance(data.get('results'), list)
        for one in dicts(data['results']) if loop else [data]:
            self.add(one)
            # ansible-core 2.19 drops `failed` from the task's own result, not from a loop item's.
            if status == 'failed' and (one.get('failed') or not loop):
                failures.append(one.get('msg') or 'failed')
                codes = [item.get('error_code') for item in dicts(one.get(FAILED_ITEMS))]
                unknown_only = unknown_only and bool(codes) and all(code == OUTCOME_UNKNOWN for code in codes)
        if status == 'unreachable':
            failures.append(data.get('msg') or 'unreachable')
        return failures, unknown_only and bool(failures)

    def add_task_failures(self, task_name: str, messages: list[str], host: str | None = None) -> None:
        for msg in messages:
            failure = dict(task=short(task_name, 120), msg=short(self.mask(msg)))
            if host is not None:
                failure['host'] = host
            self.task_failures.append(failure)


class UserTally(_TaskTally):
    """What the tasks of one host (one Exist user) did."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        # Failed or unreachable tasks whose failure is more than items of unknown outcome, and those that are not.
        self.hard_failures = 0
        self.unknown_failures = 0
        self.token_state = None  # the inventory's exist_token_state of the host, when it has one
        # {result key: [attribute name]}, one entry per attribute or value listed (see ATTRIBUTE_LISTS, VALUE_LISTS).
        self.listed: dict = dict((key, []) for key, dummy in ATTRIBUTE_LISTS + VALUE_LISTS)
        self.takeovers: list = []  # [{name, previous_owner}]

    def outcome(self) -> str:
        if self.hard_failures:
            return 'failed'
        if self.unknown_failures:
            return OUTCOME_UNKNOWN
        if self.tasks['changed']:
            return 'changed'
        if self.tasks['ok']:
            return 'unchanged'
        return 'skipped'

    def count_failure(self, unknown_only: bool) -> None:
        """A failed or unreachable task; failed only because items of unknown outcome: the outcome is unknown."""
        if unknown_only:
            self.unknown_failures += 1
        else:
            self.hard_failures += 1

    def add(self, data: dict) -> None:
        """Add one module result (or one loop item's)."""
        self.api_requests += _count(data.get(API_REQUESTS))
        for key, dummy in ATTRIBUTE_LISTS:
            self.listed[key].extend(_names(data.get(key)))
        for key, dummy in VALUE_LISTS:
            self.listed[key].extend(_item_name(item) for item in dicts(data.get(key)))
        self.takeovers.extend(
            dict(name=_item_name(item), previous_owner=to_text(item.get('previous_owner') or '(unknown)'))
            for item in dicts(data.get(TAKEOVERS))
        )
        self.failed_items.extend(self._failed_item(item) for item in dicts(data.get(FAILED_ITEMS)))

    def _failed_item(self, item: dict) -> dict:
        failed = dict(
            name=_item_name(item),
            error_code=to_text(item.get('error_code') or '(none)'),
            error=short(self.mask(item.get('error') or ''), 200),
        )
        date = text_or_none(item.get('date'))
        if date:
            failed['date'] = short(date, 40)
        return failed

    def items(self) -> tuple[int, int, int]:
        """(changed, failed, unknown): this user's items, each counted once (a created attribute is acquired too)."""
        unknown = sum(1 for item in self.failed_items if item['error_code'] == OUTCOME_UNKNOWN)
        changed = sum(len(self.listed[key]) for key in CHANGED_ITEM_KEYS)
        return changed, len(self.failed_items) - unknown, unknown

    def summary(self) -> dict:
        changed, failed, unknown = self.items()
        summary: dict = dict(
            outcome=self.outcome(),
            token_state=self.token_state,
            items=dict(changed=changed, failed=failed, outcome_unknown=unknown),
            tasks=dict(self.tasks),
            api_requests=self.api_requests,
        )
        summary.update((field, sorted(self.listed[key])) for key, field in ATTRIBUTE_LISTS)
        summary.update(
            takeovers=sorted(self.takeovers, key=lambda entry: (entry['name'], entry['previous_owner'])),
            failed_items=[dict(item) for item in self.failed_items],
        )
        summary.update(('values_' + field, len(self.listed[key])) for key, field in VALUE_LISTS)
        summary['task_failures'] = list(self.task_failures)
        return summary


class TokenTally(_TaskTally):
    """What existio.exist.token tasks did: pairs exchanged and refreshed, failures by user."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanged: set = set()
        self.listed: dict = dict((key, set()) for key, dummy in TOKEN_USER_LISTS)

    def add(self, data: dict) -> None:
        self.api_requests += _count(data.get(API_REQUESTS))
        for key, dummy in TOKEN_USER_LISTS:
            self.listed[key].update(_names(data.get(key)))
        username = data.get(USERNAME)
        # A changed result for a user whose pair it did not refresh: a pair exchanged.
        if (
            data.get('changed')
            and isinstance(username, str)
            and username
            and username not in _names(data.get(REFRESHED))
        ):
            self.exchanged.add(to_text(username))
        self.failed_items.extend(
            dict(
                username=to_text(item.get('username') or '(unknown)'),
                error_code=to_text(item.get('error_code') or '(none)'),
                error=short(self.mask(item.get('error') or ''), 200),
            )
            for item in dicts(data.get(FAILED_ITEMS))
        )

    def summary(self) -> dict:
        codes: dict = {}
        for item in self.failed_items:
            code = codes.setdefault(item['error_code'], dict(total=0, users=set()))
            code['total'] += 1
            code['users'].add(item['username'])
        summary = dict(
            tasks=dict(self.tasks),
            api_requests=self.api_requests,
            exchanged=dict(total=len(self.exchanged), users=sorted(self.exchanged)),
        )
        summary.update(
            (field, dict(total=len(self.listed[key]), users=sorted(self.listed[key])))
            for key, field in TOKEN_USER_LISTS
        )
        summary['failures'] = dict(
            items=len(self.failed_items),
            list=list(self.failed_items),
            by_error_code=dict(
                (code, dict(total=data['total'], users=sorted(data['users'])))
                for code, data in _largest_first(codes, lambda data: data['total']).items()
            ),
            tasks=list(self.task_failures),
        )
        return summary


class _FleetTotals:
    """The users' tallies added up, user by user in name order: items, by attribute, by owner, by error code."""

    def __init__(self, users: dict[str, UserTally]) -> None:
        self.items = dict(changed=0, failed=0, outcome_unknown=0)
        self.unknown_items: list = []
        self.by_attribute: dict = dict((key, {}) for key, dummy in ATTRIBUTE_LISTS + VALUE_LISTS)
        self.owners: dict = {}
        self.codes: dict = {}
        self.failed_tasks: list = []
        for name in sorted(users):
            self._add(name, users[name])

    def _add(self, name: str, user: UserTally) -> None:
        for key, names in user.listed.items():
            for attribute in names:
                _bump(self.by_attribute[key], attribute)
        for takeover in user.takeovers:
            owner = self.owners.setdefault(takeover['previous_owner'], dict(total=0, users=set(), by_attribute={}))
            owner['total'] += 1
            owner['users'].add(name)
            _bump(owner['by_attribute'], takeover['name'])
        for key, count in zip(('changed', 'failed', 'outcome_unknown'), user.items()):
            self.items[key] += count
        for item in user.failed_items:
            if item['error_code'] == OUTCOME_UNKNOWN:
                self.unknown_items.append(dict(item, user=name))
            code = self.codes.setdefault(item['error_code'], dict(total=0, users=set(), by_attribute={}, example=''))
            code['total'] += 1
            code['users'].add(name)
            _bump(code['by_attribute'], item['name'])
            code['example'] = code['example'] or item['error']
        self.failed_tasks.extend(
            dict(user=name, task=failure['task'], msg=failure['msg']) for failure in user.task_failures
        )

    def section(self, lists: Iterable[tuple[str, str]]) -> dict:
        """{field: {total, by_attribute}} for the lists named by (result key, field) pairs."""
        return dict(
            (
                field,
                dict(total=sum(self.by_attribute[key].values()), by_attribute=_largest_first(self.by_attribute[key])),
            )
            for key, field in lists
        )

    def takeovers(self) -> dict:
        return dict(
            total=sum(owner['total'] for owner in self.owners.values()),
            by_previous_owner=dict(
                (
                    owner,
                    dict(
                        total=data['total'], users=len(data['users']), by_attribute=_largest_first(data['by_attribute'])
                    ),
                )
                for owner, data in _largest_first(self.owners, lambda data: data['total']).items()
            ),
        )

    def failures(self) -> dict:
        return dict(
            items=sum(code['total'] for code in self.codes.values()),
            by_error_code=dict(
                (
                    code,
                    dict(
                        total=data['total'],
                        users=len(data['users']),
                        by_attribute=_largest_first(data['by_attribute']),
                        example=data['example'],
                    ),
                )
                for code, data in _largest_first(self.codes, lambda data: data['total']).items()
            ),
            tasks=self.failed_tasks,
        )


def _mode(check_results: int, real_results: int, cli_check: bool) -> str:
    """run, drift (every task result in check mode) or mixed; with no result at all, as the command line says."""
    if check_results:
        return 'mixed' if real_results else 'drift'
    if real_results:
        return 'run'
    return 'drift' if cli_check else 'run'


def _users(users: dict[str, UserTally], not_run: dict, left_out: dict, outside_limit: int) -> dict:
    outcomes = dict(changed=[], unchanged=[], failed=[], skipped=[], outcome_unknown=[], not_run=sorted(not_run))
    for user in users.values():
        outcomes[user.outcome()].append(user.name)
    states: dict = {}
    for name, user in users.items():
        states.setdefault(user.token_state or NO_STATE, []).append(name)
    for name, data in not_run.items():
        states.setdefault(data.get('token_state') or NO_STATE, []).append(name)
    return dict(
        total=len(users) + len(not_run),
        ran=len(users),
        converged=len(outcomes['changed']) + len(outcomes['unchanged']),
        changed=len(outcomes['changed']),
        unchanged=len(outcomes['unchanged']),
        failed=len(outcomes['failed']),
        outcome_unknown=len(outcomes['outcome_unknown']),
        skipped=len(outcomes['skipped']),
        not_run=len(not_run),
        outside_limit=outside_limit,
        by_outcome=dict((key, sorted(value)) for key, value in outcomes.items()),
        by_token_state=dict((state, sorted(names)) for state, names in sorted(states.items())),
        left_out_by_inventory=dict(sorted(left_out.items())),
    )


def _api_requests(users: dict[str, UserTally], tokens: TokenTally) -> dict:
    requests = dict((name, users[name].api_requests) for name in users)
    busiest = sorted(requests.items(), key=lambda pair: (-pair[1], pair[0]))[:BUSIEST]
    user_requests = sum(requests.values())
    return dict(
        total=user_requests + tokens.api_requests,
        per_user=dict(sorted(requests.items())),
        token_tasks=tokens.api_requests,
        mean_per_user=round(float(user_requests) / len(users), 2) if users else 0,
        budget_per_user_per_hour=HOURLY_BUDGET,
        busiest=[
            dict(user=name, requests=count, budget_share=round(float(count) / HOURLY_BUDGET, 4))
            for name, count in busiest
        ],
        over_budget=sorted(name for name, count in requests.items() if count > HOURLY_BUDGET),
    )


def _per_user(users: dict[str, UserTally], not_run: dict) -> dict:
    per_user = dict((name, users[name].summary()) for name in sorted(users))
    for name in sorted(not_run):
        per_user[name] = dict(
            outcome='not_run', token_state=not_run[name].get('token_state'), reason=not_run[name]['reason']
        )
    return per_user


def build_report(
    users: dict[str, UserTally],
    check_results: int,
    real_results: int,
    cli_check: bool,
    playbooks: Iterable[str],
    started: float,
    finished: float,
    tokens: TokenTally | None = None,
    not_run: dict | None = None,
    left_out: dict | None = None,
    outside_limit: int = 0,
    reauthorization_needed: Iterable[str] = (),
) -> dict:
    """The report as a dictionary (what the JSON file holds) from the collected users.

    users: {host name: UserTally}; started and finished are Unix times; tokens is a TokenTally (None: no token
    task ran); not_run: {username: {token_state, reason}} for the inventory's users no task of this collection
    ran for; left_out: {username: reason} for the users of the token store the inventory could not make hosts of;
    outside_limit: how many users of the inventory --limit left out (not this job's users, not counted);
    reauthorization_needed: the users of the inventory within --limit whose pair no longer works.
    """
    tokens = tokens or TokenTally()
    not_run = dict((name, data) for name, data in (not_run or {}).items() if name not in users)
    mode = _mode(check_results, real_results, cli_check)
    totals = _FleetTotals(users)
    return dict(
        report=REPORT_NAME,
        version=REPORT_VERSION,
        title=TITLES[mode],
        mode=mode,
        check_mode=mode == 'drift',
        task_results=dict(check_mode=check_results, applied=real_results),
        playbooks=list(playbooks),
        started=_utc(started),
        finished=_utc(finished),
        duration_seconds=round(finished - started, 1),
        ansible_core=ansible_version,
        users=_users(users, not_run, left_out or {}, outside_limit),
        reauthorization_needed=sorted(reauthorization_needed),
        items=dict(totals.items, unknown=sorted(totals.unknown_items, key=lambda item: (item['user'], item['name']))),
        attributes=totals.section(ATTRIBUTE_LISTS),
        takeovers=totals.takeovers(),
        failures=totals.failures(),
        values=totals.section(VALUE_LISTS),
        api_requests=_api_requests(users, tokens),
        tokens=tokens.summary(),
        per_user=_per_user(users, not_run),
    )
