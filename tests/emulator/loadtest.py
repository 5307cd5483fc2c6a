"""A bounded loopback load on the emulator: owned-list GETs from a few threads, printing requests per second.

Usage: python tests/emulator/loadtest.py [--requests 4000] [--threads 4]
It starts its own emulator on 127.0.0.1 (rate limit off) unless --url names a running one on loopback.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import threading
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from exist_emulator.testing import BackgroundEmulator  # noqa: E402  pylint: disable=wrong-import-position

PATH = "/api/2/attributes/owned/"


def _worker(host: str, port: int, count: int, errors: list) -> None:
    # One keep-alive connection per thread, as an HTTP client library with a session would use.
    conn = http.client.HTTPConnection(host, port, timeout=10)
    for dummy in range(count):
        conn.request("GET", PATH, headers={"Authorization": "Bearer demo-token"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            errors.append(response.status)
    conn.close()


def main() -> int:
    """Run the load and print the rate."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000, help="total requests (at most 20000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (at most 16)")
    parser.add_argument("--url", help="a running emulator on 127.0.0.1 with rate limiting off")
    args = parser.parse_args()
    total = max(1, min(args.requests, 20000))
    threads = max(1, min(args.threads, 16))
    server = None
    if args.url:
        parts = urlsplit(args.url)
        host, port = parts.hostname, parts.port
        if host not in ("127.0.0.1", "localhost", "::1"):
            parser.error("load is only sent to loopback")
    else:
        server = BackgroundEmulator().start()
        parts = urlsplit(server.url)
        host, port = parts.hostname, parts.port
    errors: list = []
    per_thread = total // threads
    workers = [threading.Thread(target=_worker, args=(host, port, per_thread, errors)) for dummy in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    done = per_thread * threads
    print(
        f"{done} requests from {threads} threads in {elapsed:.2f}s: {done / elapsed:.0f} requests/second, {len(errors)} errors"
    )
    if server is not None:
        server.stop()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
