# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure planning of attribute ownership: no HTTP, no Ansible.

Internal to this collection, not a stable API. Turns what the server has (the
attributes this client owns, and what a lookup showed of the attributes it
lacks) and what the task declares into the acquire and release requests that
converge them, plus the diff and the predicted result. Check mode, diff and the
unit tests use it without any request.
"""

from __future__ import annotations

import re
import unicodedata

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


class DeclarationError(ValueError):
    """The task's attributes are invalid; the message names the item."""


def slug_of(label):
    """The name Exist gives a custom attribute: an ASCII slug of its label.

    A prediction (Exist's own rule is not documented): results always take
    the name from Exist's answer; only check mode and the look-up use this.
    """
    text = unicodedata.normalize('NFKD', label).encode('ascii', 'ignore').decode('ascii').lower()
    return re.sub(r'[^a-z0-9]+', '_', text).strip('_')


class Custom:
    """What a custom attribute is declared as: its label, group and value type (a number)."""

    def __init__(self, label, group, value_type):
        self.label = label
        self.group = group
        self.value_type = value_type

    def key(self):
        return (self.label, self.group, self.value_type)

    def differences(self, attribute):
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


def _value_type_text(value_type):
    name = VALUE_TYPE_NAMES.get(value_type) if isinstance(value_type, int) else None
    return '%s (%s)' % (name, value_type) if name else repr(value_type)


class Declared:
    """One attribute as the task declares it."""

    def __init__(self, name, identified_by, state, manual, index, custom=None):
        # The attribute name: a template's attribute has the template's name; one declared by label, until the
        # reads resolve its label (resolved()), the slug Exist would most likely give a new one.
        self.name = name
        # 'name', 'template' or 'label': how the task names it, and how to acquire or create it
        self.identified_by = identified_by
        self.state = state
        self.manual = manual  # None: leave the flag as it is
        self.index = index
        self.custom = custom  # a Custom for items declared by label
        self.found = False  # declared by label, and a read showed the attribute with that label

    def resolved(self, name):
        """This item declared by label, resolved to the existing attribute `name`."""
        item = Declared(name, self.identified_by, self.state, self.manual, self.index, self.custom)
        item.found = True
        return item

    def intent(self):
        if self.state == 'absent':
            return ('absent',)
        return ('present', self.identified_by, self.manual, self.custom.key() if self.custom else None)

    def request_item(self):
        """The acquire item: by name or template, with manual only when declared.
        An attribute declared by label is acquired by its name."""
        item = {'name' if self.identified_by == 'label' else self.identified_by: self.name}
        if self.manual is not None:
            item['manual'] = self.manual
        return item

    def ref(self):
        """The item as a user wrote it, for messages and failed_items."""
        if self.custom is not None:
            return {'label': self.custom.label}
        return {self.identified_by: self.name}


def _describe_intent(declared):
    if declared.state == 'absent':
        return 'state=absent'
    text = 'state=present by %s' % declared.identified_by
    if declared.custom is not None:
        text += ' (group %s, value type %s)' % (declared.custom.group, declared.custom.value_type)
    if declared.manual is not None:
        text += ', manual=%s' % declared.manual
    return text


def normalize_declared(items, default_state='present'):
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
    seen = {}
    result = []
    for index, item in enumerate(items):
        where = 'attributes[%d]' % index
        if not isinstance(item, dict):
            raise DeclarationError(
                '%s must be a dictionary with name, template or label, got %s' % (where, shown(item))
            )
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
            for key in ('group', 'value_type'):
                if item.get(key) is not None:
                    raise DeclarationError(
                        '%s.%s is only for a custom attribute declared by label, not by %s'
                        % (where, key, identified_by)
                    )
            value = item[identified_by]
            if not isinstance(value, str) or not NAME_PATTERN.match(value):
                raise DeclarationError(
                    '%s.%s %s is not an attribute name: use letters, digits and underscores, '
                    'like mood_note' % (where, identified_by, shown(value))
                )
        manual = item.get('manual')
        if manual is not None and not isinstance(manual, bool):
            raise DeclarationError('%s.manual must be true or false, got %s' % (where, shown(manual)))
        declared = Declared(value, identified_by, state, manual, index, custom)
        earlier = seen.get(value)
        if earlier is not None:
            if earlier.intent() == declared.intent():
                continue
            raise DeclarationError(
                'attributes[%d] and %s both declare %r with different wishes (%s / %s); declare it once'
                % (earlier.index, where, value, _describe_intent(earlier), _describe_intent(declared))
            )
        seen[value] = declared
        result.append(declared)
    return result


