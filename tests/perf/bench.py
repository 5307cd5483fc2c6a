# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmarks of existio.exist against the local Exist emulator (`make bench`).

  python tests/perf/bench.py --collections-path DIR [--parts requests,tasks,scale,fleet,chaos]
                             [--rounds 5] [--users 200] [--large] [--fleet-users 200]
                             [--fleet-rounds 3] [--chaos-users 1000] [--chaos-seed 308]
                             [--chaos-rate 0.04] [--chaos-kinds KIND,...] [--rst FILE] [--result-file FILE]
                             [--paths worker,module]

Run with the Python of the ansible-core virtualenv (tests/perf/bench.sh does
it). DIR holds ansible_collections/existio/exist (installed or laid out).
It starts its own emulator on 127.0.0.1 (rate limit off) and stops it.

Parts (each in its module of tests/perf/benchmarks/):

requests  For 1, 10, 35, 36, 71 and 100 declared attributes, five runs of
          existio.exist.attribute in one real ansible-playbook run: first run,
          converged run, check-mode run, exclusive run, release-all run. Then
          existio.exist.values: a set run and its converged second run for a
          few sizes (attributes x days), and increments; and custom
          attributes declared by label, created or acquired (check mode,
          first run, converged run). The requests each
          task sent are read from the emulator's request log (cleared before
          the task, by the bench_timer callback) and compared with the minimum
          the API allows, computed from the scenario's own numbers
          (benchmarks/counts.py). Exit status 1 if any ratio is not 1.00.
tasks     Median milliseconds per task of five 20-task playbooks on localhost,
          run alternately for --rounds rounds, and a profile of the module path.
scale     N users (one host each with its own token), forks 10 and 25: ping,
          converge 20 attributes from scratch, converge again.
fleet     A fleet of --fleet-users users x 20 attributes (exist_emulator.fleet),
          the inventory from existio.exist.users (the token store), one
          existio.exist.attribute task with module_defaults; forks 10 and 25:
          the first run, then --fleet-rounds rounds of ansible.builtin.ping,
          ansible.builtin.debug and the converged run, interleaved; medians,
          requests (the converged run: one GET per user, checked), the CPU of
          the emulator, of the controller process and of all of Ansible.
chaos     The fleet flow under the emulator's chaos mode: --chaos-users users
          x 20 attributes, their token store, the users inventory, the fleet
          report. Run 1, with --chaos-rate of the API requests faulted at
          random from --chaos-seed (429s, 5xx and drops before and after
          apply, delays past the timeout, trickles, revoked tokens and pairs):
          a refresh of every user's pair, the inventory again, a converge that
          acquires 20 attributes and sets 5 values. Run 2, no chaos: the
          converge again. A checker compares the emulator's state, its chaos
          log, the store and the reports: every user and item accounted for,
          no valid pair lost, no dead entry handed out as good, run 2
          converging everyone whose token works. Exit status 1 if it finds a
          problem; each is printed with the command that replays it.

--large sets 1000 users in both the scale and the fleet part.

