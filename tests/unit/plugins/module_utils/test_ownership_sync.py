# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""converge() over an in-memory stand-in for ExistClient: request budget, failures, check mode."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.existio.exist.plugins.module_utils._client import BatchResult
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError, ExistOutcomeUnknown
from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    UNKNOWN_OWNER,
    normalize_declared,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import TEMPLATE_GROUPS, THIS_CLIENT
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import converge

ME = 'my_service'
EVERY = {'include_inactive': 'true', 'include_low_priority': 'true'}


def attribute(name, service, manual=False, available=(), template=True, group=None):
    return {
        'name': name,
        'template': name if template else None,
        'manual': manual,
        'active': service is not None,
        'group': {'name': group or TEMPLATE_GROUPS.get(name, 'activity')},
        'service': {'name': service, 'label': service.title()} if service else None,
        'available_services': [{'name': s, 'label': s.title()} for s in available],
    }


class FakeExist:
    """Answers like the emulator would, and records every call."""

    def __init__(self, attributes, templates=('mood', 'steps', 'sleep', 'coffees', 'water'), readable=None):
        self.attributes = dict((a['name'], a) for a in attributes)
        self.templates = set(templates)
        for i in range(200):
            self.templates.add('t%03d' % i)
        self.readable = readable  # groups the token reads; None: all
        self.calls = []
        self.refuse = {}  # name -> (error_code, error)
        self.ignore_manual = False
        self.faults = []  # [(method, exception, apply_first)] for the next writes

    def list_owned(self, params=None):
        # Reads that decide ownership must see low-priority and inactive attributes.
        assert params == EVERY
        self.calls.append(('GET', 'owned'))
        return [
            copy.deepcopy(a) for n, a in sorted(self.attributes.items()) if a['service'] and a['service']['name'] == ME
        ]

    def list_attributes(self, params=None):
        # The whole list: Exist has been seen to ignore a name filter.
        assert params == EVERY
        self.calls.append(('GET', 'attributes'))
        return [
            copy.deepcopy(a)
            for n, a in sorted(self.attributes.items())
            if self.readable is None or a['group']['name'] in self.readable
        ]

    def _fault(self, method):
        if self.faults and self.faults[0][0] == method:
            return self.faults.pop(0)[1:]
        return None, False

    def acquire(self, items):
        return self._take('acquire', items)

    def create(self, items):
        return self._take('create', items)

    def _take(self, method, items):
        """acquire (takes over whatever exists, creates a template) or create (refuses what exists)."""
        assert len(items) <= 35
        self.calls.append(('POST', method, len(items)))
        fault, apply_first = self._fault(method)
        if fault is not None and not apply_first:
            raise fault
        success, failed = [], []
        for item in items:
            name = item.get('name') or item.get('template')
            if name in self.refuse:
                code, error = self.refuse[name]
                failed.append(dict(item, error_code=code, error=error))
                continue
            if method == 'create' and name in self.attributes:
                failed.append(dict(item, error_code='exists', error="Attribute '%s' already exists" % name))
                continue
            if name not in self.attributes:
                if 'template' not in item or name not in self.templates:
                    failed.append(dict(item, error_code='not_found', error='Attribute matching query does not exist.'))
                    continue
                self.attributes[name] = attribute(name, None, manual=True)
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
                failed.append(
                    dict(
                        item,
                        error_code='unauthorised',
                        error="Attribute '%s' does not belong to this service" % item['name'],
                    )
                )
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
    return FakeExist(
        [
            attribute('mood', ME, manual=True),
            attribute('coffees', ME, available=[ME, 'fitbit']),
            attribute('steps', 'withings', available=['withings']),
            attribute('sleep', None),
            attribute('reading_time', 'other', template=False),
        ]
    )


