# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault fuzzer: existio.exist.token and its store against the emulator under random fault schedules.

Each case is a random fleet of a few users, each with one pair of this client in the
emulator and (mostly) in a token store, some of them stale (revoked), expired or already
marked; the store a plain file, a symbolic link (to a file that may not exist yet) or
vault-encrypted under a label the run's password does not carry; a random token task (refresh the store, with or without refresh_before; one
refresh_token, in the store or not, or without a store; exchange a code; check mode;
timeouts) and a random fault schedule on the token endpoint and the profile read
(5xx, 429s, drops, delays past `timeout` that may still land later, trickled answers,
lost answers after the refresh was applied, bodies that are not a token). After each run
these invariants must hold:

- truth: a user the result calls refreshed has the emulator's current pair in the store,
  unmarked; no unmarked entry holds a pair that died during the run; a mark the run set
  is matched by a failed item of that user; a linked store stays a link, an encrypted
  one (and its recovery files) stays encrypted under its label; check mode sends and
  writes nothing;
- lost: every pair the emulator issued during the run is in the store, in a recovery
  file or in the (no_log) result, or the run says so: its user failed as outcome_unknown
  or reauthorization_needed with the entry marked (or, for a pair whose user was not
  known yet, outcome_unknown);
- converges: without faults, a refresh of the whole store settles everything (no
  outcome_unknown, no refresh_outcome_unknown mark left, every unmarked entry works,
  every entry marked reauthorization_needed is dead), and a run after it sends nothing;
- bounded: no run sends more than the request cap, and none takes longer than its
  requests' timeouts allow (a trickling server included);
- secret: no result, message or warning holds a token, the client secret or a code;
- clear: no message holds a Python error; nothing raises; a hostile number option fails
  before any request, naming the option.

In-process cases run the action plugin against a real emulator over HTTP. A few cases
also run through ansible-playbook at -vvvv: the same invariants, and the output must not
hold any secret.

Usage (from the collection root, with ansible_collections on PYTHONPATH and the emulator
installed):

    python tests/fuzz/fuzz_token.py [--seed N] [--seconds 60] [--playbook-cases 4]
    python tests/fuzz/fuzz_token.py --case CASE_SEED     # replay one case, printed on failure
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from unittest.mock import MagicMock

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.existio.exist.plugins.action.token import PAIR_KEYS, ActionModule
from ansible_collections.existio.exist.plugins.module_utils import _client
from ansible_collections.existio.exist.plugins.plugin_utils import _oauth, _oauth_client
from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (
    OUTCOME_UNKNOWN_KEY,
    REAUTHORIZATION_KEY,
    TokenStore,
    TokenStoreError,
)
from exist_emulator.testing import BackgroundEmulator

SERVICE = 'fuzz_service'
CLIENT_ID = 'fuzz-client'
SCOPES = ['mood_read', 'mood_write']
NAMES = ['ann', 'ben', 'cy', 'dee']
TOKEN_PATH = '/oauth2/access_token'
PROFILE_PATH = '/api/2/accounts/profile/'
ENDPOINTS = [('POST', TOKEN_PATH), ('POST', TOKEN_PATH), ('GET', PROFILE_PATH)]
WRONG_TOKEN_BODIES = [
    {},
    {'access_token': 'fz-not-a-pair', 'token_type': 'Bearer'},
    {'access_token': 'has space', 'refresh_token': 'x', 'expires_in': 10},
    {'access_token': 'fz-a', 'refresh_token': 'fz-r', 'expires_in': 'soon'},
    {'access_token': 'fz-a', 'refresh_token': 'fz-r', 'expires_in': -1},
    {'error': 'temporarily_unavailable'},
    [],
    'a string',
]
HTML = '<html><body><h1>502 Bad Gateway</h1></body></html>'
# A token answer whose expires_in has more digits than Python turns into an int by default.
HUGE_EXPIRES_IN = '{"access_token": "fz-a", "refresh_token": "fz-r", "token_type": "Bearer", "expires_in": 1%s}' % (
    '0' * 5000
)
# The longest fault delay: past the timeouts the cases use (1-2 s).
MAX_DELAY = 3.0
# Numbers an option must refuse, naming itself (class 9 of issue 17).
HOSTILE_NUMBERS = [
    ('refresh_before', '²'),
    ('refresh_before', '٣'),
    ('refresh_before', 'huge-int'),
    ('refresh_before', '1' * 5000),
    ('refresh_before', -1),
    ('lock_timeout', '３'),
    ('lock_timeout', 10**6),
    ('timeout', '٣'),
    ('retries', 'huge-int'),
]
# Words that only a Python error puts into a message.
PYTHON_ERROR = re.compile(
    r'Traceback|\b(TypeError|KeyError|AttributeError|IndexError|NameError|UnboundLocalError|ValueError|'
    r'RecursionError|ZeroDivisionError|OverflowError)\b|object has no attribute|not subscriptable|'
    r'unhashable type|NoneType|Exceeds the limit'
)
INVARIANTS = ('truth', 'lost', 'converges', 'bounded', 'secret', 'clear')
# The run's vault secret, given without a vault ID (as --ask-vault-pass does); a vault store's label is 'prod'.
VAULT_PASSWORD = 'fuzz-vault-password'
VAULT_SECRETS = [('default', VaultSecret(VAULT_PASSWORD.encode()))]
VAULT_HEADER = b'$ANSIBLE_VAULT;1.2;AES256;prod\n'
# Failure codes that say a user's pair may be, or is, gone (the entry is then marked).
MARKING_CODES = {'outcome_unknown': OUTCOME_UNKNOWN_KEY, 'reauthorization_needed': REAUTHORIZATION_KEY}


