# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The emulator in process for the unit tests: one seeded world, clients bound to it, faults on demand.

Internal to this collection, not a stable API. tests/unit/conftest.py wraps these in fixtures; the
Hypothesis tests, which need a fresh world per example, call them directly.

    exist = EmulatedExist(one_user_seed(attributes=[{'template': 'mood', 'service': 'me'}]))
    client = exist.client()
    exist.fault('lost_after', path='/api/2/attributes/update/')
    ...
    exist.log  # [(method, path), ...] of every request the clients sent
"""

from __future__ import annotations

import http.client
import io
import json
from unittest.mock import MagicMock
from urllib.parse import parse_qsl, urlsplit

import requests

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from exist_emulator.server import Emulator
from exist_emulator.testing import InProcessAdapter
from exist_emulator.world import world_from_seed

# Any URL reaches the adapter; this one only has to look like Exist's.
BASE = 'http://127.0.0.1:8787'
TOKEN = 'unit-test-token'
USER = 'u'
ME = 'me'
OWNED = '/api/2/attributes/owned/'


def listed_attribute(name, **fields):
    """A whole attribute object as Exist's lists give it (templated; fields override), for stubbed answers."""
    obj = {
        'template': name,
        'name': name,
        'label': name.replace('_', ' ').capitalize(),
        'group': {'name': 'mood', 'label': 'Mood', 'priority': 3},
        'subgroup': None,
        'service': None,
        'active': True,
        'priority': 1,
        'manual': False,
        'value_type': 0,
        'value_type_description': 'Integer',
        'available_services': [],
    }
    obj.update(fields)
    return obj


def one_user_seed(
    attributes=(),
    scopes=('all',),
    services=((ME, 'Me'),),
    timezone='UTC',
    token=TOKEN,
    more_tokens=(),
):
    """A world of one user, USER, whose oauth2 token `token` acts as service ME with `scopes`.

    attributes: the user's attributes in the emulator's seed format; services: (name, label) of every
    service that may own one (ME first); more_tokens: further token entries of the seed format.
    """
    return {
        'services': [{'name': name, 'label': label} for name, label in services],
        'clients': [],
        'users': [
            {
                'username': USER,
                'timezone': timezone,
                'tokens': [{'token': token, 'service': ME, 'scopes': list(scopes), 'kind': 'oauth2'}]
                + list(more_tokens),
                'attributes': list(attributes),
            }
        ],
    }


def bind(client, adapter):
    """Route every request of an ExistClient to `adapter`: the one place that knows where its session is."""
    client._session.mount('http://', adapter)
    return client


# -- faults: what a misbehaving server or network does to one request -----------------------------------------


def respond(request, status, payload):
    """A response to `request` carrying `payload` as JSON, as a server would send it."""
    response = requests.models.Response()
    response.status_code = status
    response.headers['Content-Type'] = 'application/json'
    response.raw = io.BytesIO(json.dumps(payload).encode('utf-8'))
    response.url = request.url
    response.request = request
    return response


def error_before(status=503):
    """Answer `status` without handing the request to the emulator: nothing is applied."""
    return lambda forward, request: respond(request, status, {'detail': http.client.responses.get(status, 'Error')})


def error_after(status=502):
    """Apply the request, then answer `status` instead of the emulator's answer."""

    def fault(forward, request):
        forward(request)
        return respond(request, status, {'detail': http.client.responses.get(status, 'Error')})

    return fault


def raise_before(exception):
    """Lose the request on its way: the client sees `exception`, and nothing is applied."""

    def fault(forward, request):
        raise exception

    return fault


def raise_after(exception):
    """Apply the request, then lose the answer: the client sees `exception`."""

    def fault(forward, request):
        forward(request)
        raise exception

    return fault


def malformed_after(forward, request):
    """Apply the request, then answer 200 with a body that is not Exist's."""
    forward(request)
    return respond(request, 200, ['not', 'an', 'answer'])


def partial_after(forward, request):
    """Apply the request, then answer a write's success list without its first entry."""
    response = forward(request)
    if request.method != 'POST':
        return response
    body = json.loads(response.content)
    body['success'] = body.get('success', [])[1:]
    return respond(request, response.status_code, body)


FAULTS = {
    'ok': lambda forward, request: forward(request),
    'lost_after': raise_after(requests.exceptions.ReadTimeout('the answer was lost')),
    'error_before': error_before(503),
    'error_after': error_after(502),
    'malformed_after': malformed_after,
    'partial_after': partial_after,
    'refused': error_before(400),
}


