# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.values task: argument spec and run, shared by the module
and the action plugin.

Internal to this collection, not a stable API. Reads what it must (the owned
list for value types, the current values of the days declared), plans with
the pure _values_plan, and writes through the shared write engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, cast

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
    from ansible_collections.existio.exist.plugins.module_utils._values_plan import (
        DeclaredValue,
        PlannedValue,
        ValuesPlan,
    )
    from ansible_collections.existio.exist.plugins.module_utils._values_read import ReadPlan
    from ansible_collections.existio.exist.plugins.module_utils._write_engine import Outcome as WriteOutcome

from ansible_collections.existio.exist.plugins.module_utils._client import MAX_ITEMS_PER_REQUEST
from ansible_collections.existio.exist.plugins.module_utils._connection_options import connection_argument_spec
from ansible_collections.existio.exist.plugins.module_utils._outcome import Outcome
from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import Declared, group_name
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import names_to_look_up
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import (
    ownership_outcome,
    read_owned,
    read_visible,
)
from ansible_collections.existio.exist.plugins.module_utils._remedies import refusal_explainer
from ansible_collections.existio.exist.plugins.module_utils._result_keys import ACQUIRED, INCREMENTED, UNREAD, UPDATED
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError
from ansible_collections.existio.exist.plugins.module_utils._values_plan import (
    INCREMENT,
    OPERATIONS,
    SET,
    ValuesError,
    needs_today,
    normalize_values,
    plan_increments,
    plan_values,
    same_value,
    value_problems,
    values_diff,
)
from ansible_collections.existio.exist.plugins.module_utils._values_read import (
    iso_day,
    plan_reads,
    probe_cost,
    read_planned,
    today_of,
)
from ansible_collections.existio.exist.plugins.module_utils._write_engine import APPLIED, Endpoint, WriteRun

# Exist's answer to a write of an attribute this client does not own (documented wording).
UNAUTHORISED_ERROR = "Attribute '%s' does not belong to this service"


def argument_spec() -> dict:
    spec = connection_argument_spec()
    spec.update(
        values=dict(
            type='list',
            elements='dict',
            required=True,
            options=dict(
                name=dict(type='str', required=True),
                date=dict(type='str'),
                value=dict(type='raw'),
            ),
        ),
        operation=dict(type='str', default=SET, choices=list(OPERATIONS)),
        acquire=dict(type='bool', default=False),
        takeover=dict(type='bool', default=True),
    )
    return spec


def prepare(params: dict) -> list[DeclaredValue]:
    """The declared values, checked before any request (dates left out stay None until today is read)."""
    if params['token_type'] == 'token':
        raise TaskInputError(
            'token_type=token is a simple token, which Exist makes read-only; writing values needs an OAuth2 '
            'access token (token_type=bearer). The existio.exist.values lookup reads with either.'
        )
    try:
        return normalize_values(_items(params), params['operation'])
    except ValuesError as exc:
        raise TaskInputError(str(exc)) from None


def _items(params: dict) -> list[dict]:
    # The argument spec fills an unset date with None; a value given as null stays in.
    return [dict(item) for item in params['values'] or []]


def _value_types(*attribute_maps: dict | None) -> dict[str, int]:
    types = {}
    for attributes in attribute_maps:
        for name, attribute in (attributes or {}).items():
            value_type = attribute.get('value_type')
            if isinstance(value_type, int) and not isinstance(value_type, bool):
                types[name] = value_type
    return types


def _key_of(entry: dict) -> tuple[str, str | None] | None:
    name, date = entry.get('name'), entry.get('date')
    if isinstance(name, str) and isinstance(date, str):
        return (name, date)
    if isinstance(name, str) and date is None:
        return (name, None)
    return None


def _no_problem(entry: dict) -> None:
    return None


def _current_problem(entry: dict) -> str | None:
    current = entry.get('current')
    if isinstance(current, bool) or not isinstance(current, (int, float)):
        return "'current' is %r, expected the new total" % (current,)
    return None


def _record_value(state: dict, planned: PlannedValue, entry: dict) -> dict:
    state = dict(state)
    state[planned.name] = {**(state.get(planned.name) or {}), planned.date: planned.value}
    return state


def _value_read(state: dict, planned: PlannedValue) -> Any:
    return state.get(planned.name, {}).get(planned.date)


