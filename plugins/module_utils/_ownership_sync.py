# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read, plan, write: converge this client's attribute ownership.

Internal to this collection, not a stable API. Shared by the
existio.exist.attribute module and its action plugin, so both paths behave
the same. All HTTP goes through the ExistClient; all decisions through the
pure planner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
    from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import Declared
    from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import (
        Plan,
        PlannedAcquire,
        PlannedCreate,
        PlannedRelease,
    )
    from ansible_collections.existio.exist.plugins.module_utils._write_engine import Outcome as WriteOutcome

from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import attribute_problem
from ansible_collections.existio.exist.plugins.module_utils._client import EVERY_ATTRIBUTE
from ansible_collections.existio.exist.plugins.module_utils._outcome import Outcome
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import (
    MANUAL,
    label_matches,
    names_to_look_up,
    owner_unknown_error,
    plan_ownership,
)
from ansible_collections.existio.exist.plugins.module_utils._remedies import refusal_explainer
from ansible_collections.existio.exist.plugins.module_utils._result_keys import ACQUIRED, CREATED, RELEASED, TAKEOVERS
from ansible_collections.existio.exist.plugins.module_utils._write_engine import (
    APPLIED,
    FAILED,
    UNCHANGED,
    Endpoint,
    WriteRun,
)


def read_owned(client: ExistClient) -> dict[str, dict]:
    """{name: attribute} of everything this client owns: one GET per 100."""
    return dict((attribute['name'], attribute) for attribute in client.list_owned(EVERY_ATTRIBUTE))


def read_visible(client: ExistClient) -> dict[str, dict]:
    """{name: attribute} of every attribute the token can read: one GET per 100.

    The whole list, not a filtered one: Exist has been seen to ignore the
    `attributes=` filter, so filtering is done here, and one read of the list
    costs no more than one read per chunk of names.
    """
    return dict((attribute['name'], attribute) for attribute in client.list_attributes(EVERY_ATTRIBUTE))


def _name_or_template(entry: dict) -> str | None:
    for key in ('name', 'template'):
        if isinstance(entry.get(key), str):
            return entry[key]
    return None


def _create_key(entry: dict) -> tuple[str, str] | None:
    """The create item an answer entry is about: a success object or a failed
    echo names a template by `template`, a custom attribute by `label`."""
    if isinstance(entry.get('template'), str):
        return ('template', entry['template'])
    if isinstance(entry.get('label'), str):
        return ('label', entry['label'])
    return None


def _name(entry: dict) -> str | None:
    return entry.get('name') if isinstance(entry.get('name'), str) else None


def _release_problem(entry: dict) -> str | None:
    service = entry.get('service')
    if service is not None and not isinstance(service, (str, dict)):
        return "'service' is %r" % (service,)
    return None


def _acquire_applied(planned: PlannedAcquire, owned: dict) -> bool:
    now = planned.find_in(owned)
    if now is None:
        return False
    return planned.declared.manual is None or bool(now.get('manual')) == planned.declared.manual


def _record_acquired(owned: dict, planned: PlannedAcquire, entry: dict) -> dict:
    owned = dict(owned)
    current = dict(owned.get(planned.name) or planned.previous or {})
    current.update(entry)
    if not isinstance(entry.get('manual'), bool) and planned.declared.manual is not None:
        # A success that does not show the flag applied the item as sent.
        current['manual'] = planned.declared.manual
    # The name Exist answered (a custom attribute's is Exist's to choose).
    owned[current['name'] if isinstance(current.get('name'), str) else planned.name] = current
    return owned


def _record_released(owned: dict, planned: PlannedRelease, entry: dict) -> dict:
    owned = dict(owned)
    owned.pop(planned.name, None)
    return owned