def number_value(value):
    """A hostile value as given to the task ('huge-int' stands for an int of 5000 digits, which JSON cannot show)."""
    return 10**5000 if value == 'huge-int' else value


# -- generation ------------------------------------------------------------------


class Case:
    """One fuzz case, reproducible from its seed."""

    def __init__(self, case_seed, deterministic=False):
        rng = random.Random(case_seed)
        self.seed = case_seed
        tag = '%012x' % rng.getrandbits(48)
        self.client_secret = 'fz-secret-' + tag
        users = NAMES[: rng.randint(1, len(NAMES))]
        self.pairs = dict((user, ('fz-access-%s-%s' % (tag, user), 'fz-refresh-%s-%s' % (tag, user))) for user in users)
        self.days = dict((user, rng.choice([-2, 1, 10, 40, 200, 400])) for user in users)
        self.codes = dict((user, 'fz-code-%s-%s' % (tag, user)) for user in users if rng.random() < 0.5)
        # The store: most users with their live pair, some stale (revoked since), some already marked.
        self.store = {}
        for user in users:
            if rng.random() < 0.15:
                continue
            access, refresh = self.pairs[user]
            stale = rng.random() < 0.15
            if stale:
                access, refresh = access + '-old', refresh + '-old'
            entry = {
                'username': user,
                'access_token': access,
                'refresh_token': refresh,
                'expires_at': 'DAYS:%d' % self.days[user],
                'scope': ' '.join(SCOPES),
            }
            mark = rng.random()
            if mark < 0.12:
                # An earlier run lost the answer to this pair's refresh (which may or may not have happened).
                entry[OUTCOME_UNKNOWN_KEY] = '2026-01-02T03:04:05Z'
            elif stale and mark < 0.5:
                # An earlier run found the pair dead.
                entry[REAUTHORIZATION_KEY] = True
            self.store[user] = entry
        self.check_mode = rng.random() < 0.25
        self.args, self.kind = self.make_task(rng, users)
        # How the store sits on disk: a plain file, a symbolic link (its target may not exist yet), vault-encrypted.
        self.layout = rng.choice(['plain'] * 5 + ['link', 'vault'])
        if self.layout == 'vault' and not self.store:
            self.layout = 'plain'
        timeout = self.args.get('timeout') if isinstance(self.args.get('timeout'), int) else 2
        self.faults = make_faults(rng, timeout, deterministic)

    def make_task(self, rng, users):
        args = {
            'client_id': CLIENT_ID,
            'client_secret': self.client_secret,
            'timeout': rng.choice([1, 2]),
            'retries': rng.choice([0, 1, 2]),
            'rate_limit_wait': rng.choice([0, 1, 3]),
            'lock_timeout': 5,
            'redirect_uri': 'https://fuzz.example/cb',
        }
        kinds = ['store_all', 'store_before', 'store_before', 'token_in_store', 'token_not_in_store', 'token_no_store']
        if self.codes:
            kinds += ['exchange', 'exchange', 'exchange_no_store']
        kind = rng.choice(kinds)
        if kind in ('store_all', 'store_before'):
            args.update(grant='refresh_token', store='STORE')
            if kind == 'store_before':
                args['refresh_before'] = rng.choice([0, 5, 30, 100, 500 if rng.random() < 0.5 else 3660])
        elif kind == 'token_in_store':
            if not self.store:
                return self.make_task(rng, users)
            user = rng.choice(sorted(self.store))
            args.update(grant='refresh_token', store='STORE', refresh_token=self.store[user]['refresh_token'])
        elif kind in ('token_not_in_store', 'token_no_store'):
            user = rng.choice(users)
            args.update(grant='refresh_token', refresh_token=self.pairs[user][1])
            if kind == 'token_not_in_store':
                args['store'] = 'STORE'
                self.store.pop(user, None)
        else:
            user = rng.choice(sorted(self.codes))
            args.update(grant='authorization_code', code=self.codes[user])
            if kind == 'exchange':
                args['store'] = 'STORE'
        if rng.random() < 0.06:
            option, value = rng.choice(HOSTILE_NUMBERS)
            args[option] = value
            kind = 'hostile:' + option
        return args, kind

    def world(self):
        return {
            'services': [{'name': SERVICE, 'label': 'Fuzz Service'}],
            'clients': [
                {
                    'client_id': CLIENT_ID,
                    'client_secret': self.client_secret,
                    'service': SERVICE,
                    'codes': [{'code': code, 'user': user, 'scopes': SCOPES} for user, code in self.codes.items()],
                }
            ],
            'users': [
                {
                    'username': user,
                    'timezone': 'UTC',
                    'attributes': [],
                    'tokens': [
                        {
                            'token': access,
                            'refresh_token': refresh,
                            'service': SERVICE,
                            'scopes': SCOPES,
                            'expires_in_days': self.days[user],
                        }
                    ],
                }
                for user, (access, refresh) in self.pairs.items()
            ],
        }

    def secrets(self):
        """Every secret the case starts with (pairs issued during the run are added from the emulator)."""
        found = {self.client_secret}
        found.update(self.codes.values())
        for access, refresh in self.pairs.values():
            found.update((access, refresh))
        for entry in self.store.values():
            found.update((entry['access_token'], entry['refresh_token']))
        return found

    def describe(self):
        args = dict(self.args)
        return json.dumps(
            {
                'case': self.seed,
                'kind': self.kind,
                'layout': self.layout,
                'check_mode': self.check_mode,
                'args': args,
                'faults': self.faults,
                'store': self.store,
                'days': self.days,
                'codes': sorted(self.codes),
            },
            indent=1,
            default=str,
        )


