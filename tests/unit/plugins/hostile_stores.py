# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Hypothesis strategies for token stores a hostile or careless user could write.

Shared by the store's tests and the inventory plugin's: whatever the file holds, the reader either
gives back well-formed entries or fails with its own error, and no message quotes a token.
"""

from __future__ import annotations

import datetime

import yaml
from hypothesis import strategies as st

# Every token in a generated store is one of these, so a test can look for them in any message.
SECRETS = ['sEcReT-hostile-%02d-token' % number for number in range(8)]

_EDGE_MOMENTS = [
    '0001-01-01T00:00:00+05:00',  # no UTC form (before year 1)
    '9999-12-31T23:00:00-05:00',  # no UTC form (after year 9999)
    '9999-12-31T23:59:59Z',
    '2027-02-30T00:00:00Z',  # no such day
    '2027-01-01T24:00:00Z',
    '2027-01-01',
    '',
    ' ',
    'Z',
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.sampled_from(_EDGE_MOMENTS),
)

values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)

_usual_moments = st.datetimes(
    min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2100, 1, 1), timezones=st.timezones()
)
_moments = st.one_of(
    _usual_moments,
    _usual_moments.map(lambda moment: moment.isoformat()),
    st.sampled_from(_EDGE_MOMENTS),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
)


@st.composite
def entries(draw):
    """A well-formed entry, then none, one or two of its keys dropped or given a value of any kind."""
    entry = {
        'access_token': draw(st.sampled_from(SECRETS)),
        'refresh_token': draw(st.sampled_from(SECRETS)),
        'expires_at': draw(_moments),
        'scope': draw(st.text(max_size=20)),
    }
    if draw(st.booleans()):
        entry['username'] = None  # set to the key by stores(), unless mutated below
    for key in draw(st.one_of(st.just([]), st.lists(st.sampled_from(sorted(entry)), min_size=1, max_size=2))):
        if draw(st.booleans()):
            entry.pop(key, None)
        else:
            entry[key] = draw(values)
    return entry


@st.composite
def _user_stores(draw):
    # Names Exist could give (keys of any kind are in `stores` below).
    store = draw(st.dictionaries(st.from_regex(r'[a-z][a-z0-9_.-]{0,11}', fullmatch=True), entries(), max_size=3))
    for username, entry in store.items():
        if 'username' in entry and entry['username'] is None:
            entry['username'] = username
    return store


stores = st.one_of(_user_stores(), st.dictionaries(st.one_of(st.text(max_size=8), scalars), values, max_size=3), values)


def store_text(store):
    """The YAML a user could have written for `store` (PyYAML dumps dates and datetimes as timestamps)."""
    return yaml.safe_dump(store, allow_unicode=True, default_flow_style=bool(isinstance(store, list)))


# Text a hand could mistype: YAML's own punctuation, timestamps, anchors, tags and a token.
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(
            [
                'alice:',
                '\n',
                '  ',
                'access_token: ',
                'refresh_token: ',
                'expires_at: ',
                SECRETS[0],
                '[',
                ']',
                '{',
                '}',
                '&a ',
                '*a',
                '!!python/object ',
                '!!timestamp ',
                '2027-13-45 99:99:99',
                '0001-01-01 00:00:00+05:00',
                '- ',
                '? ',
                '"',
                "'",
                '\x00',
                '\ufeff',
                '%YAML 1.1\n---\n',
                '...',
                '#',
            ]
        ),
        st.text(max_size=6),
    ),
    max_size=30,
).map(''.join)


# -- usernames -----------------------------------------------------------------

# Scopes a generated user may hold (their groups are scope_<scope>).
SCOPES = ['mood_read', 'mood_write', 'activity_read', 'sleep_write']
# Names of groups the users inventory makes, Ansible's own, and those of the constructed options the
# property tests configure (keyed_groups with prefix `group`, groups `due_soon`).
GROUP_NAMES = [
    'all',
    'ungrouped',
    'localhost',
    '127.0.0.1',
    'exist_users',
    'exist_token_expiring',
    'exist_token_expired',
    'exist_token_invalid',
    'exist_token_reauthorization_needed',
    'exist_token_refresh_outcome_unknown',
    'exist_token_recovery_pending',
    'due_soon',
    'group_mood',
    'group_activity',
    'group_sleep',
] + ['scope_' + scope for scope in SCOPES]
# Names Ansible patterns read as something else than one host.
PATTERN_NAMES = ['a,b', 'a:b', 'a b', '*', 'al*', 'bo?', 'x[0]', '!bob', '&bob', '~b.b', '@file', 'tab\tbed', 'nl\n']

_plain = st.from_regex(r'[a-z][a-z0-9_]{0,9}', fullmatch=True)
usernames = st.one_of(
    _plain,
    st.sampled_from(GROUP_NAMES),
    st.sampled_from(GROUP_NAMES).map(str.upper),
    st.sampled_from(PATTERN_NAMES),
    st.text(min_size=1, max_size=12).filter(lambda name: name.strip('\x00') != ''),
    st.integers(min_value=100, max_value=5000).map(lambda size: 'long' + 'g' * size),
    st.sampled_from(["o'brien", 'back\\slash', '{{ 7 * 7 }}', '{% raw %}', 'Ünïcödé', '用户', 'a.b-c+d@e']),
)


@st.composite
def username_stores(draw):
    """Well-formed entries under hostile usernames, some of them alike but for case, some marked."""
    names = draw(st.lists(usernames, min_size=1, max_size=6, unique=True))
    if draw(st.booleans()):
        names.append(draw(st.sampled_from(names)).swapcase())
    now = datetime.datetime.now(datetime.timezone.utc)
    store = {}
    for index, name in enumerate(dict.fromkeys(names)):
        days = draw(st.sampled_from([-3, 5, 100]))
        entry = {
            'username': name,
            'access_token': SECRETS[index % len(SECRETS)],
            'refresh_token': SECRETS[(index + 1) % len(SECRETS)],
            'expires_at': (now + datetime.timedelta(days=days)).strftime('%Y-%m-%dT%H:%M:%SZ'),
            'scope': ' '.join(draw(st.lists(st.sampled_from(SCOPES), max_size=3))),
        }
        mark = draw(st.sampled_from([None, None, 'reauthorization_needed', 'refresh_outcome_unknown']))
        if mark == 'reauthorization_needed':
            entry[mark] = True
        elif mark:
            entry[mark] = now.strftime('%Y-%m-%dT%H:%M:%SZ')
        store[name] = entry
    return store


@st.composite
def marked_entries(draw):
    """entries(), with the marks existio.exist.token leaves, of any value a hand could give them."""
    entry = draw(entries())
    for key in ('reauthorization_needed', 'refresh_outcome_unknown'):
        if draw(st.booleans()):
            entry[key] = draw(st.one_of(st.just(True), st.sampled_from(_EDGE_MOMENTS), values))
    return entry


@st.composite
def _marked_user_stores(draw):
    names = st.one_of(st.from_regex(r'[a-z][a-z0-9_.-]{0,11}', fullmatch=True), st.sampled_from(GROUP_NAMES))
    store = draw(st.dictionaries(names, marked_entries(), max_size=4))
    for username, entry in store.items():
        if 'username' in entry and entry['username'] is None:
            entry['username'] = username
    return store


# Stores for the inventory: as `stores`, and entries with marks under names that may clash with groups.
marked_stores = st.one_of(stores, _marked_user_stores())
