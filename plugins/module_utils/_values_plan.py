# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure planning of attribute values: no HTTP, no Ansible.

Internal to this collection, not a stable API. Turns the values a task
declares and the values Exist has into the updates that converge them (only
the values that differ), checks each value against its attribute's value
type before anything is written, and builds the diff and the predicted
result. Increments are planned here too; they are never idempotent.
"""

from __future__ import annotations

import datetime
import math
import re

from ansible_collections.existio.exist.plugins.module_utils._client import is_iso_date
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import NAME_PATTERN

SET = 'set'
INCREMENT = 'increment'
OPERATIONS = (SET, INCREMENT)
ITEM_KEYS = ('name', 'date', 'value')
# Far more than a year of backfill for a few attributes; a guard against a wrong variable.
MAX_DECLARED = 10000

# Exist's value types: number -> name (the names this collection accepts for them).
VALUE_TYPE_NAMES = {
    0: 'integer',
    1: 'float',
    2: 'string',
    3: 'duration',
    4: 'time_of_day',
    5: 'percentage',
    6: 'time_of_day_midday',
    7: 'boolean',
    8: 'scale',
}
VALUE_TYPES = dict((name, number) for number, name in VALUE_TYPE_NAMES.items())
# Exist refuses increments of these (documented: string, scale, time of day).
NOT_INCREMENTABLE = frozenset((2, 4, 6, 8))
# Exist's words when a day's value would go back to null.
NULL_ERROR = 'A non-null value cannot be set back to null'


class ValuesError(ValueError):
    """The task's values are invalid; the message names the item."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return (_is_int(value) or isinstance(value, float)) and not (
        isinstance(value, float) and (math.isnan(value) or math.isinf(value))
    )


INTEGER_TEXT = re.compile(r'\A\s*[-+]?[0-9]+\s*\Z')
NUMBER_TEXT = re.compile(r'\A\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*\Z')
BOOLEAN_TEXT = {'true': 1, 'false': 0, 'yes': 1, 'no': 0, '1': 1, '0': 0}
WHOLE_KINDS = ('integer', 'duration', 'time_of_day', 'time_of_day_midday', 'scale')


def coerce(value_type, value):
    """A number written as text, as the number, for a numeric value type.

    Before ansible-core 2.19, a template such as "{{ x | int }}" inside a list
    gives the text '3'; a number in text is taken as that number, as options of
    type int are. Other text stays text (and fails the type check).
    """
    kind = VALUE_TYPE_NAMES.get(value_type)
    if not isinstance(value, str) or kind in (None, 'string'):
        return value
    if kind == 'boolean':
        return BOOLEAN_TEXT.get(value.strip().lower(), value)
    if kind in WHOLE_KINDS:
        return int(value) if INTEGER_TEXT.match(value) else value
    return float(value) if NUMBER_TEXT.match(value) else value


def check_value(value_type, value):
    """(value as sent, problem or None) for a day's value of an attribute of value_type.

    The ranges of scale, percentage and time of day follow Exist's docs for
    each type (Exist itself says it checks values "broadly by type"). An
    unknown value type is left for Exist to judge.
    """
    kind = VALUE_TYPE_NAMES.get(value_type)
    if kind is None:
        return value, None
    value = coerce(value_type, value)
    if kind == 'integer' and _is_int(value):
        return value, None
    if kind == 'float' and _is_number(value):
        return value, None
    if kind == 'string' and isinstance(value, str):
        return value, None
    if kind == 'duration' and _is_int(value) and value >= 0:
        return value, None
    if kind in ('time_of_day', 'time_of_day_midday') and _is_int(value) and 0 <= value < 1440:
        return value, None
    if kind == 'percentage' and _is_number(value) and 0.0 <= value <= 1.0:
        return value, None
    if kind == 'boolean' and (isinstance(value, bool) or (_is_int(value) and value in (0, 1))):
        return int(value), None
    if kind == 'scale' and _is_int(value) and 1 <= value <= 9:
        return value, None
    return value, '%s is not a valid %s value (%s)' % (_show(value), kind, EXPECTED[kind])


