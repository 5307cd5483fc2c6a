# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How an ownership plan is told (_ownership_wording.py): services named, takeovers and their warnings, the diff.

The plan itself, with its wording, is test_ownership_plan.py's; here the wording alone, on plans built by hand.
"""

from __future__ import annotations

import pytest

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    TAKEOVER,
    THIS_CLIENT,
    UNKNOWN_OWNER,
    normalize_declared,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import PlannedAcquire, PlannedRelease
from ansible_collections.existio.exist.plugins.module_utils._ownership_wording import (
    PlanWording,
    service_label,
    service_name,
)

WITHINGS = {'name': 'withings', 'label': 'Withings'}


class Wording(PlanWording):
    """PlanWording with the three fields of Plan it reads."""

    def __init__(self, owned=None, unproven=(), takeover=True):
        self.owned = owned or {}
        self._unproven = set(unproven)
        self.takeover = takeover

    @property
    def unproven(self):
        return self._unproven


def acquire(name, reason=TAKEOVER, previous=None, manual=False):
    (declared,) = normalize_declared([{'name': name}], 'present')
    return PlannedAcquire(declared, reason, previous, manual)


@pytest.mark.parametrize(
    'attribute, name, label',
    [
        ({'service': WITHINGS}, 'withings', 'Withings (withings)'),
        ({'service': {'name': 'fitbit', 'label': 'fitbit'}}, 'fitbit', 'fitbit'),
        ({'service': 'plain'}, 'plain', 'plain'),
        ({'service': None}, None, None),
        (None, None, None),
    ],
)
def test_a_service_is_named_by_its_name_and_told_by_its_label(attribute, name, label):
    assert service_name(attribute) == name
    assert service_label(attribute) == label


def test_takeovers_list_the_taken_by_name_with_their_previous_owner():
    acquired = [acquire('steps', previous={'service': WITHINGS}), acquire('mood', reason='unowned')]
    assert Wording().takeovers(acquired, ['coffees']) == [
        {'name': 'coffees', 'previous_owner': UNKNOWN_OWNER},
        {'name': 'steps', 'previous_owner': 'withings'},
    ]


def test_takeover_warnings_name_each_known_owner_and_all_unknown_ones_together():
    warnings = Wording().takeover_warnings([acquire('steps', previous={'service': WITHINGS})], ['water', 'coffees'])
    assert warnings == [
        "attribute 'steps' was owned by Withings (withings); this client took it over",
        "attributes 'coffees', 'water' existed but were not visible to this token (no food_read scope); "
        'this client took them over from an owner it could not see (previous owner unknown)',
    ]


@pytest.mark.parametrize(
    'takeover, otherwise',
    [(True, 'takes it over (previous owner unknown)'), (False, 'refuses it (owner_unknown), since takeover is false')],
)
def test_check_mode_warns_of_what_it_cannot_see_by_the_takeover_option(takeover, otherwise):
    warnings = Wording(unproven=['coffees'], takeover=takeover).predicted_warnings([])
    assert warnings == [
        "attribute 'coffees' not visible to this token, which may lack the read scope that would show it (food_read): a real "
        'run creates it if the user lacks it, and otherwise ' + otherwise
    ]


def test_the_diff_shows_who_owned_what_before_and_after():
    wording = Wording(owned={'mood': {'name': 'mood', 'manual': True}, 'steps': {'name': 'steps'}})
    acquired = [acquire('sleep', previous={'service': WITHINGS, 'manual': False}), acquire('coffees')]
    released = [PlannedRelease({'name': 'steps', 'available_services': [WITHINGS]}, None)]
    diff = wording.diff(acquired, released, owner_unknown=['coffees'], manual={'sleep': True})
    assert diff == {
        'before': {
            'attributes': {
                'mood': {'owner': THIS_CLIENT, 'manual': True},
                'steps': {'owner': THIS_CLIENT, 'manual': False},
                'sleep': {'owner': 'withings', 'manual': False},
                'coffees': {'owner': UNKNOWN_OWNER, 'manual': None},
            }
        },
        'after': {
            'attributes': {
                'mood': {'owner': THIS_CLIENT, 'manual': True},
                'steps': {'owner': 'withings', 'manual': False},
                'sleep': {'owner': THIS_CLIENT, 'manual': True},
                'coffees': {'owner': THIS_CLIENT, 'manual': False},
            }
        },
    }
