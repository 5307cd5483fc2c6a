# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The values planner as a pure function: validation, comparison, the plan and the diff."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils._values_plan import (
    INCREMENT,
    NULL_ERROR,
    VALUE_TYPE_NAMES,
    ValuesError,
    check_increment,
    check_value,
    needs_today,
    normalize_values,
    plan_increments,
    plan_values,
    same_value,
    value_problems,
    values_diff,
)

TODAY = datetime.date(2026, 11, 28)


def test_items_without_a_date_take_the_users_today():
    items = [{'name': 'mood', 'value': 7}, {'name': 'mood', 'date': '2026-11-27', 'value': 6}]
    assert needs_today(items)
    declared = normalize_values(items, today=TODAY)
    assert [(d.name, d.date, d.value) for d in declared] == [('mood', '2026-11-28', 7), ('mood', '2026-11-27', 6)]


def test_before_today_is_known_an_undated_item_keeps_no_date():
    declared = normalize_values([{'name': 'mood', 'value': 7}])
    assert declared[0].date is None
    assert not needs_today([{'name': 'mood', 'date': '2026-11-27', 'value': 6}])


def test_a_yaml_date_object_is_read_as_its_day():
    declared = normalize_values([{'name': 'mood', 'date': datetime.date(2026, 11, 2), 'value': 7}])
    assert declared[0].date == '2026-11-02'


@pytest.mark.parametrize(
    'item, message',
    [
        ({'name': 'mood', 'date': '2026-02-30', 'value': 1}, "values[0].date '2026-02-30' is not a date"),
        ({'name': 'mood', 'date': '27/11/2026', 'value': 1}, "values[0].date '27/11/2026' is not a date"),
        ({'name': 'mood\n', 'date': '2026-11-27', 'value': 1}, "values[0].name 'mood\\n' is not an attribute name"),
        ({'name': 'mood', 'date': '2026-11-27'}, 'values[0] (mood on 2026-11-27) has no value'),
        ({'name': 'mood', 'date': '2026-11-27', 'value': [1]}, 'values[0].value [1] must be a number'),
        ({'name': 'mood', 'date': '2026-11-27', 'value': float('nan')}, 'values[0].value nan is not a number'),
        ({'name': 'mood', 'day': '2026-11-27', 'value': 1}, 'values[0] has unknown key(s) day'),
        ('mood', "values[0] must be a dictionary with name, date and value, got 'mood'"),
    ],
)
def test_bad_items_are_refused_naming_the_item(item, message):
    with pytest.raises(ValuesError) as excinfo:
        normalize_values([item], today=TODAY)
    assert message in str(excinfo.value)


def test_the_same_day_twice_with_different_values_names_both_items():
    items = [{'name': 'mood', 'date': '2026-11-28', 'value': 7}, {'name': 'mood', 'value': 6}]
    with pytest.raises(ValuesError) as excinfo:
        normalize_values(items, today=TODAY)
    assert str(excinfo.value) == 'values[0] and values[1] both give mood on 2026-11-28 (7 / 6); declare each day once'


def test_the_same_day_twice_with_the_same_value_is_merged_for_set_but_not_for_increment():
    items = [{'name': 'mood', 'date': '2026-11-28', 'value': 7}] * 2
    assert len(normalize_values(items)) == 1
    with pytest.raises(ValuesError):
        normalize_values(items, operation=INCREMENT)


@pytest.mark.parametrize(
    'value_type, value, sent',
    [
        (0, 12, 12),
        (1, 2, 2),
        (1, 2.5, 2.5),
        (2, 'a quiet day', 'a quiet day'),
        (3, 0, 0),
        (4, 1439, 1439),
        (5, 1.0, 1.0),
        (5, 0, 0),
        (6, 0, 0),
        (7, True, 1),
        (7, 0, 0),
        (8, 9, 9),
        (None, 'anything', 'anything'),
        # Before ansible-core 2.19 a template in a list gives text: a number in text is that number.
        (0, '12', 12),
        (8, ' 7 ', 7),
        (1, '2.5', 2.5),
        (5, '.5', 0.5),
        (7, 'true', 1),
        (7, '0', 0),
        (2, '12', '12'),
    ],
)
def test_values_that_fit_their_type_pass(value_type, value, sent):
    assert check_value(value_type, value) == (sent, None)


@pytest.mark.parametrize(
    'value_type, value',
    [
        (0, 'three'),
        (0, '12.0'),
        (0, 1.5),
        (8, '12'),
        (7, 'maybe'),
        (0, True),
        (1, 'x'),
        (2, 5),
        (3, -1),
        (4, 1440),
        (5, 1.5),
        (7, 2),
        (8, 12),
        (8, 0),
    ],
)
def test_values_that_do_not_fit_their_type_are_refused(value_type, value):
    assert check_value(value_type, value)[1] is not None


