# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shape of Exist's answers, as this collection reads them: each check returns what is wrong, or None.

Internal to this collection, not a stable API. They look only at the fields this collection reads, and
never quote a token.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any, Callable

from ansible_collections.existio.exist.plugins.module_utils._option_checks import short

DATE_PATTERN = re.compile(r'\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z')
# A token lives about a year; an answer claiming more than this is not Exist's.
MAX_EXPIRES_IN = 100 * 366 * 24 * 3600


def is_text(value: object) -> bool:
    return isinstance(value, str) and value != ''


def _service_problem(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, dict):
        name = value.get('name')
        if name is None or isinstance(name, str):
            return None
    return 'is %s, expected null, a service name or {"name": ...}' % short(value)


def attribute_problem(obj: object) -> str | None:
    """What makes obj unusable as an Exist attribute object, or None."""
    if not isinstance(obj, dict):
        return 'is %s, not an object' % short(obj)
    if not is_text(obj.get('name')):
        return "has no 'name' (got %s)" % short(obj.get('name'))
    if obj.get('template') is not None and not isinstance(obj.get('template'), str):
        return "'template' is %s, expected a string or null" % short(obj['template'])
    for flag in ('manual', 'active'):
        if flag in obj and obj[flag] is not None and not isinstance(obj[flag], bool):
            return "'%s' is %s, expected true or false" % (flag, short(obj[flag]))
    problem = _service_problem(obj.get('service'))
    if problem:
        return "'service' " + problem
    group = obj.get('group')
    if (
        group is not None
        and not isinstance(group, str)
        and not (isinstance(group, dict) and is_text(group.get('name')))
    ):
        return "'group' is %s, expected {\"name\": ...}" % short(group)
    available = obj.get('available_services')
    if available is not None:
        if not isinstance(available, list):
            return "'available_services' is %s, expected a list" % short(available)
        for entry in available:
            if _service_problem(entry):
                return "'available_services' holds %s" % short(entry)
    return None


def listed_attribute_problem(obj: object) -> str | None:
    """What makes obj unusable as an attribute object of a list (owned, all, with-values), or None.

    A list's objects are whole (the docs and the recordings agree), and the plan decides by label, group,
    value type and the manual flag: an object without them is not Exist's, and planning on it would
    misjudge what the user has.
    """
    problem = attribute_problem(obj)
    if problem or not isinstance(obj, dict):  # not an object: attribute_problem said so
        return problem
    if not is_text(obj.get('label')):
        return "has no 'label' (got %s)" % short(obj.get('label'))
    if obj.get('group') is None:
        return "has no 'group'"
    value_type = obj.get('value_type')
    if isinstance(value_type, bool) or not isinstance(value_type, int):
        return "'value_type' is %s, expected an integer" % short(value_type)
    if not isinstance(obj.get('manual'), bool):
        return "'manual' is %s, expected true or false" % short(obj.get('manual'))
    return None


def template_problem(obj: object) -> str | None:
    """What makes obj unusable as an Exist template object, or None."""
    if not isinstance(obj, dict):
        return 'is %s, not an object' % short(obj)
    if not is_text(obj.get('name')):
        return "has no 'name' (got %s)" % short(obj.get('name'))
    return None