def _delay(rng, timeout):
    """Mostly past the timeout (the client gives up), sometimes within it."""
    if rng.random() < 0.75:
        return round(rng.uniform(timeout + 0.3, MAX_DELAY), 2)
    return round(rng.uniform(0.2, timeout - 0.3), 2)


def _status_fault(rng, fault, path, timeout):
    # (No 401 on the profile read: Exist's 401 means the token is dead, which the flow trusts.)
    fault['status'] = rng.choice([500, 502, 503, 504] + ([400] if path == TOKEN_PATH else []))


def _429_fault(rng, fault, path, timeout):
    fault.update(status=429, times=rng.choice([1, 2, 1000]))
    retry_after = rng.choice([0, 1, None, 'Thu, 01 Jan 1970 00:00:00 GMT'])
    if retry_after is not None:
        fault['retry_after'] = retry_after


def _drop_fault(rng, fault, path, timeout):
    fault['drop'] = True


def _delay_fault(rng, fault, path, timeout):
    # Delayed, then failed: nothing applied, whether the client waited or not.
    fault.update(delay=_delay(rng, timeout), status=rng.choice([502, 503]))


def _late_fault(rng, fault, path, timeout):
    # Delayed, then applied: past the timeout, the refresh lands after the client gave up.
    fault['delay'] = _delay(rng, timeout)


def _after_apply_fault(rng, fault, path, timeout):
    fault['after_apply'] = True
    fault.update(
        rng.choice(
            [
                {'drop': True},
                {'status': 500},
                {'status': 502, 'raw_body': HTML},
                {'status': 200, 'body': rng.choice(WRONG_TOKEN_BODIES)},
                {'status': 200, 'raw_body': HTML},
            ]
        )
    )


def _wrong_body_fault(rng, fault, path, timeout):
    fault.update(status=200, body=rng.choice(WRONG_TOKEN_BODIES))


def _huge_expires_in_fault(rng, fault, path, timeout):
    fault.update(status=200, raw_body=HUGE_EXPIRES_IN, content_type='application/json')
    fault['after_apply'] = rng.random() < 0.5


def _trickle_fault(rng, fault, path, timeout):
    # The whole answer a byte at a time: only a client that bounds the whole answer gives up.
    fault['trickle'] = rng.choice([0.05, 0.1, 0.3])
    if rng.random() < 0.4:
        fault.update(status=502, after_apply=rng.random() < 0.5)


def _html_fault(rng, fault, path, timeout):
    fault.update(status=502, raw_body=HTML)


# What each kind of fault adds to a fault: fill(rng, fault, path, timeout), drawing from rng.
FAULT_KINDS = {
    'status': _status_fault,
    '429': _429_fault,
    'drop': _drop_fault,
    'delay': _delay_fault,
    'late': _late_fault,
    'after_apply': _after_apply_fault,
    'wrong_body': _wrong_body_fault,
    'huge_expires_in': _huge_expires_in_fault,
    'trickle': _trickle_fault,
    'html': _html_fault,
}


