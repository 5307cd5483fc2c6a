# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Part `requests`: the requests each existio.exist.attribute and existio.exist.values task sends, against the
minimum the API allows.

existio.exist.attribute: for 1, 10, 35, 36, 71 and 100 declared attributes, five runs in one real ansible-playbook
run: first run, converged run, check-mode run, exclusive run, release-all run.

existio.exist.values: for a few sizes (attributes x days, up to 190 values and 95 days), a set run and its
converged second run, values on days decades apart, and increments (VALUES_CASES).

The requests each task sent are read from the emulator's request log (cleared before the task, by the bench_timer
callback).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re

from . import counts
from .common import SERVICE, custom, log, seed, table, user, with_problems

SIZES = (1, 10, 35, 36, 71, 100)
SCENARIOS = ('first', 'converged', 'check', 'exclusive', 'release-all')
PATHS = {
    'worker': 'worker process (action plugin, the default on a local connection)',
    'module': 'module (existio_exist_worker_process=false, as on a remote host)',
}
EXPECT_CHANGED = {'first': True, 'converged': False, 'check': True, 'exclusive': True, 'release-all': True}


def half(n):
    return int(math.ceil(n / 2.0))


def scenario_numbers(n):
    """{scenario: (owned_before, to_acquire_not_owned, acquires, releases, visible, check_mode)} for n attributes.

    Attributes are b001...; the user has b001..b{n+h}, all visible to the token;
    the first run declares b001..b{n}; the exclusive set is shifted by
    h = ceil(n/2): b{h+1}..b{h+n}, so h new ones and h released.
    """
    h = half(n)
    return {
        'first': (0, n, n, 0, n + h, False),
        'converged': (n, 0, 0, 0, n + h, False),
        'check': (n, h, h, h, n + h, True),
        'exclusive': (n, h, h, h, n + h, False),
        'release-all': (n, 0, 0, n, n + h, False),
    }


def names(first, last):
    return [{'name': 'b%03d' % i} for i in range(first, last + 1)]


def requests_playbook(url):
    plays = []
    for n in SIZES:
        h = half(n)
        first_set, shifted = names(1, n), names(h + 1, h + n)
        tasks = [
            {'name': 'measure %d first' % n, 'existio.exist.attribute': {'attributes': first_set}},
            {'name': 'measure %d converged' % n, 'existio.exist.attribute': {'attributes': first_set}},
            {
                'name': 'measure %d check' % n,
                'check_mode': True,
                'existio.exist.attribute': {'exclusive': True, 'attributes': shifted},
            },
            {'name': 'measure %d exclusive' % n, 'existio.exist.attribute': {'exclusive': True, 'attributes': shifted}},
            {
                'name': 'measure %d release-all' % n,
                'existio.exist.attribute': {'state': 'absent', 'attributes': shifted},
            },
        ]
        plays.append(
            {
                'name': 'Requests with %d declared attributes' % n,
                'hosts': 'localhost',
                'gather_facts': False,
                'module_defaults': {'group/existio.exist.exist': {'api_url': url, 'token': 'bench%d-token' % n}},
                'tasks': tasks,
            }
        )
    return plays


def requests_seed():
    return seed([user('bench%d' % n, [custom('b%03d' % i) for i in range(1, n + half(n) + 1)]) for n in SIZES])


def _measure(runner, emulator, paths, name, plays, make_world, what, pattern, key):
    """Run `plays` (written as the playbook `name`) once per path, each against a fresh make_world():
    {(path,) + key(match): record} of the tasks whose name matches `pattern`."""
    playbook = os.path.join(runner.workdir, name)
    with open(playbook, 'w', encoding='utf-8') as f:
        json.dump(plays, f, indent=1)  # JSON is YAML
    measured = {}
    for path in paths:
        emulator.admin.reset(make_world())
        extra = {} if path == 'worker' else {'existio_exist_worker_process': False}
        wall, data = runner.run(playbook, extra_vars=extra, measure=True, check=False)
        log('%s, %s path: %d tasks in %.1f s' % (what, path, len(data['records']), wall))
        if data['rc'] != 0:
            log('ansible-playbook exited %d: see %s' % (data['rc'], data['log']))
        for record in data['records']:
            match = re.match(pattern, record['task'])
            if match:
                measured[(path,) + key(match)] = record
    return measured


