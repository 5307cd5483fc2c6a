# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""validate_tokens (_token_validation.py) against the emulator: one profile request per user, each token checked
to belong to the user it is filed under, every failure masked. Through the inventory: inventory/test_users.py."""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.module_utils._connection_options import TRANSPORT, validate
from ansible_collections.existio.exist.plugins.plugin_utils._token_validation import check_token, validate_tokens
from ansible_collections.existio.exist.tests.unit.plugins.token_task import access, api_log, store_entries


class Display:
    """What validate_tokens says, recorded."""

    def __init__(self):
        self.warnings = []
        self.verbose = []

    def warning(self, message):
        self.warnings.append(message)

    def vvv(self, message):
        self.verbose.append(message)


def connection_to(emulator, **options):
    return validate(dict(options, api_url=emulator.url, retries=0), TRANSPORT)


def test_working_tokens_pass_with_one_profile_request_each(world):
    emulator = world()
    display = Display()
    errors = validate_tokens(connection_to(emulator), store_entries(), ['alice', 'bob', 'carol'], 2, display)
    assert errors == {} and display.warnings == []
    assert api_log(emulator) == ['GET /api/2/accounts/profile/ 200'] * 3
    assert display.verbose == ['existio.exist.users: validated 3 token(s) with one profile request each: 0 failed']


def test_an_empty_token_fails_before_any_request():
    assert check_token(validate({}, TRANSPORT), 'bob', '')[1] == (
        'token is empty: set the token option or the EXIST_TOKEN environment variable'
    )


def test_a_token_of_another_user_or_a_refused_one_is_an_error_with_a_warning_naming_the_group(world):
    emulator = world()
    entries = store_entries()
    entries['bob']['access_token'] = access('alice')
    entries['carol']['access_token'] = 'sEcReT-revoked-token'
    display = Display()
    errors = validate_tokens(connection_to(emulator), entries, ['alice', 'bob', 'carol'], 3, display)
    assert sorted(errors) == ['bob', 'carol']
    assert errors['bob'] == "the token belongs to the Exist user 'alice', not 'bob'"
    assert 'Exist answered 401' in errors['carol'] and 'sEcReT-revoked-token' not in errors['carol']
    assert display.warnings == [
        'existio.exist.users: 2 of 3 token(s) failed validation and are in the group exist_token_invalid '
        "(see each host's exist_token_error): bob, carol"
    ]


def test_no_user_sends_nothing_and_says_nothing(world):
    emulator = world()
    display = Display()
    assert validate_tokens(connection_to(emulator), store_entries(), [], 2, display) == {}
    assert api_log(emulator) == [] and display.warnings == [] and display.verbose == []
