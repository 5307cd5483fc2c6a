# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The write engine on its own, against a stub endpoint: batches, per-item accounting, lost answers.

The stub keeps a set of names it has applied; each test scripts what it answers to each batch.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.existio.exist.plugins.module_utils._client import BatchResult
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError, ExistOutcomeUnknown
from ansible_collections.existio.exist.plugins.module_utils._write_engine import (
    APPLIED,
    FAILED,
    NOT_ATTEMPTED,
    NOT_ATTEMPTED_ERROR,
    UNCHANGED,
    UNKNOWN,
    Endpoint,
    WriteRun,
)

PATH = '/api/2/stub/'


class Item:
    """A planned item as the engine sees one: a name and the body it sends."""

    def __init__(self, name):
        self.name = name

    def request_item(self):
        return {'name': self.name}

    def __repr__(self):
        return 'Item(%r)' % self.name


def items(count, prefix='a'):
    return [Item('%s%03d' % (prefix, n)) for n in range(count)]


def applied_all(names, server):
    """The stub's honest answer: apply every item, list each as a success."""
    server.applied.update(names)
    return BatchResult(200, [{'name': name, 'ok': True} for name in names], [])


class Server:
    """The far side: what was applied, every batch sent, every read; `answers` scripts one batch each."""

    def __init__(self, answers=(), read_fails=False):
        self.applied = set()
        self.batches = []
        self.reads = 0
        self.answers = list(answers)  # functions (names, server) -> BatchResult, or raise; then applied_all
        self.read_fails = read_fails

    def send(self, request_items):
        names = [entry['name'] for entry in request_items]
        self.batches.append(names)
        answer = self.answers.pop(0) if self.answers else applied_all
        return answer(names, self)

    def read(self):
        self.reads += 1
        if self.read_fails:
            raise ExistApiError('GET /api/2/stub/: Exist answered 503 after 3 retries', status=503)
        return dict((name, {'name': name, 'from': 'read'}) for name in self.applied)


def endpoint(server, readable=True, reached_codes=()):
    return Endpoint(
        PATH,
        server.send,
        answer_key=lambda entry: entry.get('name'),
        success_problem=lambda entry: None if entry.get('ok') is True else "no 'ok'",
        applied_in=(lambda item, state: item.name in state) if readable else None,
        record=lambda state, item, entry: dict(state, **{item.name: entry}),
        reached_codes=reached_codes,
    )


def run(server, planned, **options):
    return WriteRun({}, server.read).run([(endpoint(server, **options), planned)])


def statuses(write_run):
    return [(o.item.name, o.status) for o in write_run.outcomes]


def lost(exception):
    """Apply the batch, then lose the answer."""

    def answer(names, server):
        server.applied.update(names)
        raise exception

    return answer


def refused_before(exception):
    def answer(names, server):
        raise exception

    return answer


LOST = ExistOutcomeUnknown('POST /api/2/stub/: connection failed; whether Exist applied the write is unknown')


# -- batches and accounting ------------------------------------------------------------------------------------


def test_items_go_in_batches_of_35_in_the_order_planned():
    server = Server()
    planned = items(71)
    write_run = run(server, planned)
    assert [len(batch) for batch in server.batches] == [35, 35, 1]
    assert sum(server.batches, []) == [item.name for item in planned]
    assert statuses(write_run) == [(item.name, APPLIED) for item in planned]
    assert server.reads == 0 and write_run.errors == [] and write_run.warnings == []
    # What the answers showed is recorded in the state, entry by entry.
    assert write_run.state == dict((item.name, {'name': item.name, 'ok': True}) for item in planned)
    assert write_run.outcomes[0].entry == {'name': 'a000', 'ok': True}