def test_converged_run_reads_once_and_writes_nothing():
    fake = world()
    result, warnings = run(fake, [{'template': 'mood', 'manual': True}, {'name': 'coffees'}])
    assert fake.calls == [('GET', 'owned')]
    assert result['changed'] is False and result['acquired'] == [] and result['released'] == []
    assert [a['name'] for a in result['owned']] == ['coffees', 'mood']
    assert 'failed' not in result and warnings == []


def test_changes_add_one_lookup_and_one_post_per_endpoint():
    fake = world()
    result, warnings = run(
        fake, [{'template': 'steps'}, {'template': 'water'}, {'name': 'sleep'}, {'name': 'coffees', 'state': 'absent'}]
    )
    # water is a template the look-up did not show: created, which never takes over.
    assert fake.calls == [
        ('GET', 'owned'),
        ('GET', 'attributes'),
        ('POST', 'acquire', 2),
        ('POST', 'create', 1),
        ('POST', 'release', 1),
    ]
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
    again, dummy = run(
        fake, [{'template': 'steps'}, {'template': 'water'}, {'name': 'sleep'}, {'name': 'coffees', 'state': 'absent'}]
    )
    assert fake.calls == [('GET', 'owned')] and again['changed'] is False


@pytest.mark.parametrize(
    'items, kwargs',
    [
        ([{'template': 'steps'}, {'template': 'water'}, {'name': 'coffees', 'state': 'absent'}], {}),
        ([{'template': 'mood', 'manual': False}], {'exclusive': True}),
        ([{'template': 'steps'}, {'name': 'sleep'}], {'takeover': False}),
        ([{'name': 'nowhere'}, {'template': 'water'}], {}),
    ],
)
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
    assert (
        "template 'steps' (owned_by_other_service: Attribute 'steps' is owned by Withings (withings)" in result['msg']
    )
    assert 'Done all the same: acquired sleep.' in result['msg']
    assert fake.attributes['steps']['service']['name'] == 'withings'


def test_partial_failure_202_names_each_failed_item_and_reports_what_succeeded():
    fake = world()
    fake.refuse['steps'] = ('not_allowed', "No permission to write to attributes in group 'activity'")
    result, dummy = run(fake, [{'template': 'steps'}, {'template': 'bogus'}, {'template': 'water'}])
    assert result['failed'] is True and result['changed'] is True
    assert result['acquired'] == ['water']
    assert sorted((i.get('template'), i['error_code']) for i in result['failed_items']) == [
        ('bogus', 'not_found'),
        ('steps', 'not_allowed'),
    ]
    assert "template 'bogus' (not_found" in result['msg'] and "template 'steps' (not_allowed" in result['msg']
    assert 'acquired water' in result['msg']


def test_71_new_templates_take_three_posts_and_one_lookup():
    fake = FakeExist([])
    items = [{'template': 't%03d' % i} for i in range(71)]
    result, dummy = run(fake, items)
    assert fake.calls[:2] == [('GET', 'owned'), ('GET', 'attributes')]
    assert fake.writes() == [('POST', 'create', 35), ('POST', 'create', 35), ('POST', 'create', 1)]
    assert len(result['acquired']) == 71


def test_one_lookup_reads_the_whole_list_whatever_the_number_of_names():
    fake = FakeExist([])
    result, dummy = run(fake, [{'template': 't%03d' % i} for i in range(150)], check_mode=True)
    assert [c for c in fake.calls if c[1] == 'attributes'] == [('GET', 'attributes')]
    assert len(result['acquired']) == 150


def test_dropped_connection_after_applied_acquire_is_verified_by_a_fresh_read():
    fake = world()
    fake.faults = [('create', ExistOutcomeUnknown('POST /api/2/attributes/create/: connection failed'), True)]
    result, warnings = run(fake, [{'template': 'water'}, {'name': 'coffees', 'state': 'absent'}])
    assert fake.calls == [
        ('GET', 'owned'),
        ('GET', 'attributes'),
        ('POST', 'create', 1),
        ('GET', 'owned'),
        ('POST', 'release', 1),
    ]
    assert 'failed' not in result
    assert result['acquired'] == ['water'] and result['released'] == ['coffees']
    assert any('a fresh read shows every item of that request was applied' in w for w in warnings)


