# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Custom attributes through converge(), against the emulator's own request handling, in process."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import normalize_declared
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import converge
from ansible_collections.existio.exist.tests.unit.plugins.emulated import EmulatedExist, one_user_seed

TOKEN = 'custom-token'


def emulated(attributes=(), scopes=('all',)):
    return EmulatedExist(
        one_user_seed(attributes, scopes=scopes, services=[('me', 'Me'), ('other', 'Other')], token=TOKEN)
    )


def converge_on(exist, items, check_mode=False, **options):
    """converge() with a fresh client and log: (result, warnings)."""
    warnings = []
    exist.clear_log()
    result = converge(
        exist.client(TOKEN), normalize_declared(items), check_mode=check_mode, warn=warnings.append, **options
    )
    return result, warnings


STREAK = {'label': 'Meditation streak', 'group': 'health', 'value_type': 'integer'}


def test_a_missing_custom_attribute_is_created_owned_and_named_from_the_answer():
    exist = emulated()
    predicted, warnings = converge_on(exist, [STREAK], check_mode=True)
    assert predicted['created'] == predicted['acquired'] == ['meditation_streak']
    assert any("'meditation_streak' is a prediction" in w for w in warnings)
    result, unused_warnings = converge_on(exist, [STREAK])
    assert result['created'] == result['acquired'] == ['meditation_streak']
    created = exist.attribute('meditation_streak')
    assert (created.label, created.group, created.value_type, created.service) == (
        'Meditation streak',
        'health',
        0,
        'me',
    )
    assert exist.log == [
        ('GET', '/api/2/attributes/owned/'),
        ('GET', '/api/2/attributes/'),
        ('POST', '/api/2/attributes/create/'),
    ]
    again, unused_warnings = converge_on(exist, [STREAK])
    assert again['changed'] is False and again['created'] == []
    assert exist.log == [('GET', '/api/2/attributes/owned/')]


def test_thirty_six_creations_take_two_posts():
    exist = emulated()
    items = [{'label': 'Habit %02d' % n, 'group': 'custom', 'value_type': 7} for n in range(36)]
    result, unused_warnings = converge_on(exist, items)
    assert len(result['created']) == 36
    assert exist.log.count(('POST', '/api/2/attributes/create/')) == 2
    assert len(exist.log) == 4


def test_an_existing_custom_attribute_is_acquired_not_created():
    existing = {
        'name': 'meditation_streak',
        'label': 'Meditation streak',
        'group': 'health',
        'value_type': 0,
        'service': 'other',
        'available_services': ['other'],
    }
    exist = emulated([existing])
    result, warnings = converge_on(exist, [STREAK])
    assert result['acquired'] == ['meditation_streak'] and result['created'] == []
    assert any('Other' in w and 'took it over' in w for w in warnings)
    assert ('POST', '/api/2/attributes/acquire/') in exist.log


def test_an_existing_attribute_of_another_type_fails_and_nothing_is_written():
    existing = {
        'name': 'meditation_streak',
        'label': 'Meditation streak',
        'group': 'health',
        'value_type': 3,
        'service': 'other',
    }
    exist = emulated([existing])
    result, unused_warnings = converge_on(exist, [STREAK])
    assert result['failed'] is True
    assert result['failed_items'][0]['error_code'] == 'group_or_type_differs'
    assert "name 'meditation_streak' (group_or_type_differs" in result['msg']
    assert all(method == 'GET' for method, path in exist.log)
    assert exist.attribute('meditation_streak').service == 'other'


@pytest.mark.parametrize('label', ['Meditation streak', 'Meditation streak goal'])
def test_a_custom_attribute_the_token_cannot_see_is_never_taken_over_by_its_name(label):
    # Create says the name Exist would give it is taken, by an attribute the write-only token cannot read:
    # whether that one has the label is unknown (fuzz_values case 227432867382052: it was taken over, and
    # the label ended on an attribute labelled otherwise). Same answer whichever label it really has.
    existing = {'name': 'meditation_streak', 'label': label, 'group': 'health', 'value_type': 0, 'service': 'other'}
    exist = emulated([existing], scopes=('health_write',))
    result, warnings = converge_on(exist, [STREAK])
    assert result['acquired'] == [] and result['created'] == [] and result['labels'] == []
    [failed] = result['failed_items']
    assert failed['label'] == 'Meditation streak' and failed['error_code'] == 'exists'
    assert 'no health_read scope' in failed['error'] and 'not taken over' in failed['error']
    assert exist.log[-1] == ('POST', '/api/2/attributes/create/')
    assert exist.attribute('meditation_streak').service == 'other'


# -- labels: an attribute is found by its label, whatever Exist named it -----------------------------------------

DEEP_WORK = {'label': 'Deep work', 'group': 'productivity', 'value_type': 'integer'}


def deep_work(name='deep_work_2', service='me', label='Deep work', group='productivity', value_type=0):
    return {'name': name, 'label': label, 'group': group, 'value_type': value_type, 'service': service}


def labelled(exist, label):
    return sorted(name for name, attribute in exist.user.attributes.items() if attribute.label == label)


@pytest.mark.parametrize('check_mode', [True, False])
def test_a_label_finds_the_attribute_whatever_exist_named_it(check_mode):
    exist = emulated([deep_work()])
    result, unused_warnings = converge_on(exist, [DEEP_WORK], check_mode=check_mode)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is False and result['created'] == [] and result['acquired'] == []
    assert result['labels'] == [{'label': 'Deep work', 'name': 'deep_work_2', 'source': 'existing'}]
    assert labelled(exist, 'Deep work') == ['deep_work_2']
    # The owned list alone shows it: nothing else is read.
    assert exist.log == [('GET', '/api/2/attributes/owned/')]


