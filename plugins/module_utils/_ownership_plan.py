# -*- coding: utf-8 -*-
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

# Exist attribute names are ASCII slugs; anything else is a typo.
NAME_PATTERN = re.compile(r'^[A-Za-z0-9_]+$')
# More than any user can have: a guard against a runaway loop or a wrong variable.
MAX_DECLARED = 1000
ITEM_KEYS = ('name', 'template', 'manual', 'state')
STATES = ('present', 'absent')
# How this client appears as an owner in the diff. Its service name is not
# known before it owns something, and check mode must show the same diff as a
# real run, so it is never spelled out.
THIS_CLIENT = '(this client)'

# Why an attribute is acquired.
NEW = 'new'                   # a template the user lacks: the acquire creates it
TAKEOVER = 'takeover'         # another service owns it
UNOWNED = 'unowned'           # the user has it, nobody owns it (inactive)
MANUAL = 'manual'             # this client owns it, only the manual flag differs
NOT_VISIBLE = 'not_visible'   # by name, and the lookup did not show it: Exist will say not_found

NOT_FOUND_ERROR = 'Attribute matching query does not exist.'


class DeclarationError(ValueError):
    """The task's attributes are invalid; the message names the item."""


class Declared(object):
    """One attribute as the task declares it."""

    def __init__(self, name, via, state, manual, index):
        self.name = name          # the attribute name (a template's attribute has the template's name)
        self.via = via            # 'name' or 'template': how to acquire it
        self.state = state
        self.manual = manual      # None: leave the flag as it is
        self.index = index

    def wish(self):
        if self.state == 'absent':
            return ('absent',)
        return ('present', self.via, self.manual)

    def request_item(self):
        """The acquire item: by name or template, with manual only when declared."""
        item = {self.via: self.name}
        if self.manual is not None:
            item['manual'] = self.manual
        return item

    def ref(self):
        """The item as a user wrote it, for messages and failed_items."""
        return {self.via: self.name}


def _describe_wish(declared):
    if declared.state == 'absent':
        return 'state=absent'
    text = 'state=present by %s' % declared.via
    if declared.manual is not None:
        text += ', manual=%s' % declared.manual
    return text


def normalize_declared(items, default_state='present'):
    """Validate the task's attributes and return Declared objects, in order.

    Identical duplicates are merged; the same attribute declared twice with
    different wishes is an error naming both items.
    """
    if default_state not in STATES:
        raise DeclarationError('state must be one of %s, got %r' % (', '.join(STATES), default_state))
    if items is None:
        items = []
    if not isinstance(items, list):
        raise DeclarationError('attributes must be a list of dictionaries, got %r' % (items,))
    if len(items) > MAX_DECLARED:
        raise DeclarationError('attributes lists %d items; more than %d cannot be right for one user'
                               % (len(items), MAX_DECLARED))
    seen = {}
    result = []
    for index, item in enumerate(items):
        where = 'attributes[%d]' % index
        if not isinstance(item, dict):
            raise DeclarationError('%s must be a dictionary with name or template, got %r' % (where, item))
        # The argument spec fills unset keys with None; show the item as written.
        item = dict((key, value) for key, value in item.items() if value is not None)
        unknown = sorted(str(key) for key in item if key not in ITEM_KEYS)
        if unknown:
            raise DeclarationError('%s %r has unknown key(s) %s; allowed are %s'
                                   % (where, item, ', '.join(unknown), ', '.join(ITEM_KEYS)))
        name, template = item.get('name'), item.get('template')
        if (name is None) == (template is None):
            raise DeclarationError('%s %r must have exactly one of name or template' % (where, item))
        via = 'name' if name is not None else 'template'
        value = name if name is not None else template
        if not isinstance(value, str) or not NAME_PATTERN.match(value):
            raise DeclarationError('%s.%s %r is not an attribute name: use letters, digits and underscores, '
                                   'like mood_note' % (where, via, value))
        manual = item.get('manual')
        if manual is not None and not isinstance(manual, bool):
            raise DeclarationError('%s.manual must be true or false, got %r' % (where, manual))
        state = item.get('state')
        if state is None:
            state = default_state
        if state not in STATES:
            raise DeclarationError('%s.state must be one of %s, got %r' % (where, ', '.join(STATES), state))
        declared = Declared(value, via, state, manual, index)
        earlier = seen.get(value)
        if earlier is not None:
            if earlier.wish() == declared.wish():
                continue
            raise DeclarationError(
                'attributes[%d] and %s both declare %r with different wishes (%s / %s); declare it once'
                % (earlier.index, where, value, _describe_wish(earlier), _describe_wish(declared)))
        seen[value] = declared
        result.append(declared)
    return result


def names_to_look_up(owned, declared):
    """Names of the attributes to acquire that this client does not own.

    Only for these does the plan need to know whether they exist and who owns
    them; everything else is known from the owned list.
    """
    return sorted(d.name for d in declared if d.state == 'present' and d.name not in owned)


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


