# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A deadline on one whole HTTP exchange: connecting, sending, the headers and the body.

Internal to this collection, not a stable API.

requests' own timeout bounds each socket operation, not the answer: a server
that sends a byte every second never lets a single read time out, and can
hold a task (or a token refresh) for as long as it likes. Here every
connection the session uses is watched while an exchange runs, and when the
exchange's time is up a watchdog thread shuts the connection's socket down. The
blocked read then returns at once, and the client, seeing that the deadline
fired, reports the answer as late.

Sessions get this through WatchedAdapter, mounted for http:// and https://.
A connection joins the exchange that the calling thread is running (a
thread-local), so nothing has to be threaded through requests and urllib3.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Literal

try:
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    HAS_REQUESTS = True
except ImportError:  # the module reports the missing library; nothing here is used then
    HAS_REQUESTS = False
    HTTPAdapter = HTTPConnection = HTTPSConnection = HTTPConnectionPool = HTTPSConnectionPool = object  # type: ignore[misc,assignment]

_current = threading.local()


class _Watchdog:
    """One thread per process that fires every deadline whose time has come.

    One long-lived thread rather than a timer per request: starting a thread costs more than a converged
    task's whole plan. It starts on first use, and again in a forked child (Ansible's workers), where
    the parent's thread does not exist.
    """

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, 'register_at_fork'):
            # A lock held by the parent's thread at fork time would stay held in the child for ever.
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._pending: list = []
        self._thread: threading.Thread | None = None
        self._wakes_at = None  # when the thread wakes up next by itself; None: only when told

    def add(self, deadline: AnswerDeadline) -> None:
        with self._condition:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name='existio-answer-deadline', daemon=True)
                self._thread.start()
            self._pending.append(deadline)
            if self._wakes_at is None or deadline.at < self._wakes_at:
                # Only a deadline earlier than the thread's next wake-up needs to wake it (waking costs a switch).
                self._condition.notify()

    def remove(self, deadline: AnswerDeadline) -> None:
        with self._condition:
            if deadline in self._pending:
                self._pending.remove(deadline)

    def _run(self) -> None:
        condition = self._condition
        with condition:
            while condition is self._condition:
                now = time.monotonic()
                for deadline in [pending for pending in self._pending if pending.at <= now]:
                    self._pending.remove(deadline)
                    deadline.fire()
                self._wakes_at = min(pending.at for pending in self._pending) if self._pending else None
                condition.wait(self._wakes_at - now if self._wakes_at is not None else None)


_watchdog = _Watchdog()


class AnswerDeadline:
    """One exchange's deadline, used as a context manager around the request and the reading of its body.

    fired: the time ran out and the connection was shut down.
    sending: a request was started on a connection (so it may have reached the server).
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.fired = False
        self.sending = False
        self._connections: list = []
        self._lock = threading.Lock()

    def __enter__(self) -> AnswerDeadline:
        _current.deadline = self
        _watchdog.add(self)
        return self

    def __exit__(self, *exc_info: object) -> Literal[False]:
        _watchdog.remove(self)
        _current.deadline = None
        with self._lock:
            self._connections = []
        return False

    def watch(self, connection: HTTPConnection, sending: bool = False) -> None:
        """Shut connection down when the time runs out (at once if it already has)."""
        with self._lock:
            self.sending = self.sending or sending
            if all(connection is not known for known in self._connections):
                self._connections.append(connection)
            if self.fired:
                _shut_down(connection)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            for connection in self._connections:
                _shut_down(connection)


def _shut_down(connection: HTTPConnection) -> None:
    # An answer that says `Connection: close` takes the socket off its connection (http.client hands it to
    # the response), so the socket this connection opened is the one to shut.
    sock = getattr(connection, 'sock', None) or getattr(connection, 'watched_socket', None)
    if sock is None:
        return
    try:
        # The plain socket's shutdown, also for a TLS socket: ssl.SSLSocket.shutdown would drop the
        # TLS object under the thread still reading from it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass  # already closed: nothing left to stop


def _watch(connection: Any, sending: bool = False) -> None:
    deadline = getattr(_current, 'deadline', None)
    if deadline is not None:
        deadline.watch(connection, sending)


class _WatchedConnection:
    """Joins the running exchange's deadline when it connects and when it sends a request."""

    watched_socket = None
    sock: socket.socket | None  # the connection class's, beside this one in the subclass

    def connect(self) -> None:
        _watch(self)
        super().connect()  # type: ignore[misc]
        self.watched_socket = self.sock
        _watch(self)  # the socket exists now: a deadline that fired while connecting shuts it at once

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _watch(self, sending=True)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


WATCHED_POOLS = {'http': _WatchedHTTPPool, 'https': _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections that AnswerDeadline can shut down (direct and through an HTTP proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # A SOCKS proxy's manager has connection classes of its own; its answers are bounded after the fact.
        if not proxy.lower().startswith('socks'):
            manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager
