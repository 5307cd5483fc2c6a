# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Properties of read, plan, write, over random worlds and declarations (Hypothesis).

The server is the emulator's own request handling, in process with no
sockets (exist_emulator.testing.InProcessAdapter): the same rules the
integration tests and the fault fuzzer run against. For
any world, token scopes and declaration:

- one run converges: planning again on the result plans nothing;
- every item is accounted for: what the run reports equals the change in the
  server's state, and the declared state is reached for every item not failed;
- check mode predicts the real run, and writes nothing.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import normalize_declared
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import (
    THIS_CLIENT,
    names_to_look_up,
    plan_ownership,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_sync import converge, read_owned, read_visible
from ansible_collections.existio.exist.tests.unit.plugins.emulated import ME, EmulatedExist, one_user_seed

OTHERS = ['other_a', 'other_b']
TEMPLATES = ['steps', 'floors', 'mood', 'mood_note', 'coffees', 'water', 'sleep', 'keystrokes']
CUSTOM = {'reading_time': ('Reading time', 'media', 3)}
GROUPS = ['activity', 'mood', 'food', 'sleep', 'productivity', 'media']


attribute_entries = st.fixed_dictionaries(
    {
        'service': st.sampled_from([ME, None] + OTHERS),
        'manual': st.booleans(),
        'inactive': st.booleans(),
        'available_services': st.lists(st.sampled_from([ME] + OTHERS), max_size=2, unique=True),
    }
)
worlds = st.dictionaries(st.sampled_from(TEMPLATES + sorted(CUSTOM)), attribute_entries, max_size=9)
scopes = st.one_of(
    st.just(['all']),
    st.lists(
        st.sampled_from([g + s for g in GROUPS for s in ('_read', '_write')] + ['manual_read', 'manual_write']),
        unique=True,
    ),
)
items = st.lists(
    st.fixed_dictionaries(
        {
            'key': st.sampled_from(['template', 'name']),
            'value': st.sampled_from(TEMPLATES + sorted(CUSTOM) + ['no_such_attribute']),
        },
        optional={'state': st.sampled_from(['present', 'absent']), 'manual': st.booleans()},
    ),
    max_size=6,
)
options = st.fixed_dictionaries({'takeover': st.booleans(), 'exclusive': st.booleans()})


def seed_for(world, token_scopes):
    attributes = []
    for name, entry in sorted(world.items()):
        service = entry['service']
        attribute = {
            'service': service,
            'manual': entry['manual'],
            'active': service is not None or not entry['inactive'],
            'available_services': entry['available_services'],
        }
        if name in CUSTOM:
            label, group, value_type = CUSTOM[name]
            attribute.update(name=name, label=label, group=group, value_type=value_type)
        else:
            attribute['template'] = name
        attributes.append(attribute)
    return one_user_seed(attributes, scopes=token_scopes, services=[(s, s.title()) for s in [ME] + OTHERS])


def declared_from(raw_items):
    seen, result = set(), []
    for raw in raw_items:
        if raw['value'] in seen:
            continue
        seen.add(raw['value'])
        item = {raw['key']: raw['value']}
        item.update((k, raw[k]) for k in ('state', 'manual') if k in raw)
        result.append(item)
    return normalize_declared(result)


def server(world, token_scopes):
    exist = EmulatedExist(seed_for(world, token_scopes))
    return exist, exist.client()


def owned_now(exist):
    """{name: manual} of what this client owns, from the emulator itself."""
    return dict((a.name, a.manual) for a in exist.user.attributes.values() if a.service == ME)


def exclusive_is_meaningful(declared, option_values):
    # exclusive with nothing present is refused before any request (release_all says that intent).
    return not option_values['exclusive'] or any(d.state == 'present' for d in declared)


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(worlds, scopes, items, options)
def test_one_run_converges_and_reports_exactly_the_change(world, token_scopes, raw_items, option_values):
    declared = declared_from(raw_items)
    exist, client = server(world, token_scopes)
    before = owned_now(exist)
    result = converge(client, declared, **option_values)
    after = owned_now(exist)

    # Every change is reported, and only changes.
    acquired, released = set(result['acquired']), set(result['released'])
    assert acquired <= set(after) and not released & set(after) and released <= set(before)
    assert set(after) - set(before) <= acquired
    assert set(before) - set(after) <= released
    assert all(before[n] == after[n] for n in set(before) & set(after) - acquired)
    assert result['changed'] == bool(acquired or released)
    assert dict((a['name'], a['manual']) for a in result['owned']) == after

    # The declared state is reached for every item not failed.
    failed = set(i.get('name') or i.get('template') for i in result['failed_items'])
    for item in declared:
        if item.name in failed:
            continue
        if item.state == 'present':
            assert item.name in after
            assert item.manual is None or after[item.name] == item.manual
        else:
            assert item.name not in after
    if option_values['exclusive']:
        present = set(d.name for d in declared if d.state == 'present')
        assert set(after) <= present | failed

    # Planning again on the result plans nothing for what succeeded.
    owned = read_owned(client)
    visible = read_visible(client) if names_to_look_up(owned, declared) else {}
    again = plan_ownership(owned, declared, visible, **option_values)
    pending = set(p.name for p in again.acquire + again.create + again.release)
    assert pending <= failed | set(r.get('name') or r.get('template') for r in again.refused)

    # The second run sends no write.
    writes = exist.writes
    second = converge(client, declared, **option_values)
    if not result.get('failed'):
        assert exist.writes == writes and not second['changed']


@PROPERTY_SETTINGS
@given(worlds, scopes, items, options)
def test_check_mode_predicts_the_real_run_and_writes_nothing(world, token_scopes, raw_items, option_values):
    declared = declared_from(raw_items)
    exist, client = server(world, token_scopes)
    warnings = []
    predicted = converge(client, declared, check_mode=True, warn=warnings.append, **option_values)
    assert exist.writes == 0
    real = converge(client, declared, **option_values)

    # What a real run may reveal that no read can (documented): refusals for
    # scopes and unknown names, and what a token cannot see.
    unpredictable = ('not_allowed', 'not_found', 'owner_unknown')
    if any(i['error_code'] in unpredictable for i in real['failed_items'] + predicted['failed_items']):
        return
    if any('not visible to this token' in w for w in warnings):
        return
    assert predicted['acquired'] == real['acquired']
    assert predicted['released'] == real['released']
    assert predicted['changed'] == real['changed']
    assert [(a['name'], a['manual']) for a in predicted['owned']] == [(a['name'], a['manual']) for a in real['owned']]
    assert set(a['service']['name'] for a in predicted['owned']) <= {ME, THIS_CLIENT}
    assert predicted['diff'] == real['diff']
