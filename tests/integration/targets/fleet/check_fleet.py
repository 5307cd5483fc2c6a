# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers of runme.sh: the emulator's admin API, the token store, and the checks.

Everything here reads the emulator through its admin API (never through the
collection), so the report is checked against what the server saw and holds.
Each check prints what it checked, and exits 1 with the reason when it fails.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import re
import sys
import urllib.request

import yaml

SERVICE = 'fleet_service'
# Days until each user's token expires, as written into the store.
EXPIRES_IN_DAYS = {'alice': 300, 'bob': 10, 'carol': 200, 'dave': 365, 'erin': 100}
# A user in the store whose token the emulator does not know (validate_tokens).
UNKNOWN_USER = {'username': 'erin', 'token': 'fleet-erin-0Unkn0wn', 'scopes': ['all']}
# Users named like groups (of Ansible, of the users inventory, of the keyed_groups in runme.sh) or like the
# controller: the inventory leaves them out. Each holds mood_read, so that a host of its name would have put
# it, or the group of its name, into the groups of the others.
CLASHING_USERS = [
    'all',
    'ungrouped',
    'localhost',
    'exist_users',
    'scope_mood_read',
    'exist_token_expired',
    'group_mood',
]
CLASHING_TOKEN = 'fleet-clash-%d-Tk9q'
# A report's files as the fleet_report callback names them, and the links to the newest.
REPORT_FILE = re.compile(r'^exist-fleet-report-(?P<playbook>.+)-\d{8}T\d{6}Z(-\d+)?\.(json|md)$')
LATEST = 'exist-fleet-report-latest'


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def admin(url, path, method='GET', body=None):
    data = None if body is None else body.encode('utf-8')
    request = urllib.request.Request(url + '/_emulator/' + path, data=data, method=method)
    request.add_header('Content-Type', 'application/json')
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback admin API)
        text = answer.read().decode('utf-8')
    return json.loads(text) if text.strip() else None


def seed_users(seed_path):
    with open(seed_path) as f:
        seed = json.load(f)
    return dict((user['username'], user['tokens'][0]) for user in seed['users'])


def store_entry(username, token, scopes):
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=EXPIRES_IN_DAYS[username])
    return {
        'username': username,
        'access_token': token,
        'refresh_token': username + '-refresh',
        'expires_at': expires.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'scope': ' '.join(scopes),
    }


