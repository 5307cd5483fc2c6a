# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The token task's run (_oauth.py) in its own parts: number options, the store summary, forms and new entries.

The task as a whole, against the emulator: action/test_token.py.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.plugin_utils import _oauth


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=8), st.integers(), st.floats(), st.booleans(), st.just('1' * 4301)))
def test_any_refresh_before_is_a_number_in_range_or_an_error_naming_it(value):
    number, problem = _oauth.whole_number('refresh_before', value)
    if problem is None:
        assert isinstance(number, int) and 0 <= number <= 3660
        assert not isinstance(value, bool)
        if isinstance(value, str):
            assert value.strip().lstrip('+-').isascii()
    else:
        assert number is None and problem.startswith('refresh_before must be a whole number of days from 0 to 3660')
        assert len(problem) < 200


@pytest.mark.parametrize(
    'option, value, number',
    [('refresh_before', ' +30 ', 30), ('refresh_before', 30.0, 30), ('lock_timeout', 0, 0), ('retries', '10', 10)],
)
def test_a_whole_number_as_ansible_gives_it_is_taken(option, value, number):
    assert _oauth.whole_number(option, value) == (number, None)


@pytest.mark.parametrize(
    'option, value, problem',
    [
        ('lock_timeout', 3601, 'lock_timeout must be a whole number of seconds from 0 to 3600, got 3601'),
        ('refresh_before', '３０', "refresh_before must be a whole number of days from 0 to 3660, got '３０'"),
        (
            'timeout',
            10**100,
            'timeout must be a whole number of seconds from 1 to 3600, got a number of about 101 digits',
        ),
        ('retries', [1], 'retries must be a whole number of retries from 0 to 10, got a value of type list'),
    ],
)
def test_anything_else_is_refused_naming_the_option_and_the_value(option, value, problem):
    assert _oauth.whole_number(option, value) == (None, problem)
