# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checks of a task's raw arguments before ansible-core's (_task_args.py): shapes named in a user's words,
every form of a secret collected, environment fallbacks left to the host that has them."""

from __future__ import annotations

import pytest
from ansible.module_utils.basic import env_fallback

from ansible_collections.existio.exist.plugins.module_utils._task_args import (
    secret_values,
    shape_problems,
    without_env_fallbacks,
)

SPEC = {
    'token': {'type': 'str', 'no_log': True, 'fallback': (env_fallback, ['EXIST_TOKEN']), 'required': True},
    'timeout': {'type': 'int'},
    'names': {'type': 'list', 'elements': 'str'},
    'attributes': {
        'type': 'list',
        'elements': 'dict',
        'options': {'name': {'type': 'str'}, 'manual': {'type': 'bool'}},
    },
}


@pytest.mark.parametrize(
    'args, problems',
    [
        ({'token': 't', 'timeout': 5, 'names': ['a'], 'attributes': [{'name': 'a'}]}, []),
        ({'timeout': None, 'unknown': [1], 7: {}}, []),
        ({'timeout': [5]}, ['timeout must be a whole number, got a list: [5]']),
        ({'token': {'a': 1}}, ["token must be a string, got a dictionary: {'a': 1}"]),
        ({'names': {'a': 1}}, ["names must be a list, got a dictionary: {'a': 1}"]),
        ({'names': ['a', ['b']]}, ["names[1] must be a string, got a list: ['b']"]),
        ({'attributes': 'mood'}, ["attributes must be a list of dictionaries, got a string: 'mood'"]),
        ({'attributes': [{'name': 'a'}, 3]}, ['attributes[1] must be a dictionary, got a number: 3']),
        ({'attributes': [{'name': ['a']}]}, ["attributes[0].name must be a string, got a list: ['a']"]),
    ],
)
def test_shape_problems_name_the_option_the_kind_and_the_value(args, problems):
    assert shape_problems(SPEC, args) == problems


def test_a_long_value_is_shown_shortened():
    (problem,) = shape_problems(SPEC, {'timeout': ['x' * 200]})
    assert problem.startswith("timeout must be a whole number, got a list: ['xxx") and problem.endswith('...')
    assert len(problem) < 130


def test_secret_values_are_every_text_form_of_a_no_log_option_and_its_fallback():
    secrets = secret_values(SPEC, {'token': ' abc \n', 'timeout': 5}, {'EXIST_TOKEN': 'from-env'})
    assert secrets == {' abc \n', 'abc', 'from-env'}


def test_a_secret_given_as_a_list_or_a_dictionary_is_still_a_secret():
    secrets = secret_values(SPEC, {'token': ['one', {'two': 3, 'four': True}]}, {})
    assert secrets == {'one', 'two', '3', 'four'}


def test_without_env_fallbacks_makes_an_option_the_host_may_fill_optional():
    checked = without_env_fallbacks(SPEC)
    assert checked['token'] == {'type': 'str', 'no_log': True}
    assert checked['timeout'] == SPEC['timeout']
    assert 'fallback' in SPEC['token']  # the spec given is left as it was