class PlannedAcquire(object):
    def __init__(self, declared, reason, previous, manual):
        self.declared = declared
        self.reason = reason
        self.previous = previous      # the attribute as last read, or None if the user lacks it
        self.manual = manual          # the flag the attribute will have
        self.name = declared.name

    def request_item(self):
        return self.declared.request_item()

    def ref(self):
        return self.declared.ref()

    def predicted_object(self):
        """The attribute as it should read after the acquire (for check mode)."""
        template = self.name if self.declared.via == 'template' else None
        obj = dict(self.previous or {'name': self.name, 'template': template})
        obj['manual'] = self.manual
        obj['active'] = True
        return obj


class PlannedRelease(object):
    def __init__(self, attribute, declared):
        self.attribute = attribute
        self.declared = declared      # None when released by exclusive mode
        self.name = attribute['name']
        self.next_owner = next_owner_after_release(attribute)

    def request_item(self):
        return {'name': self.name}

    def ref(self):
        return self.declared.ref() if self.declared is not None else {'name': self.name}


class Plan(object):
    """What to do. Built by plan_ownership(); never talks to Exist."""

    def __init__(self, owned, acquire, release, refused):
        self.owned = owned
        self.acquire = acquire
        self.release = release
        self.refused = refused        # failed items known before any write (takeover=false)

    @property
    def predicted_failures(self):
        """Acquires Exist is bound to refuse, as failed items (for check mode)."""
        return [dict(a.ref(), error_code='not_found', error=NOT_FOUND_ERROR)
                for a in self.acquire if a.reason == NOT_VISIBLE]

    @property
    def predicted_acquires(self):
        return [a for a in self.acquire if a.reason != NOT_VISIBLE]

    def takeover_warning(self, acquire, done=True):
        verb = 'took it over' if done else 'would take it over'
        return "attribute %r was owned by %s; this client %s" % (acquire.name, _service_label(acquire.previous), verb)

    def diff(self, acquired, released):
        """Before and after of this client's ownership, for the given acquires and releases.

        Each side maps attribute names to {"owner", "manual"}; the attributes
        that change owner also appear with their other owner, so a takeover
        shows who owned the attribute before.
        """
        before, after = {}, {}
        for name, attribute in self.owned.items():
            entry = {'owner': THIS_CLIENT, 'manual': bool(attribute.get('manual'))}
            before[name] = entry
            after[name] = dict(entry)
        for acquire in acquired:
            if acquire.previous is not None and acquire.name not in self.owned:
                before[acquire.name] = {'owner': _service_name(acquire.previous),
                                        'manual': bool(acquire.previous.get('manual'))}
            after[acquire.name] = {'owner': THIS_CLIENT, 'manual': bool(acquire.manual)}
        for release in released:
            after[release.name] = {'owner': release.next_owner, 'manual': bool(release.attribute.get('manual'))}
        return {'before': {'attributes': before}, 'after': {'attributes': after}}


def plan_ownership(owned, declared, visible=None, takeover=True, exclusive=False):
    """Plan the acquires and releases that make the server match the declaration.

    owned:    {name: attribute object} this client owns now.
    declared: Declared objects from normalize_declared().
    visible:  {name: attribute object} of the user's attributes among
              names_to_look_up() (missing names: the user lacks them, or the
              token cannot read them).
    """
    visible = visible or {}
    acquire, release, refused = [], [], []
    present = set()
    for item in declared:
        current = owned.get(item.name)
        if item.state == 'absent':
            # Only what this client owns is released: an attribute another
            # service owns, or one the user lacks, is already "not ours".
            if current is not None:
                release.append(PlannedRelease(current, item))
            continue
        present.add(item.name)
        if current is not None:
            if item.manual is not None and bool(current.get('manual')) != item.manual:
                acquire.append(PlannedAcquire(item, MANUAL, current, item.manual))
            continue
        other = visible.get(item.name)
        if other is None:
            reason = NEW if item.via == 'template' else NOT_VISIBLE
            acquire.append(PlannedAcquire(item, reason, None, bool(item.manual)))
            continue
        manual = item.manual if item.manual is not None else bool(other.get('manual'))
        if _service_name(other):
            if not takeover:
                refused.append(dict(item.ref(), error_code='owned_by_other_service',
                                    error="Attribute %r is owned by %s; not taken over because takeover is false"
                                    % (item.name, _service_label(other))))
                continue
            acquire.append(PlannedAcquire(item, TAKEOVER, other, manual))
        else:
            acquire.append(PlannedAcquire(item, UNOWNED, other, manual))
    if exclusive:
        released = set(r.name for r in release)
        for name in sorted(owned):
            if name not in present and name not in released:
                release.append(PlannedRelease(owned[name], None))
    return Plan(owned, acquire, release, refused)