def ownership_endpoints(client: ExistClient) -> dict[str, Endpoint]:
    """The three ownership writes, as the write engine needs them."""
    return {
        'acquire': Endpoint(
            '/api/2/attributes/acquire/',
            client.acquire,
            _name_or_template,
            attribute_problem,
            _acquire_applied,
            _record_acquired,
        ),
        'create': Endpoint(
            '/api/2/attributes/create/',
            client.create,
            _create_key,
            attribute_problem,
            _acquire_applied,
            _record_acquired,
            item_key=lambda planned: planned.create_key,
            read_entry=lambda planned, owned: planned.find_in(owned) or {'name': planned.name},
        ),
        # A release refused as unauthorised or not_found may have lost a race
        # with another run: if a fresh read shows it is not ours, the goal is reached.
        'release': Endpoint(
            '/api/2/attributes/release/',
            client.release,
            _name,
            _release_problem,
            lambda planned, owned: planned.name not in owned,
            _record_released,
            reached_codes=('unauthorised', 'not_found'),
        ),
    }


def _service_of(entry: dict) -> str | None:
    service = entry.get('service')
    if isinstance(service, dict):
        return service.get('name') or None
    return service or None


class OwnershipOutcome(Outcome):
    """What a converge of ownership did: attribute names acquired, created, released; takeovers; labels resolved."""

    LISTS = (ACQUIRED, CREATED, TAKEOVERS, 'labels', RELEASED)
    acquired: list
    created: list
    takeovers: list
    labels: list
    released: list
    ITEMS = 'attribute(s)'

    def __init__(self, check_mode: bool = False) -> None:
        super().__init__(check_mode)
        self.owned: dict = {}  # {name: attribute} this client owns after the run (or would, in check mode)

    def describe(self, item: dict) -> str:
        key = 'name'
        for candidate in ('label', 'template'):
            if candidate in item and 'name' not in item:
                key = candidate
        return "%s %r (%s: %s)" % (key, item.get(key), item.get('error_code'), item.get('error'))

    def settle(
        self,
        acquired: list,
        released: list,
        failed_items: list,
        owned: dict,
        diff: dict | None,
        created: Iterable = (),
        takeovers: Iterable = (),
        labels: Iterable = (),
    ) -> OwnershipOutcome:
        self.acquired = sorted(p.name for p in acquired)
        self.released = sorted(p.name for p in released)
        self.created = sorted(created)
        self.takeovers = list(takeovers)
        self.labels = sorted(labels, key=lambda entry: (entry['label'], entry['name']))
        self.failed_items = list(failed_items)
        self.owned = dict(owned)
        self.diff = diff
        self.changed = bool(acquired or released)
        self.done = ['acquired %s' % ', '.join(self.acquired)] if self.acquired else []
        if self.released:
            self.done.append('released %s' % ', '.join(self.released))
        return self

    def result(self) -> dict:
        result = super().result()
        result['owned'] = [self.owned[name] for name in sorted(self.owned)]
        return result


def converge(
    client: ExistClient,
    declared: list[Declared],
    takeover: bool = True,
    exclusive: bool = False,
    check_mode: bool = False,
    warn: Callable[[str], None] | None = None,
    owned: dict | None = None,
    visible: dict | None = None,
) -> dict:
    """Make this client's ownership match `declared`. Returns the task result (see ownership_outcome)."""
    return ownership_outcome(client, declared, takeover, exclusive, check_mode, warn, owned, visible).result()


