# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fault fuzzing of the values task: a misbehaving server must never make the result lie.

Hypothesis draws stored values, declared values and a fault for each request
(an answer lost after the write landed, a 5xx before or after it, a body
that is not Exist's, an answer that leaves items out, a whole-request 400).
After the faulty run, against the emulator's true state:

- truth: every value reported updated is held; every value that changed is
  reported updated or `outcome_unknown`; a value reported `request_failed`
  or `not_attempted` did not change;
- clear: the task returns a result (never raises), and a failed one says why;
- converges: a clean run afterwards reaches the declared values, and the run
  after that changes nothing.
"""

from __future__ import annotations

import datetime
import io
import json

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils import _values_task
from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistError
from ansible_collections.existio.exist.plugins.module_utils._values_plan import same_value
from exist_emulator.server import Emulator
from exist_emulator.testing import InProcessAdapter
from exist_emulator.world import world_from_seed

BASE = 'http://127.0.0.1:8787'
TOKEN = 'fault-token'
LAST = datetime.date(2026, 11, 27)
NAMES = ('mood', 'coffees')
FAULTS = ('ok', 'lost_after', 'error_before', 'error_after', 'malformed_after', 'partial_after', 'refused')


def day(offset):
    return (LAST - datetime.timedelta(days=offset)).isoformat()


class FaultyAdapter(InProcessAdapter):
    """The emulator in process, with one fault per request, in order (then no fault)."""

    def __init__(self, emulator, faults):
        super().__init__(emulator)
        self.faults = list(faults)

    def send(self, request, **kwargs):
        fault = self.faults.pop(0) if self.faults else 'ok'
        if fault == 'error_before':
            return self._answer(request, 503, {'detail': 'Service unavailable'})
        if fault == 'refused':
            return self._answer(request, 400, {'detail': 'Bad request'})
        response = super().send(request, **kwargs)
        if fault == 'lost_after':
            raise requests.exceptions.ReadTimeout('the answer was lost')
        if fault == 'error_after':
            return self._answer(request, 502, {'detail': 'Bad gateway'})
        if fault == 'malformed_after':
            return self._answer(request, 200, ['not', 'an', 'answer'])
        if fault == 'partial_after' and request.method == 'POST':
            body = json.loads(response.content)
            body['success'] = body.get('success', [])[1:]
            return self._answer(request, response.status_code, body)
        return response

    @staticmethod
    def _answer(request, status, payload):
        response = requests.models.Response()
        response.status_code = status
        response.headers['Content-Type'] = 'application/json'
        response.raw = io.BytesIO(json.dumps(payload).encode('utf-8'))
        response.url = request.url
        response.request = request
        return response


def server(stored):
    seed = {
        'services': [{'name': 'me', 'label': 'Me'}],
        'clients': [],
        'users': [
            {
                'username': 'u',
                'timezone': 'UTC',
                'tokens': [{'token': TOKEN, 'service': 'me', 'scopes': ['all'], 'kind': 'oauth2'}],
                'attributes': [{'template': name, 'service': 'me', 'values': stored[name]} for name in NAMES],
            }
        ],
    }
    return Emulator(world_from_seed(seed), rate_limit=0)


def run(emulator, values, faults=()):
    params = dict(token_type='bearer', values=values, operation='set', acquire=False, takeover=True)
    client = ExistClient.connect(BASE, TOKEN, sleep=lambda seconds: None)
    client._session.mount('http://', FaultyAdapter(emulator, faults))
    try:
        return _values_task.work(client, _values_task.prepare(params), params, False, lambda message: None)
    except ExistError as exc:
        # As run_task does: work() raises only while reading, before any write.
        return dict(_values_task.NOTHING_DONE, failed=True, msg=exc.message, changed=False, raised=True)


def held(emulator):
    attributes = emulator.world.users['u'].attributes
    return dict((name, dict(attributes[name].values)) for name in NAMES)


stored_values = st.fixed_dictionaries(
    dict((name, st.dictionaries(st.integers(0, 40).map(day), st.integers(1, 9), max_size=5)) for name in NAMES)
)
declared_values = st.lists(
    st.tuples(st.sampled_from(NAMES), st.integers(0, 40).map(day), st.integers(1, 9)),
    min_size=1,
    max_size=80,
    unique_by=lambda item: (item[0], item[1]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored=stored_values, declared=declared_values, faults=st.lists(st.sampled_from(FAULTS), max_size=8))
def test_faults_never_make_the_result_lie(stored, declared, faults):
    emulator = server(stored)
    values = [{'name': name, 'date': date, 'value': value} for name, date, value in declared]
    before = held(emulator)
    result = run(emulator, values, faults)
    after = held(emulator)

    if result.get('failed'):
        assert result.get('msg'), result
    updated = set((u['name'], u['date']) for u in result['updated'])
    codes = dict(((f['name'], f['date']), f['error_code']) for f in result['failed_items'])
    for name, date, value in declared:
        key = (name, date)
        changed = not same_value(before[name].get(date), after[name].get(date)) or (
            date in after[name] and date not in before[name]
        )
        if key in updated:
            assert same_value(after[name].get(date), value), (key, result)
        if changed:
            assert key in updated or codes.get(key) == 'outcome_unknown', (key, result)
        if codes.get(key) in ('request_failed', 'not_attempted'):
            assert not changed, (key, result)
    assert result['changed'] is bool(updated)
    if result.get('raised'):
        assert after == before, 'a read failed, so nothing may have been written'

    clean = run(emulator, values)
    assert not clean.get('failed'), clean.get('msg')
    for name, date, value in declared:
        assert same_value(held(emulator)[name].get(date), value)
    assert run(emulator, values)['changed'] is False
