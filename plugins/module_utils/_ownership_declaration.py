# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a task may declare of attribute ownership, and its checks: no HTTP, no Ansible.

Internal to this collection, not a stable API. Exist's vocabulary (names,
groups, value types, templates) and normalize_declared(), which turns the
task's `attributes` into Declared items or fails naming the item, before any
request.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Exist attribute names are ASCII slugs; anything else is a typo. \Z, not $:
# '$' also matches before a trailing newline, and 'mood\n' is not a name.
NAME_PATTERN = re.compile(r'\A[A-Za-z0-9_]{1,100}\Z')
# More than any user can have: a guard against a runaway loop or a wrong variable.
MAX_DECLARED = 1000
ITEM_KEYS = ('name', 'template', 'label', 'group', 'value_type', 'manual', 'state')
# Exist's attribute groups (a custom attribute needs one).
GROUPS = (
    'activity',
    'productivity',
    'mood',
    'sleep',
    'workouts',
    'events',
    'finance',
    'food',
    'health',
    'location',
    'media',
    'social',
    'weather',
    'symptoms',
    'medication',
    'custom',
)
# Exist's value types, by number and by the names this collection accepts.
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
# Templates only: Exist's API cannot create an attribute of this type.
NOT_CREATABLE = frozenset((6,))
MAX_LABEL = 100
STATES = ('present', 'absent')

# The plan's vocabulary.
# How this client appears as an owner in the diff. Its service name is not
# known before it owns something, and check mode must show the same diff as a
# real run, so it is never spelled out.
THIS_CLIENT = '(this client)'

# Why an attribute is acquired.
NEW = 'new'  # a template the look-up did not show: created (create fails if it exists)
TAKEOVER = 'takeover'  # another service owns it
UNOWNED = 'unowned'  # the user has it, nobody owns it (inactive)
MANUAL = 'manual'  # this client owns it, only the manual flag differs
NOT_VISIBLE = 'not_visible'  # by name, and the user lacks it: Exist will say not_found
# A custom attribute whose group or value type differs from the declaration: Exist cannot change them.
DIFFERS = 'group_or_type_differs'
# A template the look-up did not show, and that Exist says exists: the token
# cannot read it, so whoever owned it could not be seen.
HIDDEN = 'hidden'

NOT_FOUND_ERROR = 'Attribute matching query does not exist.'
# How an owner nobody can see is shown in the diff and in warnings.
UNKNOWN_OWNER = '(unknown: not visible to this token)'
# A label on several attributes, none of them this client's: which one is meant is for the user to say.
AMBIGUOUS_LABEL = 'ambiguous_label'

# The group of each published template (Exist's documentation, plus steps_goal
# seen in recorded traffic). Used only to tell "the user lacks it" from "the
# token cannot see it" in a prediction; what Exist answers always wins.
TEMPLATE_GROUPS = dict(
    (name, group)
    for group, names in (
        (
            'activity',
            'steps steps_active_min steps_elevation floors steps_distance stand_hours cycle_min cycle_distance '
            'active_energy steps_goal',
        ),
        ('workouts', 'workouts workouts_min workouts_distance'),
        (
            'productivity',
            'productive_min neutral_min distracting_min commits tasks_completed words_written emails_sent '
            'emails_received pomodoros_min keystrokes',
        ),
        (
            'food',
            'coffees alcoholic_drinks energy water carbohydrates fat fibre protein sugar sodium cholesterol caffeine',
        ),
        ('finance', 'money_spent'),
        ('mood', 'mood mood_note energy_level stress_level'),
        ('sleep', 'sleep time_in_bed sleep_light sleep_deep sleep_rem sleep_start sleep_end sleep_awakenings'),
        ('events', 'events events_duration'),
        (
            'health',
            'weight body_fat lean_mass heartrate heartrate_max heartrate_variability heartrate_resting '
            'meditation_min menstrual_flow sexual_activity',
        ),
        ('location', 'checkins location'),
        ('media', 'tracks articles_read pages_read mobile_screen_min gaming_min tv_min movies_min'),
        (
            'social',
            'facebook_posts facebook_comments facebook_reactions mastodon_posts mastodon_replies mastodon_boosts '
            'mastodon_favourites tweets twitter_mentions twitter_username',
        ),
        (
            'weather',
            'weather_temp_max weather_temp_min weather_precipitation weather_cloud_cover weather_wind_speed '
            'weather_summary weather_icon day_length',
        ),
    )
    for name in names.split()
)


def group_name(attribute: dict | None) -> str | None:
    """The group of an attribute object ({"name": ...} or a plain name), or None."""
    group = attribute.get('group') if attribute else None
    if isinstance(group, dict):
        return group.get('name') or None
    return group or None


class DeclarationError(ValueError):
    """The task's attributes are invalid; the message names the item."""


