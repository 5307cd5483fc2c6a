# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""converge() over an in-memory stand-in for ExistClient: request budget, failures, check mode."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.existio.exist.plugins.module_utils._client import (
    BatchResult,
    ExistApiError,
    ExistOutcomeUnknown,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import (
    TEMPLATE_GROUPS,
    THIS_CLIENT,
    UNKNOWN_OWNER,
    normalize_declared,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import converge

ME = 'my_service'
EVERY = {'include_inactive': 'true', 'include_low_priority': 'true'}


def attribute(name, service, manual=False, available=(), template=True, group=None):
    return {'name': name, 'template': name if template else None, 'manual': manual, 'active': service is not None,
            'group': {'name': group or TEMPLATE_GROUPS.get(name, 'activity')},
            'service': {'name': service, 'label': service.title()} if service else None,
            'available_services': [{'name': s, 'label': s.title()} for s in available]}


class FakeExist(object):
    """Answers like the emulator would, and records every call."""

    def __init__(self, attributes, templates=('mood', 'steps', 'sleep', 'coffees', 'water'), readable=None):
        self.attributes = dict((a['name'], a) for a in attributes)
        self.templates = set(templates)
        for i in range(200):
            self.templates.add('t%03d' % i)
        self.readable = readable      # groups the token reads; None: all
        self.calls = []
        self.refuse = {}              # name -> (error_code, error)
        self.ignore_manual = False
        self.faults = []              # [(method, exception, apply_first)] for the next writes

    def list_owned(self, params=None):
        # Reads that decide ownership must see low-priority and inactive attributes.
        assert params == EVERY
        self.calls.append(('GET', 'owned'))
        return [copy.deepcopy(a) for n, a in sorted(self.attributes.items())
                if a['service'] and a['service']['name'] == ME]

    def list_attributes(self, params=None):
        # The whole list: Exist has been seen to ignore a name filter.
        assert params == EVERY
        self.calls.append(('GET', 'attributes'))
        return [copy.deepcopy(a) for n, a in sorted(self.attributes.items())
                if self.readable is None or a['group']['name'] in self.readable]

    def create(self, items):
        self.calls.append(('POST', 'create', len(items)))
        success, failed = [], []
        for item in items:
            name = item['template']
            if name in self.attributes:
                failed.append(dict(item, error_code='exists', error="Attribute '%s' already exists" % name))
                continue
            self.attributes[name] = attribute(name, ME, manual=item['manual'])
            success.append(copy.deepcopy(self.attributes[name]))
        return BatchResult(202 if failed else 200, success, failed)

    def _fault(self, method):
        if self.faults and self.faults[0][0] == method:
            return self.faults.pop(0)[1:]
        return None, False

    def acquire(self, items):
        assert len(items) <= 35
        self.calls.append(('POST', 'acquire', len(items)))
        fault, apply_first = self._fault('acquire')
        if fault is not None and not apply_first:
            raise fault
        success, failed = [], []
        for item in items:
            name = item.get('name') or item.get('template')
            if name in self.refuse:
                code, error = self.refuse[name]
                failed.append(dict(item, error_code=code, error=error))
                continue
            if name not in self.attributes:
                if 'template' not in item or name not in self.templates:
                    failed.append(dict(item, error_code='not_found', error='Attribute matching query does not exist.'))
                    continue
                self.attributes[name] = attribute(name, None, group=TEMPLATE_GROUPS.get(name, 'activity'))
            obj = self.attributes[name]
            obj['service'] = {'name': ME, 'label': 'Me'}
            obj['active'] = True
            if 'manual' in item and not self.ignore_manual:
                obj['manual'] = item['manual']
            success.append(copy.deepcopy(obj))
        if fault is not None:
            raise fault
        return BatchResult(202 if failed else 200, success, failed)

    def release(self, items):
        self.calls.append(('POST', 'release', len(items)))
        fault, apply_first = self._fault('release')
        if fault is not None and not apply_first:
            raise fault
        success, failed = [], []
        for item in items:
            obj = self.attributes[item['name']]
            if not obj['service'] or obj['service']['name'] != ME:
                failed.append(dict(item, error_code='unauthorised',
                                   error="Attribute '%s' does not belong to this service" % item['name']))
                continue
            others = [s for s in obj['available_services'] if s['name'] != ME]
            obj['service'] = others[0] if others else None
            obj['active'] = bool(others)
            success.append({'name': item['name']} if others else {'name': item['name'], 'service': '', 'active': False})
        if fault is not None:
            raise fault
        return BatchResult(202 if failed else 200, success, failed)

    def writes(self):
        return [c for c in self.calls if c[0] == 'POST']


def run(fake, items, state='present', **kwargs):
    warnings = []
    result = converge(fake, normalize_declared(items, state), warn=warnings.append, **kwargs)
    return result, warnings


def world():
    return FakeExist([
        attribute('mood', ME, manual=True),
        attribute('coffees', ME, available=[ME, 'fitbit']),
        attribute('steps', 'withings', available=['withings']),
        attribute('sleep', None),
        attribute('reading_time', 'other', template=False),
    ])


def test_converged_run_reads_once_and_writes_nothing():
    fake = world()
    result, warnings = run(fake, [{'template': 'mood', 'manual': True}, {'name': 'coffees'}])
    assert fake.calls == [('GET', 'owned')]
    assert result['changed'] is False and result['acquired'] == [] and result['released'] == []
    assert [a['name'] for a in result['owned']] == ['coffees', 'mood']
    assert 'failed' not in result and warnings == []


def test_changes_add_one_lookup_and_one_post_per_endpoint():
    fake = world()
    result, warnings = run(fake, [{'template': 'steps'}, {'template': 'water'}, {'name': 'sleep'},
                                  {'name': 'coffees', 'state': 'absent'}])
    assert fake.calls == [('GET', 'owned'), ('GET', 'attributes'), ('POST', 'acquire', 3), ('POST', 'release', 1)]
    assert result['changed'] is True
    assert result['acquired'] == ['sleep', 'steps', 'water']
    assert result['released'] == ['coffees']
    assert warnings == ["attribute 'steps' was owned by Withings (withings); this client took it over"]
    assert [a['name'] for a in result['owned']] == ['mood', 'sleep', 'steps', 'water']
    assert result['diff']['before']['attributes']['steps'] == {'owner': 'withings', 'manual': False}
    assert result['diff']['after']['attributes']['steps'] == {'owner': THIS_CLIENT, 'manual': False}
    assert result['diff']['after']['attributes']['coffees'] == {'owner': 'fitbit', 'manual': False}
    assert 'water' not in result['diff']['before']['attributes']
    # The second run has converged.
    fake.calls = []
    again, dummy = run(fake, [{'template': 'steps'}, {'template': 'water'}, {'name': 'sleep'},
                              {'name': 'coffees', 'state': 'absent'}])
    assert fake.calls == [('GET', 'owned')] and again['changed'] is False


@pytest.mark.parametrize('items, kwargs', [
    ([{'template': 'steps'}, {'template': 'water'}, {'name': 'coffees', 'state': 'absent'}], {}),
    ([{'template': 'mood', 'manual': False}], {'exclusive': True}),
    ([{'template': 'steps'}, {'name': 'sleep'}], {'takeover': False}),
    ([{'name': 'nowhere'}, {'template': 'water'}], {}),
])
def test_check_mode_writes_nothing_and_predicts_the_real_run(items, kwargs):
    checked, real = world(), world()
    predicted, predicted_warnings = run(checked, items, check_mode=True, **kwargs)
    actual, actual_warnings = run(real, items, **kwargs)
    assert checked.writes() == []
    for key in ('changed', 'acquired', 'released', 'failed_items', 'diff'):
        assert predicted[key] == actual[key], key
    assert [a['name'] for a in predicted['owned']] == [a['name'] for a in actual['owned']]
    assert predicted.get('failed', False) == actual.get('failed', False)
    assert [w.replace('would take', 'took') for w in predicted_warnings] == actual_warnings


def test_manual_flip_reacquires_with_the_new_flag():
    fake = world()
    result, dummy = run(fake, [{'template': 'mood', 'manual': False}])
    assert fake.writes() == [('POST', 'acquire', 1)]
    assert result['changed'] is True and result['acquired'] == ['mood']
    assert result['diff']['before']['attributes']['mood'] == {'owner': THIS_CLIENT, 'manual': True}
    assert result['diff']['after']['attributes']['mood'] == {'owner': THIS_CLIENT, 'manual': False}
    assert fake.attributes['mood']['manual'] is False


def test_manual_the_server_does_not_apply_warns_instead_of_changing():
    fake = world()
    fake.ignore_manual = True
    result, warnings = run(fake, [{'template': 'mood', 'manual': False}])
    assert result['changed'] is False and result['acquired'] == []
    assert warnings == ["Exist did not apply manual=False to attribute 'mood' (it stays manual=True)"]
    assert result['diff']['before'] == result['diff']['after']


def test_exclusive_releases_owned_but_undeclared_only():
    fake = world()
    result, dummy = run(fake, [{'template': 'mood'}], exclusive=True)
    assert result['released'] == ['coffees'] and result['acquired'] == []
    assert fake.attributes['mood']['service']['name'] == ME


def test_absent_for_what_another_service_owns_writes_nothing():
    fake = world()
    result, dummy = run(fake, [{'name': 'steps'}, {'name': 'unknown_thing'}], state='absent')
    assert fake.calls == [('GET', 'owned')] and result['changed'] is False


def test_takeover_false_fails_the_item_and_still_acquires_the_rest():
    fake = world()
    result, warnings = run(fake, [{'template': 'steps'}, {'name': 'sleep'}], takeover=False)
    assert fake.writes() == [('POST', 'acquire', 1)]
    assert result['acquired'] == ['sleep'] and result['changed'] is True
    assert result['failed'] is True
    assert result['failed_items'][0]['error_code'] == 'owned_by_other_service'
    assert "template 'steps' (owned_by_other_service: Attribute 'steps' is owned by Withings (withings)" in result['msg']
    assert 'Done all the same: acquired sleep.' in result['msg']
    assert fake.attributes['steps']['service']['name'] == 'withings'


def test_partial_failure_202_names_each_failed_item_and_reports_what_succeeded():
    fake = world()
    fake.refuse['steps'] = ('not_allowed', "No permission to write to attributes in group 'activity'")
    result, dummy = run(fake, [{'template': 'steps'}, {'template': 'bogus'}, {'template': 'water'}])
    assert result['failed'] is True and result['changed'] is True
    assert result['acquired'] == ['water']
    assert sorted((i.get('template'), i['error_code']) for i in result['failed_items']) == [
        ('bogus', 'not_found'), ('steps', 'not_allowed')]
    assert "template 'bogus' (not_found" in result['msg'] and "template 'steps' (not_allowed" in result['msg']
    assert 'acquired water' in result['msg']


def test_71_acquires_take_three_posts_and_one_lookup():
    fake = FakeExist([])
    items = [{'template': 't%03d' % i} for i in range(71)]
    result, dummy = run(fake, items)
    assert fake.calls[:2] == [('GET', 'owned'), ('GET', 'attributes')]
    assert fake.writes() == [('POST', 'acquire', 35), ('POST', 'acquire', 35), ('POST', 'acquire', 1)]
    assert len(result['acquired']) == 71


def test_one_lookup_reads_the_whole_list_whatever_the_number_of_names():
    fake = FakeExist([])
    result, dummy = run(fake, [{'template': 't%03d' % i} for i in range(150)], check_mode=True)
    assert [c for c in fake.calls if c[1] == 'attributes'] == [('GET', 'attributes')]
    assert len(result['acquired']) == 150


def test_dropped_connection_after_applied_acquire_is_verified_by_a_fresh_read():
    fake = world()
    fake.faults = [('acquire', ExistOutcomeUnknown('POST /api/2/attributes/acquire/: connection failed'), True)]
    result, warnings = run(fake, [{'template': 'water'}, {'name': 'coffees', 'state': 'absent'}])
    assert fake.calls == [('GET', 'owned'), ('GET', 'attributes'), ('POST', 'acquire', 1), ('GET', 'owned'),
                          ('POST', 'release', 1)]
    assert 'failed' not in result
    assert result['acquired'] == ['water'] and result['released'] == ['coffees']
    assert any('a fresh read shows every item of that request was applied' in w for w in warnings)


def test_unknown_outcome_not_applied_fails_and_stops_without_losing_what_was_done():
    fake = FakeExist([attribute('old', ME)])
    items = [{'template': 't%03d' % i} for i in range(40)] + [{'name': 'old', 'state': 'absent'}]
    # The first batch goes through, the second fails before applying.
    original = fake.acquire
    state = {'n': 0}

    def acquire(batch):
        state['n'] += 1
        if state['n'] == 2:
            fake.calls.append(('POST', 'acquire', len(batch)))
            raise ExistOutcomeUnknown('POST /api/2/attributes/acquire/: Exist answered 500; whether it applied the write is unknown')
        return original(batch)
    fake.acquire = acquire
    result, dummy = run(fake, items)
    assert result['failed'] is True
    assert result['acquired'] == ['t%03d' % i for i in range(35)]
    assert result['released'] == []
    codes = dict((i.get('template') or i.get('name'), i['error_code']) for i in result['failed_items'])
    assert set(codes[n] for n in ('t035', 't039')) == {'outcome_unknown'}
    assert codes['old'] == 'not_attempted'
    assert 'Exist answered 500' in result['msg'] and 'Done all the same: acquired t000' in result['msg']
    assert [c for c in fake.calls if c[1] == 'release'] == []
    assert [a['name'] for a in result['owned']] == ['old'] + ['t%03d' % i for i in range(35)]


def test_definite_error_mid_run_reports_earlier_batches():
    fake = FakeExist([])
    original = fake.acquire
    state = {'n': 0}

    def acquire(batch):
        state['n'] += 1
        if state['n'] == 2:
            raise ExistApiError('POST /api/2/attributes/acquire/: Exist answered 401', status=401)
        return original(batch)
    fake.acquire = acquire
    result, dummy = run(fake, [{'template': 't%03d' % i} for i in range(50)])
    assert result['failed'] is True and result['changed'] is True
    assert len(result['acquired']) == 35
    # The refused request's items were sent and refused, not "not sent".
    refused = [i for i in result['failed_items'] if i['error_code'] == 'request_failed']
    assert len(refused) == 15 and refused[0]['error'] == 'not applied: Exist refused the request that carried it (HTTP 401)'
    assert 'answered 401' in result['msg']


def test_release_to_nobody_shows_null_owner():
    fake = FakeExist([attribute('lonely', ME)])
    result, dummy = run(fake, [{'name': 'lonely'}], state='absent')
    assert result['released'] == ['lonely'] and result['owned'] == []
    assert result['diff']['after']['attributes']['lonely'] == {'owner': None, 'manual': False}
    assert fake.attributes['lonely']['active'] is False