def unwrap(value):
    """ansible-inventory --list on ansible-core 2.19+ writes untrusted strings as {"__ansible_unsafe": ...}."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((key, unwrap(item)) for key, item in value.items())
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def group_hosts(listing, group):
    return sorted(listing.get(group, {}).get('hosts', []))


# -- commands ------------------------------------------------------------------


def cmd_url(args):
    with open(args.config) as f:
        config = yaml.safe_load(f)
    print(config['exist_api_url' if args.api else 'exist_emulator_url'])


def cmd_reset(args):
    with open(args.seed) as f:
        admin(args.url, 'reset', 'POST', f.read())
    admin(args.url, 'config', 'POST', json.dumps({'rate_limit': 0}))


def cmd_clear(args):
    admin(args.url, 'requests', 'DELETE')


def cmd_store(args):
    entries = {}
    for username, token in seed_users(args.seed).items():
        entries[username] = store_entry(username, token['token'], token['scopes'])
    if args.with_unknown:
        user = UNKNOWN_USER
        entries[user['username']] = store_entry(user['username'], user['token'], user['scopes'])
    for username in args.mark_reauthorization or []:
        entries[username]['reauthorization_needed'] = True
    if args.with_clashes:
        for index, username in enumerate(CLASHING_USERS):
            EXPIRES_IN_DAYS.setdefault(username, 50)
            entries[username] = store_entry(username, CLASHING_TOKEN % index, ['mood_read', 'activity_read'])
        # Marks existio.exist.token leaves: bob's pair no longer works, dave's refresh answer was lost.
        entries['bob']['reauthorization_needed'] = True
        entries['dave']['refresh_outcome_unknown'] = '2026-11-28T10:00:00Z'
    with open(args.out, 'w') as f:
        f.write('# existio.exist token store: written by the fleet integration test\n')
        yaml.safe_dump(entries, f, default_flow_style=False, sort_keys=True)


def cmd_state(args):
    print(json.dumps(admin(args.url, 'state'), sort_keys=True))


def cmd_inventory(args):
    with open(args.listing) as f:
        text = f.read()
    listing = unwrap(json.loads(text))
    tokens = seed_users(args.seed)
    hostvars = listing['_meta']['hostvars']
    expect(sorted(hostvars) == sorted(tokens), 'hosts %s, expected the users %s' % (sorted(hostvars), sorted(tokens)))
    expect(
        group_hosts(listing, 'exist_users') == sorted(tokens),
        'exist_users holds %s' % group_hosts(listing, 'exist_users'),
    )
    expect(
        group_hosts(listing, 'exist_token_expiring') == ['bob'],
        'exist_token_expiring: %s' % group_hosts(listing, 'exist_token_expiring'),
    )
    expect(group_hosts(listing, 'exist_token_expired') == [], 'exist_token_expired is not empty')
    expect(group_hosts(listing, 'scope_all') == ['bob', 'dave'], 'scope_all: %s' % group_hosts(listing, 'scope_all'))
    expect(
        group_hosts(listing, 'scope_mood_write') == ['alice'],
        'scope_mood_write: %s' % group_hosts(listing, 'scope_mood_write'),
    )
    expect(group_hosts(listing, 'scope_activity_write') == ['alice', 'carol'], 'scope_activity_write')
    for username, token in tokens.items():
        variables = hostvars[username]
        expect(
            variables['exist_username'] == username, '%s: exist_username %r' % (username, variables['exist_username'])
        )
        expect(variables['exist_token_scopes'] == sorted(token['scopes']), '%s: exist_token_scopes' % username)
        expect(variables['ansible_connection'] == 'local', '%s: ansible_connection' % username)
        expect(variables['ansible_python_interpreter'] == '{{ ansible_playbook_python }}', '%s: interpreter' % username)
        expect(variables['exist_token_expires_at'].endswith('Z'), '%s: exist_token_expires_at' % username)
        if args.tokens == 'included':
            expect(
                variables['exist_token'] == token['token'], '%s: exist_token is not the token of the store' % username
            )
        else:
            expect('lookup(' in variables['exist_token'], '%s: exist_token is not an expression' % username)
            expect(token['token'] not in text, '%s: the token is in the listing' % username)
    print('inventory: %d users, groups and host variables as expected (tokens %s)' % (len(tokens), args.tokens))


def cmd_clashes(args):
    with open(args.listing) as f:
        listing = unwrap(json.load(f))
    with open(args.stderr) as f:
        # ansible-core before 2.19 wraps warnings at 80 columns.
        stderr = ' '.join(f.read().split())
    tokens = seed_users(args.seed)
    hostvars = listing['_meta']['hostvars']
    expect(
        sorted(hostvars) == sorted(tokens), 'hosts %s, expected only the users %s' % (sorted(hostvars), sorted(tokens))
    )
    groups = set(name for name in listing if name != '_meta')
    expect(not groups & set(hostvars), 'hosts named like groups: %s' % sorted(groups & set(hostvars)))
    # Every group holds exactly the users the store puts there.
    expected = {
        'exist_users': sorted(tokens),
        'scope_mood_read': ['alice'],
        'group_mood': ['alice'],
        'group_all': ['bob', 'dave'],
        'exist_token_expired': [],
        'exist_token_reauthorization_needed': ['bob'],
        'exist_token_refresh_outcome_unknown': ['dave'],
        'exist_token_recovery_pending': [],
    }
    for group, hosts in expected.items():
        # (--list leaves empty groups out; --graph shows them.)
        expect(group in listing or not hosts, 'the group %s is missing' % group)
        expect(
            group_hosts(listing, group) == hosts,
            '%s holds %s, expected %s' % (group, group_hosts(listing, group), hosts),
        )
    states = dict((name, hostvars[name]['exist_token_state']) for name in hostvars)
    expected_states = {
        'alice': 'valid',
        'bob': 'reauthorization_needed',
        'carol': 'valid',
        'dave': 'refresh_outcome_unknown',
    }
    expect(states == expected_states, 'exist_token_state: %s' % states)
    # Without --export the group variable is in every user's host variables.
    left_out = hostvars['alice']['exist_users_left_out']
    expect(sorted(left_out) == sorted(CLASHING_USERS), 'exist_users_left_out: %s' % sorted(left_out))
    for username in CLASHING_USERS:
        expect("'%s'" % username in stderr, 'no warning names %s' % username)
    expect('marked reauthorization_needed' in stderr and "'bob'" in stderr, 'no warning names bob')
    expect('(refresh sent 2026-11-28T10:00:00Z)' in stderr, 'no warning names dave\'s refresh')
    for index in range(len(CLASHING_USERS)):
        expect(CLASHING_TOKEN % index not in stderr, 'a token in the warnings')
    print(
        'clashing names: %d users left out, each named; no host named like a group; groups as the store says'
        % len(CLASHING_USERS)
    )


def cmd_validated(args):
    with open(args.listing) as f:
        listing = unwrap(json.load(f))
    hostvars = listing['_meta']['hostvars']
    invalid = group_hosts(listing, 'exist_token_invalid')
    expect(invalid == [UNKNOWN_USER['username']], 'exist_token_invalid holds %s, expected only erin' % invalid)
    error = hostvars['erin'].get('exist_token_error', '')
    expect('401' in error and UNKNOWN_USER['token'] not in error, 'erin: exist_token_error %r' % error)
    expect(
        all('exist_token_error' not in hostvars[name] for name in hostvars if name != 'erin'),
        'an error on a good token',
    )
    log = admin(args.url, 'requests')
    expect(
        sorted((entry['method'], entry['path']) for entry in log)
        == [('GET', '/api/2/accounts/profile/')] * len(hostvars),
        'validate_tokens sent %s, expected one profile request per user' % [(e['method'], e['path']) for e in log],
    )
    print('validate_tokens: %d profile requests, erin in exist_token_invalid with a 401' % len(log))


def subset_problems(expected, actual, where='report'):
    """The places where actual differs from expected (only the keys expected names)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append('%s.%s is missing' % (where, key))
            else:
                problems.extend(subset_problems(value, actual[key], '%s.%s' % (where, key)))
        return problems
    return [] if expected == actual else ['%s is %r, expected %r' % (where, actual, expected)]