def test_increments_follow_exists_rules():
    assert check_increment(0, 1) is None
    assert check_increment(1, 0.5) is None
    assert 'Cannot apply a float to an integer type' in check_increment(0, 0.5)
    assert check_increment(8, 1) == 'a scale attribute cannot be incremented'
    assert check_increment(2, 1) == 'a string attribute cannot be incremented'
    assert check_increment(4, 1) == 'a time_of_day attribute cannot be incremented'
    assert check_increment(0, 'one') == "'one' is not a number to add"
    assert check_increment(0, '2') is None


def test_value_problems_name_the_item_and_skip_unknown_types():
    declared = normalize_values(
        [
            {'name': 'mood', 'date': '2026-11-27', 'value': 12},
            {'name': 'steps', 'date': '2026-11-27', 'value': 'many'},
            {'name': 'unknown', 'date': '2026-11-27', 'value': 'anything'},
        ]
    )
    problems = value_problems(declared, {'mood': 8, 'steps': 0})
    assert [(p['name'], p['error_code']) for p in problems] == [('mood', 'validation'), ('steps', 'validation')]
    assert problems[0]['error'] == '12 is not a valid scale value (a whole number from 1 to 9)'


def test_same_value_treats_numbers_and_booleans_as_exist_stores_them():
    assert same_value(7, 7.0)
    assert same_value(1, True)
    assert same_value(True, 1, 7)
    assert not same_value(7, '7')
    assert not same_value('a', 'b')
    assert not same_value(None, 0)


@pytest.mark.parametrize(
    'stored, declared',
    [
        (10000000000, 10000000001),
        (2**53, 2**53 + 1),
        (-(2**63), -(2**63) + 1),
        (10**40, 10**40 + 1),
        (123456789012345678, 123456789012345679),
    ],
)
@pytest.mark.parametrize('value_type', [None, 0, 3])
def test_large_whole_numbers_that_differ_are_written(stored, declared, value_type):
    assert not same_value(stored, declared, value_type)
    plan = plan_values(
        normalize_values([{'name': 'count', 'date': '2026-11-27', 'value': declared}]),
        {'count': {'2026-11-27': stored}},
        {} if value_type is None else {'count': value_type},
    )
    assert [(w.previous, w.value) for w in plan.writes] == [(stored, declared)]


@given(st.integers(), st.integers())
def test_whole_numbers_are_the_same_exactly_when_they_are_equal(a, b):
    for value_type in (None, 0, 3, 4, 8):
        assert same_value(a, b, value_type) is (a == b)


@given(
    st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**70), 2**70)),
    st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**70), 2**70)),
)
def test_decimals_are_the_same_exactly_when_exist_keeps_the_same_double(a, b):
    # Exist keeps a float or percentage value as a double (what its JSON carries): two numbers are the same value
    # exactly when they are the same double, never within a tolerance.
    for value_type in (1, 5):
        assert same_value(a, b, value_type) is (float(a) == float(b))


def test_decimals_that_differ_in_their_last_digit_differ():
    assert not same_value(0.1 + 0.2, 0.3, 1)
    assert not same_value(1.0000000001, 1.0, 1)
    # A whole number past 2**53 in a decimal attribute is kept as the nearest double: declaring it again is no change.
    assert same_value(9007199254740992.0, 2**53 + 1, 1)
    plan = plan_values(
        normalize_values([{'name': 'weight', 'date': '2026-11-27', 'value': 2**53 + 1}]),
        {'weight': {'2026-11-27': 9007199254740992.0}},
        {'weight': 1},
    )
    assert plan.writes == [] and len(plan.unchanged) == 1


def test_only_values_that_differ_are_planned():
    declared = normalize_values(
        [
            {'name': 'mood', 'date': '2026-11-26', 'value': 7},
            {'name': 'mood', 'date': '2026-11-27', 'value': 8},
            {'name': 'mood', 'date': '2026-11-28', 'value': 5},
            {'name': 'tag', 'date': '2026-11-28', 'value': True},
        ]
    )
    current = {'mood': {'2026-11-26': 7, '2026-11-27': 6}, 'tag': {'2026-11-28': 1}}
    plan = plan_values(declared, current, {'mood': 8, 'tag': 7})
    assert [(w.name, w.date, w.previous, w.value) for w in plan.writes] == [
        ('mood', '2026-11-27', 6, 8),
        ('mood', '2026-11-28', None, 5),
    ]
    assert [(u.name, u.date) for u in plan.unchanged] == [('mood', '2026-11-26'), ('tag', '2026-11-28')]
    assert values_diff(plan.writes) == {
        'before': {'mood': {'2026-11-27': 6, '2026-11-28': None}},
        'after': {'mood': {'2026-11-27': 8, '2026-11-28': 5}},
    }


