# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The chaos part's checker: the emulator's truth against what the token store and the fleet reports say.

Inputs: what every user declares, the emulator's state before run 1, the chaos log (every fault injected: request,
user, kind, applied or not, what the client was sent), and for each run the emulator's state after it, the token
store and its recovery files, the fleet report, the texts a secret must never be in.

What it checks (each breach is a problem naming the run, the user, the item, what the report or store says and
what the emulator holds):

- Tokens (run 1's refresh): every user is accounted for by the token task (refreshed, or failed with an error
  code); every pair the emulator holds as valid (its refresh token works) is in the store or a recovery file, unless
  chaos took the very answer that carried it (a refresh applied whose answer was lost, delayed past the timeout or
  cut); no store entry is claimed good (unmarked) while the emulator refuses it, unless chaos revoked it after the
  refresh, when nothing could know; no entry is marked reauthorization_needed while its pair works.
- Items (both runs): every declared attribute and value of every user is changed (the report says so and the
  emulator holds it), failed with a reason (an error code, or its task's message, and not applied), or
  outcome_unknown (applied or not); none is claimed changed that the emulator does not hold, none applied and
  reported failed or not at all; each user's count of values updated is what the emulator shows written.
- Run 2 (no chaos) converges every user whose store token still works: the report says converged and the emulator
  holds every attribute owned and every value set.
- Bounds: no client read a trickled answer to its end (it takes three times the timeout).
- Secrets: no token (any the emulator or a store ever held) in a report or in ansible-playbook's output.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import re
import sys

from .common import table

TOKEN_PATH = '/oauth2/access_token'
# A store entry marked by the token module: the pair is gone (reauthorization_needed), or its state is unknown
# (any key naming an unknown outcome, whichever name the token module gives it).
GONE_MARK = 'reauthorization_needed'
REVOKES = ('revoke_token', 'revoke_pair')
# Tokens as the emulator issues them (40 hex digits) and as the fleet seeds them.
TOKEN_PATTERN = re.compile(r'fleet-(?:token|refresh)-[0-9]+|[0-9a-f]{40}')

Run = collections.namedtuple('Run', 'number state store recovered report texts rc wall requests')
Declared = collections.namedtuple('Declared', 'service templates day values timeout')


class Findings:
    """What the checker found: problems (sentences) and counts per table row."""

    def __init__(self):
        self.problems = []
        self.tokens = collections.Counter()
        self.token_codes = collections.Counter()
        self.users = dict((n, collections.Counter()) for n in (1, 2))
        self.attributes = dict((n, collections.Counter()) for n in (1, 2))
        self.values = dict((n, collections.Counter()) for n in (1, 2))

    def problem(self, text):
        self.problems.append(text)


def load_json(text):
    return json.loads(text)


def save(directory, declared, before, chaos_log, runs):
    """Write the checker's inputs to `directory` (checker.json, mode 0600: it holds the emulator's tokens), so that
    `python -m benchmarks.chaos_check DIRECTORY` can check them again."""
    path = os.path.join(directory, 'checker.json')
    data = {
        'declared': declared._asdict(),
        'before': before,
        'chaos_log': chaos_log,
        'runs': [run._asdict() for run in runs],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        json.dump(data, f)
    return path


def load(directory):
    """(declared, before, chaos_log, runs) as save() wrote them."""
    with open(os.path.join(directory, 'checker.json'), encoding='utf-8') as f:
        data = json.load(f)
    return (
        Declared(**data['declared']),
        data['before'],
        data['chaos_log'],
        [Run(**run) for run in data['runs']],
    )


def _moment(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


def pairs_of(state, service):
    """{user: [token entries of `service` with a refresh token]}: the pairs the emulator holds as valid."""
    pairs = {}
    for user in state['users']:
        pairs[user['username']] = [
            t
            for t in user['tokens']
            if t.get('kind', 'oauth2') == 'oauth2' and t['service'] == service and t.get('refresh_token')
        ]
    return pairs


def access_tokens(state, service):
    """{access token: (user, why it is refused or None)} of every token of `service` the emulator holds."""
    now = datetime.datetime.now(datetime.timezone.utc)
    tokens = {}
    for user, entries in pairs_of(state, service).items():
        for token in entries:
            why = None
            if token.get('access_revoked'):
                why = 'access token revoked'
            elif token.get('expires_at') and _moment(token['expires_at']) <= now:
                why = 'expired'
            tokens[token['token']] = (user, why)
    return tokens


def owners_of(state):
    return dict(
        (u['username'], dict(((a.get('name') or a['template']), a.get('service')) for a in u['attributes']))
        for u in state['users']
    )


def values_of(state, day):
    return dict(
        (
            u['username'],
            dict(((a.get('name') or a['template']), (a.get('values') or {}).get(day)) for a in u['attributes']),
        )
        for u in state['users']
    )


def same(a, b):
    """Equal as Exist values: numbers by value (never a bool), text as text."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return a == b


def marks(entry):
    """The marks of a store entry: reauthorization_needed, and any key that names an unknown outcome."""
    return sorted(key for key, value in entry.items() if value and (key == GONE_MARK or 'unknown' in key))


def lost_answer(entry):
    """Whether a chaos log line is a request that took effect and whose answer the client did not get."""
    if not entry.get('applied'):
        return False
    if entry['kind'] in ('5xx_after', 'drop_after', 'delay'):
        return True
    return entry['kind'] == 'trickle' and not entry.get('completed')


def _faults(entries):
    """A short account of chaos log lines, for a problem's sentence."""
    if not entries:
        return 'no fault injected on this user'
    return 'chaos on this user: ' + '; '.join(
        '#%d %s %s %s%s'
        % (e['user_request'], e['method'], e['path'], e['kind'], ' (applied)' if e.get('applied') else '')
        for e in entries
    )


def _token_outcomes(report):
    """{user: [what the token task said]}, and the token task's failure messages."""
    said = collections.defaultdict(list)
    tokens = (report or {}).get('tokens') or {}
    for user in (tokens.get('refreshed') or {}).get('users') or []:
        said[user].append('refreshed')
    for code, data in ((tokens.get('failures') or {}).get('by_error_code') or {}).items():
        for user in data.get('users') or []:
            said[user].append(code)
    messages = [t.get('msg', '') for t in (tokens.get('failures') or {}).get('tasks') or []]
    return said, messages


def check(declared, before, chaos_log, runs):
    """The Findings of a chaos run (runs: [run 1, run 2])."""
    findings = Findings()
    by_user = collections.defaultdict(list)
    for entry in chaos_log:
        by_user[entry['user']].append(entry)
    users = sorted(declared.values)
    _check_secrets(findings, before, runs)
    _check_bounds(findings, chaos_log, declared)
    _check_tokens(findings, declared, by_user, users, runs[0])
    previous = before
    for run in runs:
        _check_items(findings, declared, by_user, users, previous, run)
        previous = run.state
    _check_converged(findings, declared, by_user, users, runs[0], runs[1])
    return findings


def _check_secrets(findings, before, runs):
    secrets = set()
    for state in [before] + [run.state for run in runs]:
        for user in state['users']:
            for token in user['tokens']:
                secrets.update(value for value in (token.get('token'), token.get('refresh_token')) if value)
    for run in runs:
        for entries in [run.store] + list(run.recovered.values()):
            for entry in entries.values():
                secrets.update(value for value in (entry.get('access_token'), entry.get('refresh_token')) if value)
    for run in runs:
        for name, text in sorted(run.texts.items()):
            found = sorted(set(TOKEN_PATTERN.findall(text)) & secrets)
            if found:
                findings.problem('run %d: %d token(s) appear in %s' % (run.number, len(found), name))


def _check_bounds(findings, chaos_log, declared):
    for entry in chaos_log:
        if entry['kind'] == 'trickle' and entry.get('completed'):
            findings.problem(
                'run 1, %s, request #%d %s %s: the client read a trickled answer to its last byte (%s s), past its '
                'timeout of %d s: the whole answer is not bounded'
                % (
                    entry['user'],
                    entry['user_request'],
                    entry['method'],
                    entry['path'],
                    entry['trickle'],
                    declared.timeout,
                )
            )


def _check_tokens(findings, declared, by_user, users, run):
    said, messages = _token_outcomes(run.report)
    if run.report is None:
        findings.problem('run 1: no fleet report was written')
    pairs = pairs_of(run.state, declared.service)
    alive = access_tokens(run.state, declared.service)
    recovered = collections.defaultdict(list)
    for name, entries in run.recovered.items():
        for key, entry in entries.items():
            recovered[entry.get('username') or key].append((name, entry))
    for user in users:
        faults = by_user.get(user, [])
        refreshes = [e for e in faults if e['path'] == TOKEN_PATH]
        what = said.get(user) or []
        for code in what:
            findings.token_codes[code] += 1
        if not what:
            findings.problem(
                'run 1, %s: the token task accounts for no refresh and no failure of this user (its failures: %s); %s'
                % (user, '; '.join(messages) or 'none', _faults(refreshes))
            )
        entry = run.store.get(user)
        _check_valid_pairs(findings, user, pairs.get(user, []), entry, recovered.get(user, []), refreshes, what)
        if recovered.get(user):
            findings.tokens['users with a recovery file'] += 1
        if entry is None:
            findings.problem('run 1, %s: the store has no entry for this user' % user)
            continue
        _check_store_entry(findings, user, entry, alive, faults, what)


def _check_valid_pairs(findings, user, pairs, entry, recovered, refreshes, what):
    """Every valid pair is in the store or a recovery file, or chaos took the answer that carried it."""
    counts = findings.tokens
    lost = [e for e in refreshes if lost_answer(e)]
    known = set()
    if entry:
        known.add(entry['refresh_token'])
    known.update(e['refresh_token'] for dummy, e in recovered)
    for pair in pairs:
        if pair['refresh_token'] in known:
            counts['valid pairs: in the store or a recovery file'] += 1
        elif lost:
            counts['valid pairs: issued in an answer chaos took (lost with it)'] += 1
        else:
            whole = [e for e in refreshes if e['kind'] == 'trickle' and e.get('completed')]
            how = (
                ' (the answer that carried it reached the client whole, trickled over %s s past the timeout)'
                % whole[0]['trickle']
                if whole
                else ''
            )
            findings.problem(
                'run 1, %s: the emulator holds a valid pair (its refresh token works) that neither the store nor a '
                'recovery file has%s; the token task said %s; %s'
                % (user, how, ', '.join(what) or 'nothing', _faults(refreshes))
            )


def _check_store_entry(findings, user, entry, alive, faults, what):
    """A store entry unmarked works in the emulator (unless chaos revoked it after the refresh), and one marked
    gone does not."""
    counts = findings.tokens
    refreshes = [e for e in faults if e['path'] == TOKEN_PATH]
    found = alive.get(entry['access_token'])
    works = found is not None and found[1] is None
    entry_marks = marks(entry)
    if works:
        if GONE_MARK in entry_marks:
            findings.problem(
                'run 1, %s: the store entry is marked %s, but its access token works in the emulator; the token '
                'task said %s; %s' % (user, GONE_MARK, ', '.join(what) or 'nothing', _faults(refreshes))
            )
        counts['store entries: working' + (' (marked %s)' % ', '.join(entry_marks) if entry_marks else '')] += 1
        return
    # The store's access token is refused: why, and does the store say so?
    dead_why = _why_refused(found, faults, refreshes)
    revoked_later = [e for e in faults if e['kind'] in REVOKES and e['path'] != TOKEN_PATH]
    if entry_marks:
        counts['store entries: refused, marked %s' % ', '.join(entry_marks)] += 1
    elif revoked_later and (dead_why == 'access token revoked' or 'during the converge' in dead_why):
        counts['store entries: refused, revoked by chaos after the refresh (unknowable)'] += 1
    else:
        findings.problem(
            'run 1, %s: the store entry is not marked, so it is handed out as good, but the emulator refuses its '
            'access token (%s); the token task said %s; %s'
            % (user, dead_why, ', '.join(what) or 'nothing', _faults(faults))
        )


def _why_refused(found, faults, refreshes):
    """Why the emulator refuses a store entry's access token: what the emulator says, else the fault behind it."""
    if found:
        return found[1]
    revoked_pair = [e for e in faults if e['kind'] == 'revoke_pair']
    if revoked_pair:
        return 'pair revoked by chaos (%s)' % (
            'on the refresh' if revoked_pair[0]['path'] == TOKEN_PATH else 'during the converge'
        )
    lost = [e for e in refreshes if lost_answer(e)]
    if lost:
        return 'refreshed by Exist, the answer lost (chaos %s)' % lost[0]['kind']
    return 'not in the emulator, no fault explains it'


def _attribute_claims(report_user, values_ran):
    acquired = set(report_user.get('acquired') or [])
    failed = dict((item['name'], item['error_code']) for item in report_user.get('failed_items') or [])
    return acquired, ({} if values_ran else failed), (failed if values_ran else {})


# One user's part of one run, as _check_items reads it: the report's claims, the chaos on the user, and the
# emulator's owners and values of the user before and after the run.
UserRun = collections.namedtuple(
    'UserRun',
    'number where faults acquired attribute_failed value_failed values_ran task_failed messages '
    'owners_before owners_after values_before values_after',
)


def _check_items(findings, declared, by_user, users, before, run):
    report = run.report
    n = run.number
    if report is None:
        findings.problem('run %d: no fleet report was written' % n)
        return
    per_user = report.get('per_user') or {}
    owners_before, owners_after = owners_of(before), owners_of(run.state)
    values_before, values_after = values_of(before, declared.day), values_of(run.state, declared.day)
    for user in users:
        entry = per_user.get(user)
        if entry is None or entry.get('outcome') == 'not_run':
            untouched = owners_before[user] == owners_after[user] and values_before[user] == values_after[user]
            _check_not_run(findings, declared, n, user, entry, run.store.get(user) or {}, untouched)
            continue
        tasks = entry.get('tasks') or {}
        ran = sum(tasks.get(key, 0) for key in ('ok', 'changed', 'failed', 'unreachable'))
        values_ran = ran >= 2
        acquired, attribute_failed, value_failed = _attribute_claims(entry, values_ran)
        user_run = UserRun(
            number=n,
            where='run %d, %s' % (n, user),
            faults=[e for e in by_user.get(user, []) if e['path'] != TOKEN_PATH] if n == 1 else [],
            acquired=acquired,
            attribute_failed=attribute_failed,
            value_failed=value_failed,
            values_ran=values_ran,
            task_failed=tasks.get('failed', 0) + tasks.get('unreachable', 0) > 0,
            messages=[f.get('msg', '') for f in entry.get('task_failures') or []],
            owners_before=owners_before[user],
            owners_after=owners_after[user],
            values_before=values_before[user],
            values_after=values_after[user],
        )
        _check_user_items(findings, declared, user, entry, user_run)


def _check_not_run(findings, declared, n, user, entry, store_entry, untouched):
    """A user no task reached: left out of the converge play (the inventory leaves marked users out of the guide's
    pattern), and untouched."""
    marked = marks(store_entry)
    if marked and untouched:
        findings.users[n]['not run (store entry marked %s)' % ', '.join(marked)] += 1
        findings.attributes[n]['not attempted (user not run)'] += len(declared.templates)
        findings.values[n]['not attempted (user not run)'] += len(declared.values[user])
    elif not untouched:
        findings.problem(
            'run %d, %s: no task of the run reached this user, yet its attributes or values changed' % (n, user)
        )
    else:
        findings.problem(
            'run %d, %s: %s, and the store entry is not marked'
            % (n, user, 'not in the fleet report' if entry is None else 'reported not_run')
        )


def _check_user_items(findings, declared, user, entry, user_run):
    """Every declared attribute and value of a user the run reached, and the report's counts of them."""
    outcome = entry.get('outcome')
    findings.users[user_run.number][
        'converged (%s)' % outcome
        if outcome in ('changed', 'unchanged')
        else 'failed'
        if outcome == 'failed'
        else outcome
    ] += 1
    changed = 0
    for name in declared.templates:
        changed += _check_attribute(findings, declared, user_run, name)
    written = 0
    for name, value in sorted(declared.values[user].items()):
        value_changed, value_written = _check_value(findings, declared, user_run, name, value)
        changed += value_changed
        written += value_written
    updated = entry.get('values_updated', 0)
    if updated != written:
        findings.problem(
            '%s: the report counts %d value(s) updated, the emulator shows %d written (not counting outcome_unknown); '
            '%s' % (user_run.where, updated, written, _faults(user_run.faults))
        )
    if changed and outcome == 'unchanged':
        findings.problem('%s: reported unchanged, the emulator shows %d item(s) changed' % (user_run.where, changed))


def _check_attribute(findings, declared, user_run, name):
    """One declared attribute against the report; 1 when the run acquired it, else 0."""
    where = user_run.where
    was = user_run.owners_before.get(name) == declared.service
    now = user_run.owners_after.get(name) == declared.service
    code = user_run.attribute_failed.get(name)
    counts = findings.attributes[user_run.number]
    holds = 'the emulator says owner %s (before: %s)' % (
        user_run.owners_after.get(name),
        user_run.owners_before.get(name),
    )
    if was:
        if not now:
            findings.problem('%s, attribute %s: owned before the run, no longer owned; %s' % (where, name, holds))
        elif name in user_run.acquired:
            findings.problem('%s, attribute %s: reported acquired, but it was owned already' % (where, name))
        else:
            counts['owned already'] += 1
        return 0
    if now:
        _check_acquired(findings, user_run, name, code, holds)
        return 1
    if name in user_run.acquired:
        findings.problem(
            '%s, attribute %s: reported acquired, but %s; %s' % (where, name, holds, _faults(user_run.faults))
        )
    elif code == 'outcome_unknown':
        counts['outcome_unknown, not applied'] += 1
    elif code:
        counts['failed with a reason (%s)' % code] += 1
    elif user_run.task_failed and not user_run.values_ran and user_run.messages:
        counts['failed with its task (the task\'s message)'] += 1
    else:
        findings.problem(
            '%s, attribute %s: not acquired and not reported; %s; %s' % (where, name, holds, _faults(user_run.faults))
        )
    return 0


def _check_acquired(findings, user_run, name, code, holds):
    """An attribute the run acquired in the emulator: reported acquired, or its outcome unknown."""
    counts = findings.attributes[user_run.number]
    if name in user_run.acquired:
        counts['acquired (reported, held)'] += 1
    elif code == 'outcome_unknown':
        counts['outcome_unknown, applied'] += 1
    elif code:
        findings.problem(
            '%s, attribute %s: reported failed (%s), but %s; %s'
            % (user_run.where, name, code, holds, _faults(user_run.faults))
        )
    else:
        findings.problem(
            '%s, attribute %s: acquired in the emulator, not reported (task %s: %s); %s'
            % (
                user_run.where,
                name,
                'failed' if user_run.task_failed else 'ok',
                '; '.join(user_run.messages) or 'no message',
                _faults(user_run.faults),
            )
        )


def _check_value(findings, declared, user_run, name, value):
    """One declared value against the report: (1 when the run wrote it, 1 when reported updated), else 0s."""
    where = user_run.where
    was, now = user_run.values_before.get(name), user_run.values_after.get(name)
    code = user_run.value_failed.get(name)
    counts = findings.values[user_run.number]
    holds = 'the emulator holds %r on %s (before: %r)' % (now, declared.day, was)
    if same(was, value):
        if not same(now, value):
            findings.problem('%s, value %s: it was %r, now %s' % (where, name, value, holds))
        elif code:
            findings.problem(
                '%s, value %s: reported failed (%s) though it holds the declared value' % (where, name, code)
            )
        else:
            counts['set already'] += 1
        return 0, 0
    if same(now, value):
        return 1, _check_written(findings, user_run, name, code, holds)
    if code == 'outcome_unknown':
        counts['outcome_unknown, not applied'] += 1
    elif code:
        counts['failed with a reason (%s)' % code] += 1
    elif not user_run.values_ran and user_run.task_failed:
        counts['not attempted (the attribute task failed, with its message)'] += 1
    elif user_run.values_ran and user_run.task_failed and user_run.messages:
        counts['failed with its task (the task\'s message)'] += 1
    else:
        findings.problem(
            '%s, value %s = %r: not written and not reported; %s; %s'
            % (where, name, value, holds, _faults(user_run.faults))
        )
    return 0, 0


def _check_written(findings, user_run, name, code, holds):
    """A value the run wrote in the emulator: reported updated, or its outcome unknown; 1 when reported updated."""
    counts = findings.values[user_run.number]
    if code == 'outcome_unknown':
        counts['outcome_unknown, applied'] += 1
    elif code:
        findings.problem(
            '%s, value %s: reported failed (%s), but %s; %s'
            % (user_run.where, name, code, holds, _faults(user_run.faults))
        )
    elif user_run.values_ran:
        counts['updated (reported, held)'] += 1
        return 1
    else:
        findings.problem('%s, value %s: written, though the values task never ran; %s' % (user_run.where, name, holds))
    return 0


def _check_converged(findings, declared, by_user, users, first, second):
    """Run 2 converges every user whose store token works (the store is as run 1 left it; run 2 has no chaos)."""
    report = second.report
    if report is None:
        return
    per_user = report.get('per_user') or {}
    alive = access_tokens(first.state, declared.service)
    owners, values = owners_of(second.state), values_of(second.state, declared.day)
    counts = findings.users[2]
    for user in users:
        entry = second.store.get(user) or {}
        found = alive.get(entry.get('access_token'))
        works = found is not None and found[1] is None
        result = per_user.get(user) or {}
        outcome = result.get('outcome')
        if not works:
            counts['token refused: not converged, as expected'] += 1
            if outcome in ('changed', 'unchanged'):
                findings.problem('run 2, %s: reported converged with a token the emulator refuses' % user)
            continue
        missing = [name for name in declared.templates if owners[user].get(name) != declared.service]
        wrong = [
            name for name, value in sorted(declared.values[user].items()) if not same(values[user].get(name), value)
        ]
        if outcome in ('changed', 'unchanged') and not missing and not wrong:
            counts['token works: converged'] += 1
            continue
        findings.problem(
            'run 2, %s: the token works, but the run did not converge: the report says %s (failed items: %s; %s); the '
            'emulator lacks %s; %s'
            % (
                user,
                outcome or 'nothing',
                ', '.join('%s %s' % (i['name'], i['error_code']) for i in result.get('failed_items') or []) or 'none',
                '; '.join(f.get('msg', '') for f in result.get('task_failures') or []) or 'no task message',
                ', '.join(['attribute %s' % m for m in missing] + ['value %s' % w for w in wrong]) or 'nothing',
                _faults(by_user.get(user, [])),
            )
        )


def render(findings, declared, chaos_log, runs, replay):
    """The tables (faults, tokens, users and items per run) and the problems, one a line."""
    kinds = collections.OrderedDict()
    for entry in chaos_log:
        row = kinds.setdefault(entry['kind'], collections.Counter())
        row['injected'] += 1
        row['applied'] += 1 if entry.get('applied') else 0
        row['refreshes' if entry['path'] == TOKEN_PATH else 'reads' if entry['method'] == 'GET' else 'writes'] += 1
    fault_rows = [
        [kind, c['injected'], c['applied'], c['refreshes'], c['reads'], c['writes']] for kind, c in kinds.items()
    ]
    fault_rows.append(
        [
            '**total**',
            sum(c['injected'] for c in kinds.values()),
            sum(c['applied'] for c in kinds.values()),
            sum(c['refreshes'] for c in kinds.values()),
            sum(c['reads'] for c in kinds.values()),
            sum(c['writes'] for c in kinds.values()),
        ]
    )
    parts = [table(['fault', 'injected', 'applied', 'on refreshes', 'on reads', 'on writes'], fault_rows)]
    run_rows = [
        ['run %d' % run.number, 'chaos' if run.number == 1 else 'none', '%.0f' % run.wall, run.requests, run.rc]
        for run in runs
    ]
    parts.append(table(['run', 'faults', 'wall s', 'API requests', 'ansible-playbook rc'], run_rows))
    token_rows = [['token task: %s' % code, n] for code, n in sorted(findings.token_codes.items())]
    token_rows += [[label, n] for label, n in sorted(findings.tokens.items())]
    parts.append(table(['tokens after run 1 (users)', 'count'], token_rows))
    item_rows = []
    for label, counters in (
        ('users', findings.users),
        ('attributes', findings.attributes),
        ('values', findings.values),
    ):
        labels = sorted(set(counters[1]) | set(counters[2]))
        item_rows += [['%s: %s' % (label, name), counters[1].get(name, 0), counters[2].get(name, 0)] for name in labels]
    parts.append(table(['users and items', 'run 1', 'run 2'], item_rows))
    text = '\n\n'.join(parts)
    if findings.problems:
        text += '\n\nPROBLEMS (%d; replay: ``%s``):\n\n' % (len(findings.problems), replay)
        text += '\n'.join('- ' + problem for problem in findings.problems)
    else:
        text += '\n\nNo problem found (replay: ``%s``).' % replay
    return text


def main(argv=None):
    """python -m benchmarks.chaos_check WORKDIR/chaos: check a chaos run's saved inputs again; exit 1 on a problem."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print('usage: python -m benchmarks.chaos_check WORKDIR/chaos', file=sys.stderr)
        return 2
    declared, before, chaos_log, runs = load(args[0])
    findings = check(declared, before, chaos_log, runs)
    print(render(findings, declared, chaos_log, runs, 'python -m benchmarks.chaos_check %s' % args[0]))
    return 1 if findings.problems else 0


if __name__ == '__main__':
    sys.exit(main())
