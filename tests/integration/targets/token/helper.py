# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Set-up and the secret check of the token target, outside the output that is checked.

python3 helper.py prepare CONFIG DIR   load seed.json into the emulator; write the stores and the vault password
python3 helper.py check CONFIG LOG     fail if any secret (seeded, issued during the run, the client's) is in LOG
python3 helper.py hold LOCK            hold LOCK (an flock, as another run would) with a record of who holds it,
                                       print "held", and wait to be killed (at most 10 minutes)
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
import sys
import time
import urllib.request

import yaml

# The group's token set by module_defaults, which the token module ignores (and masks).
GROUP_TOKEN = 'sEcReT-group-token-0d9f'
# Store file -> users whose seeded pair it holds.
STORES = {
    'store-refresh.yml': ('carol', 'dave'),
    'store-vault.yml': ('erin', 'gina'),
    'store-lost.yml': ('harry', 'ivan'),
    'store-client.yml': ('kim', 'leo'),
}


def emulator_url(config):
    with open(config) as handle:
        return yaml.safe_load(handle)['exist_emulator_url']


def admin(url, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + '/_emulator/' + path, data=data, method=method, headers={'Content-Type': 'application/json'}
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read() or b'null')


def load_seed():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'seed.json')) as handle:
        return json.load(handle)


def prepare(config, directory):
    seed = load_seed()
    url = emulator_url(config)
    admin(url, 'POST', 'reset', seed)
    admin(url, 'POST', 'config', {'rate_limit': 0})
    now = datetime.datetime.now(datetime.timezone.utc)
    users = dict((user['username'], user) for user in seed['users'])
    for name, usernames in STORES.items():
        entries = {}
        for username in usernames:
            token = users[username]['tokens'][0]
            expires = now + datetime.timedelta(days=token['expires_in_days'])
            entries[username] = {
                'username': username,
                'access_token': token['token'],
                'refresh_token': token['refresh_token'],
                'expires_at': expires.strftime('%Y-%m-%dT%H:%M:%SZ'),
                'scope': ' '.join(token['scopes']),
            }
        path = os.path.join(directory, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as handle:
            yaml.safe_dump(entries, handle, default_flow_style=False)
    # A store that lists dave twice (a hand edit, a merge): refused whole.
    with open(os.path.join(directory, 'store-refresh.yml')) as handle:
        refresh_store = yaml.safe_load(handle)
    with open(
        os.open(os.path.join(directory, 'store-dup.yml'), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w'
    ) as handle:
        handle.write(yaml.safe_dump({'dave': refresh_store['dave']}, default_flow_style=False) * 2)
    with open(os.open(os.path.join(directory, 'vault-password'), os.O_WRONLY | os.O_CREAT, 0o600), 'w') as handle:
        handle.write('token-target-vault-password\n')


def hold(lock):
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    record = {'pid': os.getpid(), 'host': socket.gethostname(), 'since': '2027-01-01T00:00:00Z', 'by': 'helper.py'}
    os.write(fd, json.dumps(record).encode())
    print('held', flush=True)
    time.sleep(600)


def check(config, log):
    seed = load_seed()
    state = admin(emulator_url(config), 'GET', 'state')
    secrets = {GROUP_TOKEN, 'sEcReT-client-wrong-55aa'}
    for world in (seed, state):
        for client in world.get('clients') or []:
            secrets.add(client['client_secret'])
            secrets.update(code['code'] for code in client.get('codes') or [])
        for user in world['users']:
            for token in user.get('tokens') or []:
                secrets.update(value for value in (token.get('token'), token.get('refresh_token')) if value)
    with open(log) as handle:
        text = handle.read()
    leaks = sorted(secret for secret in secrets if secret in text)
    issued = len([s for s in secrets if not s.startswith('sEcReT-')])
    print(
        'checked %d lines of -vvvv output for %d secrets (%d issued during the run)'
        % (text.count('\n'), len(secrets), issued)
    )
    if issued < 8:
        sys.exit('fewer pairs were issued than the playbook should have: is the check looking at the right run?')
    if text.count('\n') < 300:
        sys.exit('the -vvvv output is suspiciously short')
    if leaks:
        sys.exit('%d secret(s) appear in the -vvvv output' % len(leaks))


if __name__ == '__main__':
    if sys.argv[1] == 'prepare':
        prepare(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'hold':
        hold(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3])
