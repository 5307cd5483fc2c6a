# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests of the client at the HTTP boundary share (requests' transport replaced by `responses`).

Internal to this collection, not a stable API. The fixtures `rec` (tests/unit/conftest.py) and `client`
(tests/unit/plugins/module_utils/conftest.py) are built from these.
"""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.module_utils._task_runner import run_task
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute

BASE = 'https://exist.example'
TOKEN = 's3cr3t-t0ken-value'
OWNED = BASE + '/api/2/attributes/owned/'
ACQUIRE = BASE + '/api/2/attributes/acquire/'
A = listed_attribute('a')  # a whole attribute object, as Exist's lists give it
ATTRIBUTES = BASE + '/api/2/attributes/'
AVERAGES = BASE + '/api/2/averages/'
CORRELATIONS = BASE + '/api/2/correlations/'
COMBO = BASE + '/api/2/correlations/combo/'
INSIGHTS = BASE + '/api/2/insights/'


def average(attribute='steps', date='2026-11-29', **fields):
    """One week's averages of one attribute, as GET /averages/ gives them (the API docs' example)."""
    obj = dict(attribute=attribute, date=date, overall=4174.0, monday=4057.0, tuesday=6614.0, wednesday=4001.0)
    obj.update(thursday=3923.0, friday=4528.0, saturday=3649.0, sunday=3904.0)
    obj.update(fields)
    return obj


def correlation(attribute='sleep', attribute2='sleep_start', **fields):
    """A correlation, as GET /correlations/ and /correlations/combo/ give it (the API docs' example)."""
    obj = {
        'date': '2026-11-30',
        'period': 309,
        'offset': 0,
        'attribute': attribute,
        'attribute2': attribute2,
        'value': -0.5577851552276848,
        'p': 1.1564227190131434e-26,
        'percentage': 55.77851552276848,
        'stars': 5,
        'second_person': 'you spend more time asleep when you go to bed earlier.',
        'second_person_elements': ['you spend more time asleep', 'when', 'you go to bed earlier'],
        'attribute_category': None,
        'strength_description': 'Quite often go together',
        'stars_description': 'Certain to be related',
        'description': None,
        'occurrence': None,
        'rating': None,
    }
    obj.update(fields)
    return obj


def insight(target_date='2026-11-30', attribute='sleep', **fields):
    """An insight, as GET /insights/ gives it (the API docs' example); attribute=None: about no attribute."""
    about = None
    if attribute is not None:
        about = {
            'name': attribute,
            'label': 'Time asleep',
            'group': {'name': 'sleep', 'label': 'Sleep', 'priority': 3},
            'priority': 1,
            'value_type': 3,
            'value_type_description': 'Period (min)',
        }
    obj = {
        'created': target_date + 'T13:17:03+08:00',
        'target_date': target_date,
        'type': {'name': 'dow_sleep', 'period': 1, 'priority': 1, 'attribute': about},
        'html': '<div class="secondary">Last night&#x27;s sleep was surprisingly long.</div>',
        'text': "Last night's sleep was surprisingly long.",
    }
    obj.update(fields)
    return obj


class Recorder:
    """The client's warn and sleep, recorded instead of said and waited."""

    def __init__(self):
        self.warnings = []
        self.sleeps = []

    def warn(self, message):
        self.warnings.append(message)

    def sleep(self, seconds):
        self.sleeps.append(seconds)


def page(results, next_url=None):
    return {'count': len(results), 'next': next_url, 'previous': None, 'results': results}


def assert_no_token(*texts):
    for text in texts:
        assert TOKEN not in str(text)


def task_params(task, **options):
    """The params a module of the task gets: every option at its default (argument_spec), the stub's api_url and
    token, then options."""
    params = dict((name, spec.get('default')) for name, spec in task.argument_spec().items())
    params.update(api_url=BASE, token=TOKEN)
    params.update(options)
    return params


def run_stubbed_task(task, **options):
    """(result, warnings) of the task run as both execution paths run it, against the stubbed API."""
    warnings = []
    result = run_task(task, task_params(task, **options), check_mode=False, diff=False, warn=warnings.append)
    return result, warnings