def slug_of(label: str) -> str:
    """The name Exist gives a custom attribute: an ASCII slug of its label.

    A prediction (Exist's own rule is not documented): results always take
    the name from Exist's answer; only check mode and the look-up use this.
    """
    text = unicodedata.normalize('NFKD', label).encode('ascii', 'ignore').decode('ascii').lower()
    return re.sub(r'[^a-z0-9]+', '_', text).strip('_')


class Custom:
    """What a custom attribute is declared as: its label, group and value type (a number)."""

    def __init__(self, label: str, group: str | None, value_type: int | None) -> None:
        self.label = label
        self.group = group
        self.value_type = value_type

    def key(self) -> tuple:
        return (self.label, self.group, self.value_type)

    def differences(self, attribute: dict) -> str | None:
        """How an existing attribute differs from this declaration (group, value type), or None."""
        group, value_type = group_name(attribute), attribute.get('value_type')
        if self.group is None or (group == self.group and value_type == self.value_type):
            return None
        return 'it exists with group %s and value type %s, but the task declares group %s and value type %s' % (
            group,
            _value_type_text(value_type),
            self.group,
            _value_type_text(self.value_type),
        )


def _value_type_text(value_type: object) -> str:
    name = VALUE_TYPE_NAMES.get(value_type) if isinstance(value_type, int) else None
    return '%s (%s)' % (name, value_type) if name else repr(value_type)


class Declared:
    """One attribute as the task declares it."""

    def __init__(
        self,
        name: str,
        identified_by: str,
        state: str,
        manual: bool | None,
        index: int,
        custom: Custom | None = None,
    ) -> None:
        # The attribute name: a template's attribute has the template's name; one declared by label, until the
        # reads resolve its label (resolved()), the slug Exist would most likely give a new one.
        self.name = name
        # 'name', 'template' or 'label': how the task names it, and how to acquire or create it
        self.identified_by = identified_by
        self.state = state
        self.manual = manual  # None: leave the flag as it is
        self.index = index
        self.custom: Any = custom  # a Custom for items declared by label (None otherwise)
        self.found = False  # declared by label, and a read showed the attribute with that label

    def resolved(self, name: str) -> Declared:
        """This item declared by label, resolved to the existing attribute `name`."""
        item = Declared(name, self.identified_by, self.state, self.manual, self.index, self.custom)
        item.found = True
        return item

    def intent(self) -> tuple:
        if self.state == 'absent':
            return ('absent',)
        return ('present', self.identified_by, self.manual, self.custom.key() if self.custom else None)

    def request_item(self) -> dict:
        """The acquire item: by name or template, with manual only when declared.
        An attribute declared by label is acquired by its name."""
        item: dict = {'name' if self.identified_by == 'label' else self.identified_by: self.name}
        if self.manual is not None:
            item['manual'] = self.manual
        return item

    def ref(self) -> dict:
        """The item as a user wrote it, for messages and failed_items."""
        if self.custom is not None:
            return {'label': self.custom.label}
        return {self.identified_by: self.name}


def _describe_intent(declared: Declared) -> str:
    if declared.state == 'absent':
        return 'state=absent'
    text = 'state=present by %s' % declared.identified_by
    if declared.custom is not None:
        text += ' (group %s, value type %s)' % (declared.custom.group, declared.custom.value_type)
    if declared.manual is not None:
        text += ', manual=%s' % declared.manual
    return text


def normalize_declared(items: object, default_state: str = 'present') -> list[Declared]:
    """Validate the task's attributes and return Declared objects, in order.

    Identical duplicates are merged; the same attribute declared twice with
    different wishes is an error naming both items.
    """
    if default_state not in STATES:
        raise DeclarationError('state must be one of %s, got %s' % (', '.join(STATES), shown(default_state)))
    if items is None:
        items = []
    if not isinstance(items, list):
        raise DeclarationError('attributes must be a list of dictionaries, got %s' % shown(items))
    if len(items) > MAX_DECLARED:
        raise DeclarationError(
            'attributes lists %d items; more than %d cannot be right for one user' % (len(items), MAX_DECLARED)
        )
    seen: dict = {}
    result = []
    for index, item in enumerate(items):
        declared = _declared_item(item, index, default_state)
        earlier = seen.get(declared.name)
        if earlier is not None:
            if earlier.intent() == declared.intent():
                continue
            raise DeclarationError(
                'attributes[%d] and attributes[%d] both declare %r with different wishes (%s / %s); declare it once'
                % (earlier.index, index, declared.name, _describe_intent(earlier), _describe_intent(declared))
            )
        seen[declared.name] = declared
        result.append(declared)
    return result


