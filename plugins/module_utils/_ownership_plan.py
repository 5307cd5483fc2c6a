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

import unicodedata
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import Custom, Declared

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    AMBIGUOUS_LABEL,
    DIFFERS,
    HIDDEN,
    MANUAL,
    NEW,
    NOT_FOUND_ERROR,
    NOT_VISIBLE,
    TAKEOVER,
    TEMPLATE_GROUPS,
    THIS_CLIENT,
    UNOWNED,
    group_name,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_wording import (
    PlanWording,
    service_label,
    service_name,
)
from ansible_collections.existio.exist.plugins.module_utils._remedies import read_scopes


def names_to_look_up(owned: dict, declared: Iterable[Declared]) -> list[str]:
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


def label_key(label: str) -> str:
    """How a label is compared: Exist shows labels to the user, who does not tell case or runs of spaces apart."""
    return ' '.join(unicodedata.normalize('NFC', label).split()).casefold()


def label_matches(custom: Custom, attributes: Iterable[dict]) -> list[dict]:
    """The attributes (objects) whose label is custom's, sorted by name."""
    key = label_key(custom.label)
    return sorted(
        (a for a in attributes if isinstance(a.get('label'), str) and label_key(a['label']) == key),
        key=lambda a: str(a.get('name')),
    )


def _owner_text(attribute: dict, owned: dict) -> str:
    if attribute.get('name') in owned:
        return 'this client'
    return service_label(attribute) or 'nobody'


def resolve_label(item: Declared, owned: dict, visible: dict) -> tuple[Any, dict | None]:
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


def readable_groups(visible: dict) -> frozenset:
    """Groups the token has the read scope of, as far as the visible attributes prove it.

    Exist shows an attribute when the token may read its group, or when it is
    manual and the token has manual_read. So only a visible attribute that is
    not manual proves its group's read scope; in such a group nothing is hidden.
    """
    return frozenset(group_name(a) for a in visible.values() if not a.get('manual') and group_name(a))


def next_owner_after_release(attribute: dict) -> str | None:
    """Who will own an attribute this client releases: the first other service
    that can fill it (available_services), or nobody (it becomes inactive)."""
    ours = service_name(attribute)
    for service in attribute.get('available_services') or []:
        name = service.get('name') if isinstance(service, dict) else service
        if name and name != ours:
            return name
    return None


def this_service(owned: dict) -> dict:
    """This client's service object, as the owned list shows it, or a marked placeholder."""
    for attribute in owned.values():
        service = attribute.get('service')
        if isinstance(service, dict) and service.get('name'):
            return dict(service)
        if isinstance(service, str) and service:
            return {'name': service, 'label': service}
    return {'name': THIS_CLIENT, 'label': THIS_CLIENT}


class PlannedAcquire:
    def __init__(self, declared: Declared, reason: str, previous: dict | None, manual: bool | None) -> None:
        self.declared = declared
        self.reason = reason
        self.previous = previous  # the attribute as last read, or None if the user lacks it or it is hidden
        self.manual = manual  # the flag the attribute will have
        self.name = declared.name

    def request_item(self) -> dict:
        return self.declared.request_item()

    def ref(self) -> dict:
        return self.declared.ref()

    def find_in(self, attributes: dict) -> dict | None:
        """This attribute in {name: attribute}, or None. One declared by label is
        also found by its label, in case Exist named it otherwise than predicted."""
        found = attributes.get(self.name)
        if found is None and self.declared.custom is not None:
            for attribute in attributes.values():
                if attribute.get('label') == self.declared.custom.label and attribute.get('template') is None:
                    return attribute
        return found

    def predicted_object(self, service: dict) -> dict:
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

    def __init__(self, declared: Declared, manual: bool | None, proven: bool) -> None:
        super().__init__(declared, NEW, None, manual)
        self.proven = proven
        # Declared by label: a read showed an attribute with the name a new one would most likely get (not the label).
        self.name_seen = False

    def request_item(self) -> dict:
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
    def create_key(self) -> tuple[str, str]:
        """How Exist's answer names this item: by template, or by label for a custom attribute."""
        custom = self.declared.custom
        return ('label', custom.label) if custom is not None else ('template', self.name)

    def named(self, name: str) -> PlannedCreate:
        """This creation, with the name Exist gave the attribute."""
        created = PlannedCreate(self.declared, self.manual, self.proven)
        created.name = name
        created.name_seen = self.name_seen
        return created

    def taken_over(self) -> PlannedAcquire:
        """The acquire that follows when Exist says the template exists (takeover=true)."""
        return PlannedAcquire(self.declared, HIDDEN, None, self.manual)


