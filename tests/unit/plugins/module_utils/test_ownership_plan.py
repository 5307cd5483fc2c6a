# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The planner as a pure function: no HTTP anywhere in this file."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    UNKNOWN_OWNER,
    normalize_declared,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import (
    MANUAL,
    NEW,
    NOT_VISIBLE,
    TAKEOVER,
    THIS_CLIENT,
    UNOWNED,
    names_to_look_up,
    next_owner_after_release,
    plan_ownership,
)

ME = {'name': 'my_service', 'label': 'My Service'}
WITHINGS = {'name': 'withings', 'label': 'Withings'}
FITBIT = {'name': 'fitbit', 'label': 'Fitbit'}


def attr(name, service='me', manual=False, available=(), template=None, group='activity'):
    if service == 'me':
        service = ME
    return {
        'name': name,
        'template': template,
        'service': service,
        'manual': manual,
        'active': service is not None,
        'group': {'name': group},
        'available_services': list(available),
    }


# A visible attribute that proves the token reads the food group (coffees, water).
FOOD_READER = {'apples': attr('apples', service=None, group='food')}


def declare(*items, **kwargs):
    return normalize_declared(list(items), kwargs.get('state', 'present'))


# -- planning ----------------------------------------------------------------


def test_converged_declaration_plans_nothing():
    owned = {'mood': attr('mood', manual=True), 'steps': attr('steps')}
    declared = declare({'template': 'mood', 'manual': True}, {'name': 'steps'})
    assert names_to_look_up(owned, declared) == []
    plan = plan_ownership(owned, declared)
    assert plan.acquire == [] and plan.release == [] and plan.refused == []
    diff = plan.diff(plan.acquire, plan.release)
    assert diff['before'] == diff['after']


def test_only_unowned_present_items_are_looked_up():
    owned = {'mood': attr('mood')}
    declared = declare(
        {'template': 'mood'}, {'template': 'steps'}, {'name': 'zz'}, {'name': 'sleep', 'state': 'absent'}
    )
    assert names_to_look_up(owned, declared) == ['steps', 'zz']


def test_reasons_for_acquiring():
    owned = {'mood': attr('mood', manual=False)}
    visible = dict(FOOD_READER, steps=attr('steps', service=WITHINGS, manual=True), sleep=attr('sleep', service=None))
    declared = declare(
        {'template': 'mood', 'manual': True},
        {'template': 'steps'},
        {'name': 'sleep'},
        {'template': 'coffees'},
        {'name': 'nowhere'},
    )
    plan = plan_ownership(owned, declared, visible)
    reasons = dict((a.name, a.reason) for a in plan.acquire + plan.create)
    assert reasons == {'mood': MANUAL, 'steps': TAKEOVER, 'sleep': UNOWNED, 'coffees': NEW, 'nowhere': NOT_VISIBLE}
    # An omitted manual keeps the attribute's own flag; a new attribute starts as not manual.
    manuals = dict((a.name, a.manual) for a in plan.acquire + plan.create)
    assert manuals == {'mood': True, 'steps': True, 'sleep': False, 'coffees': False, 'nowhere': False}
    assert [a.request_item() for a in plan.acquire] == [
        {'template': 'mood', 'manual': True},
        {'template': 'steps'},
        {'name': 'sleep'},
        {'name': 'nowhere'},
    ]
    # A template the look-up did not show is created: create refuses what exists, where acquire would take it
    # over. create's manual defaults to true, so the flag is always sent.
    assert [c.request_item() for c in plan.create] == [{'template': 'coffees', 'manual': False}]
    assert [c.proven for c in plan.create] == [True]


def test_a_template_the_token_cannot_see_is_created_and_not_proven_new():
    plan = plan_ownership({}, declare({'template': 'coffees'}), {'mood': attr('mood', service=None, group='mood')})
    assert [(c.name, c.proven) for c in plan.create] == [('coffees', False)]
    assert plan.unproven == {'coffees'}
    assert plan.diff(plan.predicted_acquires, [], plan.unproven)['before']['attributes'] == {
        'coffees': {'owner': UNKNOWN_OWNER, 'manual': None}
    }


