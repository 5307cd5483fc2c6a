# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The users inventory's reading of the token store (_store_users.py): names quoted, scopes, token states,
names that cannot be hosts. The inventory as a whole: inventory/test_users.py."""

from __future__ import annotations

import datetime

import pytest
from ansible.inventory.data import InventoryData

from ansible_collections.existio.exist.plugins.plugin_utils._store_users import (
    LISTED_USERS,
    STATE_EXPIRED,
    STATE_INVALID,
    STATE_OUTCOME_UNKNOWN,
    STATE_REAUTHORIZATION,
    STATE_RECOVERY,
    STATE_VALID,
    marked_at,
    names_left_out,
    quoted_name,
    quoted_names,
    scopes_of,
    token_expression,
    token_state,
)

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.timezone.utc)
LATER = NOW + datetime.timedelta(days=30)


def test_a_name_is_quoted_escaped_and_cut_when_long():
    assert quoted_name('alice') == "'alice'"
    assert quoted_name('new\nline') == "'new\\nline'"
    assert quoted_name('x' * 90) == "'%s'... (90 characters)" % ('x' * 80)


def test_a_list_of_names_is_sorted_and_cut_with_how_many_more():
    assert quoted_names(['bob', 'alice']) == "'alice', 'bob'"
    many = ['user%03d' % n for n in range(LISTED_USERS + 3)]
    assert quoted_names(many).endswith("'user099' and 3 more")


@pytest.mark.parametrize(
    'scope, scopes',
    [
        ('mood_read mood_write mood_read', ['mood_read', 'mood_write']),
        ('mood_write,mood_read', ['mood_read', 'mood_write']),
        (['b', 'a', ''], ['a', 'b']),
        (None, []),
    ],
)
def test_scopes_are_a_sorted_list_without_repeats(scope, scopes):
    assert scopes_of({'scope': scope}) == scopes


@pytest.mark.parametrize(
    'entry, expires, recovery, error, state',
    [
        ({}, LATER, None, None, STATE_VALID),
        ({}, NOW, None, None, STATE_EXPIRED),
        ({}, LATER, None, 'Exist answered 401', STATE_INVALID),
        ({'refresh_outcome_unknown': '2026-11-27T00:00:00Z'}, LATER, None, 'x', STATE_OUTCOME_UNKNOWN),
        ({'reauthorization_needed': True, 'refresh_outcome_unknown': 'x'}, NOW, None, 'x', STATE_REAUTHORIZATION),
        ({'reauthorization_needed': True}, NOW, 'tokens.yml.recovered-x', 'x', STATE_RECOVERY),
    ],
)
def test_the_token_state_is_the_worst_that_is_known(entry, expires, recovery, error, state):
    assert token_state(entry, expires, NOW, recovery=recovery, error=error) == state


def test_a_mark_is_read_back_as_a_utc_time_or_none():
    assert marked_at({'refresh_outcome_unknown': '2026-11-27T10:00:00Z'}) == '2026-11-27T10:00:00Z'
    assert marked_at({'refresh_outcome_unknown': 'yesterday'}) is None
    assert marked_at({}) is None


def test_the_token_expression_reads_the_user_s_token_from_the_store_when_used():
    assert token_expression('/srv/tokens.yml', 'alice') == (
        "{{ lookup('existio.exist.stored_token', '/srv/tokens.yml', user='alice') }}"
    )


@pytest.mark.parametrize(
    'username, why',
    [
        ('all', 'named like the group all that Ansible itself makes'),
        ('localhost', 'named like the controller (localhost)'),
        ('exist_users', 'named like the group exist_users that this plugin makes'),
        ('scope_mood_read', 'named like the group scope_mood_read that this plugin makes'),
        ('web', "named like the group 'web' of another inventory source"),
        ('db1', 'already a host of another inventory source'),
        ('a,b', 'a name that a host pattern cannot select alone'),
        ('!bob', 'a name that a host pattern cannot select alone'),
    ],
)
def test_a_name_that_cannot_be_a_host_is_left_out_saying_why(username, why):
    inventory = InventoryData()
    inventory.add_group('web')
    inventory.add_host('db1')
    users = {
        'alice': {'groups': ['scope_mood_read'], 'variables': {'exist_token': 't'}},
        username: {'groups': [], 'variables': {'exist_token': 't'}},
    }
    left_out = names_left_out(users, inventory)
    assert list(left_out) == [username] and why in left_out[username]
