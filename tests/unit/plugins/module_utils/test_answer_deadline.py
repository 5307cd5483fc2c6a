# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""`timeout` bounds the whole answer, headers included: a server trickling bytes is cut off.

Against real sockets: the emulator's `trickle` fault (the whole answer a byte at a time, over HTTP and HTTPS),
and a bare server that sends its headers at once and then trickles the body.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time

import pytest

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError, ExistOutcomeUnknown
from ansible_collections.existio.exist.plugins.plugin_utils._oauth_client import OAuthClient
from exist_emulator.testing import BackgroundEmulator
from exist_emulator.tls import make_test_ca

TOKEN = 'demo-token'
# Far longer than any timeout below: a client that waits for the whole trickle fails the time bound.
TRICKLE = 0.05
TIMEOUT = 1
# What one attempt may take beyond its timeout on a busy test machine.
SLACK = 2.5


@pytest.fixture(scope='module')
def emulator():
    with BackgroundEmulator() as running:
        yield running


@pytest.fixture(scope='module')
def tls_emulator(tmp_path_factory):
    files = make_test_ca(str(tmp_path_factory.mktemp('ca')))
    with BackgroundEmulator(tls_cert=files['cert'], tls_key=files['key'], ca_file=files['ca']) as running:
        yield running, files['ca']


@pytest.fixture(autouse=True)
def fresh(emulator):
    emulator.admin.reset()
    yield
    emulator.admin.clear_faults()


def make_client(url, **kwargs):
    options = dict(timeout=TIMEOUT, retries=0, warn=lambda message: None, sleep=lambda seconds: None)
    options.update(kwargs)
    return ExistClient.connect(url, TOKEN, **options)


def timed(call):
    started = time.monotonic()
    try:
        call()
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def test_a_read_whose_whole_answer_trickles_fails_within_timeout(emulator):
    emulator.admin.faults([{'path': '/api/2/accounts/profile/', 'trickle': TRICKLE}])
    client = make_client(emulator.url)
    error, elapsed = timed(client.profile)
    assert isinstance(error, ExistApiError) and not isinstance(error, ExistOutcomeUnknown)
    assert 'sent no complete answer within 1 s' in error.message
    assert elapsed < TIMEOUT + SLACK
    # The connection that was cut is not used again: the next request gets a fresh one and its answer.
    assert client.profile()['username'] == 'demo'
    assert client.requests_sent == 2


def test_a_trickled_read_is_retried_and_every_attempt_is_bounded(emulator):
    emulator.admin.faults([{'path': '/api/2/accounts/profile/', 'trickle': TRICKLE, 'times': 2}])
    warned = []
    client = make_client(emulator.url, retries=2, warn=warned.append)
    error, elapsed = timed(client.profile)
    assert error is None
    assert client.requests_sent == 3
    assert len(warned) == 2 and all('sent no complete answer within 1 s' in text for text in warned)
    assert elapsed < 2 * (TIMEOUT + SLACK)


def test_a_write_whose_answer_trickles_is_an_unknown_outcome_not_retried(emulator):
    emulator.admin.faults([{'method': 'POST', 'path': '/api/2/attributes/update/', 'trickle': TRICKLE}])
    client = make_client(emulator.url, retries=3)
    error, elapsed = timed(lambda: client.update([{'name': 'coffees', 'date': '2026-11-27', 'value': 2}]))
    assert isinstance(error, ExistOutcomeUnknown)
    assert 'sent no complete answer within 1 s' in error.message
    assert 'whether Exist applied the write is unknown' in error.message
    assert client.requests_sent == 1
    assert elapsed < TIMEOUT + SLACK


def test_a_token_request_whose_answer_trickles_is_an_unknown_outcome(emulator):
    emulator.admin.faults([{'path': '/oauth2/access_token', 'trickle': TRICKLE}])
    client = OAuthClient.without_access_token(emulator.url, timeout=TIMEOUT, retries=3, sleep=lambda seconds: None)
    form = {
        'grant_type': 'refresh_token',
        'refresh_token': 'demo-refresh',
        'client_id': 'demo-client',
        'client_secret': 'demo-secret',
    }
    error, elapsed = timed(lambda: client.oauth_token(form))
    assert isinstance(error, ExistOutcomeUnknown)
    assert 'whether Exist issued a new token pair is unknown' in error.message
    assert 'demo-refresh' not in error.message and 'demo-secret' not in error.message
    assert client.requests_sent == 1
    assert elapsed < TIMEOUT + SLACK


def test_a_slow_answer_inside_timeout_is_read_whole(emulator):
    emulator.admin.faults([{'path': '/api/2/accounts/profile/', 'trickle': 0.001}])
    client = make_client(emulator.url, timeout=30)
    assert client.profile()['username'] == 'demo'


def test_a_trickle_over_tls_is_cut_off_too(tls_emulator):
    running, ca = tls_emulator
    assert running.url.startswith('https://')
    running.admin.faults([{'path': '/api/2/accounts/profile/', 'trickle': TRICKLE}])
    client = make_client(running.url, ca_path=ca)
    error, elapsed = timed(client.profile)
    assert isinstance(error, ExistApiError)
    assert 'sent no complete answer within 1 s' in error.message
    assert elapsed < TIMEOUT + SLACK
    assert client.profile()['username'] == 'demo'


@pytest.fixture(params=['keep-alive', 'close'])
def body_trickler(request):
    """A bare HTTP server: the headers at once, then a 2,000-byte body one byte every TRICKLE seconds; kept alive,
    or saying `Connection: close` (http.client then hands the socket from the connection to the answer)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', 0))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, dummy = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(
                        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n'
                        b'Connection: %s\r\n\r\n' % request.param.encode()
                    )
                    for dummy in range(2000):
                        if stop.is_set():
                            break
                        conn.sendall(b' ')
                        time.sleep(TRICKLE)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(5)


def test_a_body_that_trickles_after_quick_headers_is_cut_off(body_trickler):
    client = make_client(body_trickler)
    error, elapsed = timed(lambda: client.get('/api/2/accounts/profile/'))
    assert isinstance(error, ExistApiError)
    assert 'sent no complete answer within 1 s' in error.message
    assert elapsed < TIMEOUT + SLACK


def test_one_watchdog_thread_serves_every_request(emulator):
    def watchdogs():
        return [thread for thread in threading.enumerate() if thread.name == 'existio-answer-deadline']

    client = make_client(emulator.url)
    for dummy in range(5):
        client.profile()
    assert len(watchdogs()) == 1
    assert watchdogs()[0].daemon


def _trickled_profile_in_child(url, queue):
    client = make_client(url)
    error, elapsed = timed(client.profile)
    queue.put((type(error).__name__, getattr(error, 'message', ''), elapsed))


def test_a_forked_worker_cuts_a_trickle_off_too(emulator):
    """Ansible forks its workers: the parent's watchdog thread is not in the child, which must start its own."""
    make_client(emulator.url).profile()  # the watchdog runs in this (parent) process now
    emulator.admin.faults([{'path': '/api/2/accounts/profile/', 'trickle': TRICKLE}])
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    child = context.Process(target=_trickled_profile_in_child, args=(emulator.url, queue))
    child.start()
    try:
        name, message, elapsed = queue.get(timeout=TIMEOUT + 2 * SLACK)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert name == 'ExistApiError'
    assert 'sent no complete answer within 1 s' in message
    assert elapsed < TIMEOUT + SLACK
