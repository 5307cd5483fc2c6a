# -*- coding: utf-8 -*-
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

from ansible_collections.existio.exist.plugins.module_utils._client import (
    PAGE_LIMIT,
    ExistError,
    ExistOutcomeUnknown,
    split_batches,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import (
    MANUAL,
    TAKEOVER,
    PlannedRelease,
    names_to_look_up,
    plan_ownership,
)


def read_owned(client):
    """{name: attribute} of everything this client owns: one GET per 100."""
    return dict((attribute['name'], attribute) for attribute in client.list_owned())


def look_up(client, names):
    """{name: attribute} for those of `names` the user has (and the token can read)."""
    visible = {}
    wanted = set(names)
    for chunk in split_batches(names, PAGE_LIMIT):
        params = {'attributes': ','.join(chunk), 'include_inactive': 'true', 'include_low_priority': 'true'}
        for attribute in client.list_attributes(params):
            if attribute.get('name') in wanted:
                visible[attribute['name']] = attribute
    return visible


def _format_item(item):
    key = 'template' if 'template' in item and 'name' not in item else 'name'
    return "%s %r (%s: %s)" % (key, item.get(key), item.get('error_code'), item.get('error'))


class _Run(object):
    """The bookkeeping of one real (not check-mode) run."""

    def __init__(self, client, plan, warn):
        self.client = client
        self.plan = plan
        self.warn = warn
        self.owned_now = dict(plan.owned)
        self.acquired = []
        self.released = []
        self.failed_items = list(plan.refused)
        self.errors = []

    def run(self):
        if not self._write(self.plan.acquire, self.client.acquire, self._apply_acquire_result, self._acquire_applied):
            self._not_attempted(split_batches(self.plan.release))
            return
        self._write(self.plan.release, self.client.release, self._apply_release_result, self._release_applied)

    def _write(self, planned, send, apply_result, applied_in):
        """Send `planned` in batches of 35. Returns False once a request failed."""
        batches = split_batches(planned)
        for position, batch in enumerate(batches):
            by_name = dict((p.name, p) for p in batch)
            try:
                result = send([p.request_item() for p in batch])
            except ExistOutcomeUnknown as exc:
                # Exist may have applied it: the truth is what a fresh read shows.
                self.owned_now = read_owned(self.client)
                done = [p for p in batch if applied_in(p, self.owned_now)]
                missing = [p for p in batch if p not in done]
                self._record_done(done)
                if not missing:
                    self.warn('%s; a fresh read shows every item of that request was applied' % exc.message)
                    continue
                self.errors.append(exc.message)
                for p in missing:
                    self.failed_items.append(dict(p.ref(), error_code='outcome_unknown',
                                                  error='the request failed and a fresh read shows it was not applied'))
                self._not_attempted(batches[position + 1:])
                return False
            except ExistError as exc:
                self.errors.append(exc.message)
                self._not_attempted(batches[position:])
                return False
            apply_result(result, by_name)
            if result.status == 202 and not result.failed:
                self.errors.append('Exist answered 202 (some items failed) but listed no failed item')
        return True

    def _not_attempted(self, batches):
        for batch in batches:
            for p in batch:
                self.failed_items.append(dict(p.ref(), error_code='not_attempted',
                                              error='not sent, because an earlier request failed'))

    def _record_done(self, done):
        for p in done:
            if isinstance(p, PlannedRelease):
                self.released.append(p)
            else:
                p.manual = bool(self.owned_now[p.name].get('manual'))
                self.acquired.append(p)

    @staticmethod
    def _acquire_applied(planned, owned):
        now = owned.get(planned.name)
        if now is None:
            return False
        return planned.declared.manual is None or bool(now.get('manual')) == planned.declared.manual

    @staticmethod
    def _release_applied(planned, owned):
        return planned.name not in owned

    def _apply_acquire_result(self, result, by_name):
        for obj in result.success:
            name = obj.get('name') or obj.get('template')
            planned = by_name.get(name)
            if planned is None:
                continue
            current = planned.predicted_object()
            current.update(obj)
            self.owned_now[name] = current
            wanted = planned.declared.manual
            if wanted is not None and 'manual' in obj and bool(obj['manual']) != wanted:
                # Reporting a change that did not happen would make every run "changed".
                self.warn('Exist did not apply manual=%s to attribute %r (it stays manual=%s)'
                          % (wanted, name, bool(obj['manual'])))
                planned.manual = bool(obj['manual'])
                if planned.reason == MANUAL:
                    continue
            self.acquired.append(planned)
        for item in result.failed:
            self.failed_items.append(self._failed_entry(item))

    def _apply_release_result(self, result, by_name):
        for item in result.success:
            planned = by_name.get(item.get('name'))
            if planned is None:
                continue
            if 'service' in item:
                service = item['service']
                planned.next_owner = (service.get('name') if isinstance(service, dict) else service) or None
            self.owned_now.pop(planned.name, None)
            self.released.append(planned)
        for item in result.failed:
            self.failed_items.append(self._failed_entry(item))

    @staticmethod
    def _failed_entry(item):
        entry = dict((key, item[key]) for key in ('name', 'template') if key in item)
        entry['error_code'] = item.get('error_code')
        entry['error'] = item.get('error')
        return entry


def converge(client, declared, takeover=True, exclusive=False, check_mode=False, warn=None):
    """Make this client's ownership match `declared`. Returns the task result.

    Reads raise ExistError (nothing was changed yet). Failures once writing has
    begun are reported in the result (`failed` and `msg`) alongside what did
    change, never raised, so no change goes unreported.
    """
    warn = warn or (lambda message: None)
    owned = read_owned(client)
    lookup = names_to_look_up(owned, declared)
    visible = look_up(client, lookup) if lookup else {}
    plan = plan_ownership(owned, declared, visible, takeover=takeover, exclusive=exclusive)

    if check_mode:
        acquired, released = plan.predicted_acquires, plan.release
        failed_items = plan.refused + plan.predicted_failures
        owned_now = dict(owned)
        for planned in acquired:
            owned_now[planned.name] = planned.predicted_object()
        for planned in released:
            owned_now.pop(planned.name, None)
        errors = []
    else:
        run = _Run(client, plan, warn)
        run.run()
        acquired, released, failed_items = run.acquired, run.released, run.failed_items
        owned_now, errors = run.owned_now, run.errors

    for planned in acquired:
        if planned.reason == TAKEOVER:
            warn(plan.takeover_warning(planned, done=not check_mode))

    result = {
        'changed': bool(acquired or released),
        'acquired': sorted(p.name for p in acquired),
        'released': sorted(p.name for p in released),
        'failed_items': failed_items,
        'owned': [owned_now[name] for name in sorted(owned_now)],
        'diff': plan.diff(acquired, released),
    }
    if failed_items or errors:
        result['failed'] = True
        result['msg'] = failure_message(failed_items, errors, result['acquired'], result['released'], check_mode)
    return result


def failure_message(failed_items, errors, acquired, released, check_mode=False):
    parts = []
    if errors:
        parts.append(' '.join(errors))
    if failed_items:
        verb = 'would fail' if check_mode else 'failed'
        parts.append('%d attribute(s) %s: %s.' % (len(failed_items), verb, '; '.join(_format_item(item) for item in failed_items)))
    done = []
    if acquired:
        done.append('acquired %s' % ', '.join(acquired))
    if released:
        done.append('released %s' % ', '.join(released))
    if done:
        parts.append('%s: %s.' % ('Would still be done' if check_mode else 'Done all the same', '; '.join(done)))
    return ' '.join(parts)