def test_each_item_is_applied_or_failed_as_the_answer_lists_it():
    def answer(names, server):
        server.applied.add('a000')
        return BatchResult(
            202,
            [{'name': 'a000', 'ok': True}],
            [
                {'name': 'a001', 'error_code': 'not_allowed', 'error': 'No permission'},
                {'name': 'a002'},
                {'name': 'a003', 'error_code': 7, 'error': 404},
            ],
        )

    server = Server([answer])
    write_run = run(server, items(4))
    assert statuses(write_run) == [('a000', APPLIED), ('a001', FAILED), ('a002', FAILED), ('a003', FAILED)]
    failed = dict((o.item.name, (o.error_code, o.error)) for o in write_run.outcomes if o.status == FAILED)
    assert failed == {
        'a001': ('not_allowed', 'No permission'),
        'a002': ('unknown_error', 'Exist gave no reason'),
        'a003': ('7', '404'),
    }
    # Every item was accounted for: no read, nothing unknown, the run goes on.
    assert server.reads == 0 and write_run.errors == [] and write_run.state == {'a000': {'name': 'a000', 'ok': True}}


def test_a_failed_item_does_not_stop_the_next_batch():
    def refuse_all(names, server):
        return BatchResult(202, [], [{'name': n, 'error_code': 'not_found', 'error': 'no'} for n in names])

    server = Server([refuse_all])
    write_run = run(server, items(40))
    assert [len(batch) for batch in server.batches] == [35, 5]
    assert [o.status for o in write_run.outcomes] == [FAILED] * 35 + [APPLIED] * 5


# -- answers of the wrong shape --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'answer, warning',
    [
        (lambda names: ([], []), None),
        (lambda names: ([{'name': n, 'ok': True} for n in names[:1]], []), None),
        (
            lambda names: ([{'name': n} for n in names], []),
            "answered a malformed success for 'a001' (no 'ok'); a fresh read decides",
        ),
        (
            lambda names: ([{'name': n, 'ok': True} for n in names], [{'name': n, 'error_code': 'x'} for n in names]),
            "answered 'a001' both as a success and as a failure; a fresh read decides",
        ),
        (
            lambda names: ([{'label': 'no name', 'ok': True}], []),
            'answered a success for an entry without a name, which was not in the request; ignored',
        ),
        (
            lambda names: ([{'name': 'zzz', 'ok': True}], []),
            "answered a success for 'zzz', which was not in the request; ignored",
        ),
    ],
)
def test_an_answer_that_does_not_account_for_every_item_is_decided_by_one_fresh_read(answer, warning):
    def applied_then(names, server):
        server.applied.update(names)
        return BatchResult(200, *answer(names))

    server = Server([applied_then])
    write_run = run(server, items(3))
    assert server.reads == 1 and server.batches == [['a000', 'a001', 'a002']]
    assert [o.status for o in write_run.outcomes] == [APPLIED] * 3
    assert write_run.errors == []
    assert write_run.warnings[-1] == (
        'POST %s: the answer did not account for every item sent; a fresh read shows every item of that request '
        'was applied' % PATH
    )
    if warning:
        assert 'POST %s %s' % (PATH, warning) in write_run.warnings
    # An item the read decided carries what the read showed of it.
    read_entries = [o.entry for o in write_run.outcomes if o.entry.get('from') == 'read']
    assert read_entries and all(entry['name'] in server.applied for entry in read_entries)


def test_the_first_entry_for_an_item_counts_and_duplicates_are_not_warned_about():
    def twice(names, server):
        server.applied.update(names)
        return BatchResult(200, [{'name': 'a000', 'ok': True}, {'name': 'a000', 'ok': False}], [])

    write_run = run(Server([twice]), items(1))
    assert statuses(write_run) == [('a000', APPLIED)] and write_run.warnings == []
    assert write_run.outcomes[0].entry == {'name': 'a000', 'ok': True}


def test_tuple_keys_are_named_in_warnings():
    server = Server()
    stub = Endpoint(
        PATH,
        lambda request_items: BatchResult(200, [{'key': ['mood', '2026-11-27']}], []),
        answer_key=lambda entry: tuple(entry['key']) if 'key' in entry else None,
        success_problem=lambda entry: None,
        applied_in=lambda item, state: True,
        record=lambda state, item, entry: state,
        item_key=lambda item: (item.name, '2026-11-28'),
    )
    write_run = WriteRun({}, server.read).run([(stub, [Item('mood')])])
    assert write_run.warnings[0] == (
        "POST %s answered a success for 'mood' on '2026-11-27', which was not in the request; ignored" % PATH
    )


