# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Part `requests`, read side: the requests each existio.exist.averages_info, correlations_info and insights_info
task sends, against the minimum the API allows (one GET per 100 results, at least one).

One user per case, every attribute the records name readable by the token. A task that names attributes reads
the attribute list once more when one of them shows nothing (to tell "no data yet" from "the token cannot read
it"): the combination Exist has not found costs that read, and its minimum counts it.
"""

from __future__ import annotations

import datetime

from . import counts
from .common import custom, seed, table, user, with_problems
from .requests_per_run import _headers, _measure, _path_cells

# (case, module, options, how many results the world holds for it, attribute-list pages it needs: the user has 250
# attributes, and Exist was seen ignoring the list's name filter, so the whole list is 3 GETs)
READ_CASES = (
    ('averages-250', 'averages_info', {}, 250, 0),
    ('averages-history-120', 'averages_info', {'attributes': ['r001'], 'include_historical': True}, 120, 0),
    ('correlations-150', 'correlations_info', {}, 150, 0),
    ('correlations-combo', 'correlations_info', {'attribute': 'r001', 'attribute2': 'r002'}, 1, 0),
    ('correlations-combo-none', 'correlations_info', {'attribute': 'r001', 'attribute2': 'r250'}, 0, 3),
    ('insights-none', 'insights_info', {}, 0, 0),
    ('insights-230', 'insights_info', {}, 230, 0),
)
RESULT_KEYS = {'averages_info': 'averages', 'correlations_info': 'correlations', 'insights_info': 'insights'}
LAST_SUNDAY = datetime.date(2026, 11, 29)


def read_minimum(results, lookups=0):
    """The fewest GETs that list `results` results (every page of 100, one even when there are none), plus the
    attribute-list GETs (`lookups`)."""
    return max(1, counts._ceil(results, counts.PAGE)) + lookups


def _attribute(number):
    return 'r%03d' % number


def _average(number, week):
    date = (LAST_SUNDAY - datetime.timedelta(weeks=week)).isoformat()
    days = ('monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday')
    record = dict((day, float(number + index)) for index, day in enumerate(days))
    record.update(attribute=_attribute(number), date=date, overall=float(number))
    return record


def _correlation(first, second):
    return {
        'date': LAST_SUNDAY.isoformat(),
        'period': 300,
        'offset': 0,
        'attribute': _attribute(first),
        'attribute2': _attribute(second),
        'value': 0.5,
        'p': 0.001,
        'percentage': 50.0,
        'stars': 5,
        'second_person': 'you do one more when you do the other.',
        'second_person_elements': ['you do one more', 'when', 'you do the other'],
        'attribute_category': None,
        'strength_description': 'Often go together',
        'stars_description': 'Certain to be related',
        'description': None,
        'occurrence': None,
        'rating': None,
    }


def _insight(number):
    day = LAST_SUNDAY - datetime.timedelta(days=number % 60)
    return {
        'created': '%sT08:00:%02d+00:00' % (day.isoformat(), number % 60),
        'target_date': day.isoformat(),
        'type': {'name': 'bench_insight_%d' % number, 'period': 1, 'priority': 1 + number % 4, 'attribute': None},
        'html': '<div>Insight %d</div>' % number,
        'text': 'Insight %d' % number,
    }


def _case_user(case, results):
    account = user(case, [custom(_attribute(n)) for n in range(1, 251)])
    if case.startswith('averages-history'):
        account['averages'] = [_average(1, week) for week in range(results)]
    elif case.startswith('averages'):
        account['averages'] = [_average(n, 0) for n in range(1, results + 1)]
    elif case.startswith('correlations'):
        # 150 pairs, r001-r002 among them; r001-r250 never.
        account['correlations'] = [_correlation(n, n + 1) for n in range(1, 151)]
    elif case.startswith('insights'):
        account['insights'] = [_insight(n) for n in range(1, results + 1)]
    return account


def read_seed():
    return seed([_case_user(case, results) for case, dummy, dummy2, results, dummy3 in READ_CASES])


def read_playbook(url):
    plays = []
    for case, module, options, dummy, dummy2 in READ_CASES:
        plays.append(
            {
                'name': 'Read-side requests, %s' % case,
                'hosts': 'localhost',
                'gather_facts': False,
                'module_defaults': {'group/existio.exist.exist': {'api_url': url, 'token': '%s-token' % case}},
                'tasks': [{'name': 'measure %s' % case, 'existio.exist.%s' % module: dict(options)}],
            }
        )
    return plays


def _read_requests(total, kinds, record):
    return '%d' % total


def part_read_requests(runner, emulator, paths):
    """Returns (text, {case: ok}, all ok) for the read-only modules of what Exist computes."""
    measured = _measure(
        runner,
        emulator,
        paths,
        'read_side_requests.json.yml',
        read_playbook(emulator.url),
        read_seed,
        'read-side requests',
        r'measure (\S+)$',
        lambda match: (match.group(1),),
    )
    rows, case_ok, problems = [], {}, []
    for case, module, dummy, results, lookups in READ_CASES:
        least = read_minimum(results, lookups)
        row = [module, case, results, least]
        case_ok[case] = True
        for path in paths:
            where = '%s path, %s' % (path, case)
            record = measured.get((path, case))
            cells, ok = _path_cells(
                where, record, least, False, problems, _read_requests, kinds=counts.COMPUTED_KINDS + ('lookup',)
            )
            row += cells
            case_ok[case] = case_ok[case] and ok
        rows.append(row)
    headers = _headers(['module', 'case', 'results', 'minimum'], paths)
    return with_problems(table(headers, rows), problems), case_ok, not problems