def _path_cells(where, record, least, expect_changed, problems, describe, **check_options):
    """One task's cells on one path (its requests, described by describe(total, kinds, record), and their ratio to
    the minimum) and whether it passed; its problems are appended to `problems`."""
    if record is None:
        problems.append('%s: no result' % where)
        return ['-', '-'], False
    kinds = counts.classify(record['requests'])
    total = len(record['requests'])
    cells = [describe(total, kinds, record), '%.2f' % (total / float(least))]
    ok = True
    if record['status'] != 'ok':
        problems.append('%s: task %s: %s' % (where, record['status'], record.get('msg')))
        ok = False
    if record['changed'] != expect_changed:
        problems.append('%s: changed=%s, expected %s' % (where, record['changed'], expect_changed))
        ok = False
    problem = counts.check(where, record['requests'], least, **check_options)
    if problem:
        problems.append(problem)
        ok = False
    return cells, ok


def _headers(first, paths):
    return first + [header for path in paths for header in ('requests (%s)' % path, 'ratio')]


def _ownership_requests(total, kinds, record):
    # A template the user lacks is created (create never takes over): it counts as an acquire.
    return '%d (%d+%d+%d+%d)' % (
        total,
        kinds['owned'],
        kinds['lookup'],
        kinds['acquire'] + kinds['create'],
        kinds['release'],
    )


def part_requests(runner, emulator, paths):
    """Returns (text, {size: ok}, all ok)."""
    measured = _measure(
        runner,
        emulator,
        paths,
        'requests.json.yml',
        requests_playbook(emulator.url),
        requests_seed,
        'requests',
        r'measure (\d+) (\S+)$',
        lambda match: (int(match.group(1)), match.group(2)),
    )
    rows = []
    size_ok = {}
    problems = []
    for n in SIZES:
        size_ok[n] = True
        for scenario, numbers in scenario_numbers(n).items():
            least = counts.minimum(*numbers)
            row = [n, scenario, '%d/%d/%d/%d/%d' % numbers[:5]]
            for path in paths:
                where = '%s path, %d %s' % (path, n, scenario)
                record = measured.get((path, n, scenario))
                cells, ok = _path_cells(where, record, least, EXPECT_CHANGED[scenario], problems, _ownership_requests)
                row += cells
                size_ok[n] = size_ok[n] and ok
            row.insert(3, least)
            rows.append(row)
    headers = _headers(['attributes', 'run', 'owned/new/acq/rel/visible', 'minimum'], paths)
    return with_problems(table(headers, rows), problems), size_ok, not problems


# --- existio.exist.values ------------------------------------------------------------------------------------------
# Each case: (label, attributes, days, operation, runs). The case's user owns `attributes` integer attributes
# v01, v02, ... with no values; the task declares one value per attribute per day on the `days` days ending on
# VALUES_LAST_DAY (days 0: no date, the user's today from the profile; a tuple: clusters of days far apart, each
# (days, last day)). 'first' writes every value, 'converged' declares the same again; an increment adds every value
# on every run.
VALUES_LAST_DAY = datetime.date(2026, 10, 31)
# Decades apart: one day in 1990 and the last day (issue 17: the span between them was read, 31 days a request).
SPARSE_DAYS = ((1, datetime.date(1990, 1, 1)), (1, VALUES_LAST_DAY))
VALUES_CASES = (
    ('1 x 7', 1, 7, 'set', ('first', 'converged')),
    ('2 x 20', 2, 20, 'set', ('first', 'converged')),
    ('4 x 31', 4, 31, 'set', ('first', 'converged')),
    ('1 x 60', 1, 60, 'set', ('first', 'converged')),
    ('2 x 60', 2, 60, 'set', ('first', 'converged')),
    ('2 x 95', 2, 95, 'set', ('first', 'converged')),
    ('3 x today', 3, 0, 'set', ('first', 'converged')),
    ('4 x 2 days 36 years apart', 4, SPARSE_DAYS, 'set', ('first', 'converged')),
    ('2 x 20', 2, 20, 'increment', ('first', 'again')),
    ('1 x today', 1, 0, 'increment', ('first', 'again')),
)
VALUES_EXPECT_CHANGED = {'first': True, 'converged': False, 'again': True}


def values_case_id(index):
    return 'values%d' % index


def values_attribute(number, owned=True):
    return {
        'name': 'v%02d' % number,
        'label': 'v%02d' % number,
        'group': 'health',
        'value_type': 0,
        'service': SERVICE if owned else None,
        'manual': True,
        'active': True,
    }