@pytest.mark.parametrize('label', ['deep work', 'Deep  Work', ' DEEP WORK '])
def test_a_label_matches_whatever_its_case_and_spacing(label):
    exist = emulated([deep_work()])
    result, unused_warnings = converge_on(exist, [dict(DEEP_WORK, label=label)])
    assert result['changed'] is False and result['labels'][0]['name'] == 'deep_work_2'
    assert labelled(exist, 'Deep work') == ['deep_work_2'] and labelled(exist, label) in ([], ['deep_work_2'])


def test_a_label_owned_by_another_service_is_taken_over_by_its_name_or_refused_without_takeover():
    exist = emulated([deep_work(service='other')])
    refused, unused_warnings = converge_on(exist, [DEEP_WORK], takeover=False)
    assert refused['failed'] is True and refused['failed_items'][0]['error_code'] == 'owned_by_other_service'
    assert refused['labels'] == [{'label': 'Deep work', 'name': 'deep_work_2', 'source': 'existing'}]
    predicted, unused_warnings = converge_on(exist, [DEEP_WORK], check_mode=True)
    result, warnings = converge_on(exist, [DEEP_WORK])
    assert predicted['acquired'] == result['acquired'] == ['deep_work_2'] and result['created'] == []
    assert result['takeovers'] == [{'name': 'deep_work_2', 'previous_owner': 'other'}]
    assert labelled(exist, 'Deep work') == ['deep_work_2']
    assert exist.attribute('deep_work_2').service == 'me'


def test_of_two_attributes_with_the_label_the_one_this_client_owns_is_the_one():
    exist = emulated([deep_work('deep_work', service='other'), deep_work('deep_work_2')])
    result, unused_warnings = converge_on(exist, [DEEP_WORK])
    assert result['changed'] is False and result['labels'][0]['name'] == 'deep_work_2'
    assert exist.attribute('deep_work').service == 'other'


@pytest.mark.parametrize('check_mode', [True, False])
def test_a_label_on_two_attributes_none_of_them_ours_is_refused_naming_both(check_mode):
    exist = emulated([deep_work('deep_work', service='other'), deep_work('deep_work_2', service=None)])
    result, unused_warnings = converge_on(exist, [DEEP_WORK], check_mode=check_mode)
    assert result['failed'] is True and result['changed'] is False
    assert result['failed_items'] == [
        {
            'label': 'Deep work',
            'error_code': 'ambiguous_label',
            'error': "Label 'Deep work' is on 2 attributes: deep_work (owned by Other (other)), deep_work_2 (owned by "
            'nobody); declare the one you mean by name',
        }
    ]
    assert all(method == 'GET' for method, path in exist.log)
    assert labelled(exist, 'Deep work') == ['deep_work', 'deep_work_2']


def test_a_label_on_an_attribute_of_another_group_is_refused_and_nothing_is_created():
    exist = emulated([deep_work(group='mood', service='other')])
    result, unused_warnings = converge_on(exist, [DEEP_WORK])
    assert result['failed'] is True and result['failed_items'][0]['error_code'] == 'group_or_type_differs'
    assert result['failed_items'][0]['name'] == 'deep_work_2'
    assert "Label 'Deep work' is on deep_work_2: it exists with group mood" in result['msg']
    assert all(method == 'GET' for method, path in exist.log)
    assert labelled(exist, 'Deep work') == ['deep_work_2']


def test_a_name_taken_by_an_attribute_with_another_label_is_not_taken_over_for_the_label():
    # deep_work is "Deep work hours": declaring "Deep work" must not take it over. Exist may create deep_work_3
    # (then that is the one); the emulator refuses a taken name, so the item fails, saying why.
    exist = emulated([deep_work('deep_work', label='Deep work hours', service='other')])
    result, unused_warnings = converge_on(exist, [DEEP_WORK])
    assert result['failed'] is True and result['acquired'] == [] and result['labels'] == []
    item = result['failed_items'][0]
    assert item['label'] == 'Deep work' and item['error_code'] == 'exists'
    assert "no attribute the token can read has the label 'Deep work'" in item['error']
    assert exist.attribute('deep_work').service == 'other'


def test_a_created_attribute_reports_the_name_exist_gave_its_label():
    exist = emulated()
    predicted, unused_warnings = converge_on(exist, [DEEP_WORK], check_mode=True)
    assert predicted['labels'] == [{'label': 'Deep work', 'name': 'deep_work', 'source': 'predicted'}]
    result, unused_warnings = converge_on(exist, [DEEP_WORK])
    assert result['labels'] == [{'label': 'Deep work', 'name': 'deep_work', 'source': 'created'}]
    again, unused_warnings = converge_on(exist, [DEEP_WORK])
    assert again['changed'] is False and again['labels'][0]['source'] == 'existing'


def test_state_absent_by_label_releases_the_attribute_that_has_it():
    exist = emulated([deep_work(), deep_work('deep_work', label='Deep work hours')])
    result, unused_warnings = converge_on(exist, [{'label': 'Deep work', 'state': 'absent'}])
    assert result['released'] == ['deep_work_2']
    assert exist.attribute('deep_work').service == 'me'


def test_two_labels_that_resolve_to_one_attribute_are_refused():
    exist = emulated([deep_work()])
    result, unused_warnings = converge_on(exist, [DEEP_WORK, {'name': 'deep_work_2'}])
    assert result['failed'] is True
    assert result['failed_items'][0]['error'] == (
        "Label 'Deep work' is on attribute 'deep_work_2', which attributes[1] declares too; declare it once"
    )
