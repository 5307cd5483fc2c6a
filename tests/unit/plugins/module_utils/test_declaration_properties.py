# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Hostile declarations: whatever a task gives, the answer is a result or a clear error, never a traceback.

Random items, built from JSON-like values around the keys the modules know,
go through the validation of existio.exist.values and of custom attributes
in existio.exist.attribute. Each either passes (and then is well formed) or
raises the module's own error, naming the item.
"""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    NAME_PATTERN,
    DeclarationError,
    normalize_declared,
)
from ansible_collections.existio.exist.plugins.module_utils._values_plan import (
    OPERATIONS,
    ValuesError,
    check_increment,
    check_value,
    normalize_values,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(['mood', 'Meditation streak', '2026-11-27', '2026-02-30', 'health', 'custom', 'integer', '7', '']),
    st.dates().map(lambda d: d),
    # Numbers past what Python writes as text (4300 digits) or reads as a double, and digits int() does not read.
    st.integers(4290, 4400).map(lambda n: 10**n - 1),
    st.integers(4290, 4400).map(lambda n: '9' * n),
    st.text(alphabet='0123456789²³¹٣۴०০０ +-.e\u2003', min_size=1, max_size=8),
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def items_with(keys):
    return st.lists(
        st.one_of(st.dictionaries(st.sampled_from(keys), json_like, max_size=len(keys)), json_like),
        max_size=5,
    )


@settings(max_examples=250, deadline=None)
@given(items=items_with(['name', 'date', 'value', 'extra']), operation=st.sampled_from(OPERATIONS + ('bogus',)))
def test_values_are_a_list_of_checked_items_or_a_clear_error(items, operation):
    try:
        declared = normalize_values(items, operation, today=datetime.date(2026, 11, 28))
    except ValuesError as exc:
        message = str(exc)
        assert message.startswith('values') or message.startswith('operation'), message
        assert len(message) < 1000, message
        return
    for item in declared:
        assert NAME_PATTERN.match(item.name)
        datetime.date.fromisoformat(item.date)
        assert not isinstance(item.value, (dict, list))


@settings(max_examples=300, deadline=None)
@given(value_type=st.one_of(st.integers(-1, 9), st.none()), value=json_like)
def test_value_checks_answer_for_any_value(value_type, value):
    sent, problem = check_value(value_type, value)
    assert problem is None or (isinstance(problem, str) and len(problem) < 300)
    increment_problem = check_increment(value_type, value)
    assert increment_problem is None or (isinstance(increment_problem, str) and len(increment_problem) < 300)


@settings(max_examples=250, deadline=None)
@given(items=items_with(['label', 'group', 'value_type', 'manual', 'state', 'name', 'template']))
def test_attribute_items_are_checked_or_a_clear_error(items):
    try:
        declared = normalize_declared(items)
    except DeclarationError as exc:
        assert str(exc).startswith('attributes'), str(exc)
        assert len(str(exc)) < 1000, str(exc)
        return
    for item in declared:
        assert NAME_PATTERN.match(item.name)
        if item.custom is not None and item.state == 'present':
            assert isinstance(item.custom.value_type, int) and 0 <= item.custom.value_type <= 8