class PlannedRelease:
    def __init__(self, attribute: dict, declared: Declared | None) -> None:
        self.attribute = attribute
        self.declared = declared  # None when released by exclusive mode
        self.name = attribute['name']
        self.next_owner = next_owner_after_release(attribute)

    def request_item(self) -> dict:
        return {'name': self.name}

    def ref(self) -> dict:
        return self.declared.ref() if self.declared is not None else {'name': self.name}


class Plan(PlanWording):
    """What to do. Built by plan_ownership(); never talks to Exist."""

    def __init__(
        self,
        owned: dict,
        acquire: list[PlannedAcquire],
        create: list[PlannedCreate],
        release: list[PlannedRelease],
        refused: list[dict],
        takeover: bool,
        found: Iterable[Declared] = (),
    ) -> None:
        self.owned = owned
        self.found = list(found)  # items declared by label that a read found by their label
        self.acquire = acquire  # what the look-up showed (takeover, unowned, manual flag), names it did not
        self.create = create  # templates the look-up did not show
        self.release = release
        self.refused = refused  # failed items known before any write (takeover=false)
        self.takeover = takeover
        self.service = this_service(owned)

    def found_labels(self) -> list[dict]:
        """[{label, name, source: 'existing'}] of the items declared by label that a read found by their label,
        whatever becomes of them."""
        return [{'label': d.custom.label, 'name': d.name, 'source': 'existing'} for d in self.found]

    @property
    def predicted_failures(self) -> list[dict]:
        """Acquires Exist is bound to refuse, as failed items (for check mode)."""
        return [
            dict(a.ref(), error_code='not_found', error=NOT_FOUND_ERROR)
            for a in self.acquire
            if a.reason == NOT_VISIBLE
        ]

    @property
    def predicted_acquires(self) -> list[PlannedAcquire]:
        return [a for a in self.acquire + self.create if a.reason != NOT_VISIBLE]

    @property
    def unproven(self) -> set:
        """Names of the templates to create whose absence no read could prove (check mode)."""
        return set(c.name for c in self.create if not c.proven)

    @staticmethod
    def previous_owner_unknown(acquire: PlannedAcquire, obj: dict | None = None) -> bool:
        """Whether nobody could see who owned an attribute this client acquired.
        obj: the attribute as Exist answered (None: not acquired)."""
        if acquire.reason == HIDDEN:
            return True
        # By name, Exist creates nothing: a success proves it existed, unseen.
        return acquire.reason == NOT_VISIBLE and obj is not None


def _absence_proven(item: Declared, readable: frozenset) -> bool:
    """Whether an attribute the look-up did not show is known not to exist:
    its group (known for templates and custom attributes) is one the token reads."""
    group = item.custom.group if item.custom is not None else TEMPLATE_GROUPS.get(item.name)
    return group in readable


def plan_ownership(
    owned: dict,
    declared: list[Declared],
    visible: dict | None = None,
    takeover: bool = True,
    exclusive: bool = False,
    readable: frozenset | None = None,
) -> Plan:
    """Plan the writes that make the server match the declaration.

    owned:    {name: attribute object} this client owns now.
    declared: Declared objects from normalize_declared().
    visible:  {name: attribute object} of the user's attributes the token can
              read (the look-up). A missing name: the user lacks it, or the
              token cannot read its group.
    readable: groups the token is proven to read; default readable_groups(visible).
    """
    visible = visible or {}
    planner = _Planner(owned, visible, takeover, readable_groups(visible) if readable is None else readable)
    planner.names = dict((d.name, d) for d in declared if d.custom is None)  # attribute name: the item declaring it
    item: Declared | None
    for item in declared:
        if item.custom is not None:
            item = planner.by_label(item)
            if item is None:
                continue
        if item.state == 'absent':
            # Only what this client owns is released: an attribute another
            # service owns, or one the user lacks, is already "not ours".
            if owned.get(item.name) is not None:
                planner.release.append(PlannedRelease(owned[item.name], item))
        else:
            planner.present.add(item.name)
            planner.plan_present(item)
    if exclusive:
        released = set(r.name for r in planner.release)
        for name in sorted(owned):
            if name not in planner.present and name not in released:
                planner.release.append(PlannedRelease(owned[name], None))
    return Plan(
        owned,
        planner.acquire,
        planner.create,
        planner.release,
        planner.refused,
        takeover,
        [d for d in planner.names.values() if d.found],
    )


