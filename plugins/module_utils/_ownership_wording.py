# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How an ownership plan is told: takeovers, warnings and the diff.

Internal to this collection, not a stable API. Pure, like the plan: the
words a user reads (a real run's and check mode's alike) in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Collection, Iterable

from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import (
    TAKEOVER,
    THIS_CLIENT,
    UNKNOWN_OWNER,
)
from ansible_collections.existio.exist.plugins.module_utils._remedies import read_scopes

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import PlannedAcquire, PlannedRelease


def service_name(attribute: dict | None) -> str | None:
    service = attribute.get('service') if attribute else None
    if isinstance(service, dict):
        return service.get('name') or None
    return service or None


def service_label(attribute: dict | None) -> str | None:
    service = attribute.get('service') if attribute else None
    if isinstance(service, dict):
        label, name = service.get('label'), service.get('name')
        if label and label != name:
            return '%s (%s)' % (label, name)
        return name
    return service


def _names(names: Iterable[str]) -> str:
    names = sorted(names)
    return '%s %s' % ('attribute' if len(names) == 1 else 'attributes', ', '.join(repr(n) for n in names))


class PlanWording:
    """The wording half of Plan (needs its owned, unproven and takeover)."""

    owned: dict
    takeover: bool
    if TYPE_CHECKING:

        @property
        def unproven(self) -> set:
            raise NotImplementedError  # Plan's

    @staticmethod
    def takeovers(acquired: Iterable[PlannedAcquire], owner_unknown: Iterable[str] = ()) -> list[dict]:
        """[{name, previous_owner}] of the acquires that took an attribute from another service, by name;
        previous_owner is the service's name, or UNKNOWN_OWNER when nobody could see it."""
        taken = [{'name': a.name, 'previous_owner': service_name(a.previous)} for a in acquired if a.reason == TAKEOVER]
        taken.extend({'name': name, 'previous_owner': UNKNOWN_OWNER} for name in owner_unknown)
        return sorted(taken, key=lambda entry: entry['name'])

    def takeover_warnings(self, acquired: Iterable[PlannedAcquire], owner_unknown: Collection[str]) -> list[str]:
        """Warnings for acquires that took attributes from another service: one
        per known previous owner, one for all whose owner nobody could see."""
        warnings = [
            "attribute %r was owned by %s; this client took it over" % (a.name, service_label(a.previous))
            for a in acquired
            if a.reason == TAKEOVER
        ]
        if owner_unknown:
            scope = read_scopes(owner_unknown)
            warnings.append(
                '%s existed but %s not visible to this token (%s); this client '
                'took %s over from an owner it could not see (previous owner unknown)'
                % (
                    _names(owner_unknown),
                    'was' if len(owner_unknown) == 1 else 'were',
                    'no %s scope' % scope
                    if scope
                    else 'no read scope for %s group' % ('its' if len(owner_unknown) == 1 else 'their'),
                    'it' if len(owner_unknown) == 1 else 'them',
                )
            )
        return warnings

    def predicted_warnings(self, acquired: Iterable[PlannedAcquire]) -> list[str]:
        """Check mode's warnings: the takeovers it can see, and what it cannot know."""
        warnings = [
            "attribute %r was owned by %s; this client would take it over" % (a.name, service_label(a.previous))
            for a in acquired
            if a.reason == TAKEOVER
        ]
        if self.unproven:
            otherwise = (
                'takes it over (previous owner unknown)'
                if self.takeover
                else 'refuses it (owner_unknown), since takeover is false'
            )
            scope = read_scopes(self.unproven)
            warnings.append(
                '%s not visible to this token, which may lack the read scope that would show %s%s: a real '
                'run creates %s if the user lacks %s, and otherwise %s'
                % (
                    _names(self.unproven),
                    'it' if len(self.unproven) == 1 else 'them',
                    ' (%s)' % scope if scope else '',
                    'it' if len(self.unproven) == 1 else 'each',
                    'it',
                    otherwise,
                )
            )
        return warnings

    def diff(
        self,
        acquired: Iterable[PlannedAcquire],
        released: Iterable[PlannedRelease],
        owner_unknown: Collection[str] = (),
        manual: dict | None = None,
        next_owner: dict | None = None,
    ) -> dict:
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
                        'owner': service_name(acquire.previous),
                        'manual': bool(acquire.previous.get('manual')),
                    }
            after[acquire.name] = {'owner': THIS_CLIENT, 'manual': bool(manual.get(acquire.name, acquire.manual))}
        for release in released:
            after[release.name] = {
                'owner': next_owner.get(release.name, release.next_owner),
                'manual': bool(release.attribute.get('manual')),
            }
        return {'before': {'attributes': before}, 'after': {'attributes': after}}
