# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Send planned writes to Exist and account for every item sent.

Internal to this collection, not a stable API. Every resource (ownership,
custom attributes, values) plugs in its planned items, the endpoints that
write them and a "was it applied?" test against a fresh read. The engine:

- sends the items in batches of 35;
- reads each answer: an item is applied only when the answer lists it as a
  success (with a well-formed entry), failed only when the answer lists it as
  failed; anything else (the item missing from the answer, a malformed entry,
  a malformed body, a 5xx, a dropped connection, a timeout) is unaccounted;
- re-reads the state once after a batch with unaccounted items, and decides
  each from that read: applied when the read shows it, otherwise
  `outcome_unknown`, never "not applied" (the write may still land);
- stops at the first request that failed as a whole, and marks what it did not
  send `not_attempted`;
- records outcomes; it never edits the plan, and never loses an outcome it
  already knows, whatever fails later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._client import BatchResult

from ansible_collections.existio.exist.plugins.module_utils._client import split_batches
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistError

APPLIED = 'applied'  # the answer, or a fresh read, shows it done
UNCHANGED = 'unchanged'  # Exist refused it, and a fresh read shows the goal was reached all the same
FAILED = 'failed'  # Exist refused it (per item, or the whole request)
UNKNOWN = 'outcome_unknown'  # nobody can know whether it was applied
NOT_ATTEMPTED = 'not_attempted'  # never sent: an earlier request failed

NOT_ATTEMPTED_ERROR = 'not sent, because an earlier request failed'


