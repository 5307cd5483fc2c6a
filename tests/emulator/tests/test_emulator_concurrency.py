"""Many clients at once: 50 simultaneous connections, keep-alive, and a consistent world under the lock."""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from emulator_helpers import seed_with

CLIENTS = 50


def _connection(exist) -> http.client.HTTPConnection:
    parts = urlsplit(exist.base)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)


def test_fifty_concurrent_connections(exist):
    """50 connections open at the same time, each sending requests over keep-alive, all answered 200."""
    barrier = threading.Barrier(CLIENTS)

    def client() -> list[int]:
        conn = _connection(exist)
        conn.connect()
        # Every connection is open before anyone sends, so the server holds 50 at once.
        barrier.wait(timeout=20)
        statuses = []
        for dummy in range(3):
            conn.request("GET", "/api/2/attributes/owned/", headers={"Authorization": "Bearer demo-token"})
            response = conn.getresponse()
            body = json.loads(response.read())
            assert body["count"] == 1
            statuses.append(response.status)
        conn.close()
        return statuses

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [future.result() for future in [pool.submit(client) for dummy in range(CLIENTS)]]
    assert results == [[200, 200, 200]] * CLIENTS


def test_concurrent_increments_are_consistent(exist):
    """50 clients incrementing one value at once lose no update."""
    exist.admin.reset(seed_with([{"template": "coffees", "service": "demo_service", "values": {"2026-11-27": 0}}]))

    def bump() -> int:
        conn = _connection(exist)
        body = json.dumps([{"name": "coffees", "value": 1, "date": "2026-11-27"}])
        conn.request(
            "POST",
            "/api/2/attributes/increment/",
            body=body,
            headers={"Authorization": "Bearer demo-token", "Content-Type": "application/json"},
        )
        status = conn.getresponse().status
        conn.close()
        return status

    with ThreadPoolExecutor(CLIENTS) as pool:
        assert {future.result() for future in [pool.submit(bump) for dummy in range(CLIENTS)]} == {200}
    assert exist.attribute("coffees")["values"] == {"2026-11-27": CLIENTS}


def test_keep_alive_reuses_one_connection(exist):
    """HTTP/1.1 keep-alive: several requests, including errors, travel over one connection with Content-Length."""
    conn = _connection(exist)
    conn.connect()
    sock = conn.sock
    for path, expected in (("/api/2/attributes/", 200), ("/api/2/nope/", 404), ("/api/2/accounts/profile/", 200)):
        conn.request("GET", path, headers={"Authorization": "Bearer demo-token"})
        response = conn.getresponse()
        assert response.status == expected
        assert int(response.getheader("Content-Length")) == len(response.read())
        assert response.version == 11
    assert conn.sock is sock
    conn.close()
