# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures every unit test may use: the emulated Exist, a client bound to it, action plugins, no network.

Internal to this collection, not a stable API.

- exist_seed: the world `exist` starts from (one user, no attribute); override it in a module, or
  parametrize it, for another world;
- exist: an EmulatedExist (tests/unit/plugins/emulated.py) seeded with exist_seed: .client(), .fault(),
  .log, .attribute(name), .values(name);
- make_exist(seed=None, **one_user_seed options): more worlds in one test;
- exist_client: exist.client();
- make_action(cls, args, ...): an action plugin with a mocked task, connection and play context;
- rec: a Recorder (tests/unit/plugins/http_boundary.py) of a client's warnings and sleeps;
- no_network (autouse): a test that opens a connection to anything but loopback fails, naming it.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import settings

from ansible_collections.existio.exist.tests.unit.plugins.emulated import EmulatedExist, build_action, one_user_seed
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import Recorder

# A property test's examples are timed against a 200 ms deadline by default: on a loaded two-core CI machine
# that fails tests at random. What they check is behaviour, not speed (the benchmarks measure that).
settings.register_profile('existio', deadline=None)
settings.load_profile('existio')

# -- no network ------------------------------------------------------------------------------------------------


class NetworkRefused(AssertionError):
    """A unit test tried to reach the network. An AssertionError, so that no `except OSError` hides it."""


def _is_loopback(address):
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return False
    if host.lower() == 'localhost':
        return True
    try:
        ip = ipaddress.ip_address(host.split('%')[0])
    except ValueError:
        return False
    mapped = getattr(ip, 'ipv4_mapped', None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Refuse every connection a test opens to an address that is not loopback (Unix sockets pass).

    Yields the addresses refused so far; any left at teardown fail the test.
    """
    attempts = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            attempts.append(address)
            raise NetworkRefused('a unit test tried to connect to %r; unit tests use loopback only' % (address,))

    def connect(sock, address):
        guard(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        guard(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, 'connect', connect)
    monkeypatch.setattr(socket.socket, 'connect_ex', connect_ex)
    yield attempts
    # Also when the code under test caught the refusal and carried on.
    if attempts:
        pytest.fail('the test tried to reach the network: %s' % ', '.join(repr(a) for a in attempts))


# -- the emulated Exist ----------------------------------------------------------------------------------------


@pytest.fixture
def exist_seed():
    """The world `exist` starts from: one user, no attribute (override or parametrize for another)."""
    return one_user_seed()


@pytest.fixture
def exist(exist_seed):
    return EmulatedExist(exist_seed)


@pytest.fixture
def make_exist():
    """make_exist(seed=None, **one_user_seed options) -> a further EmulatedExist."""

    def make(seed=None, **options):
        return EmulatedExist(seed if seed is not None else one_user_seed(**options))

    return make


@pytest.fixture
def exist_client(exist):
    return exist.client()


# -- action plugins --------------------------------------------------------------------------------------------


@pytest.fixture
def make_action():
    """make_action(cls, args, ...): build_action of emulated.py (test files that build actions outside a
    fixture call it directly)."""
    return build_action


# -- a client's warnings and sleeps ----------------------------------------------------------------------------


@pytest.fixture
def rec():
    """What a client warned and how long it would have slept: pass rec.warn and rec.sleep to it."""
    return Recorder()


@pytest.fixture
def store_reads(monkeypatch):
    """The paths of the token stores read (TokenStore.load), in order, from an empty cache of access tokens."""
    # Controller code, imported only by the tests that use it (module tests must not import it).
    from ansible_collections.existio.exist.plugins.plugin_utils import _token_store

    _token_store.forget_access_tokens()
    paths = []
    original = _token_store.TokenStore.load

    def counted(self):
        paths.append(self.path)
        return original(self)

    monkeypatch.setattr(_token_store.TokenStore, 'load', counted)
    yield paths
    _token_store.forget_access_tokens()
