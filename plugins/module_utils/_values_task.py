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

from ansible_collections.existio.exist.plugins.module_utils._client import MAX_ITEMS_PER_REQUEST
from ansible_collections.existio.exist.plugins.module_utils._connection_options import connection_argument_spec
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import Declared, names_to_look_up
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import converge, read_owned, read_visible
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


def argument_spec():
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


def prepare(params):
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


def _items(params):
    # The argument spec fills an unset date with None; a value given as null stays in.
    return [dict(item) for item in params['values'] or []]


def _value_types(*attribute_maps):
    types = {}
    for attributes in attribute_maps:
        for name, attribute in (attributes or {}).items():
            value_type = attribute.get('value_type')
            if isinstance(value_type, int) and not isinstance(value_type, bool):
                types[name] = value_type
    return types


def _key_of(entry):
    name, date = entry.get('name'), entry.get('date')
    if isinstance(name, str) and isinstance(date, str):
        return (name, date)
    if isinstance(name, str) and date is None:
        return (name, None)
    return None


def _no_problem(entry):
    return None


def _current_problem(entry):
    current = entry.get('current')
    if isinstance(current, bool) or not isinstance(current, (int, float)):
        return "'current' is %r, expected the new total" % (current,)
    return None


def _record_value(state, planned, entry):
    state = dict(state)
    state[planned.name] = dict(state.get(planned.name) or {}, **{planned.date: planned.value})
    return state


def _value_read(state, planned):
    return state.get(planned.name, {}).get(planned.date)


def value_endpoints(client):
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


def _failed(item, outcome):
    return dict(item.ref(), error_code=outcome.error_code, error=outcome.error)


def _describe(item):
    return '%s on %s (%s: %s)' % (item['name'], item['date'], item.get('error_code'), item.get('error'))


def _message(failed_items, errors, done, check_mode):
    parts = list(errors)
    if failed_items:
        parts.append(
            '%d value(s) %s: %s.'
            % (
                len(failed_items),
                'would fail' if check_mode else 'failed',
                '; '.join(_describe(i) for i in failed_items),
            )
        )
    if done:
        parts.append('%s: %s.' % ('Would still be done' if check_mode else 'Done all the same', '; '.join(done)))
    return ' '.join(parts)