def clusters(days):
    """[(days, last day)]: the clusters of consecutive days a case declares (none for no date)."""
    if isinstance(days, tuple):
        return list(days)
    return [(days, VALUES_LAST_DAY)] if days else []


def values_declared(attributes, days):
    """One value per attribute per day (a date left out when days is 0), the oldest day first."""
    items = []
    for number in range(1, attributes + 1):
        if not days:
            items.append({'name': 'v%02d' % number, 'value': number})
            continue
        for count, last in clusters(days):
            for back in range(count - 1, -1, -1):
                day = last - datetime.timedelta(days=back)
                items.append({'name': 'v%02d' % number, 'date': day.isoformat(), 'value': number * 1000 + back})
    return items


def values_numbers(attributes, days, operation, run):
    """(values declared, values written, the fewest requests the API allows) for one run of a case.

    Days far apart are read apart: the minimum of the first cluster's run, plus the fewest reads of each other
    cluster. A first run declares values of attributes without any: a values/ read cannot tell such an
    attribute from one the token may not read (both answer no row), so a run that reads through values/ (it
    costs fewer than with-values) needs one with-values request per 100 of them to know which, and to report
    the day's value before as null rather than unknown.
    """
    spans = clusters(days)
    declared = attributes * max(sum(count for count, last in spans), 1)
    written = 0 if run == 'converged' else declared
    first = spans[0][0] if spans else 0
    least = counts.values_minimum(attributes, first, written, today=not days, increment=operation == 'increment')
    if operation != 'increment':
        least += sum(counts.read_minimum(attributes, count) for count, last in spans[1:])
        if run == 'first' and first and values_read_wins(attributes, first):
            least += int(math.ceil(attributes / float(counts.PAGE)))
    return declared, written, least


def values_read_wins(attributes, days):
    """Whether values/ reads `attributes` attributes over `days` consecutive days in fewer requests than with-values."""
    with_values = int(math.ceil(days / float(counts.WITH_VALUES_DAYS))) * int(
        math.ceil(attributes / float(counts.PAGE))
    )
    return attributes * int(math.ceil(days / float(counts.PAGE))) < with_values


def values_playbook(url):
    plays = []
    for index, (label, attributes, days, operation, runs) in enumerate(VALUES_CASES):
        task = {'values': values_declared(attributes, days)}
        if operation == 'increment':
            task['operation'] = 'increment'
        plays.append(
            {
                'name': 'Values requests, %s %s' % (label, operation),
                'hosts': 'localhost',
                'gather_facts': False,
                'module_defaults': {
                    'group/existio.exist.exist': {'api_url': url, 'token': '%s-token' % values_case_id(index)}
                },
                'tasks': [{'name': 'measure %d %s' % (index, run), 'existio.exist.values': task} for run in runs],
            }
        )
    return plays


def values_seed():
    return seed(
        [
            user(values_case_id(index), [values_attribute(n) for n in range(1, case[1] + 1)])
            for index, case in enumerate(VALUES_CASES)
        ]
    )


def _values_requests(total, kinds, record):
    return '%d (%d+%d+%d+%d)%s' % (
        total,
        kinds['owned'],
        kinds['profile'],
        kinds['read'],
        kinds['write'],
        read_kind(record['requests']),
    )


def part_values_requests(runner, emulator, paths):
    """Returns (text, {case: ok}, all ok) for existio.exist.values."""
    measured = _measure(
        runner,
        emulator,
        paths,
        'values_requests.json.yml',
        values_playbook(emulator.url),
        values_seed,
        'values requests',
        r'measure (\d+) (\S+)$',
        lambda match: (int(match.group(1)), match.group(2)),
    )
    rows = []
    case_ok = {}
    problems = []
    for index, (label, attributes, days, operation, runs) in enumerate(VALUES_CASES):
        key = 'values %s %s' % (label, operation)
        case_ok[key] = True
        for run in runs:
            declared, written, least = values_numbers(attributes, days, operation, run)
            row = [label, operation, run, '%d/%d' % (declared, written), least]
            for path in paths:
                where = '%s path, values %s %s %s' % (path, label, operation, run)
                cells, ok = _path_cells(
                    where,
                    measured.get((path, index, run)),
                    least,
                    VALUES_EXPECT_CHANGED[run],
                    problems,
                    _values_requests,
                    kinds=counts.VALUES_KINDS,
                )
                row += cells
                case_ok[key] = case_ok[key] and ok
            rows.append(row)
    headers = _headers(['attributes x days', 'operation', 'run', 'declared/written', 'minimum'], paths)
    return with_problems(table(headers, rows), problems), case_ok, not problems