def value_endpoints(client: ExistClient) -> dict[str, Endpoint]:
    """The two value writes, as the write engine needs them."""
    return {
        SET: Endpoint(
            '/api/2/attributes/update/',
            client.update,
            _key_of,
            _no_problem,
            lambda planned, state: same_value(_value_read(state, planned), planned.value, planned.value_type),
            _record_value,
            item_key=lambda planned: planned.key,
            read_entry=lambda planned, state: {'name': planned.name, 'date': planned.date},
        ),
        # An increment adds to whatever is there: no read can tell whether it landed.
        INCREMENT: Endpoint(
            '/api/2/attributes/increment/',
            client.increment,
            _key_of,
            _current_problem,
            None,
            lambda state, planned, entry: state,
            item_key=lambda planned: planned.key,
        ),
    }


def _failed(item: PlannedValue, outcome: WriteOutcome) -> dict:
    return dict(item.ref(), error_code=outcome.error_code, error=outcome.error)


class ValuesOutcome(Outcome):
    """What a values task did: values updated, sent unread, incremented; attributes acquired on the way."""

    LISTS = (UPDATED, UNREAD, INCREMENTED, ACQUIRED)
    updated: list
    unread: list
    incremented: list
    acquired: list
    ITEMS = 'value(s)'

    def __init__(self, check_mode: bool = False) -> None:
        super().__init__(check_mode)
        self.extra.update(read_with=None, read_requests=0)
        self.stopped: str | None = None  # why nothing was written, when a check stopped the task before any write

    def describe(self, item: dict) -> str:
        return '%s on %s (%s: %s)' % (item['name'], item['date'], item.get('error_code'), item.get('error'))

    def message(self) -> str:
        return self.stopped or super().message()

    def stop(self, message: str, failed_items: Iterable[dict] = ()) -> ValuesOutcome:
        """Nothing is written: `message` says why."""
        self.stopped = message
        self.errors = [message]
        self.failed_items = list(failed_items)
        return self

    def count_reads(self, read_plan: ReadPlan) -> None:
        self.extra.update(read_with=read_plan.read_with if read_plan.steps else None, read_requests=read_plan.requests)


def work(
    client: ExistClient, declared: list[DeclaredValue], params: dict, check_mode: bool, warn: Callable[[str], None]
) -> dict:
    """Converge the declared values. Failures once writing has begun are in the result, with what did change."""
    if not declared:
        outcome = ValuesOutcome(check_mode)
        outcome.diff = {'before': {}, 'after': {}}
        return outcome.result()
    return _ValuesRun(client, params, check_mode, warn).converge(declared).result()