def test_manual_attributes_prove_no_read_scope():
    # A manual attribute may be visible through manual_read alone.
    plan = plan_ownership({}, declare({'template': 'coffees'}), {'apples': attr('apples', manual=True, group='food')})
    assert plan.unproven == {'coffees'}


@pytest.mark.parametrize('takeover', [True, False])
def test_a_name_the_token_cannot_see(takeover):
    plan = plan_ownership({}, declare({'name': 'reading_time'}), {}, takeover=takeover)
    if takeover:
        assert [(a.name, a.reason) for a in plan.acquire] == [('reading_time', NOT_VISIBLE)] and plan.refused == []
    else:
        assert plan.acquire == [] and [r['error_code'] for r in plan.refused] == ['owner_unknown']
        assert 'not visible to this token' in plan.refused[0]['error']


def test_check_mode_predicts_not_found_for_invisible_names_only():
    plan = plan_ownership({}, declare({'name': 'nowhere'}, {'template': 'coffees'}), FOOD_READER)
    assert [a.name for a in plan.predicted_acquires] == ['coffees']
    assert plan.predicted_failures == [
        {'name': 'nowhere', 'error_code': 'not_found', 'error': 'Attribute matching query does not exist.'}
    ]


def test_takeover_false_refuses_attributes_other_services_own():
    visible = {'steps': attr('steps', service=WITHINGS), 'sleep': attr('sleep', service=None)}
    plan = plan_ownership({}, declare({'template': 'steps'}, {'name': 'sleep'}), visible, takeover=False)
    assert [a.name for a in plan.acquire] == ['sleep']
    assert plan.refused == [
        {
            'template': 'steps',
            'error_code': 'owned_by_other_service',
            'error': "Attribute 'steps' is owned by Withings (withings); not taken over because takeover is false",
        }
    ]


def test_takeover_shows_previous_owner_in_diff_and_warning():
    visible = {'steps': attr('steps', service=WITHINGS)}
    plan = plan_ownership({}, declare({'template': 'steps'}), visible)
    diff = plan.diff(plan.acquire, plan.release)
    assert diff['before']['attributes'] == {'steps': {'owner': 'withings', 'manual': False}}
    assert diff['after']['attributes'] == {'steps': {'owner': THIS_CLIENT, 'manual': False}}
    assert plan.predicted_warnings(plan.acquire) == [
        "attribute 'steps' was owned by Withings (withings); this client would take it over"
    ]
    assert plan.takeover_warnings(plan.acquire, ()) == [
        "attribute 'steps' was owned by Withings (withings); this client took it over"
    ]


def test_absent_releases_only_what_this_client_owns():
    owned = {'mood': attr('mood')}
    declared = declare({'name': 'mood'}, {'name': 'steps'}, {'template': 'nothing'}, state='absent')
    plan = plan_ownership(owned, declared, {})
    assert [r.name for r in plan.release] == ['mood']
    assert plan.acquire == []
    assert names_to_look_up(owned, declared) == []


def test_exclusive_releases_exactly_the_owned_but_undeclared():
    owned = dict((n, attr(n)) for n in ('mood', 'steps', 'sleep', 'coffees'))
    declared = declare({'template': 'mood'}, {'name': 'sleep', 'state': 'absent'}, {'template': 'water'})
    plan = plan_ownership(owned, declared, {}, exclusive=True)
    assert sorted(r.name for r in plan.release) == ['coffees', 'sleep', 'steps']
    assert [a.name for a in plan.create] == ['water']
    assert [r.ref() for r in plan.release if r.declared is None] == [{'name': 'coffees'}, {'name': 'steps'}]


def test_not_exclusive_leaves_undeclared_owned_alone():
    owned = {'mood': attr('mood'), 'steps': attr('steps')}
    plan = plan_ownership(owned, declare({'template': 'mood'}), {})
    assert plan.release == []


def test_release_predicts_next_owner_from_available_services():
    owned = {'steps': attr('steps', available=[ME, FITBIT, WITHINGS]), 'mood': attr('mood', available=[ME])}
    plan = plan_ownership(owned, declare({'name': 'steps'}, {'name': 'mood'}, state='absent'))
    diff = plan.diff([], plan.release)
    assert diff['after']['attributes'] == {
        'steps': {'owner': 'fitbit', 'manual': False},
        'mood': {'owner': None, 'manual': False},
    }
    assert diff['before']['attributes']['steps'] == {'owner': THIS_CLIENT, 'manual': False}