def read_kind(requests):
    """' w' when the values were read through with-values, ' v' through values/ (' v+w' with a with-values request
    that tells an attribute without data from one the token cannot read), '' when not read."""
    paths = set(r['path'] for r in requests)
    with_values, values = '/api/2/attributes/with-values/' in paths, '/api/2/attributes/values/' in paths
    return {(True, False): ' w', (False, True): ' v', (True, True): ' v+w'}.get((with_values, values), '')


# --- custom attributes (existio.exist.attribute with label/group/value_type) ---------------------------------------
# Each case: (declared, existing). The case's user has `existing` of the declared custom attributes already, with
# no owner (acquired), and lacks the others (created, 35 to a POST /attributes/create/).
CUSTOM_CASES = ((1, 0), (35, 0), (36, 0), (71, 0), (50, 15))
CUSTOM_RUNS = ('check', 'first', 'converged')
CUSTOM_EXPECT_CHANGED = {'check': True, 'first': True, 'converged': False}


def custom_case_id(declared, existing):
    return 'custom%dof%d' % (existing, declared)


def custom_label(number):
    return 'Habit %03d' % number


def custom_existing(number):
    """An existing custom attribute named as Exist names custom_label(number), with no owner."""
    attribute = values_attribute(number, owned=False)
    attribute.update(name='habit_%03d' % number, label=custom_label(number))
    return attribute


def custom_numbers(declared, existing, run):
    """The arguments of counts.minimum for one run of a case."""
    if run == 'converged':
        return (declared, 0, 0, 0, declared, False, 0)
    return (0, declared, existing, 0, existing, run == 'check', declared - existing)


def custom_playbook(url):
    plays = []
    for declared, existing in CUSTOM_CASES:
        items = [
            {'label': custom_label(number), 'group': 'health', 'value_type': 'integer'}
            for number in range(1, declared + 1)
        ]
        tasks = []
        for run in CUSTOM_RUNS:
            task = {
                'name': 'measure %d %d %s' % (declared, existing, run),
                'existio.exist.attribute': {'attributes': items},
            }
            if run == 'check':
                task['check_mode'] = True
            tasks.append(task)
        plays.append(
            {
                'name': 'Custom attribute requests, %d declared, %d existing' % (declared, existing),
                'hosts': 'localhost',
                'gather_facts': False,
                'module_defaults': {
                    'group/existio.exist.exist': {
                        'api_url': url,
                        'token': '%s-token' % custom_case_id(declared, existing),
                    }
                },
                'tasks': tasks,
            }
        )
    return plays


def custom_seed():
    return seed(
        [
            user(custom_case_id(declared, existing), [custom_existing(n) for n in range(1, existing + 1)])
            for declared, existing in CUSTOM_CASES
        ]
    )


def _custom_requests(total, kinds, record):
    return '%d (%d+%d+%d+%d)' % (total, kinds['owned'], kinds['lookup'], kinds['acquire'], kinds['create'])


def part_custom_requests(runner, emulator, paths):
    """Returns (text, {case: ok}, all ok) for custom attributes declared by label."""
    measured = _measure(
        runner,
        emulator,
        paths,
        'custom_requests.json.yml',
        custom_playbook(emulator.url),
        custom_seed,
        'custom attribute requests',
        r'measure (\d+) (\d+) (\S+)$',
        lambda match: (int(match.group(1)), int(match.group(2)), match.group(3)),
    )
    rows = []
    case_ok = {}
    problems = []
    for declared, existing in CUSTOM_CASES:
        key = 'custom %d/%d' % (declared - existing, existing)
        case_ok[key] = True
        for run in CUSTOM_RUNS:
            numbers = custom_numbers(declared, existing, run)
            least = counts.minimum(*numbers)
            row = [declared, '%d/%d' % (declared - existing, existing), run, least]
            for path in paths:
                where = '%s path, custom %d declared %d existing %s' % (path, declared, existing, run)
                record = measured.get((path, declared, existing, run))
                cells, ok = _path_cells(where, record, least, CUSTOM_EXPECT_CHANGED[run], problems, _custom_requests)
                row += cells
                case_ok[key] = case_ok[key] and ok
            rows.append(row)
    headers = _headers(['declared', 'new/existing', 'run', 'minimum'], paths)
    return with_problems(table(headers, rows), problems), case_ok, not problems