class _ValuesRun:
    """One values task: read what the plan needs, acquire if asked, plan, write (or predict)."""

    def __init__(self, client: ExistClient, params: dict, check_mode: bool, warn: Callable[[str], None]) -> None:
        self.client, self.params, self.check_mode, self.warn = client, params, check_mode, warn
        self.operation = params['operation']
        self.outcome = ValuesOutcome(check_mode)
        self.blocked: set = set()  # attributes whose acquire failed: their values are not sent

    def converge(self, declared: list[DeclaredValue]) -> ValuesOutcome:
        outcome = self.outcome
        if needs_today(_items(self.params)):
            today = today_of(self.client.profile())
            try:
                declared = normalize_values(_items(self.params), self.operation, today)
            except ValuesError as exc:
                return outcome.stop(str(exc))
        names = sorted(set(item.name for item in declared))
        wanted = [Declared(name, 'name', 'present', None, index) for index, name in enumerate(names)]
        self.owned = read_owned(self.client)
        self.visible = {}
        if self.params['acquire'] and names_to_look_up(self.owned, wanted):
            self.visible = read_visible(self.client)
        self.types = _value_types(self.visible, self.owned)
        problems = value_problems(declared, self.types, self.operation)
        if problems:
            # Bad values are bad input: nothing is written, not even an acquire.
            return outcome.stop('Nothing was written: %s.' % '; '.join(outcome.describe(i) for i in problems), problems)
        read_plan: Any = None  # a ReadPlan when the operation is set
        if self.operation == SET:
            # What reading the declared days will cost, known before anything is sent: a task that cannot afford it
            # fails now, with its hour's budget intact, instead of at the request cap with nothing written.
            read_plan = plan_reads(_days_wanted(declared))
            outcome.count_reads(read_plan)
            acquires = len(names_to_look_up(self.owned, wanted)) if self.params['acquire'] else 0
            problem = _over_budget(self.client, read_plan, declared, acquires)
            if problem:
                return outcome.stop(problem)
        if self.params['acquire']:
            self._acquire(wanted)
        to_write = [item for item in declared if item.name not in self.blocked]
        refused = [_not_attempted(item) for item in declared if item.name in self.blocked]
        current: dict
        fresh_read: Callable[[], dict] | None  # None for increments: no read can tell whether one landed
        if self.operation == INCREMENT:
            plan, current, fresh_read, seen = plan_increments(to_write, self.types), {}, None, set(self.visible)
        else:
            plan, current, fresh_read, seen = self._read_and_plan(to_write, read_plan.read_with, refused)
        if self.check_mode:
            return _predicted(outcome, plan, refused, self.owned, seen, self.warn, self.operation)
        return self._write(plan, current, fresh_read, refused)

    def _acquire(self, wanted: list[Declared]) -> None:
        ownership = ownership_outcome(
            self.client,
            wanted,
            takeover=self.params['takeover'],
            check_mode=self.check_mode,
            warn=self.warn,
            owned=self.owned,
            visible=self.visible,
        )
        self.outcome.acquired = list(ownership.acquired)
        if ownership.acquired:
            verb = 'would acquire' if self.check_mode else 'acquired'
            self.outcome.done.append('%s %s' % (verb, ', '.join(ownership.acquired)))
        self.owned = ownership.owned
        self.blocked.update(item.get('name') for item in ownership.failed_items)
        if ownership.failed:
            self.outcome.errors.append('Acquiring failed: %s' % ownership.message())

    def _read_and_plan(
        self, to_write: list[DeclaredValue], read_with: str, refused: list[dict]
    ) -> tuple[ValuesPlan, dict, Callable[[], dict], set]:
        """SET: read the declared days, then plan. Returns (plan, current values, fresh read, names seen)."""
        read_plan = plan_reads(_days_wanted(to_write), read_with)
        self.outcome.count_reads(read_plan)
        read = read_planned(self.client, read_plan)
        for name in read.unseen:
            if name in self.owned:
                group = group_name(self.owned[name])
                self.warn(
                    'the values of %r cannot be read (the token lacks %s): each declared value of it is sent on '
                    'every run and listed in unread, since whether it changed anything is unknown; give the token '
                    'that scope' % (name, '%s_read' % group if group else 'the read scope of its group')
                )
        later = value_problems(to_write, _value_types(read.attributes), self.operation)
        if later:
            # Types only the values read showed: those items fail, the rest go on.
            bad = set((item['name'], item['date']) for item in later)
            refused.extend(later)
            to_write = [item for item in to_write if item.key not in bad]
        seen = set(self.visible) | set(read.attributes or {})  # attributes a read showed the user has
        self.types.update(_value_types(read.attributes))
        plan = plan_values(to_write, read.values, self.types, unreadable=set(read.unseen))
        refused.extend(plan.refused)

        def fresh_read() -> dict:
            return read_planned(self.client, read_plan, probe=False).values

        return plan, read.values, fresh_read, seen

    def _write(
        self, plan: ValuesPlan, current: dict, fresh_read: Callable[[], dict] | None, refused: list[dict]
    ) -> ValuesOutcome:
        outcome = self.outcome
        run = WriteRun(current, fresh_read, refusal_explainer(self.client.user)).run(
            [(value_endpoints(self.client)[self.operation], plan.writes)]
        )
        for message in run.warnings:
            self.warn(message)
        outcome.failed_items = list(refused)
        for one in run.outcomes:
            _tally_write(outcome, one, self.operation)
        # A value sent over one the token cannot read may have been there already: not a change anyone knows of.
        outcome.changed = bool(outcome.updated or outcome.incremented or outcome.acquired)
        if self.operation == SET:
            outcome.diff = values_diff([o.item for o in run.outcomes if o.status == APPLIED])
        else:
            outcome.diff = {'before': {}, 'after': _totals(outcome.incremented)}
        for count, words in (
            (len(outcome.updated), 'updated %d value(s)'),
            (len(outcome.unread), 'sent %d value(s) the token cannot read'),
            (len(outcome.incremented), 'incremented %d value(s)'),
        ):
            if count:
                outcome.done.append(words % count)
        outcome.errors.extend(run.errors)
        return outcome