# -- lost answers ----------------------------------------------------------------------------------------------


def test_a_lost_answer_is_decided_by_a_fresh_read_and_the_run_goes_on():
    server = Server([lost(LOST)])
    write_run = run(server, items(40))
    assert [len(batch) for batch in server.batches] == [35, 5]
    assert server.reads == 1
    assert [o.status for o in write_run.outcomes] == [APPLIED] * 40
    assert write_run.outcomes[0].entry == {'name': 'a000', 'from': 'read'}
    assert write_run.warnings == [
        '%s; a fresh read shows every item of that request was applied' % LOST.message,
    ]
    assert write_run.errors == []


def test_a_lost_answer_the_read_does_not_show_is_outcome_unknown_never_not_applied_and_stops():
    server = Server([refused_before(LOST)])
    more = items(3, prefix='b')
    write_run = WriteRun({}, server.read).run([(endpoint(server), items(40)), (endpoint(server), more)])
    assert server.batches == [[item.name for item in items(35)]] and server.reads == 1
    outcomes = write_run.outcomes
    assert [o.status for o in outcomes] == [UNKNOWN] * 35 + [NOT_ATTEMPTED] * 8
    assert outcomes[0].error_code == UNKNOWN
    assert 'may still apply it' in outcomes[0].error and 'not applied' not in outcomes[0].error
    assert all(o.error == NOT_ATTEMPTED_ERROR for o in outcomes[35:])
    assert write_run.errors == [LOST.message]


def test_some_shown_some_not_applies_those_shown_and_is_unknown_for_the_rest():
    def half(names, server):
        server.applied.update(names[:2])
        raise LOST

    server = Server([half])
    write_run = run(server, items(4))
    assert statuses(write_run) == [('a000', APPLIED), ('a001', APPLIED), ('a002', UNKNOWN), ('a003', UNKNOWN)]
    assert write_run.errors == [LOST.message] and write_run.warnings == []
    assert sorted(write_run.state) == ['a000', 'a001']


def test_a_failed_fresh_read_leaves_the_batch_unknown_and_keeps_what_earlier_answers_showed():
    server = Server([applied_all, lost(LOST)], read_fails=True)
    write_run = run(server, items(80))
    assert [len(batch) for batch in server.batches] == [35, 35] and server.reads == 1
    assert [o.status for o in write_run.outcomes] == [APPLIED] * 35 + [UNKNOWN] * 35 + [NOT_ATTEMPTED] * 10
    assert 'so did the fresh read' in write_run.outcomes[35].error
    assert write_run.errors == [
        '%s; the fresh read meant to check it failed too: GET /api/2/stub/: Exist answered 503 after 3 retries'
        % LOST.message
    ]
    # The state is still what the first answer showed.
    assert sorted(write_run.state) == [item.name for item in items(35)]


def test_outcome_unknown_without_a_read_when_no_read_can_tell():
    server = Server([lost(LOST)])
    write_run = run(server, items(40), readable=False)
    assert server.reads == 0 and server.batches == [[item.name for item in items(35)]]
    assert [o.status for o in write_run.outcomes] == [UNKNOWN] * 35 + [NOT_ATTEMPTED] * 5
    assert 'no read can tell' in write_run.outcomes[0].error
    assert write_run.errors == [LOST.message]


# -- requests refused as a whole -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'error, reason',
    [
        (
            ExistApiError('POST /api/2/stub/: Exist answered 401', status=401),
            'not applied: Exist refused the request that carried it (HTTP 401)',
        ),
        (
            ExistApiError('POST /api/2/stub/: could not connect'),
            'not applied: the request that carried it failed before Exist answered',
        ),
    ],
)
def test_a_request_refused_as_a_whole_fails_its_items_and_stops_without_a_read(error, reason):
    server = Server([applied_all, refused_before(error)])
    write_run = run(server, items(80))
    assert [len(batch) for batch in server.batches] == [35, 35] and server.reads == 0
    outcomes = write_run.outcomes
    assert [o.status for o in outcomes] == [APPLIED] * 35 + [FAILED] * 35 + [NOT_ATTEMPTED] * 10
    assert set((o.error_code, o.error) for o in outcomes[35:70]) == {('request_failed', reason)}
    assert set(o.error_code for o in outcomes[70:]) == {NOT_ATTEMPTED}
    assert write_run.errors == [error.message]