def read_report(directory, playbook='converge'):
    """(report, markdown) of the one report in directory, checked to be what the latest links point at."""
    names = sorted(name for name in os.listdir(directory) if REPORT_FILE.match(name))
    expect(len(names) == 2, 'expected one report (two files) in %s, found %s' % (directory, names))
    expect(
        all(REPORT_FILE.match(name).group('playbook') == playbook for name in names),
        'the report is not named after the playbook %s: %s' % (playbook, names),
    )
    for name in names:
        link = os.path.join(directory, LATEST + os.path.splitext(name)[1])
        expect(os.path.islink(link) and os.readlink(link) == name, '%s does not point at %s' % (link, name))
    with open(os.path.join(directory, LATEST + '.json')) as f:
        report = json.load(f)
    with open(os.path.join(directory, LATEST + '.md')) as f:
        markdown = f.read()
    return report, markdown


def cmd_report(args):
    report, markdown = read_report(args.directory, args.playbook)
    expected = json.loads(args.expect)
    problems = subset_problems(expected, report)
    expect(not problems, '; '.join(problems))
    expect(markdown.startswith('# %s\n' % report['title']), 'the Markdown report has another title')
    # The requests the report counts are exactly those the emulator logged, user by user.
    log = admin(args.url, 'requests')
    logged = {}
    for entry in log:
        logged[entry['user']] = logged.get(entry['user'], 0) + 1
    requests = report['api_requests']
    expect(
        requests['total'] == len(log),
        'the report counts %d requests, the emulator logged %d' % (requests['total'], len(log)),
    )
    expect(
        dict((user, count) for user, count in requests['per_user'].items() if count) == logged,
        'requests per user: report %s, emulator %s' % (requests['per_user'], logged),
    )
    expect(
        [entry['user'] for entry in requests['busiest']] == sorted(logged, key=lambda user: (-logged[user], user))[:10],
        'busiest users %s' % requests['busiest'],
    )
    if report['mode'] == 'drift':
        expect(all(entry['method'] == 'GET' for entry in log), 'a check-mode run wrote: %s' % log)
    print('report %s: %s, %d requests as the emulator logged them' % (args.directory, report['title'], len(log)))


def playbook_stats_event(artifacts):
    """The event_data of the playbook_on_stats event ansible-runner wrote into the job's artifacts."""
    for path in sorted(glob.glob(os.path.join(artifacts, 'job_events', '*.json'))):
        with open(path) as f:
            event = json.load(f)
        if event.get('event') == 'playbook_on_stats':
            return event['event_data']
    raise CheckFailed('no playbook_on_stats event in %s/job_events' % artifacts)