def _declared_item(item: object, index: int, default_state: str) -> Declared:
    """One item of `attributes`, checked: a Declared, or DeclarationError naming attributes[index]."""
    where = 'attributes[%d]' % index
    if not isinstance(item, dict):
        raise DeclarationError('%s must be a dictionary with name, template or label, got %s' % (where, shown(item)))
    # The argument spec fills unset keys with None; show the item as written.
    item = dict((key, value) for key, value in item.items() if value is not None)
    unknown = sorted(str(key) for key in item if key not in ITEM_KEYS)
    if unknown:
        raise DeclarationError(
            '%s %s has unknown key(s) %s; allowed are %s'
            % (where, shown(item), ', '.join(unknown), ', '.join(ITEM_KEYS))
        )
    given = [key for key in ('name', 'template', 'label') if item.get(key) is not None]
    if len(given) != 1:
        raise DeclarationError('%s %s must have exactly one of name, template or label' % (where, shown(item)))
    identified_by = given[0]
    state = item.get('state')
    if state is None:
        state = default_state
    if state not in STATES:
        raise DeclarationError('%s.state must be one of %s, got %s' % (where, ', '.join(STATES), shown(state)))
    custom = None
    if identified_by == 'label':
        custom = _custom(item, where, state)
        value = slug_of(custom.label)
    else:
        value = _name_item(item, where, identified_by)
    manual = item.get('manual')
    if manual is not None and not isinstance(manual, bool):
        raise DeclarationError('%s.manual must be true or false, got %s' % (where, shown(manual)))
    return Declared(value, identified_by, state, manual, index, custom)


def _name_item(item: dict, where: str, identified_by: str) -> str:
    """The name of an item declared by name or template, checked."""
    for key in ('group', 'value_type'):
        if item.get(key) is not None:
            raise DeclarationError(
                '%s.%s is only for a custom attribute declared by label, not by %s' % (where, key, identified_by)
            )
    value = item[identified_by]
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise DeclarationError(
            '%s.%s %s is not an attribute name: use letters, digits and underscores, '
            'like mood_note' % (where, identified_by, shown(value))
        )
    return value


# A value type written as text: one ASCII digit ('²' and '٣' are digits to str.isdigit(), not to int()).
VALUE_TYPE_TEXT = re.compile(r'\A\s*[0-9]\s*\Z', re.ASCII)


def value_type_number(value: object, where: str = 'value_type') -> int:
    """Exist's number for a value type given as a number (0-8) or a name; raises DeclarationError."""
    if isinstance(value, str) and VALUE_TYPE_TEXT.match(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in VALUE_TYPE_NAMES:
        return value
    if isinstance(value, str) and value in VALUE_TYPES:
        return VALUE_TYPES[value]
    raise DeclarationError(
        '%s %s is not a value type: use a number 0-8 or one of %s'
        % (where, shown(value), ', '.join(VALUE_TYPE_NAMES[n] for n in sorted(VALUE_TYPE_NAMES)))
    )


def shown(value: object, limit: int = 80) -> str:
    """A value for a message, shortened: never the whole of a long text, never a number too long to write
    (Python refuses to write an integer of more than 4300 digits as text)."""
    text = _repr(value, 0)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        return '%s... (%d characters)' % (text[: limit - 3], len(value))
    return text[: limit - 3] + '...'


def _repr(value: object, depth: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**100:
        return '<an integer of more than 100 digits>'
    if depth > 10:
        return '...'
    if isinstance(value, dict):
        return '{%s}' % ', '.join('%s: %s' % (_repr(k, depth + 1), _repr(v, depth + 1)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return '[%s]' % ', '.join(_repr(v, depth + 1) for v in value)
    return repr(value)


def _custom(item: dict, where: str, state: str) -> Custom:
    """The Custom of an item declared by label, checked (group and value type are needed to create it)."""
    label = item['label']
    if not isinstance(label, str) or not label.strip():
        raise DeclarationError('%s.label %s must be a non-empty string' % (where, shown(label)))
    if len(label) > MAX_LABEL:
        raise DeclarationError(
            '%s.label is %d characters long; at most %d are allowed' % (where, len(label), MAX_LABEL)
        )
    if not slug_of(label) or not NAME_PATTERN.match(slug_of(label)):
        raise DeclarationError(
            '%s.label %r has no letter or digit Exist can name the attribute by (its name is a slug of the label)'
            % (where, label)
        )
    group, value_type = item.get('group'), item.get('value_type')
    if state == 'absent' and group is None and value_type is None:
        return Custom(label, None, None)
    for key, given in (('group', group), ('value_type', value_type)):
        if given is None:
            raise DeclarationError('%s (label %r) needs %s to create the attribute' % (where, label, key))
    if group not in GROUPS:
        raise DeclarationError(
            '%s.group %s is not an Exist group: use one of %s' % (where, shown(group), ', '.join(GROUPS))
        )
    number = value_type_number(value_type, '%s.value_type' % where)
    if number in NOT_CREATABLE:
        raise DeclarationError(
            '%s.value_type %s (%s) exists only for templates; Exist cannot create an attribute of it'
            % (where, shown(value_type), VALUE_TYPE_NAMES[number])
        )
    if group == 'custom' and number != VALUE_TYPES['boolean']:
        raise DeclarationError(
            "%s: group custom holds custom tags, which are boolean (value_type boolean or 7), got %s"
            % (where, shown(value_type))
        )
    return Custom(label, group, number)
