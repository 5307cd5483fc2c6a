# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_remedies: who a message names, and the scope a not_allowed lacks."""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import owner_unknown_error
from ansible_collections.existio.exist.plugins.module_utils._remedies import (
    NOBODY,
    TaskUser,
    group_of,
    not_allowed_error,
    read_scopes,
    refusal_explainer,
)

EXIST_NOT_ALLOWED = "No permission to write to attributes in group 'activity'"


class Planned:
    def __init__(self, name, manual=None, custom_group=None):
        self.name, self.manual = name, manual
        self.declared = type('Declared', (), {'custom': type('Custom', (), {'group': custom_group})()})()


def test_a_named_user_leads_every_warning_and_nobody_leaves_it_as_it_is():
    assert TaskUser('alice', 'user', None).prefixed('attribute took over') == 'user alice: attribute took over'
    assert TaskUser('web1', 'host', None).prefixed('x') == 'host web1: x'
    assert NOBODY.prefixed('x') == 'x'
    assert NOBODY.token == 'this token' and TaskUser('alice', 'user', None).token == 'the token of user alice'


def test_the_user_travels_to_the_module_through_the_environment_and_back():
    user = TaskUser('alice', 'user', ('mood_read', 'mood_write'))
    assert TaskUser.from_environment(user.to_environment()) == user
    assert TaskUser.from_environment({}) == NOBODY
    assert TaskUser.from_environment(TaskUser('bob', 'user', ()).to_environment()).scopes == ()


def test_the_group_comes_from_exists_words_then_the_declaration_then_the_template():
    assert group_of('mood', EXIST_NOT_ALLOWED) == 'activity'
    assert group_of('reading_time', 'No permission', custom_group='media') == 'media'
    assert group_of('steps', 'No permission') == 'activity'
    assert group_of('unheard_of', 'No permission') is None


def test_not_allowed_names_the_write_scope_the_user_and_the_scopes_the_token_has():
    error = not_allowed_error(EXIST_NOT_ALLOWED, 'activity', False, TaskUser('alice', 'user', ('mood_write',)))
    assert error == (
        EXIST_NOT_ALLOWED + ': the token of user alice needs activity_write (it has mood_write); '
        'authorise the user again with that scope'
    )


def test_not_allowed_without_known_scopes_says_where_to_see_them_and_manual_write_covers_manual():
    error = not_allowed_error('No permission', None, True, NOBODY)
    assert "this token needs the write scope of the attribute's group (<group>_write) (or manual_write)" in error
    assert 'exist_token_scopes of the users inventory shows the ones it has' in error


def test_the_explainer_adds_the_scope_to_not_allowed_only():
    explain = refusal_explainer(TaskUser('alice', 'user', ()))
    assert explain(Planned('reading_time', custom_group='media'), 'not_allowed', 'No permission').startswith(
        'No permission: the token of user alice needs media_write (it has no scopes)'
    )
    assert explain(Planned('steps'), 'not_found', 'Attribute not found') == 'Attribute not found'


def test_read_scopes_are_named_for_templates_and_left_out_when_a_group_is_unknown():
    assert read_scopes(['coffees', 'water']) == 'food_read'
    assert read_scopes(['steps', 'mood']) == 'activity_read or mood_read'
    assert read_scopes(['steps', 'reading_time']) is None
    assert read_scopes([]) is None


def test_owner_unknown_names_the_read_scope_that_would_show_the_owner():
    assert 'not visible to this token (no mood_read scope)' in owner_unknown_error('mood')
    assert 'Give the token mood_read, or set takeover to true.' in owner_unknown_error('mood')
    assert "Give the token the group's _read scope" in owner_unknown_error('reading_time')