def cmd_runner_job(args):
    """A job of ansible-runner: its report in the job's artifacts, its summary in the job's artifact data."""
    report, unused_markdown = read_report(args.artifacts)
    summary = playbook_stats_event(args.artifacts).get('artifact_data', {}).get('exist_fleet_report')
    expect(isinstance(summary, dict), 'no exist_fleet_report in the artifact data of %s' % args.artifacts)
    users = report['users']
    expected = dict(
        users=dict((key, users[key]) for key in ('changed', 'unchanged', 'failed', 'outcome_unknown', 'skipped')),
        api_requests=report['api_requests']['total'],
        outside_limit=users['outside_limit'],
        reauthorization_needed=len(report['reauthorization_needed']),
        report=dict(
            directory=args.artifacts,
            json=os.readlink(os.path.join(args.artifacts, LATEST + '.json')),
            markdown=os.readlink(os.path.join(args.artifacts, LATEST + '.md')),
        ),
    )
    expect(summary == expected, 'the artifact data %s, expected from the report %s' % (summary, expected))
    print('job %s: the report in its artifacts, its summary in the artifact data: %s' % (args.artifacts, summary))


def cmd_slices(args):
    """The reports of the slices of a job count every user of the seed once."""
    everyone = set(seed_users(args.seed))
    reports = [read_report(artifacts)[0] for artifacts in args.artifacts]
    counted = [set(report['per_user']) for report in reports]
    expect(sum(report['users']['total'] for report in reports) == len(everyone), 'the totals do not add up')
    expect(set().union(*counted) == everyone, 'users counted: %s, expected %s' % (counted, sorted(everyone)))
    expect(sum(len(users) for users in counted) == len(everyone), 'a user is counted twice: %s' % counted)
    for report in reports:
        expect(
            report['users']['outside_limit'] == len(everyone) - report['users']['total'],
            'outside_limit %s' % report['users']['outside_limit'],
        )
    print('the %d slices count the %d users once each: %s' % (len(reports), len(everyone), counted))


def cmd_owners(args):
    expected = json.loads(args.expect)
    state = admin(args.url, 'state')
    for user in state['users']:
        owners = dict(
            (attribute.get('template') or attribute.get('name'), attribute.get('service'))
            for attribute in user['attributes']
        )
        for attribute, service in expected.get(user['username'], {}).items():
            expect(
                owners.get(attribute) == service,
                '%s: %s is owned by %r, expected %r' % (user['username'], attribute, owners.get(attribute), service),
            )
    print('owners as expected: %s' % expected)


def cmd_same_state(args):
    with open(args.before) as f:
        before = json.load(f)
    expect(admin(args.url, 'state') == before, 'the emulator state changed')
    print('the emulator state is unchanged')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest='command', required=True)
    command = commands.add_parser('url')
    command.add_argument('config')
    command.add_argument('--api', action='store_true')
    command.set_defaults(run=cmd_url)
    for name, run in (('reset', cmd_reset), ('clear', cmd_clear), ('state', cmd_state)):
        command = commands.add_parser(name)
        command.add_argument('url')
        if name == 'reset':
            command.add_argument('seed')
        command.set_defaults(run=run)
    command = commands.add_parser('store')
    command.add_argument('seed')
    command.add_argument('out')
    command.add_argument('--with-unknown', action='store_true')
    command.add_argument('--with-clashes', action='store_true')
    command.add_argument('--mark-reauthorization', action='append', metavar='USER')
    command.set_defaults(run=cmd_store)
    command = commands.add_parser('clashes')
    command.add_argument('listing')
    command.add_argument('seed')
    command.add_argument('stderr')
    command.set_defaults(run=cmd_clashes)
    command = commands.add_parser('inventory')
    command.add_argument('listing')
    command.add_argument('seed')
    command.add_argument('--tokens', choices=['included', 'expression'], default='included')
    command.set_defaults(run=cmd_inventory)
    command = commands.add_parser('validated')
    command.add_argument('listing')
    command.add_argument('url')
    command.set_defaults(run=cmd_validated)
    for name, run in (('report', cmd_report), ('owners', cmd_owners)):
        command = commands.add_parser(name)
        if name == 'report':
            command.add_argument('directory')
            command.add_argument('--playbook', default='converge', help='the playbook the report is named after')
        command.add_argument('url')
        command.add_argument('expect', help='JSON')
        command.set_defaults(run=run)
    command = commands.add_parser('runner-job')
    command.add_argument('artifacts')
    command.set_defaults(run=cmd_runner_job)
    command = commands.add_parser('slices')
    command.add_argument('seed')
    command.add_argument('artifacts', nargs='+')
    command.set_defaults(run=cmd_slices)
    command = commands.add_parser('same-state')
    command.add_argument('url')
    command.add_argument('before')
    command.set_defaults(run=cmd_same_state)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except CheckFailed as exc:
        print('FAILED: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