# A value type written as text: one ASCII digit ('²' and '٣' are digits to str.isdigit(), not to int()).
VALUE_TYPE_TEXT = re.compile(r'\A\s*[0-9]\s*\Z', re.ASCII)


def value_type_number(value, where='value_type'):
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


def shown(value, limit=80):
    """A value for a message, shortened: never the whole of a long text, never a number too long to write
    (Python refuses to write an integer of more than 4300 digits as text)."""
    text = _repr(value, 0)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        return '%s... (%d characters)' % (text[: limit - 3], len(value))
    return text[: limit - 3] + '...'


def _repr(value, depth):
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**100:
        return '<an integer of more than 100 digits>'
    if depth > 10:
        return '...'
    if isinstance(value, dict):
        return '{%s}' % ', '.join('%s: %s' % (_repr(k, depth + 1), _repr(v, depth + 1)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return '[%s]' % ', '.join(_repr(v, depth + 1) for v in value)
    return repr(value)


def _custom(item, where, state):
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


def names_to_look_up(owned, declared):
    """Names of the attributes to acquire that this client does not own.

    Only for these does the plan need to know whether they exist and who owns
    them; everything else is known from the owned list. An item declared by
    label is known from the owned list only when exactly one attribute this
    client owns has that label, group and value type.
    """
    names = set()
    for d in declared:
        if d.state != 'present':
            continue
        if d.custom is not None:
            if len([a for a in label_matches(d.custom, owned.values()) if not d.custom.differences(a)]) != 1:
                names.add(d.name)
        elif d.name not in owned:
            names.add(d.name)
    return sorted(names)


def label_key(label):
    """How a label is compared: Exist shows labels to the user, who does not tell case or runs of spaces apart."""
    return ' '.join(unicodedata.normalize('NFC', label).split()).casefold()


def label_matches(custom, attributes):
    """The attributes (objects) whose label is custom's, sorted by name."""
    key = label_key(custom.label)
    return sorted(
        (a for a in attributes if isinstance(a.get('label'), str) and label_key(a['label']) == key),
        key=lambda a: str(a.get('name')),
    )


AMBIGUOUS_LABEL = 'ambiguous_label'


def _owner_text(attribute, owned):
    if attribute.get('name') in owned:
        return 'this client'
    return _service_label(attribute) or 'nobody'


def resolve_label(item, owned, visible):
    """(item, failed item): an item declared by label, resolved to the attribute that has the label.

    Exist names a new custom attribute by a slug of its label but does not
    promise which (deep_work_2 when deep_work is taken), so the label, not
    the predicted name, finds it. Of the attributes the reads show (owned and
    visible) with that label, the one with the declared group and value type
    is the one; of several such, the one this client owns. None: a refusal.
    Several and none of them this client's: ambiguous, refused. Only others
    (another group or value type): Exist cannot change either, refused. None
    at all: the item as declared, to be created. One owned by another
    service is like any other attribute: takeover decides.
    An item to release is looked for among what this client owns only.
    """
    attributes = dict(visible or {})
    attributes.update(owned)
    custom = item.custom
    if item.state == 'absent':
        matches = [a for a in label_matches(custom, owned.values()) if not custom.differences(a)]
    else:
        matches = label_matches(custom, attributes.values())
    exact = [a for a in matches if not custom.differences(a)]
    if len(exact) > 1:
        ours = [a for a in exact if a.get('name') in owned]
        exact = ours if len(ours) == 1 else exact
    if len(exact) == 1:
        return item.resolved(exact[0]['name']), None
    if len(exact) > 1:
        return None, dict(
            item.ref(),
            error_code=AMBIGUOUS_LABEL,
            error='Label %r is on %d attributes: %s; declare the one you mean by name'
            % (
                custom.label,
                len(exact),
                ', '.join('%s (owned by %s)' % (a['name'], _owner_text(a, owned)) for a in exact),
            ),
        )
    if matches:
        differs = '; '.join('%s: %s' % (a['name'], custom.differences(a)) for a in matches)
        return None, dict(
            item.ref(),
            name=matches[0]['name'],
            error_code=DIFFERS,
            error='Label %r is on %s; Exist cannot change either, so it was not acquired (nor another created)'
            % (custom.label, differs),
        )
    return item, None


def group_name(attribute):
    """The group of an attribute object ({"name": ...} or a plain name), or None."""
    group = attribute.get('group') if attribute else None
    if isinstance(group, dict):
        return group.get('name') or None
    return group or None


def readable_groups(visible):
    """Groups the token has the read scope of, as far as the visible attributes prove it.

    Exist shows an attribute when the token may read its group, or when it is
    manual and the token has manual_read. So only a visible attribute that is
    not manual proves its group's read scope; in such a group nothing is hidden.
    """
    return frozenset(group_name(a) for a in visible.values() if not a.get('manual') and group_name(a))


def _service_name(attribute):
    service = attribute.get('service') if attribute else None
    if isinstance(service, dict):
        return service.get('name') or None
    return service or None


def _service_label(attribute):
    service = attribute.get('service') if attribute else None
    if isinstance(service, dict):
        label, name = service.get('label'), service.get('name')
        if label and label != name:
            return '%s (%s)' % (label, name)
        return name
    return service


def next_owner_after_release(attribute):
    """Who will own an attribute this client releases: the first other service
    that can fill it (available_services), or nobody (it becomes inactive)."""
    ours = _service_name(attribute)
    for service in attribute.get('available_services') or []:
        name = service.get('name') if isinstance(service, dict) else service
        if name and name != ours:
            return name
    return None


def this_service(owned):
    """This client's service object, as the owned list shows it, or a marked placeholder."""
    for attribute in owned.values():
        service = attribute.get('service')
        if isinstance(service, dict) and service.get('name'):
            return dict(service)
        if isinstance(service, str) and service:
            return {'name': service, 'label': service}
    return {'name': THIS_CLIENT, 'label': THIS_CLIENT}


class PlannedAcquire:
    def __init__(self, declared, reason, previous, manual):
        self.declared = declared
        self.reason = reason
        self.previous = previous  # the attribute as last read, or None if the user lacks it or it is hidden
        self.manual = manual  # the flag the attribute will have
        self.name = declared.name

    def request_item(self):
        return self.declared.request_item()

    def ref(self):
        return self.declared.ref()

    def find_in(self, attributes):
        """This attribute in {name: attribute}, or None. One declared by label is
        also found by its label, in case Exist named it otherwise than predicted."""
        found = attributes.get(self.name)
        if found is None and self.declared.custom is not None:
            for attribute in attributes.values():
                if attribute.get('label') == self.declared.custom.label and attribute.get('template') is None:
                    return attribute
        return found

    def predicted_object(self, service):
        """The attribute as it should read after the acquire (for check mode):
        the object as last read, now owned by `service` with the new flag."""
        template = self.name if self.declared.identified_by == 'template' else None
        obj = dict(self.previous or {'name': self.name, 'template': template})
        custom = self.declared.custom
        if self.previous is None and custom is not None:
            obj.update(label=custom.label, group={'name': custom.group}, value_type=custom.value_type)
        obj['service'] = dict(service)
        obj['manual'] = self.manual
        obj['active'] = True
        return obj


class PlannedCreate(PlannedAcquire):
    """A template the look-up did not show, created through /attributes/create/.

    Exist's create fails with `exists` instead of taking the attribute from
    whoever owns it, so a success proves the template was new, whatever the
    token can read. proven: whether the look-up already proved the user lacks it.
    """

    def __init__(self, declared, manual, proven):
        super().__init__(declared, NEW, None, manual)
        self.proven = proven
        # Declared by label: a read showed an attribute with the name a new one would most likely get (not the label).
        self.name_seen = False

    def request_item(self):
        # create's manual defaults to true; acquire's to false: say it.
        custom = self.declared.custom
        if custom is not None:
            return {
                'label': custom.label,
                'group': custom.group,
                'value_type': custom.value_type,
                'manual': bool(self.manual),
            }
        return {'template': self.name, 'manual': bool(self.manual)}

    @property
    def create_key(self):
        """How Exist's answer names this item: by template, or by label for a custom attribute."""
        custom = self.declared.custom
        return ('label', custom.label) if custom is not None else ('template', self.name)

    def named(self, name):
        """This creation, with the name Exist gave the attribute."""
        created = PlannedCreate(self.declared, self.manual, self.proven)
        created.name = name
        created.name_seen = self.name_seen
        return created

    def taken_over(self):
        """The acquire that follows when Exist says the template exists (takeover=true)."""
        return PlannedAcquire(self.declared, HIDDEN, None, self.manual)


class PlannedRelease:
    def __init__(self, attribute, declared):
        self.attribute = attribute
        self.declared = declared  # None when released by exclusive mode
        self.name = attribute['name']
        self.next_owner = next_owner_after_release(attribute)

    def request_item(self):
        return {'name': self.name}

    def ref(self):
        return self.declared.ref() if self.declared is not None else {'name': self.name}


class Plan:
    """What to do. Built by plan_ownership(); never talks to Exist."""

    def __init__(self, owned, acquire, create, release, refused, takeover, found=()):
        self.owned = owned
        self.found = list(found)  # items declared by label that a read found by their label
        self.acquire = acquire  # what the look-up showed (takeover, unowned, manual flag), names it did not
        self.create = create  # templates the look-up did not show
        self.release = release
        self.refused = refused  # failed items known before any write (takeover=false)
        self.takeover = takeover
        self.service = this_service(owned)

    def found_labels(self):
        """[{label, name, source: 'existing'}] of the items declared by label that a read found by their label,
        whatever becomes of them."""
        return [{'label': d.custom.label, 'name': d.name, 'source': 'existing'} for d in self.found]

    @property
    def predicted_failures(self):
        """Acquires Exist is bound to refuse, as failed items (for check mode)."""
        return [
            dict(a.ref(), error_code='not_found', error=NOT_FOUND_ERROR)
            for a in self.acquire
            if a.reason == NOT_VISIBLE
        ]

    @property
    def predicted_acquires(self):
        return [a for a in self.acquire + self.create if a.reason != NOT_VISIBLE]

    @property
    def unproven(self):
        """Names of the templates to create whose absence no read could prove (check mode)."""
        return set(c.name for c in self.create if not c.proven)

    @staticmethod
    def previous_owner_unknown(acquire, obj=None):
        """Whether nobody could see who owned an attribute this client acquired.
        obj: the attribute as Exist answered (None: not acquired)."""
        if acquire.reason == HIDDEN:
            return True
        # By name, Exist creates nothing: a success proves it existed, unseen.
        return acquire.reason == NOT_VISIBLE and obj is not None

    @staticmethod
    def takeovers(acquired, owner_unknown=()):
        """[{name, previous_owner}] of the acquires that took an attribute from another service, by name;
        previous_owner is the service's name, or UNKNOWN_OWNER when nobody could see it."""
        taken = [
            {'name': a.name, 'previous_owner': _service_name(a.previous)} for a in acquired if a.reason == TAKEOVER
        ]
        taken.extend({'name': name, 'previous_owner': UNKNOWN_OWNER} for name in owner_unknown)
        return sorted(taken, key=lambda entry: entry['name'])

    def takeover_warnings(self, acquired, owner_unknown):
        """Warnings for acquires that took attributes from another service: one
        per known previous owner, one for all whose owner nobody could see."""
        warnings = [
            "attribute %r was owned by %s; this client took it over" % (a.name, _service_label(a.previous))
            for a in acquired
            if a.reason == TAKEOVER
        ]
        if owner_unknown:
            warnings.append(
                '%s existed but %s not visible to this token (no read scope for %s group); this client '
                'took %s over from an owner it could not see (previous owner unknown)'
                % (
                    _names(owner_unknown),
                    'was' if len(owner_unknown) == 1 else 'were',
                    'its' if len(owner_unknown) == 1 else 'their',
                    'it' if len(owner_unknown) == 1 else 'them',
                )
            )
        return warnings

    def predicted_warnings(self, acquired):
        """Check mode's warnings: the takeovers it can see, and what it cannot know."""
        warnings = [
            "attribute %r was owned by %s; this client would take it over" % (a.name, _service_label(a.previous))
            for a in acquired
            if a.reason == TAKEOVER
        ]
        if self.unproven:
            otherwise = (
                'takes it over (previous owner unknown)'
                if self.takeover
                else 'refuses it (owner_unknown), since takeover is false'
            )
            warnings.append(
                '%s not visible to this token, which may lack the read scope that would show %s: a real '
                'run creates %s if the user lacks %s, and otherwise %s'
                % (
                    _names(self.unproven),
                    'it' if len(self.unproven) == 1 else 'them',
                    'it' if len(self.unproven) == 1 else 'each',
                    'it',
                    otherwise,
                )
            )
        return warnings

    def diff(self, acquired, released, owner_unknown=(), manual=None, next_owner=None):
        """Before and after of this client's ownership, for the given acquires and releases.

        Each side maps attribute names to {"owner", "manual"}; the attributes
        that change owner also appear with their other owner, so a takeover
        shows who owned the attribute before, or (names in owner_unknown) that
        nobody could see it. manual and next_owner ({name: value}) give what
        Exist answered where it differs from the plan.
        """
        manual = manual or {}
        next_owner = next_owner or {}
        before, after = {}, {}
        for name, attribute in self.owned.items():
            entry = {'owner': THIS_CLIENT, 'manual': bool(attribute.get('manual'))}
            before[name] = entry
            after[name] = dict(entry)
        for acquire in acquired:
            if acquire.name not in self.owned:
                if acquire.name in owner_unknown:
                    before[acquire.name] = {'owner': UNKNOWN_OWNER, 'manual': None}
                elif acquire.previous is not None:
                    before[acquire.name] = {
                        'owner': _service_name(acquire.previous),
                        'manual': bool(acquire.previous.get('manual')),
                    }
            after[acquire.name] = {'owner': THIS_CLIENT, 'manual': bool(manual.get(acquire.name, acquire.manual))}
        for release in released:
            after[release.name] = {
                'owner': next_owner.get(release.name, release.next_owner),
                'manual': bool(release.attribute.get('manual')),
            }
        return {'before': {'attributes': before}, 'after': {'attributes': after}}


def _names(names):
    names = sorted(names)
    return '%s %s' % ('attribute' if len(names) == 1 else 'attributes', ', '.join(repr(n) for n in names))


def _absence_proven(item, readable):
    """Whether an attribute the look-up did not show is known not to exist:
    its group (known for templates and custom attributes) is one the token reads."""
    group = item.custom.group if item.custom is not None else TEMPLATE_GROUPS.get(item.name)
    return group in readable


def plan_ownership(owned, declared, visible=None, takeover=True, exclusive=False, readable=None):
    """Plan the writes that make the server match the declaration.

    owned:    {name: attribute object} this client owns now.
    declared: Declared objects from normalize_declared().
    visible:  {name: attribute object} of the user's attributes the token can
              read (the look-up). A missing name: the user lacks it, or the
              token cannot read its group.
    readable: groups the token is proven to read; default readable_groups(visible).
    """
    visible = visible or {}
    if readable is None:
        readable = readable_groups(visible)
    acquire, create, release, refused = [], [], [], []
    present = set()
    names = dict((d.name, d) for d in declared if d.custom is None)  # attribute name: the item that declares it
    for item in declared:
        if item.custom is not None:
            item, problem = resolve_label(item, owned, visible)
            if problem:
                refused.append(problem)
                continue
            earlier = names.get(item.name) if item.found else None
            if earlier is not None:
                refused.append(
                    dict(
                        item.ref(),
                        name=item.name,
                        error_code=AMBIGUOUS_LABEL,
                        error='Label %r is on attribute %r, which %s declares too; declare it once'
                        % (item.custom.label, item.name, 'attributes[%d]' % earlier.index),
                    )
                )
                continue
            names[item.name] = item
            if not item.found:
                # No attribute has the label: whatever has the name Exist would most likely give a new one is
                # another attribute. Create it, and let Exist name it.
                if item.state == 'present':
                    present.add(item.name)
                    planned = PlannedCreate(item, bool(item.manual), _absence_proven(item, readable))
                    planned.name_seen = item.name in owned or item.name in visible
                    create.append(planned)
                continue
        current = owned.get(item.name)
        if item.state == 'absent':
            # Only what this client owns is released: an attribute another
            # service owns, or one the user lacks, is already "not ours".
            if current is not None:
                release.append(PlannedRelease(current, item))
            continue
        present.add(item.name)
        differs = item.custom.differences(current or visible.get(item.name) or {}) if item.custom else None
        if differs and (current is not None or item.name in visible):
            refused.append(
                dict(
                    item.ref(),
                    name=item.name,
                    error_code=DIFFERS,
                    error='Attribute %r: %s; Exist cannot change either, so it was not acquired' % (item.name, differs),
                )
            )
            continue
        if current is not None:
            if item.manual is not None and bool(current.get('manual')) != item.manual:
                acquire.append(PlannedAcquire(item, MANUAL, current, item.manual))
            continue
        other = visible.get(item.name)
        if other is None:
            if item.identified_by in ('template', 'label'):
                # Never "not visible, so new": create fails where acquire would take over.
                create.append(PlannedCreate(item, bool(item.manual), _absence_proven(item, readable)))
            elif takeover or _absence_proven(item, readable):
                # By name, Exist answers not_found when the user lacks it: the likely
                # answer, and the one check mode predicts.
                acquire.append(PlannedAcquire(item, NOT_VISIBLE, None, bool(item.manual)))
            else:
                refused.append(dict(item.ref(), error_code='owner_unknown', error=owner_unknown_error(item.name)))
            continue
        manual = item.manual if item.manual is not None else bool(other.get('manual'))
        if _service_name(other):
            if not takeover:
                refused.append(
                    dict(
                        item.ref(),
                        error_code='owned_by_other_service',
                        error="Attribute %r is owned by %s; not taken over because takeover is false"
                        % (item.name, _service_label(other)),
                    )
                )
                continue
            acquire.append(PlannedAcquire(item, TAKEOVER, other, manual))
        else:
            acquire.append(PlannedAcquire(item, UNOWNED, other, manual))
    if exclusive:
        released = set(r.name for r in release)
        for name in sorted(owned):
            if name not in present and name not in released:
                release.append(PlannedRelease(owned[name], None))
    return Plan(owned, acquire, create, release, refused, takeover, [d for d in names.values() if d.found])


def owner_unknown_error(name):
    return (
        "Attribute %r is not visible to this token (no read scope for its group), so whether another service "
        "owns it is unknown; not acquired because takeover is false. Give the token the group's _read scope, "
        "or set takeover to true." % name
    )