def test_unknown_outcome_not_applied_fails_and_stops_without_losing_what_was_done():
    fake = FakeExist([attribute('old', ME)])
    items = [{'template': 't%03d' % i} for i in range(40)] + [{'name': 'old', 'state': 'absent'}]
    # The first batch goes through, the second fails before applying.
    fail_nth(
        fake,
        'create',
        2,
        ExistOutcomeUnknown(
            'POST /api/2/attributes/create/: Exist answered 500; whether it applied the write is unknown'
        ),
    )
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
    fail_nth(fake, 'create', 2, ExistApiError('POST /api/2/attributes/create/: Exist answered 401', status=401))
    result, dummy = run(fake, [{'template': 't%03d' % i} for i in range(50)])
    assert result['failed'] is True and result['changed'] is True
    assert len(result['acquired']) == 35
    # The refused request's items were sent and refused, not "not sent".
    refused = [i for i in result['failed_items'] if i['error_code'] == 'request_failed']
    assert (
        len(refused) == 15
        and refused[0]['error'] == 'not applied: Exist refused the request that carried it (HTTP 401)'
    )
    assert 'answered 401' in result['msg']


def test_release_to_nobody_shows_null_owner():
    fake = FakeExist([attribute('lonely', ME)])
    result, dummy = run(fake, [{'name': 'lonely'}], state='absent')
    assert result['released'] == ['lonely'] and result['owned'] == []
    assert result['diff']['after']['attributes']['lonely'] == {'owner': None, 'manual': False}
    assert fake.attributes['lonely']['active'] is False


# -- every item sent is accounted for ------------------------------------------


class FailingReads(FakeExist):
    """A fake whose owned-list reads fail after the first `good_reads`."""

    def __init__(self, attributes, good_reads=1, **kwargs):
        super().__init__(attributes, **kwargs)
        self.good_reads = good_reads

    def list_owned(self, params=None):
        if self.good_reads <= 0:
            self.calls.append(('GET', 'owned', 503))
            raise ExistApiError('GET /api/2/attributes/owned/: Exist answered 503 after 3 retries', status=503)
        self.good_reads -= 1
        return super().list_owned(params)


def fail_nth(fake, method, n, exception, apply_first=False):
    """Make the n-th call of fake.<method> raise `exception` (after applying, if apply_first)."""
    original = getattr(fake, method)
    count = {'n': 0}

    def wrapper(batch):
        count['n'] += 1
        if count['n'] != n:
            return original(batch)
        if apply_first:
            original(batch)
        else:
            fake.calls.append(('POST', method, len(batch)))
        raise exception

    setattr(fake, method, wrapper)


def test_a_failed_re_read_keeps_what_earlier_answers_showed():
    # 40 templates: the second acquire drops, and the read meant to check it answers 503.
    fake = FailingReads([], good_reads=1, readable=None)
    fail_nth(fake, 'create', 2, ExistOutcomeUnknown('POST /api/2/attributes/create/: connection dropped'))
    items = [{'template': 't%03d' % i} for i in range(40)]
    result, dummy = run(fake, items)
    assert result['changed'] is True and result['failed'] is True
    assert result['acquired'] == ['t%03d' % i for i in range(35)]
    unknown = [i['template'] for i in result['failed_items'] if i['error_code'] == 'outcome_unknown']
    assert unknown == ['t%03d' % i for i in range(35, 40)]
    assert 'connection dropped' in result['msg'] and 'fresh read meant to check it failed too' in result['msg']
    assert [a['name'] for a in result['owned']] == ['t%03d' % i for i in range(35)]


