# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Checks of a task's raw arguments that run before ansible-core's own.

Internal to this collection, not a stable API.

ansible-core's argument validation has two weak spots for this collection:
a value of the wrong shape (a string or a dictionary where a list of
dictionaries is expected) stops it before it has listed the no_log values, so
the token would go unmasked into the failure; and its messages then name
internal classes. So the action plugin, on both paths, first collects the
secrets itself and checks the shape of the arguments, in words a user knows.
"""

from __future__ import annotations

from collections.abc import Mapping

_EXPECTED = {'str': 'a string', 'path': 'a path', 'int': 'a whole number', 'float': 'a number', 'bool': 'true or false'}


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return 'a dictionary'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    return 'a value of another kind'


def _show(value: object, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else "'%s'" % value
    return text if len(text) <= limit else text[: limit - 3] + '...'


def shape_problems(spec: dict, args: Mapping | None, where: str = '') -> list[str]:
    """Messages for arguments whose shape cannot be what the spec means, naming the option and the value."""
    problems = []
    for name, value in (args or {}).items():
        option = spec.get(name) if isinstance(name, str) else None
        if option is None or value is None:
            continue
        label = where + name
        kind = option.get('type', 'str')
        if kind == 'list':
            problems.extend(_list_problems(option, value, label))
        elif kind in _EXPECTED and isinstance(value, (Mapping, list, tuple)):
            problems.append('%s must be %s, got %s: %s' % (label, _EXPECTED[kind], _kind(value), _show(value)))
    return problems


def _list_problems(option: dict, value: list, label: str) -> list[str]:
    """shape_problems() of a list option."""
    if isinstance(value, Mapping):
        return ['%s must be a list, got a dictionary: %s' % (label, _show(dict(value)))]
    elements = option.get('elements')
    if elements in ('str', 'int', 'bool') and isinstance(value, (list, tuple)):
        return [
            '%s[%d] must be %s, got %s: %s' % (label, index, _EXPECTED[elements], _kind(element), _show(element))
            for index, element in enumerate(value)
            if isinstance(element, (Mapping, list, tuple))
        ]
    if elements != 'dict':
        return []
    if not isinstance(value, (list, tuple)):
        return ['%s must be a list of dictionaries, got %s: %s' % (label, _kind(value), _show(value))]
    problems = []
    for index, element in enumerate(value):
        if not isinstance(element, Mapping):
            problems.append('%s[%d] must be a dictionary, got %s: %s' % (label, index, _kind(element), _show(element)))
        elif option.get('options'):
            problems.extend(shape_problems(option['options'], element, '%s[%d].' % (label, index)))
    return problems


def secret_values(spec: dict, args: Mapping | None, environ: Mapping[str, str]) -> set[str]:
    """Every form in which a no_log option's value may show up: as given, and
    stripped of surrounding whitespace (as the client uses it). Values from an
    environment fallback count too."""
    secrets = set()
    for name, option in spec.items():
        if not option.get('no_log'):
            continue
        values = [(args or {}).get(name)]
        fallback = option.get('fallback')
        if fallback and len(fallback) > 1:
            values.extend(environ.get(variable) for variable in fallback[1])
        for value in values:
            secrets.update(_texts_in(value))
    return secrets


def _texts_in(value: object, depth: int = 0) -> set[str]:
    """Every text form of a value: a string as given and stripped; the strings
    and numbers inside a list or a dictionary (a token given as a list is still a
    secret, and a message may quote it)."""
    if isinstance(value, str):
        return set((value, value.strip())) - set([''])
    if isinstance(value, bool) or value is None or depth > 20:
        return set()
    if isinstance(value, (int, float)):
        return set([str(value)])
    texts = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            texts |= _texts_in(key, depth + 1) | _texts_in(item, depth + 1)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            texts |= _texts_in(item, depth + 1)
    return texts


def without_env_fallbacks(spec: dict) -> dict:
    """The spec as the controller can check it for a module that runs on
    another host: options filled from that host's environment may be missing here."""
    checked = {}
    for name, option in spec.items():
        option = dict(option)
        if option.pop('fallback', None):
            option.pop('required', None)
        checked[name] = option
    return checked