def ownership_outcome(
    client: ExistClient,
    declared: list[Declared],
    takeover: bool = True,
    exclusive: bool = False,
    check_mode: bool = False,
    warn: Callable[[str], None] | None = None,
    owned: dict | None = None,
    visible: dict | None = None,
) -> OwnershipOutcome:
    """Make this client's ownership match `declared`. Returns an OwnershipOutcome.

    owned, visible: what the caller already read (read_owned, read_visible), so
    a task that needs them too reads them once.
    Reads raise ExistError (nothing was changed yet). Failures once writing has
    begun are in the outcome (failed_items, errors) alongside what did change,
    never raised, so no change goes unreported.
    """
    warn = warn or (lambda message: None)
    if owned is None:
        owned = read_owned(client)
    if visible is None:
        visible = read_visible(client) if names_to_look_up(owned, declared) else {}
    plan = plan_ownership(owned, declared, visible, takeover=takeover, exclusive=exclusive)
    if check_mode:
        return _predicted(plan, warn)

    endpoints = ownership_endpoints(client)
    run = WriteRun(dict(owned), lambda: read_owned(client), refusal_explainer(client.user)).run(
        [(endpoints['acquire'], plan.acquire), (endpoints['create'], plan.create), (endpoints['release'], plan.release)]
    )
    if takeover:
        # Templates Exist says exist although the look-up did not show them: the
        # token cannot read them. takeover=true acquires them all the same.
        hidden = [o.item.taken_over() for o in run.outcomes if _exists_hidden(o, endpoints)]
        run.run([(endpoints['acquire'], hidden)])
    for message in run.warnings:
        warn(message)
    tally = _Tally(plan, endpoints, warn)
    for outcome in run.outcomes:
        if outcome.status != UNCHANGED and not (takeover and _exists_hidden(outcome, endpoints)):
            tally.add(outcome)
    for message in plan.takeover_warnings(tally.acquired, tally.owner_unknown):
        warn(message)
    result = OwnershipOutcome().settle(
        tally.acquired,
        tally.released,
        tally.failed_items,
        run.state,
        plan.diff(
            tally.acquired, tally.released, tally.owner_unknown, manual=tally.manual, next_owner=tally.next_owner
        ),
        created=tally.created,
        takeovers=plan.takeovers(tally.acquired, tally.owner_unknown),
        labels=tally.labels,
    )
    result.errors = list(run.errors)
    return result


class _Tally:
    """What each write's outcome means for ownership: acquired, released, created or failed, and why."""

    acquired: list
    released: list
    created: list
    manual: dict
    next_owner: dict
    owner_unknown: set

    def __init__(self, plan: Plan, endpoints: dict[str, Endpoint], warn: Callable[[str], None]) -> None:
        self.plan, self.endpoints, self.warn = plan, endpoints, warn
        self.acquired, self.released, self.created = [], [], []
        self.failed_items = list(plan.refused)
        self.labels = plan.found_labels()
        self.manual, self.next_owner, self.owner_unknown = {}, {}, set()

    def add(self, outcome: WriteOutcome) -> None:
        planned, entry = outcome.item, outcome.entry
        if outcome.status != APPLIED:
            self.failed_items.append(_failed_item(outcome, self.endpoints))
        elif outcome.endpoint is self.endpoints['release']:
            self.released.append(planned)
            if 'service' in entry:
                self.next_owner[planned.name] = _service_of(entry)
        elif self._manual_as_wanted(planned, entry):
            if outcome.endpoint is self.endpoints['create']:
                planned = self._created(planned, entry)
            elif planned.declared.custom is not None:
                self._custom_acquired(planned, entry)
            self.acquired.append(planned)
            if self.plan.previous_owner_unknown(planned, entry):
                self.owner_unknown.add(planned.name)

    def _manual_as_wanted(self, planned: PlannedAcquire, entry: dict) -> bool:
        """False for an item planned only to change `manual` that Exist did not change."""
        wanted, got = planned.declared.manual, entry.get('manual')
        if wanted is None or not isinstance(got, bool) or got == wanted:
            return True
        # Reporting a change that did not happen would make every run "changed".
        self.warn('Exist did not apply manual=%s to attribute %r (it stays manual=%s)' % (wanted, planned.name, got))
        self.manual[planned.name] = got
        return planned.reason != MANUAL

    def _created(self, planned: PlannedCreate, entry: dict) -> PlannedCreate:
        # Named as Exist answered: a custom attribute's name is Exist's to choose.
        if isinstance(entry.get('name'), str) and entry['name'] != planned.name:
            planned = planned.named(entry['name'])
        self.created.append(planned.name)
        if planned.declared.custom is not None:
            self.labels.append(_label_entry(planned, 'created'))
        return planned

    def _custom_acquired(self, planned: PlannedAcquire, entry: dict) -> None:
        custom = planned.declared.custom
        if custom.differences(entry):
            self.warn(
                'attribute %r was acquired, but %s; Exist cannot change either'
                % (planned.name, custom.differences(entry))
            )
        if isinstance(entry.get('label'), str) and not label_matches(custom, [entry]):
            # Taken over by the name a new one would get, unseen: Exist's answer shows whose it is.
            self.warn(
                'attribute %r was acquired for label %r, but its label is %r'
                % (planned.name, custom.label, entry['label'])
            )
        if not planned.declared.found:
            self.labels.append(_label_entry(planned, 'existing'))


