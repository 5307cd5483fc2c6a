# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The worker path's speed-ups change nothing a task sees: plain(), spare_inherited_objects(), share_strings(),
applied_environment()."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils import _attribute_task, _values_task
from ansible_collections.existio.exist.plugins.plugin_utils import _worker_process
from ansible_collections.existio.exist.plugins.plugin_utils._worker_process import plain, share_strings

PLAIN_TYPES = (dict, list, str, int, float, bool, type(None))


def loaded(data):
    """data as ansible-core hands it to an action plugin: loaded from YAML (tagged with its origin on 2.19+)."""
    return DataLoader().load(json.dumps(data))


def exact_types(value):
    kind = type(value)
    if isinstance(value, dict):
        return kind is dict and all(exact_types(k) and exact_types(v) for k, v in value.items())
    if isinstance(value, list):
        return kind is list and all(exact_types(v) for v in value)
    return kind in PLAIN_TYPES


json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(data=json_like)
def test_plain_keeps_every_value_and_drops_the_tags(data):
    value = loaded(data)
    copy = plain(value)
    assert copy == value == data
    assert exact_types(copy)


@pytest.mark.skipif(_worker_process.native_type_name is None, reason='ansible-core < 2.19 tags nothing')
def test_what_an_action_plugin_gets_is_tagged_and_plain_is_not():
    value = loaded({'attributes': [{'template': 'mood', 'n': 1, 'f': 1.5}]})
    assert not exact_types(value)
    assert exact_types(plain(value))


@pytest.mark.skipif(_worker_process.native_type_name is None, reason='ansible-core < 2.19 tags nothing')
def test_plain_keeps_a_string_decrypted_from_a_vault_as_it_is():
    # ansible-core writes such a string out as its ciphertext, never the secret: that tag must stay.
    from ansible._internal._datatag._tags import VaultedValue  # pylint: disable=import-outside-toplevel
    from ansible.parsing.vault import VaultHelper  # pylint: disable=import-outside-toplevel

    secret = VaultedValue(ciphertext='$ANSIBLE_VAULT;1.1;AES256\n6162').tag('vaulted-token')
    args = plain(loaded({'token': 'x', 'attributes': [{'template': 'mood'}]}) | {'token': secret})
    assert args['token'] is secret
    assert VaultHelper.get_ciphertext(args['token'], with_tags=False) == '$ANSIBLE_VAULT;1.1;AES256\n6162'
    assert exact_types(args['attributes'])


def test_plain_keeps_other_types_as_they_are():
    marker = object()
    value = {'t': (1, 2), 's': {1}, 'o': marker, 'b': True, 'n': None}
    copy = plain(value)
    assert copy == value
    assert copy['t'] is value['t'] and copy['s'] is value['s'] and copy['o'] is marker
    assert copy['b'] is True and copy['n'] is None


def test_plain_does_not_change_a_plain_value():
    value = {'attributes': [{'template': 'mood', 'manual': False}], 'timeout': 30, 'token': 'x'}
    assert plain(value) == value and exact_types(plain(value))


def test_before_2_19_plain_copies_only_plain_dicts_and_lists(monkeypatch):
    # ansible-core < 2.19 has no native_type_name: its own subclasses (AnsibleMapping, AnsibleUnicode...) stay.
    monkeypatch.setattr(_worker_process, 'native_type_name', None)

    class Mapping(dict):
        pass

    class Text(str):
        pass

    value = {'a': [1, 'x', ('t',)], 'm': Mapping(k='v'), 't': Text('s'), 'n': None, 'f': 1.5}
    copy = plain(value)
    assert copy == value
    assert copy is not value and copy['a'] is not value['a']
    assert copy['m'] is value['m'] and copy['t'] is value['t'] and copy['a'][2] is value['a'][2]


def test_plain_makes_equal_strings_one():
    args = plain(loaded({'attributes': [{'template': 'mood'}, {'template': 'steps'}]}))
    first, second = (list(entry)[0] for entry in args['attributes'])
    assert first is second