def test_a_write_that_may_land_later_is_never_reported_not_applied():
    fake = world()
    fail_nth(fake, 'create', 1, ExistOutcomeUnknown('POST /api/2/attributes/create/: sent no answer within 2 s'))
    result, dummy = run(fake, [{'template': 'water'}])
    (item,) = result['failed_items']
    assert item['error_code'] == 'outcome_unknown'
    assert 'not applied' not in item['error'] and 'may still apply it' in item['error']
    assert result['changed'] is False and result['acquired'] == []


class Answering(FakeExist):
    """A fake whose acquire and create apply every item, then answer what `answer(success)` returns."""

    def __init__(self, attributes, answer, **kwargs):
        super().__init__(attributes, **kwargs)
        self.answer = answer

    def _take(self, method, items):
        result = super()._take(method, items)
        return BatchResult(200, *self.answer(result.success))


@pytest.mark.parametrize(
    'answer',
    [
        lambda success: ([], []),  # 200 {"success": [], "failed": []}
        lambda success: (success[:1], []),  # lists only some of the items
        lambda success: ([dict(s, manual='yes') for s in success], []),  # malformed success entries
        lambda success: ([{'label': 'no name'}], []),  # entries naming nothing
        lambda success: (success, [dict(s, error_code='x') for s in success]),  # both a success and a failure
    ],
)
def test_an_answer_that_does_not_account_for_every_item_is_decided_by_a_fresh_read(answer):
    fake = Answering([attribute('coffees', ME), attribute('steps', 'withings'), attribute('sleep', None)], answer)
    result, warnings = run(fake, [{'name': 'sleep'}, {'template': 'steps'}])
    assert fake.writes() == [('POST', 'acquire', 2)] and fake.calls.count(('GET', 'owned')) == 2
    assert result['acquired'] == ['sleep', 'steps'] and result['changed'] is True
    assert 'failed' not in result
    assert any('a fresh read shows every item of that request was applied' in w for w in warnings)


def test_an_unaccounted_item_a_fresh_read_does_not_show_is_outcome_unknown():
    class Ignoring(FakeExist):
        def _take(self, method, items):
            self.calls.append(('POST', method, len(items)))
            return BatchResult(200, [], [])

    fake = Ignoring([])
    result, dummy = run(fake, [{'template': 'water'}])
    assert [i['error_code'] for i in result['failed_items']] == ['outcome_unknown']
    assert 'did not account for every item sent' in result['msg']


def test_a_release_that_lost_a_race_is_success_without_change():
    fake = world()
    original = fake.release

    def release(items):
        # Another run released coffees a moment before this one.
        fake.attributes['coffees']['service'] = None
        return original(items)

    fake.release = release
    result, dummy = run(fake, [{'name': 'coffees'}], state='absent')
    assert 'failed' not in result and result['changed'] is False and result['released'] == []
    assert fake.calls[-1] == ('GET', 'owned')


def test_an_unauthorised_release_of_what_is_still_owned_fails():
    fake = world()

    def release(items):
        fake.calls.append(('POST', 'release', len(items)))
        return BatchResult(202, [], [dict(items[0], error_code='unauthorised', error='no')])

    fake.release = release
    result, dummy = run(fake, [{'name': 'coffees'}], state='absent')
    assert result['failed'] is True and result['failed_items'][0]['error_code'] == 'unauthorised'


# -- what the token cannot see -----------------------------------------------------


def scoped_world():
    """mood is owned by exist_ios, but the token can only read activity and food."""
    return FakeExist(
        [attribute('mood', 'exist_ios', group='mood'), attribute('steps', 'withings'), attribute('coffees', ME)],
        readable={'activity', 'food'},
    )


