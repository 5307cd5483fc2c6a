# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a task declares (_ownership_declaration.py): each item checked and named when wrong, duplicates merged,
labels named by their slug. Hostile declarations at random: test_declaration_properties.py."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    DeclarationError,
    normalize_declared,
)


def declare(*items, **kwargs):
    return normalize_declared(list(items), kwargs.get('state', 'present'))


# -- validation --------------------------------------------------------------


@pytest.mark.parametrize(
    'items, fragment',
    [
        ([{'manual': True}], "attributes[0] {'manual': True} must have exactly one of name, template or label"),
        ([{'name': 'a', 'template': 'a'}], 'must have exactly one of name, template or label'),
        ([{'name': ''}], "attributes[0].name '' is not an attribute name"),
        ([{'template': 'mood'}, {'name': 'has space'}], "attributes[1].name 'has space' is not an attribute name"),
        ([{'template': 'mood-note'}], "attributes[0].template 'mood-note'"),
        ([{'name': 'a', 'colour': 'red'}], 'unknown key(s) colour'),
        (['mood'], "attributes[0] must be a dictionary with name, template or label, got 'mood'"),
        ([{'name': 'a', 'state': 'gone'}], "attributes[0].state must be one of present, absent, got 'gone'"),
        ([{'name': 'a', 'manual': 'yes'}], "attributes[0].manual must be true or false, got 'yes'"),
        (
            [{'template': 'mood'}, {'template': 'mood', 'manual': True}],
            "attributes[0] and attributes[1] both declare 'mood' with different wishes",
        ),
        ([{'template': 'mood'}, {'name': 'mood', 'state': 'absent'}], 'state=present by template / state=absent'),
        ([{'template': 'mood'}, {'name': 'mood'}], 'by template / state=present by name'),
    ],
)
def test_invalid_declarations_name_the_item(items, fragment):
    with pytest.raises(DeclarationError) as excinfo:
        normalize_declared(items, 'present')
    assert fragment in str(excinfo.value)


def test_too_many_items_is_refused():
    items = [{'name': 'a%d' % i} for i in range(1001)]
    with pytest.raises(DeclarationError, match='1001 items; more than 1000'):
        normalize_declared(items, 'present')


def test_identical_duplicates_are_merged():
    declared = declare(
        {'template': 'mood', 'manual': True}, {'template': 'steps'}, {'template': 'mood', 'manual': True, 'state': None}
    )
    assert [(d.name, d.identified_by, d.manual) for d in declared] == [
        ('mood', 'template', True),
        ('steps', 'template', None),
    ]


def test_absent_duplicates_merge_whatever_their_manual_or_way():
    declared = declare({'template': 'mood', 'manual': True}, {'name': 'mood', 'manual': False}, state='absent')
    assert len(declared) == 1 and declared[0].state == 'absent'


def test_item_state_overrides_task_state():
    declared = declare({'name': 'a'}, {'name': 'b', 'state': 'present'}, state='absent')
    assert [d.state for d in declared] == ['absent', 'present']


def test_task_state_is_validated():
    with pytest.raises(DeclarationError, match="state must be one of present, absent, got 'maybe'"):
        normalize_declared([], 'maybe')


def test_request_item_carries_manual_only_when_declared():
    plain, manual = declare({'template': 'mood'}, {'name': 'reading_time', 'manual': False})
    assert plain.request_item() == {'template': 'mood'}
    assert manual.request_item() == {'name': 'reading_time', 'manual': False}


def test_a_label_is_named_by_its_slug_and_takes_value_types_by_number_or_name():
    declared = declare(
        {'label': 'Meditation streak', 'group': 'health', 'value_type': 'integer'},
        {'label': 'Café visits!', 'group': 'food', 'value_type': 0},
        {'label': 'Read before bed', 'group': 'custom', 'value_type': 'boolean', 'manual': True},
    )
    assert [(d.name, d.identified_by, d.custom.value_type) for d in declared] == [
        ('meditation_streak', 'label', 0),
        ('cafe_visits', 'label', 0),
        ('read_before_bed', 'label', 7),
    ]
    assert declared[0].ref() == {'label': 'Meditation streak'}
    assert declared[0].request_item() == {'name': 'meditation_streak'}


@pytest.mark.parametrize(
    'item, fragment',
    [
        (
            {'label': 'Streak', 'group': 'health'},
            "attributes[0] (label 'Streak') needs value_type to create the attribute",
        ),
        ({'label': 'Streak', 'value_type': 0}, "attributes[0] (label 'Streak') needs group to create the attribute"),
        (
            {'label': 'Streak', 'group': 'hobbies', 'value_type': 0},
            "attributes[0].group 'hobbies' is not an Exist group",
        ),
        ({'label': 'Streak', 'group': 'health', 'value_type': 9}, 'attributes[0].value_type 9 is not a value type'),
        ({'label': 'Streak', 'group': 'health', 'value_type': '²'}, "attributes[0].value_type '²' is not a value type"),
        ({'label': 'Streak', 'group': 'health', 'value_type': '٣'}, "attributes[0].value_type '٣' is not a value type"),
        (
            {'label': 'Streak', 'group': 'health', 'value_type': '3' * 5000},
            "attributes[0].value_type '" + '3' * 76 + "... (5000 characters) is not a value type",
        ),
        (
            {'label': 'Streak', 'group': 'health', 'value_type': 10**5000},
            'attributes[0].value_type <an integer of more than 100 digits> is not a value type',
        ),
        ({'label': 'Streak', 'group': 'health', 'value_type': 'number'}, "attributes[0].value_type 'number' is not"),
        (
            {'label': 'Streak', 'group': 'health', 'value_type': True},
            'attributes[0].value_type True is not a value type',
        ),
        ({'label': 'Wake', 'group': 'sleep', 'value_type': 6}, 'exists only for templates'),
        (
            {'label': 'Tag', 'group': 'custom', 'value_type': 'integer'},
            'group custom holds custom tags, which are boolean',
        ),
        ({'label': '!!!', 'group': 'health', 'value_type': 0}, "attributes[0].label '!!!' has no letter or digit"),
        ({'label': ' ', 'group': 'health', 'value_type': 0}, "attributes[0].label ' ' must be a non-empty string"),
        ({'label': 'x' * 101, 'group': 'health', 'value_type': 0}, 'attributes[0].label is 101 characters long'),
        ({'template': 'mood', 'group': 'mood'}, 'attributes[0].group is only for a custom attribute declared by label'),
    ],
)
def test_invalid_custom_declarations_name_the_item(item, fragment):
    with pytest.raises(DeclarationError) as excinfo:
        declare(item)
    assert fragment in str(excinfo.value)
