"""Count test results for the `make test` summary.

Sub-commands (each prints one line: ``passed failed skipped``, plus the names
of failed tests on stderr):

  sanity DIR             junit files ansible-test sanity --junit wrote in DIR
  junit FILE...          pytest junit xml files (units, emulator tests)
  integration DIR LOG    ansible-test integration: data/*.json in DIR and its log
  playbook FILE EXPECT   one ansible-playbook run of the compat stage, from the JSON
                         that tests/tools/callback_plugins/compat_stats.py wrote:
                         every host ok (nothing failed or unreachable) and, with
                         EXPECT `changes`, something changed, with `converged`,
                         nothing did. Prints what is wrong; exits 1 then.
  summary RESULTS_DIR    print the final summary from build/results/*.result

The summary ends with exactly ``N passed, N failed`` and exits 1 if anything
failed or a stage could not run.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
import xml.etree.ElementTree as ET


def _cases(path):
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as ex:
        print('cannot read %s: %s' % (path, ex), file=sys.stderr)
        return None
    return root.iter('testcase')


def count_junit(paths, label_sanity=False):
    passed = failed = skipped = 0
    names = []
    for path in paths:
        cases = _cases(path)
        if cases is None:
            failed += 1
            names.append(os.path.basename(path))
            continue
        for case in cases:
            name = case.get('name') or '?'
            if case.get('classname') and not label_sanity:
                name = '%s::%s' % (case.get('classname'), name)
            if case.find('failure') is not None or case.find('error') is not None:
                failed += 1
                names.append(name)
            elif case.find('skipped') is not None:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped, names


def cmd_sanity(directory):
    paths = sorted(glob.glob(os.path.join(directory, 'ansible-test-sanity-*.xml')))
    return count_junit(paths, label_sanity=True)


def cmd_junit(paths):
    return count_junit([p for p in paths if os.path.exists(p)])


def cmd_integration(directory, log):
    passed = []
    for path in sorted(glob.glob(os.path.join(directory, 'integration-*.json'))):
        with open(path, encoding='utf-8') as f:
            passed.extend(sorted(json.load(f).get('targets', {})))
    failed = []
    try:
        with open(log, encoding='utf-8', errors='replace') as f:
            text = f.read()
    except OSError:
        text = ''
    match = re.search(
        r'The (\d+) integration test\(s\) listed below \(out of (\d+)\) failed[^\n]*\n((?:[^\n]+\n?)*)', text
    )
    if match:
        count = int(match.group(1))
        failed = [line.strip() for line in match.group(3).splitlines() if line.strip()][:count]
    return len(passed), len(failed), 0, failed


def cmd_playbook(path, expect):
    """Check one playbook run; return a list of problems (empty: as expected)."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as ex:
        return ['no result from the compat_stats callback (%s): the run did not finish' % ex]
    stats = data.get('stats') or {}
    if not stats:
        return ['no host ran']
    problems = []
    for host, numbers in sorted(stats.items()):
        for key in ('failures', 'unreachable'):
            if numbers.get(key):
                problems.append('%s: %s=%s' % (host, key, numbers[key]))
        changed = numbers.get('changed', 0)
        if expect == 'converged' and changed:
            problems.append('%s: changed=%s on a run that should change nothing' % (host, changed))
        elif expect == 'changes' and not changed:
            problems.append('%s: changed=0 on a run that starts from the default world' % host)
    if problems:
        problems += ['failed task: %s' % task for task in data.get('failed_tasks', [])]
        if expect == 'converged':
            problems += ['changed task: %s' % task for task in data.get('changed_tasks', [])]
    return problems


def cmd_summary(results_dir):
    order = [
        'sanity-2.16',
        'sanity-2.19',
        'sanity-2.21',
        'units-2.19',
        'units-2.21',
        'emulator-tests',
        'integration-2.19',
        'integration-2.21',
        'compat-2.16',
        'compat-2.21',
        'fuzz',
        'bench-requests',
        'lint',
    ]
    files = sorted(
        glob.glob(os.path.join(results_dir, '*.result')),
        key=lambda p: (order.index(os.path.basename(p)[:-7]) if os.path.basename(p)[:-7] in order else 99, p),
    )
    total_passed = total_failed = 0
    broken = False
    # What a failed stage left to say why (CI shows only the end of the output, so it goes here).
    for path in files:
        why = path[: -len('.result')] + '.why'
        if os.path.exists(why):
            with open(why, encoding='utf-8', errors='replace') as f:
                lines = f.read().splitlines()[:30]
            print()
            print('Why %s failed:' % os.path.basename(path)[:-7])
            print('\n'.join('  ' + line for line in lines))
    print()
    print('=' * 72)
    print('Summary')
    print('=' * 72)
    for path in files:
        name = os.path.basename(path)[:-7]
        with open(path, encoding='utf-8') as f:
            fields = f.read().split(None, 5)
        passed, failed, skipped = (int(x) for x in fields[:3])
        status = fields[3] if len(fields) > 3 else 'error'
        secs = int(fields[4]) if len(fields) > 4 else 0
        note = fields[5].strip() if len(fields) > 5 else ''
        if status == 'error':
            # A stage that could not run (or crashed without recording a failed
            # test) counts as one failure, so the last line never reads
            # "0 failed" for a broken run.
            broken = True
            failed = max(failed, 1)
        total_passed += passed
        total_failed += failed
        line = '%-16s %-8s %4d passed, %3d failed, %3d skipped %5s' % (
            name,
            status.upper(),
            passed,
            failed,
            skipped,
            '%ds' % secs if secs else '',
        )
        if note:
            line += '  (%s)' % note
        print(line)
    print('=' * 72)
    print('%d passed, %d failed' % (total_passed, total_failed))
    return 1 if (total_failed or broken or not files) else 0


def main(argv):
    if not argv:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]
    if cmd == 'summary':
        sys.exit(cmd_summary(args[0]))
    if cmd == 'playbook':
        if len(args) != 2 or args[1] not in ('changes', 'converged'):
            sys.exit('usage: results.py playbook FILE changes|converged')
        problems = cmd_playbook(args[0], args[1])
        for problem in problems:
            print(problem)
        sys.exit(1 if problems else 0)
    if cmd == 'sanity':
        result = cmd_sanity(args[0])
    elif cmd == 'junit':
        result = cmd_junit(args)
    elif cmd == 'integration':
        result = cmd_integration(args[0], args[1])
    else:
        sys.exit('unknown command %r' % cmd)
    passed, failed, skipped, names = result
    for name in names:
        print('  FAILED: %s' % name, file=sys.stderr)
    print(passed, failed, skipped)


if __name__ == '__main__':
    main(sys.argv[1:])