def test_next_owner_ignores_this_service_and_accepts_plain_names():
    assert next_owner_after_release(attr('x', available=['my_service', 'fitbit'])) == 'fitbit'
    assert next_owner_after_release(attr('x', available=[])) is None


def test_predicted_object_for_a_new_template():
    plan = plan_ownership({}, declare({'template': 'coffees', 'manual': True}), FOOD_READER)
    obj = plan.create[0].predicted_object(plan.service)
    assert obj['name'] == 'coffees' and obj['template'] == 'coffees' and obj['manual'] is True and obj['active'] is True
    # Nothing is owned yet, so this client's service is a marked placeholder.
    assert obj['service'] == {'name': THIS_CLIENT, 'label': THIS_CLIENT}


# -- custom attributes, declared by label ---------------------------------------


def custom_attr(name, label, group, value_type, service='me'):
    obj = attr(name, service=service, group=group)
    obj.update(label=label, value_type=value_type)
    return obj


def test_a_label_declared_absent_needs_no_group_or_value_type():
    declared = declare({'label': 'Meditation streak', 'state': 'absent'})
    owned = {'meditation_streak': custom_attr('meditation_streak', 'Meditation streak', 'health', 0)}
    plan = plan_ownership(owned, declared)
    assert [r.name for r in plan.release] == ['meditation_streak']


def test_a_custom_attribute_the_user_lacks_is_created_with_its_label_group_and_type():
    plan = plan_ownership({}, declare({'label': 'Meditation streak', 'group': 'health', 'value_type': 'duration'}))
    assert [c.request_item() for c in plan.create] == [
        {'label': 'Meditation streak', 'group': 'health', 'value_type': 3, 'manual': False}
    ]
    assert plan.create[0].create_key == ('label', 'Meditation streak')
    predicted = plan.create[0].predicted_object(ME)
    assert (predicted['name'], predicted['label'], predicted['value_type']) == (
        'meditation_streak',
        'Meditation streak',
        3,
    )


def test_a_custom_attribute_that_exists_is_acquired_and_one_owned_alike_is_left_alone():
    declared = declare({'label': 'Meditation streak', 'group': 'health', 'value_type': 0})
    visible = {'meditation_streak': custom_attr('meditation_streak', 'Meditation streak', 'health', 0, service=None)}
    plan = plan_ownership({}, declared, visible)
    assert [(a.name, a.reason, a.request_item()) for a in plan.acquire] == [
        ('meditation_streak', UNOWNED, {'name': 'meditation_streak'})
    ]
    assert plan.create == []
    converged = plan_ownership(
        visible and {'meditation_streak': dict(visible['meditation_streak'], service=ME)}, declared
    )
    assert converged.acquire == converged.create == converged.refused == []


@pytest.mark.parametrize('where', ['owned', 'visible'])
def test_an_existing_attribute_of_another_group_or_type_is_a_failed_item_naming_both(where):
    existing = {'meditation_streak': custom_attr('meditation_streak', 'Meditation streak', 'mood', 8)}
    declared = declare({'label': 'Meditation streak', 'group': 'health', 'value_type': 'integer'})
    plan = plan_ownership(existing if where == 'owned' else {}, declared, existing if where == 'visible' else {})
    assert plan.acquire == plan.create == []
    assert len(plan.refused) == 1
    refused = plan.refused[0]
    assert (refused['label'], refused['name'], refused['error_code']) == (
        'Meditation streak',
        'meditation_streak',
        'group_or_type_differs',
    )
    assert 'group mood and value type scale (8)' in refused['error']
    assert 'group health and value type integer (0)' in refused['error']


def test_a_custom_attribute_is_found_by_its_label_when_exist_named_it_otherwise():
    plan = plan_ownership({}, declare({'label': 'Meditation streak', 'group': 'health', 'value_type': 0}))
    renamed = custom_attr('meditation_streak_2', 'Meditation streak', 'health', 0)
    assert plan.create[0].find_in({'meditation_streak_2': renamed}) is renamed
    assert plan.create[0].named('meditation_streak_2').name == 'meditation_streak_2'
