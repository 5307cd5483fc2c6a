# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault fuzzer: existio.exist.attribute against the emulator under random fault schedules.

Each case is a random world (owners, manual flags, low-priority and inactive
attributes, token scopes), a random task (items, state, manual, takeover,
exclusive, check mode, timeouts) and a random fault schedule (statuses, 429s,
drops, delays, faults after the write was applied, bodies that are not Exist's
shape, on any request). After each run these invariants must hold:

- truth: acquired / released / changed / owned equal the change in the
  emulator's state, or the item is reported outcome_unknown; check mode
  writes nothing;
- converges: a run that reports no failure leaves nothing to do: the same
  task again, without faults, changes nothing and sends no write;
- prediction: without faults, check mode predicts the real run (acquired,
  released, failure codes, and the owned objects' owner and manual flag);
- bounded: no run sends more than the hard cap of requests;
- secret: no result, message or warning holds the token;
- clear: no message holds a Python error; nothing raises.

In-process cases run the worker-process path (the action plugin) against a
real emulator over HTTP. A few cases also run through ansible-playbook on both
paths (worker process and module) at -vvvv: both must give the same result,
and the output must not hold the token.

Usage (from the collection root, with ansible_collections on PYTHONPATH and
the emulator installed):

    python tests/fuzz/fuzz_attribute.py [--seed N] [--seconds 60] [--playbook-cases 4]
    python tests/fuzz/fuzz_attribute.py --case CASE_SEED     # replay one case, printed on failure
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from unittest.mock import MagicMock

import yaml

from ansible_collections.existio.exist.plugins.action.attribute import ActionModule
from ansible_collections.existio.exist.plugins.module_utils import _client, _connection_options
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import THIS_CLIENT
from exist_emulator.testing import BackgroundEmulator

ME = 'fuzz_service'
OTHERS = ['other_a', 'other_b', 'exist_ios']
TEMPLATES = [
    'steps',
    'floors',
    'mood',
    'mood_note',
    'sleep',
    'coffees',
    'water',
    'keystrokes',
    'caffeine',
    'pages_read',
    'weight',
    'cycle_min',
]
CUSTOM = {'reading_time': ('Reading time', 'media', 3), 'tag_yoga': ('Tag yoga', 'custom', 7)}
UNKNOWN_NAMES = ['no_such_attribute', 'nonexistent_template']
GROUPS = ['activity', 'mood', 'sleep', 'food', 'productivity', 'media', 'health', 'custom']
ENDPOINTS = [
    ('GET', '/api/2/attributes/owned/'),
    ('GET', '/api/2/attributes/'),
    ('POST', '/api/2/attributes/acquire/'),
    ('POST', '/api/2/attributes/release/'),
    ('POST', '/api/2/attributes/create/'),
]
WRONG_BODIES = [
    {},
    {'success': 'mood', 'failed': []},
    {'success': [], 'failed': ['mood']},
    {'success': [{'name': 'zzz'}], 'failed': []},
    {'success': [{'label': 'no name'}], 'failed': []},
    {'results': {}},
    {'results': [{'label': 'x'}], 'next': None},
    {'results': [{'name': 'mood', 'manual': 'yes'}], 'next': None},
    [],
    'a string',
    {'success': [], 'failed': []},
    {'results': [], 'next': 42},
    {'success': [{'name': 'steps', 'service': 7}], 'failed': []},
]
# The longest fault delay: enough to outlast the timeouts the cases use (1-2 s).
MAX_DELAY = 3.0
HTML = '<html><body><h1>502 Bad Gateway</h1></body></html>'
# Words that only a Python error puts into a message.
PYTHON_ERROR = re.compile(
    r'Traceback|\b(TypeError|KeyError|AttributeError|IndexError|NameError|UnboundLocalError|'
    r'RecursionError|ZeroDivisionError)\b|object has no attribute|not subscriptable|'
    r'unhashable type|NoneType'
)
INVARIANTS = ('truth', 'converges', 'prediction', 'bounded', 'secret', 'clear', 'paths')


# -- generation ------------------------------------------------------------------


def make_world(rng, token):
    attributes = []
    for name in TEMPLATES + sorted(CUSTOM):
        if rng.random() < 0.4:
            continue
        owner = rng.choice([ME, ME] + OTHERS + [None])
        entry = {
            'service': owner,
            'manual': rng.random() < 0.3,
            'active': owner is not None or rng.random() < 0.3,
            'available_services': rng.sample([ME] + OTHERS, rng.randint(0, 2)),
        }
        if name in CUSTOM:
            label, group, value_type = CUSTOM[name]
            entry.update(name=name, label=label, group=group, value_type=value_type)
        else:
            entry['template'] = name
        attributes.append(entry)
    if rng.random() < 0.6:
        scopes = ['all']
    else:
        scopes = [g + suffix for g in GROUPS for suffix in ('_read', '_write') if rng.random() < 0.6]
        scopes += [s for s in ('manual_read', 'manual_write') if rng.random() < 0.4]
    return {
        'services': [{'name': s, 'label': s.replace('_', ' ').title()} for s in [ME] + OTHERS],
        'clients': [],
        'users': [
            {
                'username': 'fuzz',
                'timezone': 'UTC',
                'attributes': attributes,
                'tokens': [
                    {'token': token, 'service': ME, 'scopes': scopes, 'refresh_token': 'r-' + token, 'kind': 'oauth2'}
                ],
            }
        ],
    }


def make_task(rng, token):
    items, seen = [], set()
    for dummy in range(rng.randint(0, 6)):
        name = rng.choice(TEMPLATES + sorted(CUSTOM) + UNKNOWN_NAMES)
        if name in seen:
            continue
        seen.add(name)
        item = {'template' if name in TEMPLATES and rng.random() < 0.7 else 'name': name}
        if rng.random() < 0.25:
            item['state'] = 'absent'
        if rng.random() < 0.4:
            item['manual'] = rng.random() < 0.5
        items.append(item)
    args = {
        'token': token,
        'attributes': items,
        'takeover': rng.random() < 0.6,
        'timeout': rng.choice([1, 2]),
        'rate_limit_wait': rng.choice([0, 1, 3]),
    }
    present = [i for i in items if i.get('state') != 'absent']
    if rng.random() < 0.3:
        if present:
            args['exclusive'] = True
        else:
            args['release_all'] = True
    if rng.random() < 0.08:
        # A hostile input: the task must fail before any request, naming the option.
        args.update(
            rng.choice(
                [
                    {'attributes': 'mood'},
                    {'attributes': {'name': 'mood'}},
                    {'attributes': [{'name': 'mood\n'}]},
                    {'timeout': 10**10},
                    {'rate_limit_wait': -1},
                    {'attributes': [['mood']]},
                    {'attributes': [{'name': 'mood', 'template': 'mood'}]},
                    {'exclusive': True, 'attributes': []},
                    {'token': token + '\n'},
                    {'api_url': 'http://exist.io'},
                ]
            )
        )
    return args, rng.random() < 0.3


def make_faults(rng, timeout, deterministic=False):
    faults = []
    for dummy in range(rng.choice([0, 1, 1, 2, 3])):
        method, path = rng.choice(ENDPOINTS)
        fault = {'method': method, 'path': path, 'skip': rng.choice([0, 0, 1, 2])}
        kind = rng.choice(
            [
                'status',
                'status',
                '429',
                'drop',
                'delay',
                'after_apply',
                'after_apply',
                'wrong_body',
                'wrong_body',
                'html',
            ]
        )
        if deterministic and kind == 'delay':
            kind = 'drop'
        if kind == 'status':
            fault['status'] = rng.choice([500, 502, 503, 400, 401, 403, 404])
        elif kind == '429':
            fault.update(status=429, times=rng.choice([1, 2, 1000]))
            retry_after = rng.choice([0, 1, None, 'Thu, 01 Jan 1970 00:00:00 GMT'])
            if retry_after is not None:
                fault['retry_after'] = retry_after
        elif kind == 'drop':
            fault['drop'] = True
        elif kind == 'delay':
            fault['delay'] = round(rng.uniform(0.2, min(timeout + 1.0, MAX_DELAY)), 2)
        elif kind == 'after_apply':
            fault['after_apply'] = True
            fault.update(
                rng.choice(
                    [
                        {'drop': True},
                        {'status': 500},
                        {'status': 200, 'body': rng.choice(WRONG_BODIES)},
                        {'status': 200, 'raw_body': HTML},
                        {'status': 202, 'body': {}},
                    ]
                )
            )
        elif kind == 'wrong_body':
            fault.update(status=rng.choice([200, 202]), body=rng.choice(WRONG_BODIES))
        else:
            fault.update(status=200, raw_body=HTML)
        faults.append(fault)
    return faults


class Case:
    """One fuzz case, reproducible from its seed."""

    def __init__(self, case_seed, deterministic=False):
        rng = random.Random(case_seed)
        self.seed = case_seed
        self.token = 'fuzz-%016x' % rng.getrandbits(64)
        self.world = make_world(rng, self.token)
        self.args, self.check_mode = make_task(rng, self.token)
        # Delays are drawn around a sane timeout, whatever a hostile input made of the task's own.
        self.faults = make_faults(rng, 2, deterministic)

    def describe(self):
        return json.dumps(
            {
                'case': self.seed,
                'check_mode': self.check_mode,
                'args': self.args,
                'faults': self.faults,
                'world': self.world,
            },
            indent=1,
            default=str,
        )


# -- running -----------------------------------------------------------------------

# No task may take longer than this, whatever the server does (timeouts are 1-2 s, waits are not slept).
CASE_DEADLINE = 120


class Hung(Exception):
    """A task did not end within CASE_DEADLINE: the bound the fuzzer checks is broken."""


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
    """The task as the action plugin runs it on a local connection; returns (result, error)."""
    task = MagicMock()
    task.args = dict(args, api_url=url)
    task.async_val = 0
    task.environment = [{}]
    connection = MagicMock()
    connection.transport = 'local'
    play_context = MagicMock()
    play_context.check_mode = check_mode
    play_context.diff = True
    play_context.become = False
    templar = MagicMock()
    templar.template.side_effect = lambda value: value
    action = ActionModule(task, connection, play_context, loader=None, templar=templar, shared_loader_obj=None)
    action._execute_module = MagicMock(side_effect=AssertionError('the module path must not run here'))
    try:
        return action.run(task_vars={}), None
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return None, '%s: %s' % (type(exc).__name__, exc)


def owned_view(result):
    # Every object in `owned` is this client's: check mode may only know it as a placeholder.
    return [(a.get('name'), bool(a.get('manual'))) for a in result.get('owned', [])]


def services(result):
    return set((a.get('service') or {}).get('name') for a in result.get('owned', []))


def failed_view(result):
    return sorted(((i.get('name') or i.get('template')), i.get('error_code')) for i in result.get('failed_items', []))


class Fuzzer:
    """Runs cases against one emulator (an exist_emulator.testing.BackgroundEmulator) and checks the invariants."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.admin = emulator.admin
        self.violations = dict((name, []) for name in INVARIANTS)
        self.checked = dict((name, 0) for name in INVARIANTS)
        self.cases = 0

    def violate(self, invariant, case, message):
        self.violations[invariant].append('case %s: %s' % (case.seed, message))

    def check(self, invariant, case, ok, message):
        self.checked[invariant] += 1
        if not ok:
            self.violate(invariant, case, message)
        return ok

    def load(self, world, faults):
        self.admin.reset(world)
        if faults:
            self.admin.faults(faults)

    def owned(self):
        """{name: manual} of what ME owns, from the emulator's state."""
        return self.admin.owned('fuzz', ME)

    def run_case(self, case):
        self.cases += 1
        self.load(case.world, case.faults)
        before = self.owned()
        started = time.monotonic()
        result, error = run_in_worker(self.emulator.url, case.args, case.check_mode)
        elapsed = time.monotonic() - started
        # A request the client gave up on may still be sleeping in the emulator: let it land here,
        # not in the next case's world. It began at the latest when the task ended.
        if any(f.get('delay') for f in case.faults):
            time.sleep(max(f.get('delay', 0) for f in case.faults) + 0.3)
        log = self.admin.requests()
        # This case's own requests; a request of an earlier case (another token) gets 401 and no user.
        mine = [e for e in log if e['user'] == 'fuzz']
        after = self.owned()
        if not self.check('clear', case, error is None, 'the task raised %s' % error):
            return
        text = json.dumps(result, default=str)
        self.check(
            'clear',
            case,
            not PYTHON_ERROR.search(str(result.get('msg', '')))
            and not any(PYTHON_ERROR.search(w) for w in result.get('warnings', [])),
            'a Python error in msg: %r' % result.get('msg'),
        )
        self.check('secret', case, case.token not in text, 'the token is in the result: %s' % text)
        self.check(
            'bounded',
            case,
            len(log) <= _client.MAX_REQUESTS_PER_TASK and elapsed < 120,
            '%d requests in %.1f s' % (len(log), elapsed),
        )
        if 'owned' not in result:
            # Failed before planning (bad input, a read that failed): nothing may have been written.
            writes = [e for e in mine if e['method'] == 'POST']
            self.check(
                'truth',
                case,
                before == after and not writes and not result.get('changed'),
                'failed before planning but the state changed or a write was sent: %s' % result.get('msg'),
            )
            return
        if case.check_mode:
            writes = [e for e in mine if e['method'] == 'POST']
            self.check('truth', case, before == after and not writes, 'check mode wrote: %s' % writes)
        else:
            self.check_truth(case, result, before, after)
            if not result.get('failed'):
                self.check_converges(case)
        if not case.faults:
            self.check_prediction(case, result)

    def check_truth(self, case, result, before, after):
        unknown = set(n for n, code in failed_view(result) if code == 'outcome_unknown')
        acquired, released = set(result['acquired']), set(result['released'])
        problems = []
        problems += ['%s reported acquired but not owned' % n for n in acquired - set(after)]
        problems += ['%s reported released but still owned' % n for n in released & set(after)]
        problems += ['%s reported released but was not owned' % n for n in released - set(before)]
        problems += ['%s became owned unreported' % n for n in set(after) - set(before) - acquired - unknown]
        problems += ['%s stopped being owned unreported' % n for n in set(before) - set(after) - released - unknown]
        problems += [
            '%s changed manual flag unreported' % n
            for n in set(before) & set(after)
            if before[n] != after[n] and n not in acquired | unknown
        ]
        if result['changed'] != bool(acquired or released):
            problems.append('changed=%s with acquired=%s released=%s' % (result['changed'], acquired, released))
        reported = dict(owned_view(result))
        if result['owned'] and services(result) != {ME}:
            problems.append('owned objects name services %s' % sorted(map(str, services(result))))
        for name in set(reported) ^ set(after):
            if name not in unknown:
                problems.append(
                    'owned says %s %s, the server says %s'
                    % (name, 'owned' if name in reported else 'not owned', 'owned' if name in after else 'not owned')
                )
        for name in set(reported) & set(after):
            if reported[name] != after[name] and name not in unknown:
                problems.append('owned says %s manual=%s, the server says %s' % (name, reported[name], after[name]))
        self.check('truth', case, not problems, '; '.join(problems))

    def check_converges(self, case):
        self.admin.clear_faults()
        self.admin.clear_requests()
        again, error = run_in_worker(self.emulator.url, case.args, False)
        writes = [e for e in self.admin.requests() if e['method'] == 'POST' and e['user'] == 'fuzz']
        self.check(
            'converges',
            case,
            error is None and not again.get('changed') and not again.get('failed') and not writes,
            'a successful run left work: second run changed=%s failed=%s msg=%s writes=%s'
            % (again and again.get('changed'), again and again.get('failed'), again and again.get('msg'), writes),
        )

    def check_prediction(self, case, result):
        other_mode = not case.check_mode
        self.load(case.world, [])
        other, error = run_in_worker(self.emulator.url, case.args, other_mode)
        if error is not None:
            self.violate('clear', case, 'the task raised %s' % error)
            return
        predicted, real = (result, other) if case.check_mode else (other, result)
        if 'owned' not in predicted or 'owned' not in real:
            self.check(
                'prediction',
                case,
                predicted.get('msg') == real.get('msg'),
                'check mode failed with %r, the real run with %r' % (predicted.get('msg'), real.get('msg')),
            )
            return
        if not services(predicted) <= {ME, THIS_CLIENT}:
            self.violate('prediction', case, 'check mode predicts owners %s' % sorted(map(str, services(predicted))))
        differences = [
            key
            for key, view in (
                ('acquired', lambda r: r['acquired']),
                ('released', lambda r: r['released']),
                ('changed', lambda r: r['changed']),
                ('owned', owned_view),
            )
            if view(predicted) != view(real)
        ]
        # Check mode can only predict refusals the reads reveal (documented).
        predictable = [f for f in failed_view(real) if f[1] not in ('not_allowed', 'not_found', 'owner_unknown')]
        if [f for f in failed_view(predicted) if f[1] not in ('not_found', 'owner_unknown')] != predictable:
            differences.append('failed_items')
        hidden = any('not visible to this token' in w for w in predicted.get('warnings', []))
        refused = any(
            f[1] in ('not_allowed', 'not_found', 'owner_unknown') for f in failed_view(real) + failed_view(predicted)
        )
        # What a token cannot see, or a refusal check mode cannot know, may legitimately differ; say so in the data.
        if differences and (hidden or refused):
            return
        self.check(
            'prediction',
            case,
            not differences,
            'check mode differs from the real run in %s: %s / %s'
            % (differences, json.dumps(predicted, default=str)[:1500], json.dumps(real, default=str)[:1500]),
        )


# -- both paths, through ansible-playbook -------------------------------------------


def playbook_for(cases, url, results_dir):
    tasks = []
    for index, case in enumerate(cases):
        tasks += [
            {
                'name': 'Load world %d' % index,
                'ansible.builtin.uri': {
                    'url': url + '/_emulator/reset',
                    'method': 'POST',
                    'body_format': 'json',
                    'body': case.world,
                },
                'no_log': True,
            },
            {
                'name': 'Queue faults %d' % index,
                'ansible.builtin.uri': {
                    'url': url + '/_emulator/faults',
                    'method': 'POST',
                    'body_format': 'json',
                    'body': case.faults,
                },
            },
            {
                'name': 'Run case %d' % index,
                'existio.exist.attribute': dict(case.args, api_url=url),
                'check_mode': case.check_mode,
                'diff': True,
                'register': 'outcome',
                'ignore_errors': True,
            },
            {
                'name': 'Keep result %d' % index,
                'ansible.builtin.copy': {
                    'content': '{{ outcome | to_json }}',
                    'dest': os.path.join(results_dir, '%d.json' % index),
                },
                'no_log': True,
            },
        ]
    return [
        {
            'name': 'Fuzz cases on one path',
            'hosts': 'localhost',
            'connection': 'local',
            'gather_facts': False,
            'tasks': tasks,
        }
    ]


def run_paths(fuzzer, cases, collections_path):
    """Run `cases` through ansible-playbook on both paths; compare with each other and scan the output."""
    outcomes = {}
    with tempfile.TemporaryDirectory() as workdir:
        for in_worker in (True, False):
            results_dir = os.path.join(workdir, 'worker' if in_worker else 'module')
            os.makedirs(results_dir)
            playbook = os.path.join(workdir, 'cases.yml')
            with open(playbook, 'w') as handle:
                yaml.safe_dump(playbook_for(cases, fuzzer.emulator.url, results_dir), handle)
            env = dict(
                os.environ,
                ANSIBLE_COLLECTIONS_PATH=collections_path,
                ANSIBLE_NOCOLOR='1',
                ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            )
            command = [
                'ansible-playbook',
                '-i',
                'localhost,',
                playbook,
                '-vvvv',
                '-e',
                'existio_exist_worker_process=%s' % in_worker,
            ]
            try:
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=600)
            except subprocess.TimeoutExpired:
                fuzzer.violations['paths'].append(
                    'ansible-playbook on the %s path did not end within 600 s'
                    % ('worker process' if in_worker else 'module')
                )
                return
            output = done.stdout + done.stderr
            path = 'worker process' if in_worker else 'module'
            for case in cases:
                fuzzer.check(
                    'secret', case, case.token not in output, 'the token is in the -vvvv output on the %s path' % path
                )
            if done.returncode not in (0, 2):
                fuzzer.violations['paths'].append(
                    'ansible-playbook on the %s path exited %d:\n%s' % (path, done.returncode, output[-3000:])
                )
                return
            for index in range(len(cases)):
                with open(os.path.join(results_dir, '%d.json' % index)) as handle:
                    outcomes.setdefault(index, []).append(json.load(handle))
    for index, case in enumerate(cases):
        worker, module = outcomes[index]

        def view(result):
            return (
                bool(result.get('failed')),
                bool(result.get('changed')),
                result.get('acquired'),
                result.get('released'),
                failed_view(result),
                owned_view(result),
                result.get('msg'),
            )

        fuzzer.check(
            'paths',
            case,
            view(worker) == view(module),
            'the paths differ:\nworker: %s\nmodule: %s' % (view(worker), view(module)),
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--seed', type=int, default=None, help='master seed (default: random, printed)')
    parser.add_argument('--seconds', type=float, default=60.0, help='time budget for in-process cases')
    parser.add_argument('--max-cases', type=int, default=5000)
    parser.add_argument(
        '--playbook-cases', type=int, default=4, help='cases also run through ansible-playbook on both paths'
    )
    parser.add_argument(
        '--collections-path', default=None, help='folder holding ansible_collections (for playbook cases)'
    )
    parser.add_argument('--case', type=int, default=None, help='replay one case by its seed')
    parser.add_argument('--result-file', default=None, help='write "passed failed skipped" (one result per invariant)')
    options = parser.parse_args(argv)

    # The client's waits (429, retries) are recorded, not slept: the fuzzer checks their bound, not the clock.
    _connection_options.ExistClient = functools.partial(_client.ExistClient, sleep=lambda seconds: None)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**32)
    print('fuzz: master seed %d (replay with --seed %d)' % (seed, seed), flush=True)
    with BackgroundEmulator() as emulator:  # rate limit off
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
                    cases = [
                        Case(master.getrandbits(48), deterministic=True) for dummy in range(options.playbook_cases)
                    ]
                    run_paths(fuzzer, cases, options.collections_path)
        except Hung as exc:
            fuzzer.violate('bounded', case, str(exc))
    failed = [name for name in INVARIANTS if fuzzer.violations[name]]
    for name in INVARIANTS:
        state = 'FAILED' if fuzzer.violations[name] else 'ok'
        print('fuzz: invariant %-10s %-6s checked %d times' % (name, state, fuzzer.checked[name]))
        for violation in fuzzer.violations[name][:5]:
            print('  ' + violation[:4000])
    print('fuzz: %d cases, master seed %d; %d invariant(s) violated' % (fuzzer.cases, seed, len(failed)), flush=True)
    if failed:
        print('fuzz: replay a case with --case CASE (its seed is printed above)')
    if options.result_file:
        with open(options.result_file, 'w') as handle:
            handle.write('%d %d 0\n' % (len(INVARIANTS) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