def make_faults(rng, timeout, deterministic=False):
    faults = []
    for dummy in range(rng.choice([0, 1, 1, 2, 3])):
        method, path = rng.choice(ENDPOINTS)
        fault = {'method': method, 'path': path, 'skip': rng.choice([0, 0, 0, 1, 2])}
        # A refresh that lands after the client gave up is the case the flow is hardest on: drawn more often.
        kinds = ['status', '429', 'drop', 'delay', 'late', 'late', 'late', 'after_apply', 'after_apply']
        kinds += ['wrong_body', 'html', 'trickle', 'huge_expires_in']
        kind = rng.choice(kinds)
        if deterministic and kind in ('delay', 'late', 'trickle'):
            kind = 'drop'
        if path == PROFILE_PATH and kind in ('after_apply', 'wrong_body', 'huge_expires_in', 'late'):
            # A read applies nothing: these are the same as a status or a drop there.
            kind = rng.choice(['status', 'drop'])
        FAULT_KINDS[kind](rng, fault, path, timeout)
        faults.append(fault)
    return faults


# -- running -----------------------------------------------------------------------

# No task may take longer than this, whatever the server does.
CASE_DEADLINE = 90


class Hung(Exception):
    """A task did not end within CASE_DEADLINE: the bound the fuzzer checks is broken."""


class _NoSleepClient(_oauth_client.OAuthClient):
    """The client, whose waits (429, retries) are recorded, not slept: the fuzzer checks their bound, not the clock."""

    def __init__(self, *args, **kwargs):
        kwargs['sleep'] = lambda seconds: None
        super().__init__(*args, **kwargs)


def run_in_worker(url, args, check_mode):
    """run_task() in a thread with a deadline; raises Hung if it does not end."""
    outcome = {}

    def target():
        outcome['value'] = run_task(url, args, check_mode)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(CASE_DEADLINE)
    if thread.is_alive():
        raise Hung('the task did not end within %d s' % CASE_DEADLINE)
    return outcome['value']


def run_task(url, args, check_mode):
    """The task as the action plugin runs it; returns (result, error)."""
    task = MagicMock()
    task.args = dict(args, api_url=url)
    task.async_val = 0
    task.environment = [{}]
    task.action = 'existio.exist.token'
    connection = MagicMock()
    connection.transport = 'local'
    play_context = MagicMock()
    play_context.check_mode = check_mode
    play_context.diff = True
    play_context.become = False
    templar = MagicMock()
    templar.template.side_effect = lambda value: value
    loader = MagicMock()
    loader._vault.secrets = VAULT_SECRETS
    action = ActionModule(task, connection, play_context, loader=loader, templar=templar, shared_loader_obj=None)
    action._execute_module = MagicMock(side_effect=AssertionError('the token task never ships a module'))
    try:
        return action.run(task_vars={}), None
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return None, '%s: %s' % (type(exc).__name__, exc)


def live_pairs(state):
    """{username: set of (access, refresh)} of this service's pairs the emulator holds."""
    pairs = {}
    for user in state['users']:
        for token in user.get('tokens') or []:
            if token.get('service') == SERVICE and token.get('refresh_token'):
                pairs.setdefault(user['username'], set()).add((token['token'], token['refresh_token']))
    return pairs


def read_store(path):
    """(entries or None, error): the store as the module left it."""
    try:
        return TokenStore(path, VAULT_SECRETS).load(), None
    except TokenStoreError as exc:
        return None, exc.message


def recovered_pairs(path):
    """Every (access, refresh) pair in the recovery files beside the store."""
    pairs = set()
    for name in recovery_files(path):
        entries, dummy = read_store(name)
        for entry in (entries or {}).values():
            pairs.add((entry['access_token'], entry['refresh_token']))
    return pairs


def recovery_files(path):
    """The recovery files of the store: beside the file its path names."""
    return glob.glob(glob.escape(os.path.realpath(path)) + '.recovered-*')


def pair_of(entry):
    return (entry['access_token'], entry['refresh_token'])


def failed_codes(result):
    return dict((item.get('username'), item.get('error_code')) for item in result.get('failed_items') or [])


def refreshed_problems(path, result, entries, after):
    """Refreshed users hold the emulator's current pair, unmarked."""
    problems = []
    for user in result.get('refreshed') or []:
        if path is None:
            if (result.get('access_token'), result.get('refresh_token')) not in after.get(user, set()):
                problems.append('%s reported refreshed, but the returned pair is not live' % user)
            continue
        entry = (entries or {}).get(user)
        if entry is None or pair_of(entry) not in after.get(user, set()):
            problems.append('%s reported refreshed, but the store does not hold a live pair' % user)
        elif entry.get(OUTCOME_UNKNOWN_KEY) or entry.get(REAUTHORIZATION_KEY):
            problems.append('%s reported refreshed, but its entry is marked' % user)
    return problems


