# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault fuzzer: existio.exist.values (and custom attributes by label) against the emulator under random faults.

A sibling of fuzz_attribute.py, with the same command line and result file.
Each case is a random world (attributes of every value type with stored
values: large integers, decimals, nulls; owners; read and write scopes, so
some attributes can be written but not read), a random task (set or
increment, dates near together or decades apart, with or without dates,
check mode, acquire, valid and hostile values; or existio.exist.attribute
declaring custom attributes by label in a world where Exist named them
otherwise) and a random fault schedule on any request (statuses, 429s, drops,
delays past the timeout, answers trickled a byte at a time, faults after the
write was applied, bodies that are not Exist's). After each run:

- truth: every day value that changed is reported (updated, unread,
  incremented) or outcome_unknown; each reported update holds, with the value
  the day held before as `previous` (never an invented null); `changed` is
  what was reported; check mode writes nothing; a label resolves to an
  attribute that has it, and never makes a second one with the label;
- converges: a run that reports no failure leaves nothing to do: the same
  task again, without faults, changes nothing and writes nothing but the
  values it says it cannot read;
- prediction: without faults, check mode predicts the real run (updated,
  unread, refusals, changed, the read and its cost), and the read costs what
  it said;
- bounded: no run sends more than the cap of requests, and none takes longer
  than its requests' timeouts allow;
- secret: no result, message or warning holds the token;
- clear: no message holds a Python error; nothing raises.

In-process cases run the worker-process path (the action plugins) against a
real emulator over HTTP. A few cases also run through ansible-playbook on both
paths (worker process and module) at -vvvv: both must give the same result,
and the output must not hold the token.

Usage (from the collection root, with ansible_collections on PYTHONPATH and
the emulator installed):

    python tests/fuzz/fuzz_values.py [--seed N] [--seconds 60] [--playbook-cases 4]
    python tests/fuzz/fuzz_values.py --case CASE_SEED     # replay one case, printed on failure
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from unittest.mock import MagicMock

import yaml

from ansible_collections.existio.exist.plugins.action.attribute import ActionModule as AttributeAction
from ansible_collections.existio.exist.plugins.action.values import ActionModule as ValuesAction
from ansible_collections.existio.exist.plugins.module_utils import _client, _connection_options
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import label_key
from ansible_collections.existio.exist.plugins.module_utils._values_plan import same_value
from exist_emulator.testing import BackgroundEmulator

ME = 'fuzz_service'
OTHERS = ['other_a', 'other_b']
# name: (template or None, label, group, value type). Every value type, templates and custom attributes.
ATTRIBUTES = {
    'coffees': ('coffees', 'Coffees', 'food', 0),
    'steps': ('steps', 'Steps', 'activity', 0),
    'weight': ('weight', 'Weight', 'health', 1),
    'mood_note': ('mood_note', 'Mood note', 'mood', 2),
    'sleep': ('sleep', 'Sleep', 'sleep', 3),
    'sleep_end': ('sleep_end', 'Sleep end', 'sleep', 4),
    'body_fat': ('body_fat', 'Body fat', 'health', 5),
    'sleep_start': ('sleep_start', 'Sleep start', 'sleep', 6),
    'mood': ('mood', 'Mood', 'mood', 8),
    'tag_yoga': (None, 'Yoga', 'custom', 7),
    # Exist named it so: deep_work was taken when it was created.
    'deep_work_2': (None, 'Deep work', 'productivity', 0),
}
# Labels a task may declare: the custom attributes', one on two attributes at times, and new ones.
LABELS = {
    'Deep work': ('productivity', 'integer'),
    'Yoga': ('custom', 'boolean'),
    'Focus share': ('productivity', 'percentage'),
    'Reading pages': ('media', 'integer'),
}
GROUPS = ['food', 'activity', 'health', 'mood', 'sleep', 'custom', 'productivity', 'media']
ENDPOINTS = [
    ('GET', '/api/2/attributes/owned/'),
    ('GET', '/api/2/attributes/'),
    ('GET', '/api/2/attributes/with-values/'),
    ('GET', '/api/2/attributes/values/'),
    ('GET', '/api/2/accounts/profile/'),
    ('POST', '/api/2/attributes/update/'),
    ('POST', '/api/2/attributes/increment/'),
    ('POST', '/api/2/attributes/acquire/'),
    ('POST', '/api/2/attributes/create/'),
]
WRITES = ('/api/2/attributes/update/', '/api/2/attributes/increment/')
WRONG_BODIES = [
    {},
    {'success': 'mood', 'failed': []},
    {'success': [], 'failed': ['mood']},
    {'success': [{'name': 'zzz', 'date': '2026-11-27'}], 'failed': []},
    {'success': [{'name': 'coffees'}], 'failed': []},
    {'success': [{'name': 'coffees', 'date': '2026-11-27', 'current': 'many'}], 'failed': []},
    {'results': {}},
    {'results': [{'name': 'mood', 'values': 'none'}], 'next': None},
    {'results': [{'date': '2026-02-30', 'value': 1}], 'next': None},
    {'results': [{'date': '2026-11-27', 'value': [1]}], 'next': None},
    [],
    'a string',
    {'success': [], 'failed': []},
    {'results': [], 'next': 42},
]
# The longest fault delay: enough to outlast the timeouts the cases use (1-2 s).
MAX_DELAY = 3.0
HTML = '<html><body><h1>502 Bad Gateway</h1></body></html>'
# Words that only a Python error puts into a message.
PYTHON_ERROR = re.compile(
    r'Traceback|\b(TypeError|KeyError|AttributeError|IndexError|NameError|UnboundLocalError|ValueError|'
    r'RecursionError|ZeroDivisionError|OverflowError)\b|object has no attribute|not subscriptable|'
    r'unhashable type|NoneType|Exceeds the limit'
)
INVARIANTS = ('truth', 'converges', 'prediction', 'bounded', 'secret', 'clear', 'paths')
# Days near together, around ANCHOR, and days decades apart.
ANCHOR = datetime.date(2026, 11, 20)
FAR_DAYS = [datetime.date(1990, 1, 1), datetime.date(2001, 6, 15), datetime.date(2015, 3, 3)]
# Each request may take up to the task's timeout (the whole answer, headers included), plus this.
REQUEST_SLACK = 1.5
CASE_SLACK = 5.0


# -- generation ------------------------------------------------------------------


def a_day(rng, dates_mode):
    if dates_mode == 'near' or (dates_mode == 'mixed' and rng.random() < 0.6):
        return ANCHOR - datetime.timedelta(days=rng.randint(0, 75))
    return rng.choice(FAR_DAYS) + datetime.timedelta(days=rng.randint(0, 3))


def a_value(rng, value_type, valid=True):
    """A value of value_type: mostly what the type holds (large integers, long decimals), sometimes not."""
    if not valid:
        return rng.choice(
            [
                'many',
                '²',
                '٣',
                '9' * 5000,
                '1e999',
                12,
                -5,
                1.5,
                [1],
                10**4301,
                True,
                '  7  ',
                '0x10',
                2000,
            ]
        )
    if value_type == 0:
        return rng.choice(
            [rng.randint(0, 50), 10000000000, 10000000001, 2**53, 2**53 + 1, 10**30 + rng.randint(0, 2), -(2**63)]
            + [str(rng.randint(0, 9))]
        )
    if value_type == 1:
        return rng.choice(
            [
                round(rng.uniform(0, 200), rng.randint(0, 6)),
                0.1 + 0.2,
                0.3,
                rng.uniform(-1e6, 1e6),
                rng.randint(0, 100),
                2**53 + 1,
                1e300,
            ]
        )
    if value_type == 2:
        return rng.choice(['', 'calm', 'a day', '7', '0.30000000000000004', 'x' * rng.randint(0, 40)])
    if value_type == 3:
        return rng.choice([rng.randint(0, 900), 10**12 + rng.randint(0, 1)])
    if value_type in (4, 6):
        return rng.randint(0, 1439)
    if value_type == 5:
        return rng.choice([round(rng.random(), rng.randint(1, 17)), 0, 1, 0.1 + 0.2, 1.0])
    if value_type == 7:
        return rng.choice([True, False, 0, 1])
    return rng.randint(1, 9)


INCREMENTABLE = (0, 1, 3, 5, 7)


def a_delta(rng, value_type):
    """What to add to a day of value_type: a whole number for whole types, a small decimal for decimals."""
    if value_type in (1, 5):
        return rng.choice([0.01, 0.25, 1, 10**12 + 1])
    if value_type == 7:
        return rng.choice([0, 1])
    return rng.choice([1, 2, 10000000001, 2**53 + 1])


def a_stored_value(rng, value_type):
    value = a_value(rng, value_type)
    if isinstance(value, str) and value_type != 2:
        value = int(value)  # the emulator stores numbers
    if value_type == 7:
        value = int(value)
    return value


def make_world(rng, token):
    attributes = []
    all_mine = rng.random() < 0.5
    for name, (template, label, group, value_type) in sorted(ATTRIBUTES.items()):
        if rng.random() < 0.08:
            continue
        owner = ME if all_mine else rng.choice([ME] * 8 + OTHERS + [None])
        values = {}
        for dummy in range(rng.randint(0, 4)):
            day = a_day(rng, rng.choice(['near', 'far']))
            values[day.isoformat()] = None if rng.random() < 0.1 else a_stored_value(rng, value_type)
        entry = {
            'service': owner,
            'manual': True,
            'active': True,
            'available_services': rng.sample(OTHERS, rng.randint(0, 1)),
            'values': values,
        }
        if template:
            entry['template'] = template
        else:
            entry.update(name=name, label=label, group=group, value_type=value_type)
        attributes.append(entry)
    if rng.random() < 0.3:
        # A second "Deep work" (another service's, or nobody's): a label on two attributes.
        attributes.append(
            {
                'name': 'deep_work',
                'label': rng.choice(['Deep work', 'deep  WORK', 'Deep work hours']),
                'group': 'productivity',
                'value_type': rng.choice([0, 0, 3]),
                'service': rng.choice(OTHERS + [None]),
                'manual': True,
                'active': True,
                'available_services': [],
            }
        )
    if rng.random() < 0.55:
        scopes = ['all']
    else:
        # Read and write scopes drawn apart: some attributes can be written but not read.
        scopes = [g + suffix for g in GROUPS for suffix, p in (('_read', 0.6), ('_write', 0.85)) if rng.random() < p]
        scopes += [s for s in ('manual_read', 'manual_write') if rng.random() < 0.25]
    return {
        'services': [{'name': s, 'label': s.replace('_', ' ').title()} for s in [ME] + OTHERS],
        'clients': [],
        'users': [
            {
                'username': 'fuzz',
                'timezone': rng.choice(['UTC', 'Pacific/Auckland', 'America/New_York']),
                'attributes': attributes,
                'tokens': [
                    {'token': token, 'service': ME, 'scopes': scopes, 'refresh_token': 'r-' + token, 'kind': 'oauth2'}
                ],
            }
        ],
    }


def make_values_task(rng, token):
    operation = 'increment' if rng.random() < 0.2 else 'set'
    dates_mode = rng.choice(['near', 'near', 'far', 'mixed'])
    items, seen = [], set()
    for dummy in range(rng.randint(1, 12)):
        name = rng.choice(sorted(ATTRIBUTES)) if rng.random() < 0.99 else 'no_such_attribute'
        if operation == 'increment' and rng.random() < 0.95:
            # Exist refuses increments of strings, scales and times of day: mostly the others.
            name = rng.choice(sorted(n for n, a in ATTRIBUTES.items() if a[3] in INCREMENTABLE))
        value_type = ATTRIBUTES[name][3] if name in ATTRIBUTES else 0
        if rng.random() < 0.1:
            date = None
        else:
            date = a_day(rng, dates_mode).isoformat()
        if (name, date) in seen:
            continue
        seen.add((name, date))
        if operation == 'increment':
            value = a_delta(rng, value_type) if rng.random() < 0.95 else rng.choice([0.5, 'many', '²'])
        elif rng.random() < 0.06:
            value = None
        else:
            value = a_value(rng, value_type, valid=rng.random() < 0.98)
        item = {'name': name, 'value': value}
        if date is not None:
            item['date'] = date
        items.append(item)
    args = {
        'token': token,
        'values': items,
        'operation': operation,
        'acquire': rng.random() < 0.25,
        'takeover': rng.random() < 0.7,
        'timeout': rng.choice([1, 2]),
        'rate_limit_wait': rng.choice([0, 1, 3]),
    }
    if rng.random() < 0.05:
        # Hostile input: the task must fail before any request, naming the option.
        args.update(
            rng.choice(
                [
                    {'values': 'mood'},
                    {'values': [{'name': 'mood', 'date': '2026-02-30', 'value': 1}]},
                    {'values': [{'name': 'mood', 'date': '2026-11-27', 'value': 10**5000}]},
                    {'values': [{'name': 'mood\n', 'date': '2026-11-27', 'value': 1}]},
                    {'operation': 'multiply'},
                    {'timeout': 10**10},
                    {'token': token + '\n'},
                ]
            )
        )
    return 'values', args


def make_label_task(rng, token):
    items = []
    for label in rng.sample(sorted(LABELS), rng.randint(1, 3)):
        group, value_type = LABELS[label]
        if rng.random() < 0.15:
            value_type = 'duration'  # another value type than the attribute has
        shown = rng.choice([label, label.lower(), label.upper().replace(' ', '  ')])
        item = {'label': shown, 'group': group, 'value_type': value_type}
        if rng.random() < 0.15:
            item = {'label': shown, 'state': 'absent'}
        items.append(item)
    if rng.random() < 0.05:
        items.append({'label': 'Streak', 'group': 'health', 'value_type': rng.choice(['²', '9' * 5000, 10**5000])})
    return 'attribute', {
        'token': token,
        'attributes': items,
        'takeover': rng.random() < 0.6,
        'timeout': rng.choice([1, 2]),
        'rate_limit_wait': rng.choice([0, 1, 3]),
    }


def make_faults(rng, timeout, deterministic=False):
    faults = []
    for dummy in range(rng.choice([0, 1, 1, 2, 3])):
        method, path = rng.choice(ENDPOINTS)
        fault = {'method': method, 'path': path, 'skip': rng.choice([0, 0, 1, 2])}
        kind = rng.choice(
            ['status', 'status', '429', 'drop', 'delay', 'trickle', 'after_apply', 'after_apply', 'wrong_body', 'html']
        )
        if deterministic and kind in ('delay', 'trickle'):
            kind = 'drop'
        if kind == 'status':
            fault['status'] = rng.choice([500, 502, 503, 400, 401, 403, 404])
        elif kind == '429':
            fault.update(status=429, times=rng.choice([1, 2, 1000]))
            retry_after = rng.choice([0, 1, None, 'Thu, 01 Jan 1970 00:00:00 GMT'])
            if retry_after is not None:
                fault['retry_after'] = retry_after
        elif kind == 'drop':
            fault['drop'] = True
        elif kind == 'delay':
            fault['delay'] = round(rng.uniform(0.2, min(timeout + 1.0, MAX_DELAY)), 2)
        elif kind == 'trickle':
            # A byte every few ms: the whole answer takes seconds, no single read long.
            fault['trickle'] = rng.choice([0.005, 0.01, 0.02])
            if rng.random() < 0.3:
                fault.update(status=200, after_apply=True)
        elif kind == 'after_apply':
            fault['after_apply'] = True
            fault.update(
                rng.choice(
                    [
                        {'drop': True},
                        {'status': 500},
                        {'status': 200, 'body': rng.choice(WRONG_BODIES)},
                        {'status': 200, 'raw_body': HTML},
                        {'status': 202, 'body': {}},
                    ]
                )
            )
        elif kind == 'wrong_body':
            fault.update(status=rng.choice([200, 202]), body=rng.choice(WRONG_BODIES))
        else:
            fault.update(status=200, raw_body=HTML)
        faults.append(fault)
    return faults


class Case:
    """One fuzz case, reproducible from its seed."""

    def __init__(self, case_seed, deterministic=False):
        rng = random.Random(case_seed)
        self.seed = case_seed
        self.token = 'fuzz-%016x' % rng.getrandbits(64)
        self.world = make_world(rng, self.token)
        self.kind, self.args = (make_label_task if rng.random() < 0.15 else make_values_task)(rng, self.token)
        self.check_mode = rng.random() < 0.3
        # Delays are drawn around a sane timeout, whatever a hostile input made of the task's own.
        self.faults = make_faults(rng, 2, deterministic)

    @property
    def timeout(self):
        timeout = self.args.get('timeout')
        return timeout if isinstance(timeout, int) and 1 <= timeout <= 3600 else 30

    def describe(self):
        return json.dumps(
            {
                'case': self.seed,
                'kind': self.kind,
                'check_mode': self.check_mode,
                'args': self.args,
                'faults': self.faults,
                'world': self.world,
            },
            indent=1,
            default=_json_default,
        )


def _json_default(value):
    return str(value)


def _dump(value, limit=1500):
    """JSON of a result for a violation message; integers too long to write are named, not written."""
    try:
        text = json.dumps(value, default=_json_default)
    except ValueError:
        text = repr(type(value))
    return text[:limit]


# -- running -----------------------------------------------------------------------

# No task may take longer than this, whatever the server does.
CASE_DEADLINE = 180


class Hung(Exception):
    """A task did not end within CASE_DEADLINE: the bound the fuzzer checks is broken."""


def run_in_worker(url, kind, args, check_mode):
    """The task in a thread with a deadline; raises Hung if it does not end."""
    outcome = {}

    def target():
        outcome['value'] = run_task(url, kind, args, check_mode)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(CASE_DEADLINE)
    if thread.is_alive():
        raise Hung('the task did not end within %d s' % CASE_DEADLINE)
    return outcome['value']


def run_task(url, kind, args, check_mode):
    """The task as the action plugin runs it on a local connection; returns (result, error)."""
    task = MagicMock()
    task.args = dict(args, api_url=url)
    task.async_val = 0
    task.environment = [{}]
    connection = MagicMock()
    connection.transport = 'local'
    play_context = MagicMock()
    play_context.check_mode = check_mode
    play_context.diff = True
    play_context.become = False
    templar = MagicMock()
    templar.template.side_effect = lambda value: value
    action_class = ValuesAction if kind == 'values' else AttributeAction
    action = action_class(task, connection, play_context, loader=None, templar=templar, shared_loader_obj=None)
    action._execute_module = MagicMock(side_effect=AssertionError('the module path must not run here'))
    try:
        return action.run(task_vars={}), None
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return None, '%s: %s' % (type(exc).__name__, str(exc)[:500])


def keyed(entries):
    return dict(((e.get('name'), e.get('date')), e) for e in entries or [] if isinstance(e, dict))


def codes(result):
    return dict(
        ((f.get('name') or f.get('label'), f.get('date')), f.get('error_code')) for f in result.get('failed_items', [])
    )


class Fuzzer:
    """Runs cases against one emulator (an exist_emulator.testing.BackgroundEmulator) and checks the invariants."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.admin = emulator.admin
        self.violations = dict((name, []) for name in INVARIANTS)
        self.checked = dict((name, 0) for name in INVARIANTS)
        self.cases = 0

    def violate(self, invariant, case, message):
        self.violations[invariant].append('case %s: %s' % (case.seed, message))

    def check(self, invariant, case, ok, message):
        self.checked[invariant] += 1
        if not ok:
            self.violate(invariant, case, message)
        return ok

    def load(self, world, faults):
        self.admin.reset(world)
        if faults:
            self.admin.faults(faults)

    def state(self):
        """({name: {date: value}}, {name: (label, group, value type, owner)}) of the user, from the emulator."""
        user = [u for u in self.admin.state()['users'] if u['username'] == 'fuzz'][0]
        values, attributes = {}, {}
        for attribute in user['attributes']:
            name = attribute.get('name') or attribute.get('template')
            values[name] = dict(attribute.get('values') or {})
            attributes[name] = (
                attribute.get('label') or ATTRIBUTES.get(name, (None, name))[1],
                attribute.get('group'),
                attribute.get('value_type'),
                attribute.get('service'),
            )
        return values, attributes

    def run_case(self, case):
        self.cases += 1
        self.load(case.world, case.faults)
        before, attributes_before = self.state()
        started = time.monotonic()
        result, error = run_in_worker(self.emulator.url, case.kind, case.args, case.check_mode)
        elapsed = time.monotonic() - started
        # A request the client gave up on may still be sleeping in the emulator: let it land here,
        # not in the next case's world. It began at the latest when the task ended.
        if any(f.get('delay') for f in case.faults):
            time.sleep(max(f.get('delay', 0) for f in case.faults) + 0.3)
        log = self.admin.requests()
        # This case's own requests; a request of an earlier case (another token) gets 401 and no user.
        mine = [e for e in log if e['user'] == 'fuzz']
        after, attributes_after = self.state()
        if not self.check('clear', case, error is None, 'the task raised %s' % error):
            return
        text = _dump(result, limit=10**7)
        self.check(
            'clear',
            case,
            not PYTHON_ERROR.search(str(result.get('msg', '')))
            and not any(PYTHON_ERROR.search(w) for w in result.get('warnings', [])),
            'a Python error in msg: %r' % str(result.get('msg'))[:1000],
        )
        self.check('secret', case, case.token not in text, 'the token is in the result: %s' % text[:2000])
        # Each request may take the whole timeout (headers included), waits are not slept.
        bound = len(log) * (case.timeout + REQUEST_SLACK) + CASE_SLACK
        self.check(
            'bounded',
            case,
            len(log) <= _client.MAX_REQUESTS_PER_TASK and elapsed <= bound,
            '%d requests in %.1f s (bound %.1f s)' % (len(log), elapsed, bound),
        )
        writes = [e for e in mine if e['method'] == 'POST']
        if case.check_mode:
            self.check(
                'truth',
                case,
                before == after and attributes_before == attributes_after and not writes,
                'check mode wrote: %s' % writes,
            )
        elif case.kind == 'values':
            self.check_values_truth(case, result, before, after, attributes_before, attributes_after)
        else:
            self.check_label_truth(case, result, attributes_before, attributes_after)
        if not case.check_mode and not result.get('failed'):
            self.check_converges(case, result)
        if not case.faults:
            self.check_prediction(case, result, mine)

    def check_values_truth(self, case, result, before, after, attributes_before, attributes_after):
        problems = []
        if 'updated' not in result:
            # Failed before any request (bad input): nothing may have been sent or changed.
            writes = [e for e in self.admin.requests() if e['method'] == 'POST' and e['user'] == 'fuzz']
            self.check(
                'truth',
                case,
                result.get('failed') and before == after and not writes and not result.get('changed'),
                'no result keys, but the state changed or a write was sent: %s' % _dump(result, 300),
            )
            return
        updated, unread, incremented = keyed(result['updated']), keyed(result['unread']), keyed(result['incremented'])
        unknown = set(key for key, code in codes(result).items() if code == 'outcome_unknown')
        changed = changed_days(before, after)
        for key in changed:
            if key not in updated and key not in unread and key not in incremented and key not in unknown:
                problems.append(
                    '%s on %s changed (%s -> %s) unreported' % (key + (_short(before, key), _short(after, key)))
                )
        problems += updated_problems(updated, changed, before, after)
        problems += sent_problems(updated, unread, incremented, after)
        expected_changed = bool(result['updated'] or result['incremented'] or result.get('acquired'))
        if result.get('changed') is not expected_changed:
            problems.append(
                'changed=%s with updated/incremented/acquired %s' % (result.get('changed'), expected_changed)
            )
        for name in result.get('acquired') or []:
            if attributes_after.get(name, (None,) * 4)[3] != ME:
                problems.append('%s reported acquired but not owned' % name)
        self.check('truth', case, not problems, '; '.join(problems))

    def check_label_truth(self, case, result, attributes_before, attributes_after):
        problems = []
        if 'labels' not in result:
            # Failed before planning (bad input, a read that failed): nothing may have changed.
            if attributes_before != attributes_after or result.get('changed'):
                problems.append('failed before planning but the state changed: %s' % str(result.get('msg'))[:500])
            self.check('truth', case, not problems, '; '.join(problems))
            return
        unknown = set(
            f.get('label') for f in result.get('failed_items', []) if f.get('error_code') == 'outcome_unknown'
        )
        for entry in result['labels']:
            held = attributes_after.get(entry['name'])
            if held is None:
                problems.append('label %r resolved to %s, which does not exist' % (entry['label'], entry['name']))
            elif label_key(held[0]) != label_key(entry['label']):
                problems.append('label %r resolved to %s, labelled %r' % (entry['label'], entry['name'], held[0]))
        problems += duplicate_label_problems(case, unknown, attributes_before, attributes_after)
        problems += owner_problems(result, attributes_before, attributes_after)
        self.check('truth', case, not problems, '; '.join(problems))

    def check_converges(self, case, result):
        self.admin.clear_faults()
        self.admin.clear_requests()
        again, error = run_in_worker(self.emulator.url, case.kind, case.args, False)
        writes = [e for e in self.admin.requests() if e['method'] == 'POST' and e['user'] == 'fuzz']
        if case.kind == 'values' and case.args.get('operation') == 'increment':
            # Adding is never idempotent: the second run adds again (Exist may refuse a total past the type's
            # range, a boolean's 2), and says what it added.
            self.check(
                'converges',
                case,
                error is None
                and again.get('changed') is bool(again.get('incremented'))
                and all(f.get('error_code') == 'validation' for f in again.get('failed_items', [])),
                'a second increment went wrong: %s %s' % (error, again and str(again.get('msg'))[:500]),
            )
            return
        unread = len((again or {}).get('unread') or [])
        updates = [e for e in writes if e['path'] in WRITES]
        others = [e for e in writes if e['path'] not in WRITES]
        self.check(
            'converges',
            case,
            error is None
            and not again.get('changed')
            and not again.get('failed')
            and not others
            # Only the values the token cannot read are sent again, and said to be.
            and (len(updates) == (unread + 34) // 35),
            'a successful run left work: second run changed=%s failed=%s msg=%s writes=%s unread=%d'
            % (
                again and again.get('changed'),
                again and again.get('failed'),
                again and str(again.get('msg'))[:500],
                writes,
                unread,
            ),
        )

    def check_prediction(self, case, result, mine):
        other_mode = not case.check_mode
        self.load(case.world, [])
        self.admin.clear_requests()
        other, error = run_in_worker(self.emulator.url, case.kind, case.args, other_mode)
        other_log = [e for e in self.admin.requests() if e['user'] == 'fuzz']
        if error is not None:
            self.violate('clear', case, 'the task raised %s' % error)
            return
        predicted, real = (result, other) if case.check_mode else (other, result)
        if case.kind == 'attribute':
            views = ('acquired', 'created', 'released', 'changed')
            differences = [key for key in views if predicted.get(key) != real.get(key)]
            # Check mode predicts a new attribute's name, and knows no refusal it cannot read.
            if [e for e in predicted.get('labels', []) if e['source'] == 'existing'] != [
                e for e in real.get('labels', []) if e['source'] == 'existing'
            ]:
                differences.append('labels')
            refused = any(
                f.get('error_code') in ('not_allowed', 'not_found', 'exists', 'owner_unknown')
                for f in real.get('failed_items', []) + predicted.get('failed_items', [])
            )
            hidden = any('not visible to this token' in w for w in predicted.get('warnings', []))
            if differences and (refused or hidden):
                return
            self.check(
                'prediction',
                case,
                not differences,
                'check mode differs in %s: %s / %s' % (differences, _dump(predicted), _dump(real)),
            )
            return
        if 'updated' not in predicted or 'updated' not in real:
            self.check(
                'prediction',
                case,
                predicted.get('msg') == real.get('msg'),
                'check mode failed with %r, the real run with %r' % (predicted.get('msg'), real.get('msg')),
            )
            return
        differences = [
            key
            for key in ('updated', 'unread', 'changed', 'read_with', 'read_requests', 'acquired')
            if predicted.get(key) != real.get(key)
        ]
        if case.args.get('operation') == 'increment':
            differences = [d for d in differences if d not in ('changed',)]
        predictable = [
            f
            for f in sorted((k[0], k[1], c) for k, c in codes(real).items())
            if f[2] not in ('not_allowed', 'not_found', 'unauthorised', 'validation')
        ]
        if [
            f
            for f in sorted((k[0], k[1], c) for k, c in codes(predicted).items())
            if f[2] not in ('not_owned', 'not_found', 'unauthorised', 'validation', 'not_allowed')
        ] != predictable:
            differences.append('failed_items')
        # Check mode knows no refusal it cannot read (a group the token may not write, an attribute it cannot
        # see): neither of the values, nor of what acquire=true would acquire first (documented).
        refused = any(
            c in ('not_allowed', 'not_found', 'unauthorised', 'validation', 'not_owned', 'not_attempted')
            for c in list(codes(real).values()) + list(codes(predicted).values())
        )
        hidden = any('not visible to this token' in w for w in predicted.get('warnings', []) + real.get('warnings', []))
        if differences and (refused or hidden):
            return
        self.check(
            'prediction',
            case,
            not differences,
            'check mode differs from the real run in %s: %s / %s' % (differences, _dump(predicted), _dump(real)),
        )
        # The read costs what the plan said (one more with-values request may settle an empty values/ answer).
        reads = [
            e
            for e in (mine if case.check_mode else other_log)
            if e['path'] in ('/api/2/attributes/with-values/', '/api/2/attributes/values/')
        ]
        if predicted.get('read_requests') is not None and case.args.get('operation') != 'increment':
            allowed = predicted['read_requests'] + (1 if predicted.get('read_with') == 'values' else 0)
            self.check(
                'prediction',
                case,
                len(reads) <= allowed,
                'check mode said the read costs %s, it sent %d reads' % (predicted.get('read_requests'), len(reads)),
            )


def changed_days(before, after):
    """The (name, date) rows whose value came, went or changed (in value or type) between two states."""
    changed = set()
    for name in set(before) | set(after):
        for date in set(before.get(name, {})) | set(after.get(name, {})):
            old, new = before.get(name, {}).get(date), after.get(name, {}).get(date)
            if date not in before.get(name, {}) or not same_value(old, new) or type(old) is not type(new):
                if not (old is None and new is None):
                    changed.add((name, date))
    return changed


def updated_problems(updated, changed, before, after):
    """An update reported is one that happened, with the value it set and the value it replaced."""
    problems = []
    for key, entry in updated.items():
        name, date = key
        if key not in changed and not same_value(before.get(name, {}).get(date), entry.get('value')):
            problems.append('%s on %s reported updated but unchanged' % key)
        if not same_value(after.get(name, {}).get(date), entry.get('value')):
            problems.append(
                '%s on %s reported updated to %s, holds %s' % (key + (entry.get('value'), _short(after, key)))
            )
        was = before.get(name, {}).get(date)
        if not (was is None and entry.get('previous') is None) and not same_value(was, entry.get('previous')):
            problems.append('%s on %s reported previous %s, held %s' % (key + (entry.get('previous'), was)))
    return problems


def sent_problems(updated, unread, incremented, after):
    """A value reported sent (unread) or incremented is what the day holds; nothing is both updated and unread."""
    problems = []
    for key, entry in unread.items():
        if key in updated:
            problems.append('%s on %s both updated and unread' % key)
        if not same_value(after.get(key[0], {}).get(key[1]), entry.get('value')):
            problems.append('%s on %s reported sent (unread) but holds %s' % (key + (_short(after, key),)))
    for key, entry in incremented.items():
        current = entry.get('current')
        if not same_value(after.get(key[0], {}).get(key[1]), current):
            problems.append('%s on %s incremented to %s, holds %s' % (key + (current, _short(after, key))))
    return problems


def duplicate_label_problems(case, unknown, attributes_before, attributes_after):
    """No label the token can see an attribute under gets a second attribute (labels whose outcome is unknown
    aside)."""
    problems = []
    for item in case.args['attributes']:
        label = item.get('label')
        if not isinstance(label, str) or item.get('label') in unknown:
            continue
        had = [n for n, a in attributes_before.items() if label_key(a[0]) == label_key(label)]
        if not all(a == ME or visible(case, attributes_before[n][1]) for n in had for a in [attributes_before[n][3]]):
            # The token cannot see an attribute with the label: no read can find it by its label.
            continue
        has = [n for n, a in attributes_after.items() if label_key(a[0]) == label_key(label)]
        if had and len(has) > len(had):
            problems.append('a second attribute labelled %r was created: %s' % (label, sorted(set(has) - set(had))))
    return problems


def owner_problems(result, attributes_before, attributes_after):
    """Acquired attributes are owned, and no owner changes unreported (unless an outcome is unknown)."""
    problems = []
    acquired = set(result.get('acquired', []))
    for name in acquired:
        if attributes_after.get(name, (None,) * 4)[3] != ME:
            problems.append('%s reported acquired but not owned' % name)
    for name in set(attributes_after) | set(attributes_before):
        was = attributes_before.get(name, (None,) * 4)[3]
        now = attributes_after.get(name, (None,) * 4)[3]
        if was != now and name not in acquired and name not in result.get('released', []):
            if not any(f.get('error_code') == 'outcome_unknown' for f in result.get('failed_items', [])):
                problems.append('%s changed owner %s -> %s unreported' % (name, was, now))
    return problems


def visible(case, group):
    """Whether the case's token sees attributes of `group` (the world's attributes are all manual)."""
    scopes = case.world['users'][0]['tokens'][0]['scopes']
    return 'all' in scopes or '%s_read' % group in scopes or 'manual_read' in scopes


def _short(values, key):
    value = values.get(key[0], {}).get(key[1])
    return _dump(value, 60)


# -- both paths, through ansible-playbook -------------------------------------------


MODULES = {'values': 'existio.exist.values', 'attribute': 'existio.exist.attribute'}


def playbook_for(cases, url, results_dir):
    tasks = []
    for index, case in enumerate(cases):
        tasks += [
            {
                'name': 'Load world %d' % index,
                'ansible.builtin.uri': {
                    'url': url + '/_emulator/reset',
                    'method': 'POST',
                    'body_format': 'json',
                    'body': case.world,
                },
                'no_log': True,
            },
            {
                'name': 'Queue faults %d' % index,
                'ansible.builtin.uri': {
                    'url': url + '/_emulator/faults',
                    'method': 'POST',
                    'body_format': 'json',
                    'body': case.faults,
                },
            },
            {
                'name': 'Run case %d' % index,
                MODULES[case.kind]: dict(case.args, api_url=url),
                'check_mode': case.check_mode,
                'diff': True,
                'register': 'outcome',
                'ignore_errors': True,
            },
            {
                'name': 'Keep result %d' % index,
                'ansible.builtin.copy': {
                    'content': '{{ outcome | to_json }}',
                    'dest': os.path.join(results_dir, '%d.json' % index),
                },
                'no_log': True,
            },
        ]
    return [
        {
            'name': 'Fuzz cases on one path',
            'hosts': 'localhost',
            'connection': 'local',
            'gather_facts': False,
            'tasks': tasks,
        }
    ]


def playbook_case(master):
    """A case a playbook can carry: its arguments must be YAML, so no integer too long to write."""
    while True:
        case = Case(master.getrandbits(48), deterministic=True)
        try:
            yaml.safe_dump(case.args)
            json.dumps(case.world)
        except ValueError:
            continue
        return case


def run_paths(fuzzer, cases, collections_path):
    """Run `cases` through ansible-playbook on both paths; compare with each other and scan the output."""
    outcomes = {}
    with tempfile.TemporaryDirectory() as workdir:
        for in_worker in (True, False):
            results_dir = os.path.join(workdir, 'worker' if in_worker else 'module')
            os.makedirs(results_dir)
            playbook = os.path.join(workdir, 'cases.yml')
            with open(playbook, 'w') as handle:
                yaml.safe_dump(playbook_for(cases, fuzzer.emulator.url, results_dir), handle)
            env = dict(
                os.environ,
                ANSIBLE_COLLECTIONS_PATH=collections_path,
                ANSIBLE_NOCOLOR='1',
                ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            )
            command = [
                'ansible-playbook',
                '-i',
                'localhost,',
                playbook,
                '-vvvv',
                '-e',
                'existio_exist_worker_process=%s' % in_worker,
            ]
            path = 'worker process' if in_worker else 'module'
            try:
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=600)
            except subprocess.TimeoutExpired:
                fuzzer.violations['paths'].append('ansible-playbook on the %s path did not end within 600 s' % path)
                return
            output = done.stdout + done.stderr
            for case in cases:
                fuzzer.check(
                    'secret', case, case.token not in output, 'the token is in the -vvvv output on the %s path' % path
                )
            if done.returncode not in (0, 2):
                fuzzer.violations['paths'].append(
                    'ansible-playbook on the %s path exited %d:\n%s' % (path, done.returncode, output[-3000:])
                )
                return
            for index in range(len(cases)):
                with open(os.path.join(results_dir, '%d.json' % index)) as handle:
                    outcomes.setdefault(index, []).append(json.load(handle))
    for index, case in enumerate(cases):
        worker, module = outcomes[index]

        def view(result):
            return (
                bool(result.get('failed')),
                bool(result.get('changed')),
                result.get('updated'),
                result.get('unread'),
                [(i.get('name'), i.get('date')) for i in result.get('incremented') or []],
                result.get('acquired'),
                result.get('labels'),
                sorted(codes(result).items(), key=str),
                result.get('read_requests'),
                result.get('msg'),
            )

        fuzzer.check(
            'paths',
            case,
            view(worker) == view(module),
            'the paths differ:\nworker: %s\nmodule: %s' % (_dump(view(worker)), _dump(view(module))),
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--seed', type=int, default=None, help='master seed (default: random, printed)')
    parser.add_argument('--seconds', type=float, default=60.0, help='time budget for in-process cases')
    parser.add_argument('--max-cases', type=int, default=5000)
    parser.add_argument(
        '--playbook-cases', type=int, default=4, help='cases also run through ansible-playbook on both paths'
    )
    parser.add_argument(
        '--collections-path', default=None, help='folder holding ansible_collections (for playbook cases)'
    )
    parser.add_argument('--case', type=int, default=None, help='replay one case by its seed')
    parser.add_argument('--result-file', default=None, help='write "passed failed skipped" (one result per invariant)')
    options = parser.parse_args(argv)

    # The client's waits (429, retries) are recorded, not slept: the fuzzer checks their bound, not the clock.
    _connection_options.ExistClient = functools.partial(_client.ExistClient, sleep=lambda seconds: None)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**32)
    print('fuzz: master seed %d (replay with --seed %d)' % (seed, seed), flush=True)
    with BackgroundEmulator() as emulator:  # rate limit off
        fuzzer = Fuzzer(emulator)
        case = None
        try:
            if options.case is not None:
                case = Case(options.case)
                print(case.describe())
                fuzzer.run_case(case)
            else:
                master = random.Random(seed)
                deadline = time.monotonic() + options.seconds
                while fuzzer.cases < options.max_cases and time.monotonic() < deadline:
                    case = Case(master.getrandbits(48))
                    fuzzer.run_case(case)
                if options.playbook_cases and options.collections_path:
                    cases = [playbook_case(master) for dummy in range(options.playbook_cases)]
                    run_paths(fuzzer, cases, options.collections_path)
        except Hung as exc:
            fuzzer.violate('bounded', case, str(exc))
    failed = [name for name in INVARIANTS if fuzzer.violations[name]]
    for name in INVARIANTS:
        state = 'FAILED' if fuzzer.violations[name] else 'ok'
        print('fuzz: invariant %-10s %-6s checked %d times' % (name, state, fuzzer.checked[name]))
        for violation in fuzzer.violations[name][:5]:
            print('  ' + violation[:4000])
    print('fuzz: %d cases, master seed %d; %d invariant(s) violated' % (fuzzer.cases, seed, len(failed)), flush=True)
    if failed:
        print('fuzz: replay a case with --case CASE (its seed is printed above)')
    if options.result_file:
        with open(options.result_file, 'w') as handle:
            handle.write('%d %d 0\n' % (len(INVARIANTS) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