def _ceil_div(a, b):
    return -(-a // b)


def work(client, declared, params, check_mode, warn):
    """Converge the declared values. Failures once writing has begun are in the result, with what did change."""
    operation = params['operation']
    result = dict(NOTHING_DONE, changed=False)
    if not declared:
        return dict(result, diff={'before': {}, 'after': {}})
    if needs_today(_items(params)):
        today = today_of(client.profile())
        try:
            declared = normalize_values(_items(params), operation, today)
        except ValuesError as exc:
            return dict(result, failed=True, msg=str(exc))
    names = sorted(set(item.name for item in declared))
    wanted = [Declared(name, 'name', 'present', None, index) for index, name in enumerate(names)]
    owned = read_owned(client)
    visible = {}
    if params['acquire'] and names_to_look_up(owned, wanted):
        visible = read_visible(client)
    types = _value_types(visible, owned)
    problems = value_problems(declared, types, operation)
    if problems:
        # Bad values are bad input: nothing is written, not even an acquire.
        return dict(
            result,
            failed_items=problems,
            failed=True,
            msg='Nothing was written: %s.' % '; '.join(_describe(i) for i in problems),
        )
    read_plan = None
    if operation == SET:
        # What reading the declared days will cost, known before anything is sent: a task that cannot afford it
        # fails now, with its hour's budget intact, instead of at the request cap with nothing written.
        read_plan = plan_reads(_days_wanted(declared))
        result.update(read_with=read_plan.read_with if read_plan.steps else None, read_requests=read_plan.requests)
        acquires = len(names_to_look_up(owned, wanted)) if params['acquire'] else 0
        problem = _over_budget(client, read_plan, declared, acquires)
        if problem:
            return dict(result, failed=True, msg=problem)

    done, errors, blocked = [], [], set()
    if params['acquire']:
        ownership = converge(
            client,
            wanted,
            takeover=params['takeover'],
            check_mode=check_mode,
            warn=warn,
            owned=owned,
            visible=visible,
        )
        result['acquired'] = ownership['acquired']
        if ownership['acquired']:
            done.append('%s %s' % ('would acquire' if check_mode else 'acquired', ', '.join(ownership['acquired'])))
        owned = dict((attribute['name'], attribute) for attribute in ownership['owned'])
        for item in ownership['failed_items']:
            blocked.add(item.get('name'))
        if ownership.get('failed'):
            errors.append('Acquiring failed: %s' % ownership['msg'])
    to_write = [item for item in declared if item.name not in blocked]
    refused = [
        dict(
            name=item.name,
            date=item.date,
            value=item.value,
            error_code='not_attempted',
            error='not sent: acquiring %s failed' % item.name,
        )
        for item in declared
        if item.name in blocked
    ]

    fresh_read = None
    seen = set(visible)  # attributes a read showed the user has
    if operation == INCREMENT:
        plan = plan_increments(to_write, types)
        current = {}
    else:
        read_plan = plan_reads(_days_wanted(to_write), read_plan.read_with)
        result.update(read_with=read_plan.read_with if read_plan.steps else None, read_requests=read_plan.requests)
        read = read_planned(client, read_plan)
        for name in read.unseen:
            if name in owned:
                warn(
                    'the values of %r cannot be read (the token lacks the read scope of its group): each declared '
                    'value of it is sent on every run and listed in unread, since whether it changed anything is '
                    'unknown' % name
                )
        later = value_problems(to_write, _value_types(read.attributes), operation)
        if later:
            # Types only the values read showed: those items fail, the rest go on.
            bad = set((item['name'], item['date']) for item in later)
            refused.extend(later)
            to_write = [item for item in to_write if item.key not in bad]
        current = read.values
        seen.update(read.attributes or {})
        types.update(_value_types(read.attributes))
        plan = plan_values(to_write, current, types, unreadable=set(read.unseen))

        def fresh_read():
            return read_planned(client, read_plan, probe=False).values

        refused.extend(plan.refused)

    if check_mode:
        return _predicted(result, plan, refused, owned, seen, done, errors, warn, operation)

    endpoint = value_endpoints(client)[operation]
    run = WriteRun(current, fresh_read).run([(endpoint, plan.writes)])
    for message in run.warnings:
        warn(message)
    updated, unread, incremented, failed_items = [], [], [], list(refused)
    for outcome in run.outcomes:
        planned = outcome.item
        if outcome.status != APPLIED:
            failed_items.append(_failed(planned, outcome))
        elif operation == INCREMENT:
            entry = outcome.entry or {}
            incremented.append(
                dict(name=planned.name, date=planned.date, value=planned.value, current=entry.get('current'))
            )
        elif not planned.previous_known:
            unread.append(dict(name=planned.name, date=planned.date, value=planned.value))
        else:
            updated.append(dict(name=planned.name, date=planned.date, previous=planned.previous, value=planned.value))
    applied = [o.item for o in run.outcomes if o.status == APPLIED]
    result.update(
        updated=updated,
        unread=unread,
        incremented=incremented,
        failed_items=failed_items,
        # A value sent over one the token cannot read may have been there already: not a change anyone knows of.
        changed=bool(updated or incremented or result['acquired']),
    )
    if operation == SET:
        result['diff'] = values_diff(applied)
    else:
        result['diff'] = {'before': {}, 'after': _totals(incremented)}
    if updated:
        done.append('updated %d value(s)' % len(updated))
    if unread:
        done.append('sent %d value(s) the token cannot read' % len(unread))
    if incremented:
        done.append('incremented %d value(s)' % len(incremented))
    errors.extend(run.errors)
    if failed_items or errors:
        result.update(failed=True, msg=_message(failed_items, errors, done, False))
    return result


def _days_wanted(declared):
    wanted = {}
    for item in declared:
        wanted.setdefault(item.name, set()).add(iso_day(item.date))
    return wanted


def _over_budget(client, read_plan, declared, acquires):
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


def _totals(incremented):
    after = {}
    for item in incremented:
        after.setdefault(item['name'], {})[item['date']] = item['current']
    return after


def _predicted(result, plan, refused, owned, seen, done, errors, warn, operation):
    """Check mode: what a real run would do, from the plan alone."""
    failed_items = list(refused)
    writes = []
    for planned in plan.writes:
        if planned.name in owned:
            writes.append(planned)
        elif planned.name in seen:
            failed_items.append(dict(planned.ref(), error_code='unauthorised', error=UNAUTHORISED_ERROR % planned.name))
        else:
            # Neither owned nor shown by a read: not ours, and perhaps not the user's at all.
            failed_items.append(
                dict(
                    planned.ref(),
                    error_code='not_owned',
                    error="Attribute '%s' is not owned by this client and no read shows it: a real run gets Exist's "
                    'unauthorised, or not_found if the user lacks it' % planned.name,
                )
            )
    if operation == INCREMENT:
        result['incremented'] = [dict(name=p.name, date=p.date, value=p.value, current=None) for p in writes]
        result['diff'] = {'before': {}, 'after': {}}
        if writes:
            warn(
                'check mode: operation=increment is never idempotent; a real run adds these %d value(s) every '
                'time it runs, so it always reports changed' % len(writes)
            )
            done.append('would increment %d value(s)' % len(writes))
    else:
        known = [p for p in writes if p.previous_known]
        result['updated'] = [dict(name=p.name, date=p.date, previous=p.previous, value=p.value) for p in known]
        result['unread'] = [dict(name=p.name, date=p.date, value=p.value) for p in writes if not p.previous_known]
        result['diff'] = values_diff(writes)
        if known:
            done.append('would update %d value(s)' % len(known))
        if result['unread']:
            done.append('would send %d value(s) the token cannot read' % len(result['unread']))
        writes = known
    result.update(failed_items=failed_items, changed=bool(writes or result['acquired']))
    if failed_items or errors:
        result.update(failed=True, msg=_message(failed_items, errors, done, True))
    return result


# What a task that failed before any write reports.
NOTHING_DONE = dict(
    updated=[], unread=[], incremented=[], acquired=[], failed_items=[], read_with=None, read_requests=0
)
