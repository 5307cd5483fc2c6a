# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""masked(): the fast path of remove_values() must mask exactly what remove_values() masks."""

from __future__ import annotations

from ansible.module_utils.common.parameters import remove_values
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.plugin_utils._worker_process import masked

secret_text = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(['tok"en', 'back\\slash', 'new\nline', 'ünï', '12', 'true', 'a', 'demo-token', '/']),
)
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))


def results_with(secrets):
    # Strings that may hold a secret somewhere inside, as keys and values.
    holders = st.one_of(
        leaves,
        st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), st.sampled_from(secrets), st.text(max_size=5)),
    )
    return st.recursive(
        holders,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.one_of(st.text(max_size=6), holders), inner, max_size=4)
        ),
        max_leaves=12,
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), secrets=st.lists(secret_text, min_size=1, max_size=3))
def test_masked_equals_remove_values(data, secrets):
    result = {'changed': False, 'owned': data.draw(results_with(secrets))}
    assert masked(result, set(secrets)) == remove_values(result, set(secrets))


def test_a_result_without_a_secret_is_returned_as_it_is():
    result = {'owned': [{'name': 'mood', 'service': {'name': 'me'}}] * 50}
    assert masked(result, {'demo-token'}) is result


def test_a_result_with_a_secret_is_masked():
    result = {'msg': 'GET failed for demo-token', 'owned': []}
    assert 'demo-token' not in str(masked(result, {'demo-token'}))