EXPECTED = {
    'integer': 'a whole number',
    'float': 'a number',
    'string': 'a string',
    'duration': 'whole minutes, 0 or more',
    'time_of_day': 'minutes after midnight, 0-1439',
    'time_of_day_midday': 'minutes after midday, 0-1439',
    'percentage': 'a number from 0.0 to 1.0',
    'boolean': 'true or false (1 or 0)',
    'scale': 'a whole number from 1 to 9',
}


def check_increment(value_type, delta):
    """Problem with adding `delta` to an attribute of value_type, or None."""
    kind = VALUE_TYPE_NAMES.get(value_type)
    if kind is not None and kind not in ('string', 'boolean'):
        delta = coerce(value_type, delta)
    if not _is_number(delta):
        return '%s is not a number to add' % _show(delta)
    if kind is None:
        return None
    if value_type in NOT_INCREMENTABLE:
        return 'a %s attribute cannot be incremented' % kind
    if isinstance(delta, float) and kind in ('integer', 'duration', 'boolean'):
        return 'Cannot apply a float to an integer type (%s)' % _show(delta)
    return None


def same_value(a, b):
    """Whether two day values are the same for Exist (7 and 7.0 are; true and 1 are)."""
    if _is_number(a) or isinstance(a, bool):
        if not (_is_number(b) or isinstance(b, bool)):
            return False
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def _show(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'


class DeclaredValue(object):
    """One day's value of one attribute, as the task declares it."""

    def __init__(self, name, date, value, index):
        self.name = name
        self.date = date  # 'YYYY-MM-DD'; None until today is known (date omitted)
        self.value = value
        self.index = index

    @property
    def key(self):
        return (self.name, self.date)

    def where(self):
        return 'values[%d] (%s on %s)' % (self.index, self.name, self.date or 'today')


def needs_today(items):
    """Whether some item leaves out its date (then the user's today must be read)."""
    return any(isinstance(item, dict) and item.get('date') is None for item in items or [])


def normalize_values(items, operation=SET, today=None):
    """Validate the task's values and return DeclaredValue objects, in order.

    today: the user's local day (a date), for items without a date (None: their
    date stays None, for a check before any request). The same
    attribute and day declared twice is an error naming both items (merged
    when the values are equal, for set).
    """
    if operation not in OPERATIONS:
        raise ValuesError('operation must be one of %s, got %r' % (', '.join(OPERATIONS), operation))
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ValuesError('values must be a list of dictionaries, got %s' % _show(items))
    if len(items) > MAX_DECLARED:
        raise ValuesError('values lists %d items; at most %d are allowed in one task' % (len(items), MAX_DECLARED))
    seen, result = {}, []
    for index, item in enumerate(items):
        where = 'values[%d]' % index
        if not isinstance(item, dict):
            raise ValuesError('%s must be a dictionary with name, date and value, got %s' % (where, _show(item)))
        unknown = sorted(str(key) for key in item if key not in ITEM_KEYS)
        if unknown:
            raise ValuesError(
                '%s has unknown key(s) %s; allowed are %s' % (where, ', '.join(unknown), ', '.join(ITEM_KEYS))
            )
        name = item.get('name')
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValuesError(
                '%s.name %s is not an attribute name: use letters, digits and underscores, like mood'
                % (where, _show(name))
            )
        date = item.get('date')
        if isinstance(date, datetime.date) and not isinstance(date, datetime.datetime):
            date = date.isoformat()  # YAML reads an unquoted 2026-11-27 as a date
        if date is None:
            # Kept None until the user's today is read; normalize again with it.
            date = today.isoformat() if today is not None else None
        elif not is_iso_date(date):
            raise ValuesError('%s.date %s is not a date: use YYYY-MM-DD, the user\'s local day' % (where, _show(date)))
        if 'value' not in item or (operation == INCREMENT and item.get('value') is None):
            raise ValuesError('%s (%s on %s) has no value' % (where, name, date or 'today'))
        value = item.get('value')
        if isinstance(value, (dict, list)):
            raise ValuesError('%s.value %s must be a number, a string, true/false or null' % (where, _show(value)))
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise ValuesError('%s.value %s is not a number Exist can store' % (where, _show(value)))
        declared = DeclaredValue(name, date, value, index)
        earlier = seen.get(declared.key)
        if earlier is not None:
            if operation == SET and same_value(earlier.value, value) and type(earlier.value) is type(value):
                continue
            raise ValuesError(
                'values[%d] and %s both give %s on %s (%s / %s); declare each day once'
                % (earlier.index, where, name, date or 'today', _show(earlier.value), _show(value))
            )
        seen[declared.key] = declared
        result.append(declared)
    return result


def value_problems(declared, value_types, operation=SET):
    """Failed items for values that do not fit their attribute's value type.

    value_types: {name: value type number} of the attributes whose type is
    known (owned or visible); others are left for Exist to judge.
    """
    problems = []
    for item in declared:
        value_type = value_types.get(item.name)
        if operation == INCREMENT:
            problem = check_increment(value_type, item.value)
        elif item.value is None:
            problem = None
        else:
            problem = check_value(value_type, item.value)[1]
        if problem:
            problems.append(dict(_ref(item), error_code='validation', error=problem))
    return problems


def _ref(item):
    return {'name': item.name, 'date': item.date, 'value': item.value}


class PlannedValue(object):
    """A value to send: set (update) or add (increment)."""

    def __init__(self, declared, value, previous):
        self.declared = declared
        self.name = declared.name
        self.date = declared.date
        self.value = value  # as sent: booleans as 1/0
        self.previous = previous  # the day's value as read, None when it has none (or unread, for increment)
        self.key = declared.key

    def request_item(self):
        return {'name': self.name, 'date': self.date, 'value': self.value}

    def ref(self):
        return _ref(self.declared)


class ValuesPlan(object):
    """What to send. Built by plan_values() or plan_increments(); never talks to Exist."""

    def __init__(self, writes, refused, unchanged):
        self.writes = writes
        self.refused = refused  # failed items known before any write
        self.unchanged = unchanged  # declared values Exist already has


def plan_values(declared, current, value_types):
    """Updates for the declared values that differ from `current` ({name: {date: value}})."""
    writes, refused, unchanged = [], [], []
    for item in declared:
        previous = current.get(item.name, {}).get(item.date)
        if item.value is None:
            if previous is None:
                unchanged.append(item)
            else:
                refused.append(
                    dict(_ref(item), error_code='validation', error=NULL_ERROR + ' (it is %s)' % _show(previous))
                )
            continue
        value = check_value(value_types.get(item.name), item.value)[0]
        if previous is not None and same_value(previous, value):
            unchanged.append(item)
        else:
            writes.append(PlannedValue(item, value, previous))
    return ValuesPlan(writes, refused, unchanged)


def plan_increments(declared, value_types):
    """Every declared increment is sent: adding is never idempotent."""
    writes = []
    for item in declared:
        value_type = value_types.get(item.name)
        value = item.value
        if VALUE_TYPE_NAMES.get(value_type) == 'boolean' and isinstance(value, bool):
            value = int(value)
        elif VALUE_TYPE_NAMES.get(value_type) not in (None, 'string', 'boolean'):
            value = coerce(value_type, value)
        writes.append(PlannedValue(item, value, None))
    return ValuesPlan(writes, [], [])


def values_diff(updates):
    """Ansible's diff of the updates: {name: {date: value}} before and after."""
    before, after = {}, {}
    for planned in updates:
        before.setdefault(planned.name, {})[planned.date] = planned.previous
        after.setdefault(planned.name, {})[planned.date] = planned.value
    return {'before': before, 'after': after}