# -- refusals that may mean the goal is reached (reached_codes) ------------------------------------------------


def refuse(code, applied=()):
    def answer(names, server):
        server.applied.update(applied)
        return BatchResult(202, [], [{'name': n, 'error_code': code, 'error': 'refused ' + n} for n in names])

    return answer


def test_a_reached_code_the_read_confirms_is_unchanged_and_the_run_goes_on():
    server = Server([refuse('unauthorised', applied=['a000'])])
    write_run = run(server, items(37), reached_codes=['unauthorised'])
    assert server.reads == 1 and [len(batch) for batch in server.batches] == [35, 2]
    assert statuses(write_run)[:2] == [('a000', UNCHANGED), ('a001', FAILED)]
    assert (write_run.outcomes[1].error_code, write_run.outcomes[1].error) == ('unauthorised', 'refused a001')
    assert [o.status for o in write_run.outcomes[35:]] == [APPLIED, APPLIED]
    # Refusals are the answer's own: no request-level error, no warning.
    assert write_run.errors == [] and write_run.warnings == []


def test_a_code_outside_reached_codes_is_failed_without_a_read():
    server = Server([refuse('unauthorised', applied=['a000'])])
    write_run = run(server, items(2))
    assert server.reads == 0 and statuses(write_run) == [('a000', FAILED), ('a001', FAILED)]


@pytest.mark.parametrize('readable, read_fails', [(True, True), (False, False)])
def test_a_reached_code_nothing_can_confirm_stays_failed_with_its_own_reason(readable, read_fails):
    server = Server([refuse('unauthorised', applied=['a000'])], read_fails=read_fails)
    write_run = run(server, items(1), readable=readable, reached_codes=['unauthorised'])
    assert statuses(write_run) == [('a000', FAILED)] and write_run.outcomes[0].error_code == 'unauthorised'
    assert server.reads == (1 if readable else 0)


# -- bounded ---------------------------------------------------------------------------------------------------


BEHAVIOURS = ('ok', 'lost_applied', 'lost_not_applied', 'refused', 'empty_answer', 'per_item_failed')


def scripted(behaviour):
    def answer(names, server):
        if behaviour == 'lost_applied':
            server.applied.update(names)
            raise LOST
        if behaviour == 'lost_not_applied':
            raise LOST
        if behaviour == 'refused':
            raise ExistApiError('POST /api/2/stub/: Exist answered 400', status=400)
        if behaviour == 'empty_answer':
            server.applied.update(names)
            return BatchResult(200, [], [])
        if behaviour == 'per_item_failed':
            return refuse('unauthorised')(names, server)
        return applied_all(names, server)

    return answer


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(0, 150),
    behaviours=st.lists(st.sampled_from(BEHAVIOURS), max_size=6),
    read_fails=st.booleans(),
    readable=st.booleans(),
)
def test_every_item_gets_one_outcome_is_sent_at_most_once_and_reads_are_bounded(
    count, behaviours, read_fails, readable
):
    server = Server([scripted(b) for b in behaviours], read_fails=read_fails)
    planned = items(count)
    write_run = run(server, planned, readable=readable, reached_codes=['unauthorised'])
    sent = sum(server.batches, [])
    # Nothing is sent twice, nothing retried: at most one request per batch, one read per request.
    assert len(sent) == len(set(sent)) and len(server.batches) <= -(-count // 35)
    assert server.reads <= len(server.batches)
    assert [o.item for o in write_run.outcomes] == planned
    for outcome in write_run.outcomes:
        if outcome.item.name not in sent:
            assert outcome.status == NOT_ATTEMPTED
        if outcome.status == APPLIED:
            assert outcome.item.name in server.applied
        if outcome.status in (FAILED, NOT_ATTEMPTED):
            assert outcome.item.name not in server.applied