class _Planner:
    """The lists plan_ownership() fills, and how each declared item adds to them."""

    acquire: list
    create: list
    release: list
    refused: list

    def __init__(self, owned: dict, visible: dict, takeover: bool, readable: frozenset) -> None:
        self.owned, self.visible, self.takeover, self.readable = owned, visible, takeover, readable
        self.acquire, self.create, self.release, self.refused = [], [], [], []
        self.present: set = set()
        self.names: dict = {}

    def by_label(self, item: Declared) -> Declared | None:
        """An item declared by label, resolved; None when it is refused or planned for creation here."""
        item, problem = resolve_label(item, self.owned, self.visible)
        if problem:
            self.refused.append(problem)
            return None
        earlier = self.names.get(item.name) if item.found else None
        if earlier is not None:
            self.refused.append(
                dict(
                    item.ref(),
                    name=item.name,
                    error_code=AMBIGUOUS_LABEL,
                    error='Label %r is on attribute %r, which %s declares too; declare it once'
                    % (item.custom.label, item.name, 'attributes[%d]' % earlier.index),
                )
            )
            return None
        self.names[item.name] = item
        if item.found:
            return item
        # No attribute has the label: whatever has the name Exist would most likely give a new one is
        # another attribute. Create it, and let Exist name it.
        if item.state == 'present':
            self.present.add(item.name)
            planned = PlannedCreate(item, bool(item.manual), _absence_proven(item, self.readable))
            planned.name_seen = item.name in self.owned or item.name in self.visible
            self.create.append(planned)
        return None

    def plan_present(self, item: Declared) -> None:
        current = self.owned.get(item.name)
        differs = item.custom.differences(current or self.visible.get(item.name) or {}) if item.custom else None
        if differs and (current is not None or item.name in self.visible):
            self.refused.append(
                dict(
                    item.ref(),
                    name=item.name,
                    error_code=DIFFERS,
                    error='Attribute %r: %s; Exist cannot change either, so it was not acquired' % (item.name, differs),
                )
            )
        elif current is not None:
            if item.manual is not None and bool(current.get('manual')) != item.manual:
                self.acquire.append(PlannedAcquire(item, MANUAL, current, item.manual))
        elif self.visible.get(item.name) is None:
            self._plan_unseen(item)
        else:
            self._plan_seen(item, self.visible[item.name])

    def _plan_unseen(self, item: Declared) -> None:
        """An attribute this client does not own and the look-up did not show."""
        if item.identified_by in ('template', 'label'):
            # Never "not visible, so new": create fails where acquire would take over.
            self.create.append(PlannedCreate(item, bool(item.manual), _absence_proven(item, self.readable)))
        elif self.takeover or _absence_proven(item, self.readable):
            # By name, Exist answers not_found when the user lacks it: the likely
            # answer, and the one check mode predicts.
            self.acquire.append(PlannedAcquire(item, NOT_VISIBLE, None, bool(item.manual)))
        else:
            self.refused.append(dict(item.ref(), error_code='owner_unknown', error=owner_unknown_error(item.name)))

    def _plan_seen(self, item: Declared, other: dict) -> None:
        """An attribute the look-up showed, owned by another service or by none."""
        manual = item.manual if item.manual is not None else bool(other.get('manual'))
        if not service_name(other):
            self.acquire.append(PlannedAcquire(item, UNOWNED, other, manual))
        elif self.takeover:
            self.acquire.append(PlannedAcquire(item, TAKEOVER, other, manual))
        else:
            self.refused.append(
                dict(
                    item.ref(),
                    error_code='owned_by_other_service',
                    error="Attribute %r is owned by %s; not taken over because takeover is false"
                    % (item.name, service_label(other)),
                )
            )


def owner_unknown_error(name: str) -> str:
    scope = read_scopes([name])
    return (
        "Attribute %r is not visible to this token (%s), so whether another service owns it is unknown; not "
        'acquired because takeover is false. Give the token %s, or set takeover to true.'
        % (
            name,
            'no %s scope' % scope if scope else 'no read scope for its group',
            scope or "the group's _read scope",
        )
    )
