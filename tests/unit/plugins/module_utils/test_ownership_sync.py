# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""converge() against the emulator in process: request budget, failures, check mode.

Faults stand for what the emulator does not do by itself: lost answers, errors before or after a
write, answers of the wrong shape, a server that ignores `manual`, another run racing this one.
"""

from __future__ import annotations

import json

import pytest
import requests

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    UNKNOWN_OWNER,
    normalize_declared,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import THIS_CLIENT
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import converge
from ansible_collections.existio.exist.plugins.module_utils._remedies import TaskUser
from ansible_collections.existio.exist.tests.unit.plugins.emulated import (
    ME,
    OWNED,
    TOKEN,
    EmulatedExist,
    error_before,
    one_user_seed,
    raise_before,
    respond,
)
from exist_emulator.templates import ALL_SCOPES, TEMPLATES, WRITE_SCOPES

SERVICES = [(ME, 'Me'), ('withings', 'Withings'), ('fitbit', 'Fitbit'), ('other', 'Other'), ('exist_ios', 'Exist iOS')]
EVERY = {'include_inactive': 'true', 'include_low_priority': 'true'}
# Templates the emulator publishes, in name order: enough for three create requests.
MANY = sorted(TEMPLATES)
ACQUIRE, CREATE, RELEASE = ('/api/2/attributes/%s/' % kind for kind in ('acquire', 'create', 'release'))


def template(name, service, manual=False, available=()):
    """A template attribute of the seed; one without an owner is inactive."""
    return {
        'template': name,
        'service': service,
        'manual': manual,
        'active': service is not None,
        'available_services': list(available),
    }


def custom(name, service):
    return {
        'name': name,
        'label': name.replace('_', ' ').capitalize(),
        'group': 'media',
        'value_type': 3,
        'service': service,
        'manual': False,
        'active': service is not None,
    }


def emulated(attributes=(), scopes=('all',)):
    return EmulatedExist(one_user_seed(attributes, scopes=scopes, services=SERVICES))


def calls(exist):
    """Every request sent: ('GET', endpoint) or ('POST', endpoint, number of items)."""
    seen = []
    for method, path, query, body in exist.adapter.sent:
        endpoint = path.rstrip('/').rsplit('/', 1)[-1]
        if method == 'GET':
            # Reads that decide ownership must see low-priority and inactive attributes.
            assert dict((k, query.get(k)) for k in EVERY) == EVERY, (path, query)
            seen.append(('GET', endpoint))
        else:
            seen.append((method, endpoint, len(body)))
    return seen


def writes(exist):
    return [c for c in calls(exist) if c[0] == 'POST']


def owner(exist, name):
    return exist.attribute(name).service


def run(exist, items, state='present', **kwargs):
    warnings = []
    exist.clear_log()
    result = converge(exist.client(), normalize_declared(items, state), warn=warnings.append, **kwargs)
    return result, warnings


def world_attributes():
    return [
        template('mood', ME, manual=True),
        template('coffees', ME, available=[ME, 'fitbit']),
        template('steps', 'withings', available=['withings']),
        template('sleep', None),
        custom('reading_time', 'other'),
    ]


def world():
    return emulated(world_attributes())


def test_converged_run_reads_once_and_writes_nothing():
    exist = world()
    result, warnings = run(exist, [{'template': 'mood', 'manual': True}, {'name': 'coffees'}])
    assert calls(exist) == [('GET', 'owned')]
    assert result['changed'] is False and result['acquired'] == [] and result['released'] == []
    assert [a['name'] for a in result['owned']] == ['coffees', 'mood']
    assert 'failed' not in result and warnings == []


def test_changes_add_one_lookup_and_one_post_per_endpoint():
    exist = world()
    result, warnings = run(
        exist, [{'template': 'steps'}, {'template': 'water'}, {'name': 'sleep'}, {'name': 'coffees', 'state': 'absent'}]
    )
    # water is a template the look-up did not show: created, which never takes over.
    assert calls(exist) == [
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
    again, dummy = run(
        exist, [{'template': 'steps'}, {'template': 'water'}, {'name': 'sleep'}, {'name': 'coffees', 'state': 'absent'}]
    )
    assert calls(exist) == [('GET', 'owned')] and again['changed'] is False


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
    assert writes(checked) == []
    for key in ('changed', 'acquired', 'released', 'failed_items', 'diff'):
        assert predicted[key] == actual[key], key
    assert [a['name'] for a in predicted['owned']] == [a['name'] for a in actual['owned']]
    assert predicted.get('failed', False) == actual.get('failed', False)
    assert [w.replace('would take', 'took') for w in predicted_warnings] == actual_warnings


def test_manual_flip_reacquires_with_the_new_flag():
    exist = world()
    result, dummy = run(exist, [{'template': 'mood', 'manual': False}])
    assert writes(exist) == [('POST', 'acquire', 1)]
    assert result['changed'] is True and result['acquired'] == ['mood']
    assert result['diff']['before']['attributes']['mood'] == {'owner': THIS_CLIENT, 'manual': True}
    assert result['diff']['after']['attributes']['mood'] == {'owner': THIS_CLIENT, 'manual': False}
    assert exist.attribute('mood').manual is False


def ignore_manual(forward, request):
    """A server that acquires as asked but ignores `manual`."""
    stripped = request.copy()
    stripped.body = json.dumps(
        [dict((k, v) for k, v in item.items() if k != 'manual') for item in json.loads(request.body)]
    )
    return forward(stripped)


def test_manual_the_server_does_not_apply_warns_instead_of_changing():
    exist = world()
    exist.fault(ignore_manual, path=ACQUIRE)
    result, warnings = run(exist, [{'template': 'mood', 'manual': False}])
    assert result['changed'] is False and result['acquired'] == []
    assert warnings == ["Exist did not apply manual=False to attribute 'mood' (it stays manual=True)"]
    assert result['diff']['before'] == result['diff']['after']


def test_exclusive_releases_owned_but_undeclared_only():
    exist = world()
    result, dummy = run(exist, [{'template': 'mood'}], exclusive=True)
    assert result['released'] == ['coffees'] and result['acquired'] == []
    assert owner(exist, 'mood') == ME


def test_absent_for_what_another_service_owns_writes_nothing():
    exist = world()
    result, dummy = run(exist, [{'name': 'steps'}, {'name': 'unknown_thing'}], state='absent')
    assert calls(exist) == [('GET', 'owned')] and result['changed'] is False


def test_takeover_false_fails_the_item_and_still_acquires_the_rest():
    exist = world()
    result, warnings = run(exist, [{'template': 'steps'}, {'name': 'sleep'}], takeover=False)
    assert writes(exist) == [('POST', 'acquire', 1)]
    assert result['acquired'] == ['sleep'] and result['changed'] is True
    assert result['failed'] is True
    assert result['failed_items'][0]['error_code'] == 'owned_by_other_service'
    assert (
        "template 'steps' (owned_by_other_service: Attribute 'steps' is owned by Withings (withings)" in result['msg']
    )
    assert 'Done all the same: acquired sleep.' in result['msg']
    assert owner(exist, 'steps') == 'withings'


def test_partial_failure_202_names_each_failed_item_and_reports_what_succeeded():
    # The token may write every group but activity.
    exist = emulated(world_attributes(), scopes=sorted(ALL_SCOPES - {'activity_write'}))
    result, dummy = run(exist, [{'template': 'steps'}, {'template': 'bogus'}, {'template': 'water'}])
    assert result['failed'] is True and result['changed'] is True
    assert result['acquired'] == ['water']
    assert sorted((i.get('template'), i['error_code']) for i in result['failed_items']) == [
        ('bogus', 'not_found'),
        ('steps', 'not_allowed'),
    ]
    assert "template 'bogus' (not_found" in result['msg'] and "template 'steps' (not_allowed" in result['msg']
    assert 'acquired water' in result['msg']


def test_not_allowed_names_the_missing_write_scope_the_user_and_the_scopes_they_have():
    scopes = sorted(ALL_SCOPES - {'activity_write'})
    exist = emulated(world_attributes(), scopes=scopes)
    client = exist.client(user=TaskUser('alice', 'user', tuple(scopes)))
    result = converge(client, normalize_declared([{'template': 'steps'}], 'present'))
    error = result['failed_items'][0]['error']
    assert result['failed_items'][0]['error_code'] == 'not_allowed'
    assert "group 'activity': the token of user alice needs activity_write (it has " in error
    assert 'mood_write' in error and 'authorise the user again with that scope' in error
    assert error in result['msg'] and TOKEN not in result['msg']


def test_71_new_templates_take_three_posts_and_one_lookup():
    exist = emulated()
    items = [{'template': name} for name in MANY[:71]]
    result, dummy = run(exist, items)
    assert calls(exist)[:2] == [('GET', 'owned'), ('GET', 'attributes')]
    assert writes(exist) == [('POST', 'create', 35), ('POST', 'create', 35), ('POST', 'create', 1)]
    assert len(result['acquired']) == 71


def test_one_lookup_reads_the_whole_list_whatever_the_number_of_names():
    exist = emulated()
    # Check mode sends no write: names Exist does not publish do as well as any.
    result, dummy = run(exist, [{'template': 't%03d' % i} for i in range(150)], check_mode=True)
    assert [c for c in calls(exist) if c[1] == 'attributes'] == [('GET', 'attributes')]
    assert len(result['acquired']) == 150


def test_dropped_connection_after_applied_acquire_is_verified_by_a_fresh_read():
    exist = world()
    exist.fault('lost_after', path=CREATE)
    result, warnings = run(exist, [{'template': 'water'}, {'name': 'coffees', 'state': 'absent'}])
    assert calls(exist) == [
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
    exist = emulated([custom('old', ME)])
    items = [{'template': name} for name in MANY[:40]] + [{'name': 'old', 'state': 'absent'}]
    # The first batch goes through, the second fails before applying.
    exist.fault(error_before(500), path=CREATE, nth=2)
    result, dummy = run(exist, items)
    assert result['failed'] is True
    assert result['acquired'] == MANY[:35]
    assert result['released'] == []
    codes = dict((i.get('template') or i.get('name'), i['error_code']) for i in result['failed_items'])
    assert set(codes[n] for n in MANY[35:40]) == {'outcome_unknown'}
    assert codes['old'] == 'not_attempted'
    assert 'Exist answered 500' in result['msg'] and 'Done all the same: acquired %s' % MANY[0] in result['msg']
    assert [c for c in calls(exist) if c[1] == 'release'] == []
    assert [a['name'] for a in result['owned']] == sorted(['old'] + MANY[:35])
    assert owner(exist, 'old') == ME and exist.attribute(MANY[35]) is None


def test_definite_error_mid_run_reports_earlier_batches():
    exist = emulated()
    exist.fault(error_before(401), path=CREATE, nth=2)
    result, dummy = run(exist, [{'template': name} for name in MANY[:50]])
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
    exist = emulated([custom('lonely', ME)])
    result, dummy = run(exist, [{'name': 'lonely'}], state='absent')
    assert result['released'] == ['lonely'] and result['owned'] == []
    assert result['diff']['after']['attributes']['lonely'] == {'owner': None, 'manual': False}
    assert exist.attribute('lonely').active is False


# -- every item sent is accounted for ------------------------------------------


def test_a_failed_re_read_keeps_what_earlier_answers_showed():
    # 40 templates: the second acquire drops, and the read meant to check it answers 503.
    exist = emulated()
    exist.fault(error_before(503), method='GET', path=OWNED, nth=2, times=None)
    exist.fault(raise_before(requests.exceptions.ConnectionError('connection dropped')), path=CREATE, nth=2)
    items = [{'template': name} for name in MANY[:40]]
    result, dummy = run(exist, items)
    assert result['changed'] is True and result['failed'] is True
    assert result['acquired'] == MANY[:35]
    unknown = [i['template'] for i in result['failed_items'] if i['error_code'] == 'outcome_unknown']
    assert unknown == MANY[35:40]
    assert 'connection dropped' in result['msg'] and 'fresh read meant to check it failed too' in result['msg']
    assert [a['name'] for a in result['owned']] == MANY[:35]


def test_a_write_that_may_land_later_is_never_reported_not_applied():
    exist = world()
    exist.fault(raise_before(requests.exceptions.ReadTimeout('sent no answer within 2 s')), path=CREATE)
    result, dummy = run(exist, [{'template': 'water'}])
    (item,) = result['failed_items']
    assert item['error_code'] == 'outcome_unknown'
    assert 'not applied' not in item['error'] and 'may still apply it' in item['error']
    assert result['changed'] is False and result['acquired'] == []


def answering(answer):
    """A server whose acquire and create apply every item, then answer what `answer(success)` returns."""

    def fault(forward, request):
        success = json.loads(forward(request).content)['success']
        return respond(request, 200, dict(zip(('success', 'failed'), answer(success))))

    return fault


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
    exist = emulated([template('coffees', ME), template('steps', 'withings'), template('sleep', None)])
    exist.fault(answering(answer), path=ACQUIRE)
    result, warnings = run(exist, [{'name': 'sleep'}, {'template': 'steps'}])
    assert writes(exist) == [('POST', 'acquire', 2)] and calls(exist).count(('GET', 'owned')) == 2
    assert result['acquired'] == ['sleep', 'steps'] and result['changed'] is True
    assert 'failed' not in result
    assert any('a fresh read shows every item of that request was applied' in w for w in warnings)


def test_an_unaccounted_item_a_fresh_read_does_not_show_is_outcome_unknown():
    exist = emulated()
    exist.fault(lambda forward, request: respond(request, 200, {'success': [], 'failed': []}), path=CREATE)
    result, dummy = run(exist, [{'template': 'water'}])
    assert [i['error_code'] for i in result['failed_items']] == ['outcome_unknown']
    assert 'did not account for every item sent' in result['msg']


def test_a_release_that_lost_a_race_is_success_without_change():
    exist = world()

    def release(forward, request):
        # Another run released coffees a moment before this one.
        exist.attribute('coffees').service = None
        return forward(request)

    exist.fault(release, path=RELEASE)
    result, dummy = run(exist, [{'name': 'coffees'}], state='absent')
    assert 'failed' not in result and result['changed'] is False and result['released'] == []
    assert calls(exist)[-1] == ('GET', 'owned')


def test_an_unauthorised_release_of_what_is_still_owned_fails():
    exist = world()

    def release(forward, request):
        items = json.loads(request.body)
        return respond(request, 202, {'success': [], 'failed': [dict(items[0], error_code='unauthorised', error='no')]})

    exist.fault(release, path=RELEASE)
    result, dummy = run(exist, [{'name': 'coffees'}], state='absent')
    assert result['failed'] is True and result['failed_items'][0]['error_code'] == 'unauthorised'


# -- what the token cannot see -----------------------------------------------------


def scoped_world():
    """mood is owned by exist_ios, but the token can only read activity and food."""
    return emulated(
        [template('mood', 'exist_ios'), template('steps', 'withings'), template('coffees', ME)],
        scopes=['activity_read', 'food_read'] + sorted(WRITE_SCOPES),
    )


def test_takeover_false_never_takes_over_what_the_token_cannot_see():
    exist = scoped_world()
    result, dummy = run(exist, [{'template': 'mood'}, {'name': 'mood_note'}], takeover=False)
    assert owner(exist, 'mood') == 'exist_ios'
    codes = dict((i.get('template') or i.get('name'), i['error_code']) for i in result['failed_items'])
    assert codes == {'mood': 'owner_unknown', 'mood_note': 'owner_unknown'}
    # The template went through create, which refuses what exists; the name was refused without a request.
    assert writes(exist) == [('POST', 'create', 1)]
    assert result['changed'] is False


def test_takeover_false_creates_a_hidden_template_the_user_lacks():
    exist = scoped_world()
    result, dummy = run(exist, [{'template': 'sleep'}], takeover=False)
    assert writes(exist) == [('POST', 'create', 1)]
    assert result['acquired'] == ['sleep'] and 'failed' not in result
    assert exist.attribute('sleep').manual is False


def test_check_mode_with_takeover_false_predicts_the_creation_and_says_it_may_be_refused():
    exist = scoped_world()
    result, warnings = run(exist, [{'template': 'mood'}], takeover=False, check_mode=True)
    assert writes(exist) == [] and result['acquired'] == ['mood']
    assert warnings == [
        "attribute 'mood' not visible to this token, which may lack the read scope that would show it (mood_read): "
        "a real run creates it if the user lacks it, and otherwise refuses it (owner_unknown), since "
        "takeover is false"
    ]


def test_takeover_of_what_the_token_cannot_see_says_the_previous_owner_is_unknown():
    exist = scoped_world()
    result, warnings = run(exist, [{'template': 'mood'}])
    # create says it exists; takeover=true then acquires it.
    assert writes(exist) == [('POST', 'create', 1), ('POST', 'acquire', 1)]
    assert result['acquired'] == ['mood'] and 'failed' not in result
    assert owner(exist, 'mood') == ME
    assert result['diff']['before']['attributes']['mood'] == {'owner': UNKNOWN_OWNER, 'manual': None}
    assert warnings == [
        "attribute 'mood' existed but was not visible to this token (no mood_read scope); "
        "this client took it over from an owner it could not see (previous owner unknown)"
    ]


def test_check_mode_says_what_it_cannot_know_about_what_the_token_cannot_see():
    exist = scoped_world()
    result, warnings = run(exist, [{'template': 'mood'}], check_mode=True)
    assert writes(exist) == [] and result['acquired'] == ['mood']
    assert result['diff']['before']['attributes']['mood'] == {'owner': UNKNOWN_OWNER, 'manual': None}
    assert warnings == [
        "attribute 'mood' not visible to this token, which may lack the read scope that would show it (mood_read): "
        "a real run creates it if the user lacks it, and otherwise takes it over (previous owner "
        "unknown)"
    ]


@pytest.mark.parametrize('check_mode', [True, False])
def test_a_new_template_in_a_group_the_token_reads_gets_no_unknown_owner_warning(check_mode):
    exist = scoped_world()
    result, warnings = run(exist, [{'template': 'water'}], check_mode=check_mode)
    assert result['acquired'] == ['water'] and warnings == []
    assert 'water' not in result['diff']['before']['attributes']


def test_a_new_template_the_token_cannot_see_is_created_without_warning():
    # No read can prove the user lacks sleep, but create's success proves it was new.
    exist = scoped_world()
    result, warnings = run(exist, [{'template': 'sleep'}])
    assert writes(exist) == [('POST', 'create', 1)]
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