def _label_entry(planned: PlannedAcquire, source: str) -> dict:
    return {'label': planned.declared.custom.label, 'name': planned.name, 'source': source}


def _exists(outcome: WriteOutcome, endpoints: dict[str, Endpoint]) -> bool:
    """A create Exist refused because the attribute exists."""
    return outcome.endpoint is endpoints['create'] and outcome.status == FAILED and outcome.error_code == 'exists'


def _exists_hidden(outcome: WriteOutcome, endpoints: dict[str, Endpoint]) -> bool:
    """A template's create Exist refused because the user has it although the look-up did not show it (the
    token cannot read its group): the attribute is that template's, whoever owns it, so takeover decides."""
    return _exists(outcome, endpoints) and outcome.item.declared.custom is None


def _label_unknown(outcome: WriteOutcome, endpoints: dict[str, Endpoint]) -> bool:
    """A custom attribute's create Exist refused because the name it would give it is taken, by an attribute no
    read showed (the token may not read the group): whether that one has the declared label, group and value
    type is unknown, so it is never taken over for it (it was once, and the label ended on another attribute)."""
    planned = outcome.item
    return (
        _exists(outcome, endpoints)
        and planned.declared.custom is not None
        and not (planned.proven or planned.name_seen)
    )


def _failed_item(outcome: WriteOutcome, endpoints: dict[str, Endpoint]) -> dict:
    entry = dict(outcome.item.ref(), error_code=outcome.error_code, error=outcome.error)
    if _exists_hidden(outcome, endpoints):
        # takeover=false: the template exists although the token could not see it, so its owner is unknown.
        entry.update(error_code='owner_unknown', error=owner_unknown_error(outcome.item.name))
    elif _label_unknown(outcome, endpoints):
        custom = outcome.item.declared.custom
        entry['error'] = (
            "%s: the token cannot read it (no %s_read scope, or %s_read does not show it), so whether it is the "
            'attribute labelled %r is unknown; not taken over. Give the token the read scope, or declare the '
            'attribute by name' % (outcome.error, custom.group, custom.group, custom.label)
        )
    elif _exists(outcome, endpoints):
        entry['error'] = (
            "%s: no attribute the token can read has the label %r, so another attribute has the name Exist gives "
            'a new one (%r); rename the label, or declare the attribute you mean by name'
            % (outcome.error, outcome.item.declared.custom.label, outcome.item.name)
        )
    return entry


def _predicted(plan: Plan, warn: Callable[[str], None]) -> OwnershipOutcome:
    """Check mode: what a real run would do, from the plan alone."""
    acquired = plan.predicted_acquires
    predicted_names = sorted(c.name for c in plan.create if c.declared.custom is not None)
    if predicted_names:
        warn(
            'check mode: %s %s a prediction (a slug of the label) of the name Exist gives a new custom attribute; '
            'a real run reports the name Exist answers'
            % (', '.join(repr(n) for n in predicted_names), 'is' if len(predicted_names) == 1 else 'are each')
        )
    owned_now = dict(plan.owned)
    for planned in acquired:
        owned_now[planned.name] = planned.predicted_object(plan.service)
    for message in plan.predicted_warnings(acquired):
        warn(message)
    for release in plan.release:
        owned_now.pop(release.name, None)
    return OwnershipOutcome(check_mode=True).settle(
        acquired,
        plan.release,
        plan.refused + plan.predicted_failures,
        owned_now,
        plan.diff(acquired, plan.release, plan.unproven),
        created=[c.name for c in plan.create],
        takeovers=plan.takeovers(acquired),
        labels=plan.found_labels() + [_label_entry(c, 'predicted') for c in plan.create if c.declared.custom],
    )
