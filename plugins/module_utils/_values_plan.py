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
from typing import Any, Collection, Iterable

from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import is_iso_date
from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    NAME_PATTERN,
    VALUE_TYPE_NAMES,
    shown,
)

SET = 'set'
INCREMENT = 'increment'
OPERATIONS = (SET, INCREMENT)
ITEM_KEYS = ('name', 'date', 'value')
# Far more than a year of backfill for a few attributes; a guard against a wrong variable.
MAX_DECLARED = 10000

# Exist refuses increments of these (documented: string, scale, time of day).
NOT_INCREMENTABLE = frozenset((2, 4, 6, 8))
# Exist's words when a day's value would go back to null.
NULL_ERROR = 'A non-null value cannot be set back to null'


class ValuesError(ValueError):
    """The task's values are invalid; the message names the item."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and not (
        isinstance(value, float) and (math.isnan(value) or math.isinf(value))
    )


# Python writes and reads integers of at most this many digits as text (its int/str limit, and so the JSON
# that carries a value); a longer number is refused, naming it, instead of failing as it is sent or shown.
MAX_DIGITS = 4300
_TOO_MANY_DIGITS = 10**MAX_DIGITS
# re.ASCII: only 0-9 are digits (str.isdigit() and \d also take '²' or '٣', which int() refuses or reads).
INTEGER_TEXT = re.compile(r'\A\s*[-+]?[0-9]+\s*\Z', re.ASCII)
NUMBER_TEXT = re.compile(r'\A\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*\Z', re.ASCII)
BOOLEAN_TEXT = {'true': 1, 'false': 0, 'yes': 1, 'no': 0, '1': 1, '0': 0}
WHOLE_KINDS = ('integer', 'duration', 'time_of_day', 'time_of_day_midday', 'scale')
# Exist keeps these as decimals: assumed IEEE doubles, what its JSON carries (the docs do not say).
DECIMAL_KINDS = ('float', 'percentage')


def too_long(value: Any) -> bool:
    """Whether value is an integer with more than MAX_DIGITS digits (found without writing it as text)."""
    return _is_int(value) and abs(value) >= _TOO_MANY_DIGITS


def digits_in(text: str) -> int:
    return sum(1 for ch in text if '0' <= ch <= '9')


def number_text_problem(text: str) -> str | None:
    """Why a number written as text cannot be read as one (too many digits), or None."""
    if digits_in(text) > MAX_DIGITS:
        return '%s has %d digits; a number may have at most %d' % (_show(text), digits_in(text), MAX_DIGITS)
    return None


def _from_text(kind: str, value: str) -> tuple[Any, str | None]:
    """(value, problem): a number written as text, as the number, for a numeric value type; other text as it is."""
    if kind == 'boolean':
        return BOOLEAN_TEXT.get(value.strip().lower(), value), None
    pattern = INTEGER_TEXT if kind in WHOLE_KINDS else NUMBER_TEXT
    if not pattern.match(value):
        return value, None
    problem = number_text_problem(value)
    if problem:
        return value, problem
    if kind in WHOLE_KINDS:
        return int(value), None
    number = float(value)
    if math.isinf(number):
        return value, '%s is too large a number: it has no finite value as a decimal' % _show(value)
    return number, None


def coerce(value_type: Any, value: Any) -> Any:
    """A number written as text, as the number, for a numeric value type.

    Before ansible-core 2.19, a template such as "{{ x | int }}" inside a list
    gives the text '3'; a number in text is taken as that number, as options of
    type int are. Other text stays text (and fails the type check); so does a
    number too long to read (check_value() says why).
    """
    kind = VALUE_TYPE_NAMES.get(value_type)
    if not isinstance(value, str) or kind in (None, 'string'):
        return value
    return _from_text(kind, value)[0]


def _fits_a_double(value: Any) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def check_value(value_type: Any, value: Any) -> tuple[Any, str | None]:
    """(value as sent, problem or None) for a day's value of an attribute of value_type.

    The ranges of scale, percentage and time of day follow Exist's docs for
    each type (Exist itself says it checks values "broadly by type"). An
    unknown value type is left for Exist to judge.
    """
    kind = VALUE_TYPE_NAMES.get(value_type)
    if kind is None:
        return value, None
    if isinstance(value, str) and kind != 'string':
        value, problem = _from_text(kind, value)
        if problem:
            return value, problem
    if kind == 'integer' and _is_int(value):
        return value, None
    if kind in DECIMAL_KINDS and _is_number(value) and not _fits_a_double(value):
        return value, '%s is too large for a %s value (a decimal)' % (_show(value), kind)
    if ACCEPTS[kind](value):
        # Exist keeps a boolean as 0 or 1.
        return (int(value) if kind == 'boolean' else value), None
    return value, '%s is not a valid %s value (%s)' % (_show(value), kind, EXPECTED[kind])


# What each value type takes (ranges as Exist's docs give them), and how a message says it.
ACCEPTS = {
    'integer': _is_int,
    'float': _is_number,
    'string': lambda value: isinstance(value, str),
    'duration': lambda value: _is_int(value) and value >= 0,
    'time_of_day': lambda value: _is_int(value) and 0 <= value < 1440,
    'time_of_day_midday': lambda value: _is_int(value) and 0 <= value < 1440,
    'percentage': lambda value: _is_number(value) and 0.0 <= value <= 1.0,
    'boolean': lambda value: isinstance(value, bool) or (_is_int(value) and value in (0, 1)),
    'scale': lambda value: _is_int(value) and 1 <= value <= 9,
}
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


def check_increment(value_type: Any, delta: Any) -> str | None:
    """Problem with adding `delta` to an attribute of value_type, or None."""
    kind = VALUE_TYPE_NAMES.get(value_type)
    if kind is not None and kind not in ('string', 'boolean') and isinstance(delta, str):
        delta, problem = _from_text(kind, delta)
        if problem:
            return problem
    if not _is_number(delta):
        return '%s is not a number to add' % _show(delta)
    if kind is None:
        return None
    if value_type in NOT_INCREMENTABLE:
        return 'a %s attribute cannot be incremented' % kind
    if isinstance(delta, float) and kind in ('integer', 'duration', 'boolean'):
        return 'Cannot apply a float to an integer type (%s)' % _show(delta)
    if kind in DECIMAL_KINDS and not _fits_a_double(delta):
        return '%s is too large to add to a %s value (a decimal)' % (_show(delta), kind)
    return None


def _as_number(value: Any) -> Any:
    """A boolean as the 0 or 1 Exist stores; any other value as it is."""
    return int(value) if isinstance(value, bool) else value


def same_value(a: Any, b: Any, value_type: Any = None) -> bool:
    """Whether a day holding `a` already holds `b`, for an attribute of value_type (None: unknown).

    Exact, by value type: whole numbers as integers (10000000001 is not
    10000000000, however large); the numbers of a decimal attribute (float,
    percentage) as the doubles Exist keeps of them, so a value that one
    double cannot tell from another is the same value; true and 1 are the
    same, 7 and '7' are not. Of an unknown value type, numbers compare as
    doubles when one of them is a decimal, else exactly.
    """
    a, b = _as_number(a), _as_number(b)
    if _is_number(a) and _is_number(b):
        decimal = VALUE_TYPE_NAMES.get(value_type) in DECIMAL_KINDS or isinstance(a, float) or isinstance(b, float)
        if decimal and _fits_a_double(a) and _fits_a_double(b):
            return float(a) == float(b)
        # Python compares an int with a float exactly, never through a rounded copy.
        return a == b
    if _is_number(a) or _is_number(b):
        return False
    return a == b


def _show(value: object, limit: int = 60) -> str:
    if too_long(value):
        return 'an integer of more than %d digits' % MAX_DIGITS
    return shown(value, limit)


class DeclaredValue:
    """One day's value of one attribute, as the task declares it."""

    def __init__(self, name: str, date: str | None, value: Any, index: int) -> None:
        self.name = name
        self.date = date  # 'YYYY-MM-DD'; None until today is known (date omitted)
        self.value = value
        self.index = index

    @property
    def key(self) -> tuple:
        return (self.name, self.date)

    def where(self) -> str:
        return 'values[%d] (%s on %s)' % (self.index, self.name, self.date or 'today')