def marking_problems(case, entries, codes, before, after):
    """Nothing unmarked holds a pair that died during the run; a new mark comes with its item, and is true."""
    problems = []
    for user, entry in (entries or {}).items():
        marked = entry.get(OUTCOME_UNKNOWN_KEY) or entry.get(REAUTHORIZATION_KEY)
        pair = pair_of(entry)
        if not marked and pair not in after.get(user, set()) and pair in before.get(user, set()):
            problems.append('%s: the store keeps, unmarked, a pair that died during the run' % user)
        if entry.get(OUTCOME_UNKNOWN_KEY) and entry[OUTCOME_UNKNOWN_KEY] != case.store.get(user, {}).get(
            OUTCOME_UNKNOWN_KEY
        ):
            if codes.get(user) != 'outcome_unknown':
                problems.append('%s marked %s without an outcome_unknown item' % (user, OUTCOME_UNKNOWN_KEY))
        if entry.get(REAUTHORIZATION_KEY) and not case.store.get(user, {}).get(REAUTHORIZATION_KEY):
            if codes.get(user) != 'reauthorization_needed':
                problems.append('%s marked %s without such an item' % (user, REAUTHORIZATION_KEY))
            if pair in after.get(user, set()):
                problems.append('%s marked %s, but its pair works' % (user, REAUTHORIZATION_KEY))
    return problems


def lost_pairs(path, result, entries, codes, recovered, before, after):
    """Every pair issued during the run is kept somewhere (the store, a recovery file, the result), or its loss
    is said: one message per pair that is neither."""
    returned = set()
    if result.get('access_token') and result.get('refresh_token'):
        returned.add((result['access_token'], result['refresh_token']))
    if isinstance(result.get('unsaved_pair'), dict):
        returned.add(pair_of(result['unsaved_pair']))
    lost = []
    for user, pairs in after.items():
        for pair in pairs - before.get(user, set()):
            kept = pair in recovered or pair in returned
            kept = kept or (entries is not None and user in entries and pair_of(entries[user]) == pair)
            if kept:
                continue
            code = codes.get(user)
            entry = (entries or {}).get(user) or {}
            if code in MARKING_CODES and (path is None or entry.get(MARKING_CODES[code])):
                continue
            if codes.get(None) in MARKING_CODES:
                continue  # a pair whose user was not known yet (an exchange, a refresh token not in the store)
            lost.append('%s: a pair issued during the run is nowhere and its loss is not said (%s)' % (user, code))
    return lost


def settled_problems(entries, after):
    """After the settling run: no entry is marked outcome unknown, and an entry is marked for reauthorization
    exactly when its pair is dead."""
    problems = []
    for user, entry in entries.items():
        pair = pair_of(entry)
        if entry.get(OUTCOME_UNKNOWN_KEY):
            problems.append('%s is still marked %s' % (user, OUTCOME_UNKNOWN_KEY))
        if entry.get(REAUTHORIZATION_KEY):
            if pair in after.get(user, set()):
                problems.append('%s is marked %s, but its pair works' % (user, REAUTHORIZATION_KEY))
        elif pair not in after.get(user, set()):
            problems.append('%s holds a dead pair, unmarked' % user)
    return problems