def test_null_is_nothing_to_do_on_an_empty_day_and_refused_over_a_value():
    declared = normalize_values(
        [{'name': 'mood', 'date': '2026-11-26', 'value': None}, {'name': 'mood', 'date': '2026-11-27', 'value': None}]
    )
    plan = plan_values(declared, {'mood': {'2026-11-27': 6}}, {'mood': 8})
    assert plan.writes == []
    assert [u.date for u in plan.unchanged] == ['2026-11-26']
    assert plan.refused == [
        {
            'name': 'mood',
            'date': '2026-11-27',
            'value': None,
            'error_code': 'validation',
            'error': NULL_ERROR + ' (it is 6)',
        }
    ]


def test_every_increment_is_planned_and_booleans_go_as_numbers():
    declared = normalize_values([{'name': 'tag', 'date': '2026-11-27', 'value': True}], operation=INCREMENT)
    plan = plan_increments(declared, {'tag': 7})
    assert [w.request_item() for w in plan.writes] == [{'name': 'tag', 'date': '2026-11-27', 'value': 1}]


HUGE_TEXT = '9' * 5000


@pytest.mark.parametrize(
    'value_type, value, message',
    [
        (0, HUGE_TEXT, "'" + '9' * 56 + "... (5000 characters) has 5000 digits; a number may have at most 4300"),
        (3, '+' + '0' * 4400 + '7', 'has 4401 digits; a number may have at most 4300'),
        (1, HUGE_TEXT, 'has 5000 digits; a number may have at most 4300'),
        (1, '1e999', "'1e999' is too large a number: it has no finite value as a decimal"),
        (0, '²', "'²' is not a valid integer value (a whole number)"),
        (8, '٣', "'٣' is not a valid scale value (a whole number from 1 to 9)"),
        (0, '\u2003 3', "'\\u2003 3' is not a valid integer value (a whole number)"),
        (5, 10**400, 'is too large for a percentage value (a decimal)'),
        (1, 10**5000, 'an integer of more than 4300 digits is too large for a float value (a decimal)'),
        (0, 10**5000, None),
    ],
    ids=[
        'integer-text-5000-digits',
        'duration-text-4401-digits',
        'float-text-5000-digits',
        'float-text-past-a-double',
        'superscript-digit',
        'arabic-indic-digit',
        'unicode-space',
        'percentage-10e400',
        'float-int-5000-digits',
        'integer-int-5000-digits-left-to-normalize',
    ],
)
def test_numbers_past_what_python_or_a_double_holds_are_refused_naming_them(value_type, value, message):
    checked, problem = check_value(value_type, value)
    if message is None:
        assert problem is None
    else:
        assert message in problem
        assert len(problem) < 200


def test_an_integer_of_more_than_4300_digits_is_refused_before_any_request():
    with pytest.raises(ValuesError) as excinfo:
        normalize_values([{'name': 'mood', 'date': '2026-11-27', 'value': 10**5000}])
    assert str(excinfo.value) == (
        'values[0].value (mood on 2026-11-27) is an integer of more than 4300 digits; a number may have at most '
        '4300 digits'
    )
    # 4300 digits is still a number.
    assert normalize_values([{'name': 'mood', 'date': '2026-11-27', 'value': 10**4299}])[0].value == 10**4299


@pytest.mark.parametrize('value_type', sorted(VALUE_TYPE_NAMES) + [None, 42])
@given(
    value=st.one_of(
        st.text(),
        st.text(alphabet='0123456789²³¹٣۴߅०০੦૦୦௦౦೦൦๐໐༠၀႐០᠐᥆０+-.eE \t\u2003', max_size=60),
        st.builds(lambda n: '7' * n, st.integers(4290, 4310)),
        st.integers(),
        st.builds(lambda n: 10**n, st.integers(300, 4400)),
        st.floats(),
        st.booleans(),
        st.none(),
    )
)
def test_no_value_of_any_type_raises_and_every_problem_is_short(value_type, value):
    checked, problem = check_value(value_type, value)
    assert problem is None or len(problem) < 200
    problem = check_increment(value_type, value)
    assert problem is None or len(problem) < 200
    if value is not None and not isinstance(value, float):
        try:
            normalize_values([{'name': 'mood', 'date': '2026-11-27', 'value': value}])
        except ValuesError as exc:
            assert len(str(exc)) < 300