def is_iso_date(value: object) -> bool:
    """Whether value is a real calendar date written YYYY-MM-DD."""
    if not isinstance(value, str) or not DATE_PATTERN.match(value):
        return False
    try:
        datetime.date(int(value[:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


def value_row_problem(obj: object) -> str | None:
    """What makes obj unusable as one day's value ({"date": "YYYY-MM-DD", "value": ...}), or None."""
    if not isinstance(obj, dict):
        return 'is %s, not an object' % short(obj)
    if not is_iso_date(obj.get('date')):
        return "'date' is %s, expected YYYY-MM-DD" % short(obj.get('date'))
    if 'value' not in obj:
        return "has no 'value'"
    if isinstance(obj['value'], (dict, list)):
        return "'value' is %s, expected a number, a string or null" % short(obj['value'])
    return None


def with_values_problem(obj: Any) -> str | None:
    """What makes obj unusable as an attribute of GET /attributes/with-values/, or None."""
    problem = listed_attribute_problem(obj)
    if problem:
        return problem
    if not isinstance(obj.get('values'), list):
        return "'values' is %s, expected a list" % short(obj.get('values'))
    for index, row in enumerate(obj['values']):
        problem = value_row_problem(row)
        if problem:
            return 'values[%d] %s' % (index, problem)
    return None


def is_number(value: object) -> bool:
    """Whether value is a finite JSON number (true and false are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field_problem(obj: dict, key: str, check: Callable[[object], bool], expected: str) -> str | None:
    if check(obj.get(key)):
        return None
    return "'%s' is %s, expected %s" % (key, short(obj.get(key)), expected) if key in obj else "has no '%s'" % key


def _fields_problem(obj: object, fields: tuple) -> str | None:
    """The first of (key, check, expected) that obj fails, or None."""
    if not isinstance(obj, dict):
        return 'is %s, not an object' % short(obj)
    for key, check, expected in fields:
        problem = _field_problem(obj, key, check, expected)
        if problem:
            return problem
    return None


WEEKDAYS = ('monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday')
_AVERAGE_FIELDS = (
    ('attribute', is_text, 'an attribute name'),
    ('date', is_iso_date, 'YYYY-MM-DD'),
    ('overall', is_number, 'a number'),
) + tuple((day, is_number, 'a number') for day in WEEKDAYS)


def average_problem(obj: object) -> str | None:
    """What makes obj unusable as one week's averages of one attribute (GET /averages/), or None."""
    return _fields_problem(obj, _AVERAGE_FIELDS)


def _is_text_or_null(value: object) -> bool:
    return value is None or isinstance(value, str)


def _is_text_list_or_null(value: object) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(entry, str) for entry in value))


# The fields the docs show with a value; those they show as null (attribute_category, description,
# occurrence, rating) are passed on as they come.
_CORRELATION_FIELDS = (
    ('date', is_iso_date, 'YYYY-MM-DD'),
    ('attribute', is_text, 'an attribute name'),
    ('attribute2', is_text, 'an attribute name'),
    ('period', _whole, 'a whole number of days'),
    ('offset', _whole, 'a whole number of days'),
    ('value', is_number, 'a number'),
    ('p', is_number, 'a number'),
    ('percentage', is_number, 'a number'),
    ('stars', _whole, 'a whole number'),
    ('second_person', _is_text_or_null, 'a string or null'),
    ('second_person_elements', _is_text_list_or_null, 'a list of strings or null'),
    ('strength_description', _is_text_or_null, 'a string or null'),
    ('stars_description', _is_text_or_null, 'a string or null'),
)


def correlation_problem(obj: object) -> str | None:
    """What makes obj unusable as a correlation (GET /correlations/ and /correlations/combo/), or None."""
    return _fields_problem(obj, _CORRELATION_FIELDS)


def _is_timestamp(value: object) -> bool:
    """An ISO 8601 date and time that starts with a real date (Exist writes 2022-05-16T13:17:03+08:00)."""
    return isinstance(value, str) and len(value) > 11 and value[10] == 'T' and is_iso_date(value[:10])


def _is_insight_attribute(value: object) -> bool:
    return value is None or (isinstance(value, dict) and is_text(value.get('name')))


_INSIGHT_TYPE_FIELDS = (
    ('name', is_text, 'an insight type name'),
    ('priority', _whole, 'a whole number'),
    ('attribute', _is_insight_attribute, 'null or an attribute object with a name'),
)
_INSIGHT_FIELDS = (
    ('created', _is_timestamp, 'a date and time (YYYY-MM-DDThh:mm:ss+hh:mm)'),
    ('target_date', is_iso_date, 'YYYY-MM-DD'),
    ('type', lambda value: isinstance(value, dict), 'an object'),
    ('html', _is_text_or_null, 'a string or null'),
    ('text', _is_text_or_null, 'a string or null'),
)


def insight_problem(obj: object) -> str | None:
    """What makes obj unusable as an insight (GET /insights/), or None."""
    problem = _fields_problem(obj, _INSIGHT_FIELDS)
    if problem or not isinstance(obj, dict):
        return problem
    problem = _fields_problem(obj['type'], _INSIGHT_TYPE_FIELDS)
    return "'type' " + problem if problem else None


def _is_token_text(value: object) -> bool:
    return isinstance(value, str) and value != '' and not any(ch.isspace() or not 32 < ord(ch) < 127 for ch in value)


def token_answer_problem(body: object) -> str | None:
    """What makes body unusable as the answer of a token request (no pair in it), or None.

    Never quotes a value of the body: the tokens in it are secrets.
    """
    if not isinstance(body, dict):
        return 'a body that is not an object'
    for key in ('access_token', 'refresh_token'):
        if not _is_token_text(body.get(key)):
            return "no usable '%s'" % key
    return None


def token_answer_oddities(body: dict) -> list[str]:
    """What is odd about a token answer that does hold a pair: the pair is kept all the same (losing the
    user's only valid pair is the worse harm), these are said. Never quotes a value of the body."""
    oddities = []
    expires_in = body.get('expires_in')
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, (int, float))
        or math.isnan(expires_in)
        or not 0 < expires_in <= MAX_EXPIRES_IN
    ):
        oddities.append("no 'expires_in' that is a positive number of seconds, so its expiry is taken as now")
    token_type = body.get('token_type')
    if token_type is not None and (not isinstance(token_type, str) or token_type.lower() != 'bearer'):
        oddities.append("a 'token_type' that is not Bearer")
    if body.get('scope') is not None and not isinstance(body.get('scope'), str):
        oddities.append("a 'scope' that is not a string, so its scopes are taken as unknown")
    return oddities