--rst writes the tables, with the machine, into the given file
(docs/docsite/rst/performance.rst) from the template tests/perf/performance.rst.in;
it is written only when every part ran (its tables and numbers come from all of them).
--result-file writes `passed failed skipped` for `make test` (one result per
size of the requests part, and per case of its values and custom-attribute runs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from benchmarks import page
from benchmarks.chaos import CHAOS_KINDS, part_chaos
from benchmarks.chaos import DEFAULT_RATE as CHAOS_RATE
from benchmarks.chaos import DEFAULT_SEED as CHAOS_SEED
from benchmarks.chaos import DEFAULT_USERS as CHAOS_USERS
from benchmarks.chaos import MAX_USERS as CHAOS_MAX_USERS
from benchmarks.common import log, table
from benchmarks.emulator import Emulator
from benchmarks.fleet import DEFAULT_USERS as FLEET_USERS
from benchmarks.fleet import LARGE_USERS as FLEET_LARGE_USERS
from benchmarks.fleet import MAX_USERS as FLEET_MAX_USERS
from benchmarks.fleet import fleet_profile, part_fleet
from benchmarks.module_profile import part_profile
from benchmarks.read_side_requests import part_read_requests
from benchmarks.requests_per_run import PATHS, part_custom_requests, part_requests, part_values_requests
from benchmarks.runner import Runner
from benchmarks.scale import MAX_USERS, part_scale
from benchmarks.store_token import part_store_token
from benchmarks.time_per_task import part_tasks


def _parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--collections-path', required=True, help='folder that holds ansible_collections/existio/exist')
    parser.add_argument('--parts', default=','.join(page.PARTS))
    parser.add_argument('--paths', default='worker,module', help='paths for the requests part')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--users', type=int, default=200)
    parser.add_argument('--large', action='store_true', help='1000 users in the scale and fleet parts')
    parser.add_argument(
        '--fleet-users',
        type=int,
        help='users in the fleet part (default %d, or %d when the page is written)' % (FLEET_USERS, FLEET_LARGE_USERS),
    )
    parser.add_argument('--fleet-rounds', type=int, default=3, help='rounds of ping, debug, converged per forks')
    parser.add_argument(
        '--chaos-users', type=int, default=CHAOS_USERS, help='users in the chaos part (default %d)' % CHAOS_USERS
    )
    parser.add_argument('--chaos-seed', type=int, default=CHAOS_SEED, help='seed of the chaos part\'s faults')
    parser.add_argument(
        '--chaos-rate', type=float, default=CHAOS_RATE, help='share of API requests faulted (default %s)' % CHAOS_RATE
    )
    parser.add_argument('--chaos-kinds', help='only these kinds of fault in the chaos part (comma-separated)')
    parser.add_argument('--rst', help='write the tables into this RST file')
    parser.add_argument('--result-file', help='write "passed failed skipped" of the requests part here')
    parser.add_argument('--workdir', help='scratch folder (default: a temporary one)')
    return parser


def _options(argv):
    """The command line, checked, with the sizes clamped to what each part allows."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.part_names = [p for p in args.parts.split(',') if p]
    args.path_names = [p for p in args.paths.split(',') if p]
    if set(args.path_names) - set(PATHS) or set(args.part_names) - set(page.PARTS):
        parser.error('unknown part or path')
    if not 0 <= args.chaos_rate <= 1:
        parser.error('--chaos-rate must be from 0 to 1')
    args.chaos_kind_names = [k.strip() for k in (args.chaos_kinds or '').split(',') if k.strip()]
    if set(args.chaos_kind_names) - set(CHAOS_KINDS):
        parser.error(
            '--chaos-kinds: unknown kind(s) %s (known: %s)'
            % (', '.join(sorted(set(args.chaos_kind_names) - set(CHAOS_KINDS))), ', '.join(CHAOS_KINDS))
        )
    args.users = MAX_USERS if args.large else max(1, min(args.users, MAX_USERS))
    args.rounds = max(1, min(args.rounds, 50))
    writes_page = bool(args.rst) and set(args.part_names) == set(page.PARTS)
    if args.fleet_users is not None:
        args.fleet_users = max(1, min(args.fleet_users, FLEET_MAX_USERS))
    else:
        args.fleet_users = FLEET_LARGE_USERS if args.large or writes_page else FLEET_USERS
    args.fleet_rounds = max(1, min(args.fleet_rounds, 20))
    args.chaos_users = max(1, min(args.chaos_users, CHAOS_MAX_USERS))
    return args


# Each part: run(runner, emulator, options, sections, numbers) -> whether it passed; it prints its tables and
# adds them to sections (and the page's numbers to numbers).


def _run_requests(runner, emulator, options, sections, numbers):
    paths = options.path_names
    text, size_ok, good = part_requests(runner, emulator, paths)
    sections['requests'] = text
    ok = good
    print('\nRequests per run\n' + text + '\n', flush=True)
    text, case_ok, good = part_values_requests(runner, emulator, paths)
    sections['values_requests'] = text
    ok = ok and good
    print('\nRequests per run of existio.exist.values\n' + text + '\n', flush=True)
    size_ok = dict(size_ok, **case_ok)
    text, case_ok, good = part_custom_requests(runner, emulator, paths)
    sections['custom_requests'] = text
    ok = ok and good
    print('\nRequests per run creating custom attributes\n' + text + '\n', flush=True)
    size_ok = dict(size_ok, **case_ok)
    text, case_ok, good = part_read_requests(runner, emulator, paths)
    sections['read_requests'] = text
    ok = ok and good
    print('\nRequests per run reading what Exist computes\n' + text + '\n', flush=True)
    size_ok = dict(size_ok, **case_ok)
    if options.result_file:
        passed = sum(1 for v in size_ok.values() if v)
        with open(options.result_file, 'w', encoding='utf-8') as f:
            f.write('%d %d 0\n' % (passed, len(size_ok) - passed))
    return ok


def _run_tasks(runner, emulator, options, sections, numbers):
    text, good = part_tasks(runner, emulator, options.rounds)
    print('\nTime per task\n' + text + '\n', flush=True)
    sections['tasks'] = text
    profile = part_profile(runner, emulator, os.path.abspath(options.collections_path))
    print('\nModule path profile\n' + profile + '\n', flush=True)
    sections['profile'] = profile
    return good


def _run_scale(runner, emulator, options, sections, numbers):
    text, good = part_scale(runner, emulator, options.users)
    print('\nScale: %d users\n' % options.users + text + '\n', flush=True)
    sections['scale'] = text
    return good


def _run_fleet(runner, emulator, options, sections, numbers):
    text, good, runs_per_forks = part_fleet(runner, emulator, options.fleet_users, options.fleet_rounds)
    print('\nFleet: %d users\n' % options.fleet_users + text + '\n', flush=True)
    sections['fleet'] = text
    for forks, runs in runs_per_forks.items():
        numbers['fleet_x_debug_%d' % forks] = '%.2f' % (runs['converged']['wall'] / runs['debug']['wall'])
    text, more = fleet_profile(runner, emulator, options.fleet_users)
    numbers.update(more)
    print('\nFleet: where the time goes\n' + text + '\n', flush=True)
    sections['fleet_profile'] = text
    text, token_good, more = part_store_token(runner, options.fleet_rounds)
    numbers.update(more)
    print('\nFleet: include_token=false per host-task\n' + text + '\n', flush=True)
    sections['fleet_token'] = text
    return good and token_good


def _run_chaos(runner, emulator, options, sections, numbers):
    text, good, more = part_chaos(
        runner, emulator, options.chaos_users, options.chaos_seed, options.chaos_rate, options.chaos_kind_names
    )
    print('\nChaos: %d users\n' % options.chaos_users + text + '\n', flush=True)
    sections['chaos'] = text
    numbers.update(more)
    return good


# In this order, whatever the order of --parts.
PART_RUNS = (
    ('requests', _run_requests),
    ('tasks', _run_tasks),
    ('scale', _run_scale),
    ('fleet', _run_fleet),
    ('chaos', _run_chaos),
)


def main(argv=None):
    options = _options(argv)
    workdir = os.path.abspath(options.workdir or tempfile.mkdtemp(prefix='existio-bench-'))
    os.makedirs(workdir, exist_ok=True)
    emulator = Emulator(os.path.join(workdir, 'emulator.log')).start()
    log('emulator pid %d at %s; work folder %s' % (emulator.proc.pid, emulator.url, workdir))
    runner = Runner(os.path.abspath(options.collections_path), workdir, emulator)
    sections = {}
    fleet_numbers = {}
    ok = True
    try:
        for name, run in PART_RUNS:
            if name in options.part_names:
                good = run(runner, emulator, options, sections, fleet_numbers)
                ok = ok and good
    finally:
        emulator.stop()
        if not options.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    mach = page.machine()
    print(table(['machine', ''], mach))
    if options.rst:
        if set(sections) != set(page.SECTIONS):
            log('not writing %s: it needs all %d parts' % (options.rst, len(page.PARTS)))
        else:
            page.write(
                options.rst,
                sections,
                mach,
                rounds=options.rounds,
                users=options.users,
                fleet_users=options.fleet_users,
                fleet_rounds=options.fleet_rounds,
                **fleet_numbers,
            )
            log('wrote %s' % options.rst)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