def needs_today(items: Any) -> bool:
    """Whether some item leaves out its date (then the user's today must be read)."""
    return any(isinstance(item, dict) and item.get('date') is None for item in items or [])


def normalize_values(items: object, operation: str = SET, today: datetime.date | None = None) -> list[DeclaredValue]:
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
    seen: dict
    seen, result = {}, []
    for index, item in enumerate(items):
        declared = _declared_value(item, index, operation, today)
        earlier = seen.get(declared.key)
        if earlier is not None:
            value = declared.value
            if operation == SET and same_value(earlier.value, value) and type(earlier.value) is type(value):
                continue
            raise ValuesError(
                'values[%d] and values[%d] both give %s on %s (%s / %s); declare each day once'
                % (earlier.index, index, declared.name, declared.date or 'today', _show(earlier.value), _show(value))
            )
        seen[declared.key] = declared
        result.append(declared)
    return result


def _declared_value(item: object, index: int, operation: str, today: datetime.date | None) -> DeclaredValue:
    """One item of `values`, checked: a DeclaredValue, or ValuesError naming values[index]."""
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
            '%s.name %s is not an attribute name: use letters, digits and underscores, like mood' % (where, _show(name))
        )
    date = _declared_date(item.get('date'), where, today)
    if 'value' not in item or (operation == INCREMENT and item.get('value') is None):
        raise ValuesError('%s (%s on %s) has no value' % (where, name, date or 'today'))
    value = item.get('value')
    if isinstance(value, (dict, list)):
        raise ValuesError('%s.value %s must be a number, a string, true/false or null' % (where, _show(value)))
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise ValuesError('%s.value %s is not a number Exist can store' % (where, _show(value)))
    if too_long(value):
        raise ValuesError(
            '%s.value (%s on %s) is %s; a number may have at most %d digits'
            % (where, name, date or 'today', _show(value), MAX_DIGITS)
        )
    return DeclaredValue(name, date, value, index)


