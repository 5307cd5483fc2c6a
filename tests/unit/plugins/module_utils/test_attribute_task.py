# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The attribute task (_attribute_task.py): what is checked before any request, above all that an empty
declaration never releases everything by mistake. The module around it: modules/test_attribute.py."""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._attribute_task import check_release_intent, prepare
from ansible_collections.existio.exist.plugins.module_utils._task_runner import TaskInputError

DEFAULTS = dict(attributes=[], state='present', exclusive=False, release_all=False, takeover=True, token_type='bearer')


def params(**options):
    return dict(DEFAULTS, **options)


def test_an_empty_exclusive_declaration_needs_release_all():
    with pytest.raises(TaskInputError, match='exclusive=true with no attribute declared present would release every'):
        prepare(params(exclusive=True))
    assert prepare(params(release_all=True)) == []
    # Only absent items: nothing is kept either.
    with pytest.raises(TaskInputError, match='set release_all=true instead'):
        prepare(params(exclusive=True, attributes=[{'name': 'mood', 'state': 'absent'}]))


def test_release_all_admits_no_attribute_declared_present():
    problem = check_release_intent(
        params(release_all=True), prepare(params(attributes=[{'template': 'mood'}, {'name': 'steps'}]))
    )
    assert problem.startswith('release_all=true releases every attribute this client owns, but attributes declares ')
    assert 'mood, steps present' in problem


def test_an_exclusive_declaration_that_keeps_something_is_accepted():
    declared = prepare(params(exclusive=True, attributes=[{'template': 'mood'}]))
    assert [(d.name, d.state) for d in declared] == [('mood', 'present')]


def test_a_simple_token_is_refused_before_the_declaration_is_read():
    with pytest.raises(TaskInputError, match='token_type=token is a simple token, which Exist makes read-only'):
        prepare(params(token_type='token', attributes='not even a list'))


def test_a_bad_declaration_is_a_task_input_error():
    with pytest.raises(TaskInputError, match="attributes\\[0\\].name 'has space' is not an attribute name"):
        prepare(params(attributes=[{'name': 'has space'}]))