def test_takeover_false_never_takes_over_what_the_token_cannot_see():
    fake = scoped_world()
    result, dummy = run(fake, [{'template': 'mood'}, {'name': 'mood_note'}], takeover=False)
    assert fake.attributes['mood']['service']['name'] == 'exist_ios'
    codes = dict((i.get('template') or i.get('name'), i['error_code']) for i in result['failed_items'])
    assert codes == {'mood': 'owner_unknown', 'mood_note': 'owner_unknown'}
    # The template went through create, which refuses what exists; the name was refused without a request.
    assert fake.writes() == [('POST', 'create', 1)]
    assert result['changed'] is False


def test_takeover_false_creates_a_hidden_template_the_user_lacks():
    fake = scoped_world()
    result, dummy = run(fake, [{'template': 'sleep'}], takeover=False)
    assert fake.writes() == [('POST', 'create', 1)]
    assert result['acquired'] == ['sleep'] and 'failed' not in result
    assert fake.attributes['sleep']['manual'] is False


def test_check_mode_with_takeover_false_predicts_the_creation_and_says_it_may_be_refused():
    fake = scoped_world()
    result, warnings = run(fake, [{'template': 'mood'}], takeover=False, check_mode=True)
    assert fake.writes() == [] and result['acquired'] == ['mood']
    assert warnings == [
        "attribute 'mood' not visible to this token, which may lack the read scope that would show it: "
        "a real run creates it if the user lacks it, and otherwise refuses it (owner_unknown), since "
        "takeover is false"
    ]


def test_takeover_of_what_the_token_cannot_see_says_the_previous_owner_is_unknown():
    fake = scoped_world()
    result, warnings = run(fake, [{'template': 'mood'}])
    # create says it exists; takeover=true then acquires it.
    assert fake.writes() == [('POST', 'create', 1), ('POST', 'acquire', 1)]
    assert result['acquired'] == ['mood'] and 'failed' not in result
    assert fake.attributes['mood']['service']['name'] == ME
    assert result['diff']['before']['attributes']['mood'] == {'owner': UNKNOWN_OWNER, 'manual': None}
    assert warnings == [
        "attribute 'mood' existed but was not visible to this token (no read scope for its group); "
        "this client took it over from an owner it could not see (previous owner unknown)"
    ]


def test_check_mode_says_what_it_cannot_know_about_what_the_token_cannot_see():
    fake = scoped_world()
    result, warnings = run(fake, [{'template': 'mood'}], check_mode=True)
    assert fake.writes() == [] and result['acquired'] == ['mood']
    assert result['diff']['before']['attributes']['mood'] == {'owner': UNKNOWN_OWNER, 'manual': None}
    assert warnings == [
        "attribute 'mood' not visible to this token, which may lack the read scope that would show it: "
        "a real run creates it if the user lacks it, and otherwise takes it over (previous owner "
        "unknown)"
    ]


@pytest.mark.parametrize('check_mode', [True, False])
def test_a_new_template_in_a_group_the_token_reads_gets_no_unknown_owner_warning(check_mode):
    fake = scoped_world()
    result, warnings = run(fake, [{'template': 'water'}], check_mode=check_mode)
    assert result['acquired'] == ['water'] and warnings == []
    assert 'water' not in result['diff']['before']['attributes']


def test_a_new_template_the_token_cannot_see_is_created_without_warning():
    # No read can prove the user lacks sleep, but create's success proves it was new.
    fake = scoped_world()
    result, warnings = run(fake, [{'template': 'sleep'}])
    assert fake.writes() == [('POST', 'create', 1)]
    assert result['acquired'] == ['sleep'] and warnings == []
    assert 'sleep' not in result['diff']['before']['attributes']


def test_check_mode_predicts_owned_objects_with_this_client_as_service():
    checked, real = world(), world()
    predicted, dummy = run(checked, [{'template': 'steps'}], check_mode=True)
    actual, dummy = run(real, [{'template': 'steps'}])

    def view(result):
        return [(a['name'], a['service']['name'], bool(a['manual']), a['active']) for a in result['owned']]

    assert view(predicted) == view(actual)
    assert [a['service']['name'] for a in predicted['owned']] == [ME, ME, ME]