class Fuzzer:
    """Runs cases against one emulator (an exist_emulator.testing.BackgroundEmulator) and checks the invariants."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.admin = emulator.admin
        self.violations = dict((name, []) for name in INVARIANTS)
        self.checked = dict((name, 0) for name in INVARIANTS)
        self.cases = 0
        self.workdir = tempfile.mkdtemp(prefix='fuzz-token-')

    def close(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def violate(self, invariant, case, message):
        self.violations[invariant].append('case %s (%s): %s' % (case.seed, case.kind, message))

    def check(self, invariant, case, ok, message):
        self.checked[invariant] += 1
        if not ok:
            self.violate(invariant, case, message)
        return ok

    # -- set-up ------------------------------------------------------------

    def prepare(self, case):
        """Load the case's world, write its store; (store path or None, the task's arguments)."""
        self.admin.reset(case.world())
        directory = tempfile.mkdtemp(dir=self.workdir)
        path = os.path.join(directory, 'tokens.yml')
        target = path
        if case.layout == 'link':
            os.mkdir(os.path.join(directory, 'real'))
            target = os.path.join(directory, 'real', 'tokens.yml')
            os.symlink(target, path)
        now = time.time()
        if case.store:
            entries = {}
            for user, entry in case.store.items():
                entry = dict(entry)
                days = int(entry['expires_at'].split(':')[1])
                entry['expires_at'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now + days * 86400))
                entries[user] = entry
            TokenStore(target).save(entries)
            if case.layout == 'vault':
                with open(target, 'rb') as handle:
                    plain = handle.read()
                with open(target, 'wb') as handle:
                    handle.write(VaultLib(VAULT_SECRETS).encrypt(plain, secret=VAULT_SECRETS[0][1], vault_id='prod'))
        args = dict(case.args)
        if args.get('store') == 'STORE':
            args['store'] = path
        for option, dummy in HOSTILE_NUMBERS:
            if option in args:
                args[option] = number_value(args[option])
        return (path if case.args.get('store') == 'STORE' else None), args

    def landed(self, case, started):
        """Wait until every delayed request of the case has been handled by the emulator."""
        longest = max([f.get('delay', 0) for f in case.faults] + [0])
        trickled = any(f.get('trickle') for f in case.faults)
        wait = max(longest + 0.3 - (time.monotonic() - started), 0)
        if trickled:
            # A trickled answer the client gave up on: its request was handled before the first byte went out.
            wait = max(wait, 0.3)
        if wait:
            time.sleep(wait)

    # -- one case -----------------------------------------------------------

    def run_case(self, case):
        self.cases += 1
        path, args = self.prepare(case)
        before = live_pairs(self.admin.state())
        store_before = self.store_bytes(path)
        if case.faults:
            self.admin.faults(case.faults)
        started = time.monotonic()
        result, error = run_in_worker(self.emulator.url, args, case.check_mode)
        elapsed = time.monotonic() - started
        self.landed(case, started)
        self.admin.clear_faults()
        log = self.admin.requests()
        state = self.admin.state()
        after = live_pairs(state)
        secrets = case.secrets() | self.all_tokens(state)
        self.judge(case, path, args, result, error, elapsed, log, before, after, store_before, secrets)

    def judge(
        self, case, path, args, result, error, elapsed, log, before, after, store_before, secrets, registered=False
    ):
        """Check every invariant on one run's outcome."""
        if not self.check('clear', case, error is None, 'the task raised %s' % error):
            return
        self.check_clear(case, result)
        self.check_secret(case, result, secrets, registered)
        self.check_bounded(case, args, result, elapsed, log)
        if case.kind.startswith('hostile:'):
            option = case.kind.split(':', 1)[1]
            self.check(
                'clear',
                case,
                result.get('failed')
                and str(result.get('msg', '')).startswith(option + ' must be a whole number')
                and not log
                and self.store_bytes(path) == store_before,
                'a hostile %s was not refused before any request: %s' % (option, str(result.get('msg'))[:300]),
            )
            return
        if case.check_mode:
            posts = [e for e in log if e['method'] == 'POST']
            self.check(
                'truth',
                case,
                not posts and before == after and self.store_bytes(path) == store_before,
                'check mode sent %s or changed the store' % posts,
            )
            return
        self.check_truth(case, path, result, before, after)
        if path is not None and not case.kind.startswith('exchange_no'):
            self.check_converges(case, path, args)

    @staticmethod
    def all_tokens(state):
        tokens = set()
        for user in state['users']:
            for token in user.get('tokens') or []:
                tokens.update(value for value in (token.get('token'), token.get('refresh_token')) if value)
        return tokens

    @staticmethod
    def store_bytes(path):
        if path is None or not os.path.exists(path):
            return None
        with open(path, 'rb') as handle:
            return handle.read()

    def check_clear(self, case, result):
        texts = [str(result.get('msg', ''))] + [str(w) for w in result.get('warnings') or []]
        texts += [str(item.get('error', '')) for item in result.get('failed_items') or []]
        bad = [text for text in texts if PYTHON_ERROR.search(text)]
        self.check('clear', case, not bad, 'a Python error in a message: %r' % bad[:1])

    def check_secret(self, case, result, secrets, registered=False):
        shown = dict(result)
        if result.get('access_token') or result.get('unsaved_pair'):
            # A pair returned on purpose (without a store, or unsaved_pair): the whole result must be no_log (a
            # registered result no longer says so: Ansible keeps that to itself, and the output is checked instead).
            if not registered:
                self.check('secret', case, result.get('_ansible_no_log') is True, 'a pair returned without no_log')
            for key in tuple(PAIR_KEYS) + ('unsaved_pair',):
                shown.pop(key, None)
        text = json.dumps(shown, default=str)
        leaked = sorted(secret for secret in secrets if secret in text)
        self.check('secret', case, not leaked, '%d secret(s) in the result: %s' % (len(leaked), text[:600]))

    def check_bounded(self, case, args, result, elapsed, log):
        timeout = args.get('timeout') if isinstance(args.get('timeout'), int) else 30
        users = max(1, len(case.pairs))
        cap = _client.MAX_REQUESTS_PER_TASK * users
        # Every request ends within its timeout (a trickled answer included); waits are not slept here.
        limit = len(log) * (timeout + 1.5) + 5
        self.check(
            'bounded',
            case,
            len(log) <= cap and elapsed <= limit,
            '%d requests in %.1f s (at most %.1f s allowed)' % (len(log), elapsed, limit),
        )

    def check_truth(self, case, path, result, before, after):
        codes = failed_codes(result)
        entries, store_error = read_store(path) if path is not None else ({}, None)
        if store_error is not None:
            self.violate('truth', case, 'the store cannot be read after the run: %s' % store_error)
            return
        recovered = recovered_pairs(path) if path is not None else set()
        problems = self.layout_problems(case, path)
        problems += refreshed_problems(path, result, entries, after)
        problems += marking_problems(case, entries, codes, before, after)
        lost = lost_pairs(path, result, entries, codes, recovered, before, after)
        self.check('truth', case, not problems, '; '.join(problems) + ' / ' + json.dumps(result, default=str)[:800])
        self.check('lost', case, not lost, '; '.join(lost) + ' / ' + json.dumps(result, default=str)[:800])

    @staticmethod
    def layout_problems(case, path):
        """A link stays a link; a vault store, and every recovery file of it, stays encrypted under its label."""
        problems = []
        if path is None:
            return problems
        if case.layout == 'link' and not os.path.islink(path):
            problems.append('the store, a symbolic link, was replaced by a file')
        if case.layout == 'vault':
            for name in [path] + recovery_files(path):
                if not os.path.exists(name):
                    problems.append('%s is gone' % os.path.basename(name))
                    continue
                with open(name, 'rb') as handle:
                    if not handle.read().startswith(VAULT_HEADER):
                        problems.append('%s is not encrypted under the label prod' % os.path.basename(name))
        return problems

    def check_converges(self, case, path, args):
        """Without faults: a refresh of the whole store settles everything, and the run after it sends nothing."""
        base = dict((k, v) for k, v in args.items() if k in ('client_id', 'client_secret', 'redirect_uri', 'store'))
        base.update(grant='refresh_token', timeout=5, retries=1, lock_timeout=5)
        self.admin.clear_requests()
        settle, error = run_in_worker(self.emulator.url, base, False)
        problems = []
        if error is not None:
            self.violate('clear', case, 'the settling run raised %s' % error)
            return
        after = live_pairs(self.admin.state())
        entries, store_error = read_store(path)
        if store_error is not None:
            if not os.path.exists(path) and not recovered_pairs(path):
                # Nothing ever reached the store (an exchange that failed): the settling run says so.
                self.check('converges', case, bool(settle.get('failed')), 'a missing store was not reported')
                return
            problems.append('the store cannot be read: %s' % store_error)
            entries = {}
        codes = set(failed_codes(settle).values())
        if codes - {'reauthorization_needed'}:
            problems.append('the settling run failed with %s: %s' % (sorted(codes), str(settle.get('msg'))[:400]))
        problems += settled_problems(entries, after)
        if recovery_files(path):
            problems.append('recovery files are left: %s' % recovery_files(path))
        problems.extend(self.layout_problems(case, path))
        self.admin.clear_requests()
        again, error = run_in_worker(self.emulator.url, dict(base, refresh_before=0), False)
        if error is not None:
            problems.append('the run after it raised %s' % error)
        elif (
            again.get('changed')
            or again.get('api_requests')
            or set(failed_codes(again).values()) - {'reauthorization_needed'}
        ):
            problems.append(
                'the run after it changed=%s sent %s requests: %s'
                % (again.get('changed'), again.get('api_requests'), str(again.get('msg'))[:300])
            )
        self.check('converges', case, not problems, '; '.join(problems))