ARGS = [
    {'api_url': 'http://127.0.0.1:1', 'token': 'tok', 'attributes': [{'template': 'mood'}, {'name': 'steps'}]},
    {'token': ' tok ', 'attributes': [{'template': 'mood', 'manual': 'yes'}], 'timeout': '15', 'state': 'present'},
    {'token': 'tok', 'attributes': [{'template': 'mood', 'manual': 'maybe'}]},
    {'token': 'tok', 'timeout': 'soon', 'exclusive': 'perhaps', 'state': 'gone'},
    {'token': 'tok', 'attributes': [{'template': 'mood', 'colour': 'red'}], 'extra': 1},
    {'token': 'tok', 'values': [{'name': 'mood', 'date': '2026-01-01', 'value': 3}], 'operation': 'set'},
]


@pytest.mark.parametrize('args', ARGS)
@pytest.mark.parametrize('task', [_attribute_task, _values_task])
def test_validation_of_plain_arguments_is_validation_of_the_tagged_ones(task, args):
    spec = task.argument_spec()
    tagged = ArgumentSpecValidator(spec).validate(loaded(args))
    untagged = ArgumentSpecValidator(spec).validate(plain(loaded(args)))
    assert untagged.validated_parameters == tagged.validated_parameters
    assert [str(e) for e in untagged.errors.errors] == [str(e) for e in tagged.errors.errors]
    assert untagged._no_log_values == tagged._no_log_values


def _spare_twice(queue):
    calls = []
    real = gc.freeze
    gc.freeze = lambda: calls.append(1) or real()
    try:
        _worker_process.spare_inherited_objects()
        _worker_process.spare_inherited_objects()
    finally:
        gc.freeze = real
    queue.put(len(calls))


def test_objects_are_spared_once_in_a_forked_worker_and_never_elsewhere(monkeypatch):
    calls = []
    monkeypatch.setattr(gc, 'freeze', lambda: calls.append(1))
    _worker_process.spare_inherited_objects()
    assert not calls  # not a process started by multiprocessing
    monkeypatch.undo()
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    process = context.Process(target=_spare_twice, args=(queue,))
    process.start()
    try:
        assert queue.get(timeout=60) == 1
    finally:
        process.join(60)


def test_the_environment_is_restored_whole_whatever_the_task_did(monkeypatch):
    monkeypatch.setenv('EXIST_SPEED_KEPT', 'kept')
    monkeypatch.setenv('EXIST_SPEED_CHANGED', 'before')
    monkeypatch.delenv('EXIST_SPEED_NEW', raising=False)
    before = dict(os.environ)
    with _worker_process.applied_environment({'EXIST_SPEED_CHANGED': 'task', 'EXIST_SPEED_NEW': 'task'}):
        assert os.environ['EXIST_SPEED_CHANGED'] == 'task' and os.environ['EXIST_SPEED_NEW'] == 'task'
        os.environ['EXIST_SPEED_BY_THE_TASK'] = 'x'
        del os.environ['EXIST_SPEED_KEPT']
    assert dict(os.environ) == before


@settings(max_examples=200, deadline=None)
@given(data=json_like)
def test_share_strings_changes_no_value(data):
    result = {'owned': json.loads(json.dumps(data)), 'again': json.loads(json.dumps(data))}
    assert share_strings(result) is result
    assert result == {'owned': data, 'again': data}


def test_share_strings_makes_equal_strings_one():
    owned = json.loads(json.dumps([{'name': 'steps', 'service': {'name': 'fleet_service'}}] * 3))
    result = share_strings({'changed': False, 'owned': owned, 'names': ['steps']})
    names = [entry['service']['name'] for entry in result['owned']]
    assert names[0] is names[1] is names[2]
    assert result['owned'][0]['name'] is result['names'][0]
    shared = [1, 'x']
    assert share_strings({'a': shared, 'b': shared}) == {'a': [1, 'x'], 'b': [1, 'x']}