class Endpoint:
    """One kind of write: how to send a batch and how to read its answer.

    send(request_items) -> BatchResult (or raises ExistError).
    answer_key(entry) -> the key (name) of the sent item an answer entry is
        about, or None.
    success_problem(entry) -> what makes a success entry unusable, or None.
    applied_in(item, state) -> whether a fresh read shows the item's goal reached;
        None when no read can tell (an increment adds to whatever is there):
        then an unaccounted item is outcome_unknown at once, with no read.
    record(state, item, entry) -> state after the item was applied (entry is
        what Exist answered, or what the fresh read showed).
    reached_codes: failure codes that may mean the goal is reached anyway (a
        race with another run); a fresh read decides.
    item_key(item) -> the key answer_key() gives for that item (default: its name).
    read_entry(item, state) -> what the fresh read showed of an applied item.
    """

    def __init__(
        self,
        path: str,
        send: Callable[[list], BatchResult],
        answer_key: Callable[[dict], Any],
        success_problem: Callable[[dict], str | None],
        applied_in: Callable[[Any, Any], bool] | None,
        record: Callable[[Any, Any, Any], Any],
        reached_codes: Collection[str] = (),
        item_key: Callable[[Any], Any] | None = None,
        read_entry: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self.path = path
        self.send = send
        self.answer_key = answer_key
        self.success_problem = success_problem
        self.applied_in = applied_in
        self.record = record
        self.reached_codes = frozenset(reached_codes)
        self.item_key = item_key or (lambda item: item.name)
        self.read_entry = read_entry or (lambda item, state: state.get(item.name, {'name': item.name}))


class Outcome:
    """What became of one planned item."""

    def __init__(
        self,
        item: Any,
        endpoint: Endpoint,
        status: str,
        entry: Any = None,
        error_code: str | None = None,
        error: str | None = None,
    ) -> None:
        self.item = item
        self.endpoint = endpoint
        self.status = status
        self.entry = entry  # the success entry (or the fresh read's object) for APPLIED
        self.error_code = error_code
        self.error = error


class WriteRun:
    """One run of the engine. After run(): outcomes (one per item, in the order
    sent), errors (request-level failures, for msg), warnings, state (the best
    knowledge of the server: the last fresh read plus what was applied since).
    read_state: the fresh read; None when no read can tell (as an endpoint's applied_in None)."""

    def __init__(
        self,
        state: Any,
        read_state: Callable[[], Any] | None,
        explain_refusal: Callable[[Any, str, str], str] | None = None,
    ) -> None:
        self.state = state
        self._read_state = read_state
        # (item, error_code, error) -> the error with what to do about it (the scope a not_allowed lacks).
        self._explain = explain_refusal or (lambda item, code, error: error)
        self.outcomes: list = []
        self.errors: list = []
        self.warnings: list = []
        self._stopped = False

    def run(self, steps: Iterable[tuple[Endpoint, list]]) -> WriteRun:
        """steps: [(Endpoint, [planned item, ...]), ...], sent in this order."""
        for endpoint, items in steps:
            for batch in split_batches(items):
                if self._stopped:
                    self._add(batch, endpoint, NOT_ATTEMPTED, error_code=NOT_ATTEMPTED, error=NOT_ATTEMPTED_ERROR)
                else:
                    self._send(endpoint, batch)
        return self

    # -- one batch ------------------------------------------------------------

    def _send(self, endpoint: Endpoint, batch: list) -> None:
        try:
            result = endpoint.send([item.request_item() for item in batch])
        except ExistError as exc:
            if not exc.may_be_applied:
                # Refused as a whole (4xx, 429 past the wait) or never sent: nothing was applied.
                self.errors.append(exc.message)
                reason = (
                    'Exist refused the request that carried it (HTTP %d)' % exc.status
                    if exc.status
                    else 'the request that carried it failed before Exist answered'
                )
                self._add(batch, endpoint, FAILED, error_code='request_failed', error='not applied: %s' % reason)
                self._stopped = True
                return
            self._settle(endpoint, batch, {}, why=exc.message)
            return
        applied, refused, to_confirm, unaccounted = self._match(endpoint, batch, result)
        for item, entry in applied:
            self._applied(endpoint, item, entry)
        for item, (code, error) in refused:
            self._add([item], endpoint, FAILED, error_code=code, error=error)
        if unaccounted or to_confirm:
            self._settle(
                endpoint,
                unaccounted,
                to_confirm,
                why='POST %s: the answer did not account for every item sent' % endpoint.path,
            )

    def _keyed(self, endpoint: Endpoint, entries: list, kind: str, names: set) -> dict:
        """{name: entry} of the answer's entries about sent items; warns about the others."""
        keyed: dict = {}
        for entry in entries:
            key = endpoint.answer_key(entry)
            if key in names:
                keyed.setdefault(key, entry)
            else:
                self.warnings.append(
                    'POST %s answered a %s for %s, which was not in the request; ignored'
                    % (endpoint.path, kind, _quote(key))
                )
        return keyed

    def _match(self, endpoint: Endpoint, batch: list, result: BatchResult) -> tuple[list, list, dict, list]:
        """Pair the answer's entries with the sent items.

        Returns (applied: [(item, success entry)], refused: [(item, (code, error))],
        to_confirm: {item: (code, error)} refusals a fresh read must confirm,
        unaccounted: [item] that the answer does not decide).
        """
        names = set(endpoint.item_key(item) for item in batch)
        success = self._keyed(endpoint, result.success, 'success', names)
        failed = self._keyed(endpoint, result.failed, 'failure', names)
        applied, refused, to_confirm, unaccounted = [], [], {}, []
        for item in batch:
            key = endpoint.item_key(item)
            entry, failure = success.get(key), failed.get(key)
            if entry is not None and failure is not None:
                self.warnings.append(
                    'POST %s answered %s both as a success and as a failure; a fresh read decides'
                    % (endpoint.path, _quote(key))
                )
                unaccounted.append(item)
            elif entry is not None:
                problem = endpoint.success_problem(entry)
                if problem:
                    self.warnings.append(
                        'POST %s answered a malformed success for %s (%s); a fresh read decides'
                        % (endpoint.path, _quote(key), problem)
                    )
                    unaccounted.append(item)
                else:
                    applied.append((item, entry))
            elif failure is not None:
                code = _text(failure.get('error_code')) or 'unknown_error'
                reason = (code, self._explain(item, code, _text(failure.get('error')) or 'Exist gave no reason'))
                if reason[0] in endpoint.reached_codes:
                    to_confirm[item] = reason
                else:
                    refused.append((item, reason))
            else:
                unaccounted.append(item)
        return applied, refused, to_confirm, unaccounted

    def _settle(self, endpoint: Endpoint, unaccounted: list, to_confirm: dict, why: str) -> None:
        """Decide items the answer did not, from one fresh read of the state.

        unaccounted: items whose outcome is unknown; to_confirm: {item: (code,
        error)} refused in a way that may mean the goal is reached anyway.
        """
        if endpoint.applied_in is None or self._read_state is None:
            # No read can tell whether it was applied: say so without spending one.
            self.errors.append(why)
            self._add(
                unaccounted,
                endpoint,
                UNKNOWN,
                error_code=UNKNOWN,
                error='outcome unknown: the request that carried it failed, and no read can tell whether Exist '
                'applied it; check before sending it again',
            )
            for item, (code, error) in to_confirm.items():
                self._add([item], endpoint, FAILED, error_code=code, error=error)
            self._stopped = bool(unaccounted)
            return
        try:
            self.state = self._read_state()
        except ExistError as exc:
            self.errors.append('%s; the fresh read meant to check it failed too: %s' % (why, exc.message))
            self._add(
                unaccounted,
                endpoint,
                UNKNOWN,
                error_code=UNKNOWN,
                error='outcome unknown: the request that carried it failed, and so did the fresh read meant '
                'to check it; run the task again to converge',
            )
            for item, (code, error) in to_confirm.items():
                self._add([item], endpoint, FAILED, error_code=code, error=error)
            self._stopped = True
            return
        for item, (code, error) in to_confirm.items():
            if endpoint.applied_in(item, self.state):
                self._add([item], endpoint, UNCHANGED)
            else:
                self._add([item], endpoint, FAILED, error_code=code, error=error)
        unknown = []
        for item in unaccounted:
            if endpoint.applied_in(item, self.state):
                self._add([item], endpoint, APPLIED, entry=endpoint.read_entry(item, self.state))
            else:
                unknown.append(item)
        if unaccounted and not unknown:
            self.warnings.append('%s; a fresh read shows every item of that request was applied' % why)
            return
        if unknown:
            self.errors.append(why)
            self._add(
                unknown,
                endpoint,
                UNKNOWN,
                error_code=UNKNOWN,
                error='outcome unknown: the request that carried it failed and a fresh read does not show it '
                'applied, but Exist may still apply it; run the task again to converge',
            )
            self._stopped = True

    def _applied(self, endpoint: Endpoint, item: Any, entry: dict) -> None:
        self.state = endpoint.record(self.state, item, entry)
        self._add([item], endpoint, APPLIED, entry=entry)

    def _add(
        self,
        items: Iterable,
        endpoint: Endpoint,
        status: str,
        entry: Any = None,
        error_code: str | None = None,
        error: str | None = None,
    ) -> None:
        for item in items:
            self.outcomes.append(Outcome(item, endpoint, status, entry=entry, error_code=error_code, error=error))


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _quote(key: object) -> str:
    if isinstance(key, str):
        return repr(key)
    if isinstance(key, tuple) and key and all(isinstance(part, str) for part in key):
        return ' on '.join(repr(part) for part in key)
    return 'an entry without a name'