# -- through ansible-playbook ---------------------------------------------------------


def run_playbook_case(fuzzer, case, collections_path):
    """One case through ansible-playbook at -vvvv: the same invariants, and no secret in the output."""
    fuzzer.cases += 1
    path, args = fuzzer.prepare(case)
    before = live_pairs(fuzzer.admin.state())
    store_before = fuzzer.store_bytes(path)
    directory = tempfile.mkdtemp(dir=fuzzer.workdir)
    result_file = os.path.join(directory, 'result.json')
    password_file = os.path.join(directory, 'vault-password')
    with open(password_file, 'w') as handle:
        handle.write(VAULT_PASSWORD + '\n')
    playbook = os.path.join(directory, 'case.yml')
    task_args = dict(args, api_url=fuzzer.emulator.url)
    for option, value in case.args.items():
        if value == 'huge-int':
            # YAML cannot hold it (PyYAML will not write an int of 4300+ digits); a template makes it, as a user's would.
            task_args[option] = '{{ 10 ** 5000 }}'
    with open(playbook, 'w') as handle:
        yaml.safe_dump(
            [
                {
                    'name': 'A token fuzz case',
                    'hosts': 'localhost',
                    'connection': 'local',
                    'gather_facts': False,
                    'tasks': [
                        {
                            'name': 'Run the case',
                            'existio.exist.token': task_args,
                            'check_mode': case.check_mode,
                            'diff': True,
                            'register': 'outcome',
                            'ignore_errors': True,
                        },
                        {
                            'name': 'Keep the result',
                            'ansible.builtin.copy': {'content': '{{ outcome | to_json }}', 'dest': result_file},
                            'no_log': True,
                        },
                    ],
                }
            ],
            handle,
        )
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=collections_path,
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    if case.faults:
        fuzzer.admin.faults(case.faults)
    started = time.monotonic()
    try:
        done = subprocess.run(
            ['ansible-playbook', '-i', 'localhost,', playbook, '-vvvv', '--vault-password-file', password_file],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=CASE_DEADLINE + 60,
        )
    except subprocess.TimeoutExpired:
        fuzzer.violate('bounded', case, 'ansible-playbook did not end within %d s' % (CASE_DEADLINE + 60))
        return
    elapsed = time.monotonic() - started
    fuzzer.landed(case, started)
    fuzzer.admin.clear_faults()
    log = fuzzer.admin.requests()
    state = fuzzer.admin.state()
    output = done.stdout + done.stderr
    secrets = case.secrets() | fuzzer.all_tokens(state)
    leaked = sorted(secret for secret in secrets if secret in output)
    fuzzer.check('secret', case, not leaked, '%d secret(s) in the -vvvv output' % len(leaked))
    if done.returncode not in (0, 2) or not os.path.exists(result_file):
        fuzzer.violate('clear', case, 'ansible-playbook exited %d:\n%s' % (done.returncode, output[-3000:]))
        return
    with open(result_file) as handle:
        result = json.load(handle)
    # ansible-playbook's own start-up is not the task's: the subprocess timeout bounds the whole.
    del elapsed
    fuzzer.judge(case, path, args, result, None, 0, log, before, live_pairs(state), store_before, secrets, True)