class _Rule:
    def __init__(self, fault, method, path, nth, times):
        self.fault = FAULTS[fault] if isinstance(fault, str) else fault
        self.method = method
        self.path = path
        self.skip = nth - 1
        self.left = times  # None: every matching request from the nth on

    def take(self, method, path):
        """Whether this rule faults this request (counting it when it matches)."""
        if (self.method and method != self.method) or (self.path and path != self.path):
            return False
        if self.skip:
            self.skip -= 1
            return False
        if self.left is None:
            return True
        if self.left:
            self.left -= 1
            return True
        return False


class RecordingAdapter(InProcessAdapter):
    """The emulator in process, with a log of every request and faults by rule.

    sent: (method, path, query, body) of every request, body decoded from JSON (None without one).
    """

    def __init__(self, emulator):
        super().__init__(emulator)
        self.sent = []
        self.rules = []

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        body = json.loads(request.body) if request.body else None
        self.sent.append((request.method, parts.path, dict(parse_qsl(parts.query)), body))
        # Every rule counts every request it matches, whichever one faults it.
        firing = [rule for rule in self.rules if rule.take(request.method, parts.path)]
        if firing:
            return firing[0].fault(lambda sent: super(RecordingAdapter, self).send(sent, **kwargs), request)
        return super().send(request, **kwargs)


class EmulatedExist:
    """One emulated world (rate limiting off) and the adapter every client bound to it talks through."""

    def __init__(self, seed=None):
        self.emulator = Emulator(world_from_seed(seed if seed is not None else one_user_seed()), rate_limit=0)
        self.adapter = RecordingAdapter(self.emulator)

    def client(self, token=TOKEN, **options):
        """An ExistClient for `token` bound to this world; it never sleeps (retries and 429 waits are instant)."""
        options.setdefault('sleep', lambda seconds: None)
        return bind(ExistClient.connect(BASE, token, **options), self.adapter)

    def fault(self, fault, method=None, path=None, nth=1, times=1):
        """Fault the nth request matching method and path (None: any), and times-1 more (times None: all).

        fault: a name of FAULTS, or a function (forward, request) -> response, where forward(request)
        hands the request to the emulator and returns its answer.
        """
        self.adapter.rules.append(_Rule(fault, method, path, nth, times))

    def clear_faults(self):
        self.adapter.rules[:] = []

    @property
    def log(self):
        """(method, path) of every request sent so far."""
        return [(method, path) for method, path, unused_query, unused_body in self.adapter.sent]

    def clear_log(self):
        self.adapter.sent[:] = []

    @property
    def writes(self):
        """How many requests other than GETs reached the emulator."""
        return self.adapter.writes

    @property
    def user(self):
        return self.emulator.world.users[USER]

    def attribute(self, name):
        """The emulator's own record of one of USER's attributes (None if the user lacks it)."""
        return self.user.attributes.get(name)

    def values(self, name):
        """{day: value} the emulator holds for one of USER's attributes."""
        return dict(self.user.attributes[name].values)


def build_action(
    cls,
    args,
    transport='local',
    check_mode=False,
    diff=False,
    become=False,
    environment=None,
    action='existio.exist.attribute',
    vault_secrets=None,
    module_answer=None,
):
    """build_action(cls, args, ...) -> an action plugin as ansible-core builds it for a task, all mocked.

    transport: the connection's; action: the task's action name; vault_secrets: given, the loader holds
    them (else the plugin has no loader); module_answer: what _execute_module returns (a dict), or raises
    (an exception).
    """
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.environment = environment if environment is not None else [{}]
    task.action = action
    connection = MagicMock()
    connection.transport = transport
    connection.has_native_async = False
    play_context = MagicMock()
    play_context.check_mode = check_mode
    play_context.diff = diff
    play_context.become = become
    templar = MagicMock()
    templar.template.side_effect = lambda value: value
    loader = None
    if vault_secrets is not None:
        loader = MagicMock()
        loader._vault.secrets = vault_secrets
    plugin = cls(task, connection, play_context, loader=loader, templar=templar, shared_loader_obj=None)
    if module_answer is None:
        module_answer = {'changed': False, 'from_module': True}
    if isinstance(module_answer, BaseException):
        plugin._execute_module = MagicMock(side_effect=module_answer)
    else:
        plugin._execute_module = MagicMock(return_value=module_answer)
    return plugin