def _not_attempted(item: DeclaredValue) -> dict:
    return dict(
        name=item.name,
        date=item.date,
        value=item.value,
        error_code='not_attempted',
        error='not sent: acquiring %s failed' % item.name,
    )


def _tally_write(outcome: ValuesOutcome, one: WriteOutcome, operation: str) -> None:
    planned = one.item
    if one.status != APPLIED:
        outcome.failed_items.append(_failed(planned, one))
    elif operation == INCREMENT:
        current = (one.entry or {}).get('current')
        outcome.incremented.append(dict(name=planned.name, date=planned.date, value=planned.value, current=current))
    elif not planned.previous_known:
        outcome.unread.append(dict(name=planned.name, date=planned.date, value=planned.value))
    else:
        outcome.updated.append(
            dict(name=planned.name, date=planned.date, previous=planned.previous, value=planned.value)
        )


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _days_wanted(declared: Iterable[DeclaredValue]) -> dict[str, set]:
    wanted: dict = {}
    for item in declared:
        # Every date is known here: converge() read today for the items without one.
        wanted.setdefault(item.name, set()).add(iso_day(cast(str, item.date)))
    return wanted


def _over_budget(client: ExistClient, read_plan: ReadPlan, declared: list[DeclaredValue], acquires: int) -> str | None:
    """A message when reading and writing the declared values cannot fit in what this task may still send."""
    reads = read_plan.requests + probe_cost(read_plan)
    writes = _ceil_div(len(declared), MAX_ITEMS_PER_REQUEST) + _ceil_div(acquires, MAX_ITEMS_PER_REQUEST)
    left = client.max_requests - client.requests_sent
    if reads + writes <= left:
        return None
    return (
        'Nothing was read or written: reading the current values of the %d day(s) declared takes %d request(s) '
        '(%s), and writing up to %d more, but this task may send only %d more (at most %d a task, of the 300 an '
        'hour Exist allows each user). Split the values over several tasks, each with its dates close together.'
        % (len(set(item.date for item in declared)), reads, read_plan.read_with, writes, left, client.max_requests)
    )


def _totals(incremented: list[dict]) -> dict:
    after: dict = {}
    for item in incremented:
        after.setdefault(item['name'], {})[item['date']] = item['current']
    return after


def _predicted(
    outcome: ValuesOutcome,
    plan: ValuesPlan,
    refused: list[dict],
    owned: dict,
    seen: set,
    warn: Callable[[str], None],
    operation: str,
) -> ValuesOutcome:
    """Check mode: what a real run would do, from the plan alone."""
    outcome.failed_items = list(refused)
    writes = []
    for planned in plan.writes:
        if planned.name in owned:
            writes.append(planned)
        elif planned.name in seen:
            outcome.failed_items.append(
                dict(planned.ref(), error_code='unauthorised', error=UNAUTHORISED_ERROR % planned.name)
            )
        else:
            # Neither owned nor shown by a read: not ours, and perhaps not the user's at all.
            outcome.failed_items.append(
                dict(
                    planned.ref(),
                    error_code='not_owned',
                    error="Attribute '%s' is not owned by this client and no read shows it: a real run gets Exist's "
                    'unauthorised, or not_found if the user lacks it' % planned.name,
                )
            )
    if operation == INCREMENT:
        outcome.incremented = [dict(name=p.name, date=p.date, value=p.value, current=None) for p in writes]
        outcome.diff = {'before': {}, 'after': {}}
        if writes:
            warn(
                'check mode: operation=increment is never idempotent; a real run adds these %d value(s) every '
                'time it runs, so it always reports changed' % len(writes)
            )
            outcome.done.append('would increment %d value(s)' % len(writes))
    else:
        known = [p for p in writes if p.previous_known]
        outcome.updated = [dict(name=p.name, date=p.date, previous=p.previous, value=p.value) for p in known]
        outcome.unread = [dict(name=p.name, date=p.date, value=p.value) for p in writes if not p.previous_known]
        outcome.diff = values_diff(writes)
        if known:
            outcome.done.append('would update %d value(s)' % len(known))
        if outcome.unread:
            outcome.done.append('would send %d value(s) the token cannot read' % len(outcome.unread))
        writes = known
    outcome.changed = bool(writes or outcome.acquired)
    return outcome


# What a task that failed before any write reports.
NOTHING_DONE = ValuesOutcome.nothing_done()