def quiet_cut_connections(server):
    """A client that gives up on a trickled or delayed answer cuts the connection: not worth a traceback on stderr."""
    handle_error = server.handle_error

    def handle(request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        handle_error(request, client_address)

    server.handle_error = handle


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--seed', type=int, default=None, help='master seed (default: random, printed)')
    parser.add_argument('--seconds', type=float, default=60.0, help='time budget for in-process cases')
    parser.add_argument('--max-cases', type=int, default=5000)
    parser.add_argument('--playbook-cases', type=int, default=4, help='cases also run through ansible-playbook')
    parser.add_argument(
        '--collections-path', default=None, help='folder holding ansible_collections (for playbook cases)'
    )
    parser.add_argument('--case', type=int, default=None, help='replay one case by its seed')
    parser.add_argument('--result-file', default=None, help='write "passed failed skipped" (one result per invariant)')
    options = parser.parse_args(argv)

    _oauth.OAuthClient = _NoSleepClient
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**32)
    print('fuzz-token: master seed %d (replay with --seed %d)' % (seed, seed), flush=True)
    with BackgroundEmulator() as emulator:  # rate limit off
        quiet_cut_connections(emulator.server)
        fuzzer = Fuzzer(emulator)
        case = None
        try:
            if options.case is not None:
                case = Case(options.case)
                print(case.describe())
                fuzzer.run_case(case)
            else:
                master = random.Random(seed)
                deadline = time.monotonic() + options.seconds
                while fuzzer.cases < options.max_cases and time.monotonic() < deadline:
                    case = Case(master.getrandbits(48))
                    fuzzer.run_case(case)
                if options.playbook_cases and options.collections_path:
                    for dummy in range(options.playbook_cases):
                        case = Case(master.getrandbits(48), deterministic=True)
                        run_playbook_case(fuzzer, case, options.collections_path)
        except Hung as exc:
            fuzzer.violate('bounded', case, str(exc))
        finally:
            fuzzer.close()
    failed = [name for name in INVARIANTS if fuzzer.violations[name]]
    for name in INVARIANTS:
        state = 'FAILED' if fuzzer.violations[name] else 'ok'
        print('fuzz-token: invariant %-10s %-6s checked %d times' % (name, state, fuzzer.checked[name]))
        for violation in fuzzer.violations[name][:5]:
            print('  ' + violation[:4000])
    print('fuzz-token: %d cases, master seed %d; %d invariant(s) violated' % (fuzzer.cases, seed, len(failed)))
    if failed:
        print('fuzz-token: replay a case with --case CASE (its seed is printed above)')
    if options.result_file:
        with open(options.result_file, 'w') as handle:
            handle.write('%d %d 0\n' % (len(INVARIANTS) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