def _declared_date(date: Any, where: str, today: datetime.date | None) -> str | None:
    """An item's date as YYYY-MM-DD; None, left out, until the user's today is known."""
    if isinstance(date, datetime.date) and not isinstance(date, datetime.datetime):
        date = date.isoformat()  # YAML reads an unquoted 2026-11-27 as a date
    if date is None:
        # Kept None until the user's today is read; normalize again with it.
        return today.isoformat() if today is not None else None
    if not is_iso_date(date):
        raise ValuesError('%s.date %s is not a date: use YYYY-MM-DD, the user\'s local day' % (where, _show(date)))
    return date


def value_problems(declared: list[DeclaredValue], value_types: dict, operation: str = SET) -> list[dict]:
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


def _ref(item: DeclaredValue) -> dict:
    return {'name': item.name, 'date': item.date, 'value': item.value}


class PlannedValue:
    """A value to send: set (update) or add (increment)."""

    def __init__(
        self,
        declared: DeclaredValue,
        value: Any,
        previous: Any,
        value_type: Any = None,
        previous_known: bool = True,
    ) -> None:
        self.declared = declared
        self.name = declared.name
        self.date = declared.date
        self.value = value  # as sent: booleans as 1/0
        # The day's value as read, None when it has none. previous_known is False when no read could show it
        # (the token cannot read the attribute; an increment reads nothing): then previous means nothing.
        self.previous = previous if previous_known else None
        self.previous_known = previous_known
        self.value_type = value_type  # the attribute's, when known: how a fresh read is compared
        self.key = declared.key

    def request_item(self) -> dict:
        return {'name': self.name, 'date': self.date, 'value': self.value}

    def ref(self) -> dict:
        return _ref(self.declared)


class ValuesPlan:
    """What to send. Built by plan_values() or plan_increments(); never talks to Exist."""

    def __init__(self, writes: list, refused: list[dict], unchanged: list) -> None:
        self.writes = writes
        self.refused = refused  # failed items known before any write
        self.unchanged = unchanged  # declared values Exist already has


def plan_values(
    declared: list[DeclaredValue], current: dict, value_types: dict, unreadable: Collection[str] = ()
) -> ValuesPlan:
    """Updates for the declared values that differ from `current` ({name: {date: value}}).

    unreadable: names whose values no read can show (the token lacks the read
    scope): each of their declared values is sent, its previous value unknown.
    A null is sent too: Exist takes it only over no value, so its answer
    tells what the read could not.
    """
    writes, refused, unchanged = [], [], []
    for item in declared:
        value_type = value_types.get(item.name)
        if item.name in unreadable:
            value = item.value if item.value is None else check_value(value_type, item.value)[0]
            writes.append(PlannedValue(item, value, None, value_type, previous_known=False))
            continue
        previous = current.get(item.name, {}).get(item.date)
        if item.value is None:
            if previous is None:
                unchanged.append(item)
            else:
                refused.append(
                    dict(_ref(item), error_code='validation', error=NULL_ERROR + ' (it is %s)' % _show(previous))
                )
            continue
        value = check_value(value_type, item.value)[0]
        if previous is not None and same_value(previous, value, value_type):
            unchanged.append(item)
        else:
            writes.append(PlannedValue(item, value, previous, value_type))
    return ValuesPlan(writes, refused, unchanged)


def plan_increments(declared: list[DeclaredValue], value_types: dict) -> ValuesPlan:
    """Every declared increment is sent: adding is never idempotent."""
    writes = []
    for item in declared:
        value_type = value_types.get(item.name)
        value = item.value
        kind = VALUE_TYPE_NAMES.get(value_type) if value_type is not None else None
        if kind == 'boolean' and isinstance(value, bool):
            value = int(value)
        elif kind not in (None, 'string', 'boolean'):
            value = coerce(value_type, value)
        writes.append(PlannedValue(item, value, None, value_type, previous_known=False))
    return ValuesPlan(writes, [], [])


def values_diff(updates: Iterable[PlannedValue]) -> dict:
    """Ansible's diff of the updates: {name: {date: value}} before and after.

    Only values whose previous value a read showed: a diff never shows a
    before that nobody saw.
    """
    before: dict
    after: dict
    before, after = {}, {}
    for planned in updates:
        if not planned.previous_known:
            continue
        before.setdefault(planned.name, {})[planned.date] = planned.previous
        after.setdefault(planned.name, {})[planned.date] = planned.value
    return {'before': before, 'after': after}
