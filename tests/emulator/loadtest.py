"""A bounded loopback load on the emulator, printing requests per second (and the emulator's CPU when it can).

Usage: python tests/emulator/loadtest.py [--requests 4000] [--threads 4] [--fleet N[,ATTRIBUTES]] [--new-connections]
       [--url URL]

Without --fleet: owned-list GETs with demo-token. With --fleet: the fleet world (exist_emulator.fleet), each request
one user's full attribute list (GET /api/2/attributes/?include_inactive=true&include_low_priority=true&limit=100,
the one read a converge task makes per user), users taken in turn. One keep-alive connection per thread, or with
--new-connections a new connection per request (as separate processes such as Ansible's forks make them).
It starts its own emulator on 127.0.0.1 (rate limit off) in this process unless --url names a running one on
loopback (started with the same --fleet, rate limit 0): then the emulator's own CPU time is printed too.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import sys
import threading
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position
from exist_emulator.admin import Admin  # noqa: E402
from exist_emulator.fleet import fleet_seed, fleet_username  # noqa: E402
from exist_emulator.testing import BackgroundEmulator  # noqa: E402

OWNED_PATH = "/api/2/attributes/owned/"
FLEET_PATH = "/api/2/attributes/?include_inactive=true&include_low_priority=true&limit=100"


def _worker(host: str, port: int, jobs, lock: threading.Lock, new_connections: bool, errors: list) -> None:
    conn = None
    while True:
        with lock:
            job = next(jobs, None)
        if job is None:
            break
        path, token = job
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            errors.append(response.status)
        if new_connections:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def _fleet_size(text: str) -> tuple[int, int]:
    users, dummy, attributes = text.partition(",")
    return int(users), int(attributes) if attributes else 20


def main() -> int:
    """Run the load and print the rate."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000, help="total requests (at most 50000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (at most 64)")
    parser.add_argument("--fleet", type=_fleet_size, metavar="N[,ATTRIBUTES]", help="load a fleet of N users")
    parser.add_argument("--new-connections", action="store_true", help="a new connection for every request")
    parser.add_argument("--url", help="a running emulator on 127.0.0.1 with rate limiting off")
    args = parser.parse_args()
    total = max(1, min(args.requests, 50000))
    threads = max(1, min(args.threads, 64))
    server = None
    if args.url:
        parts = urlsplit(args.url)
        host, port = parts.hostname, parts.port
        if host not in ("127.0.0.1", "localhost", "::1"):
            parser.error("load is only sent to loopback")
    else:
        seed = fleet_seed(*args.fleet) if args.fleet else None
        server = BackgroundEmulator(seed=seed).start()
        parts = urlsplit(server.url)
        host, port = parts.hostname, parts.port
    if args.fleet:
        users = args.fleet[0]
        tokens = itertools.cycle(f"fleet-token-{fleet_username(index, users)[4:]}" for index in range(1, users + 1))
        jobs = iter([(FLEET_PATH, next(tokens)) for dummy in range(total)])
    else:
        jobs = iter([(OWNED_PATH, "demo-token")] * total)
    admin = Admin(args.url) if args.url else None
    before = admin.stats() if admin else None
    errors: list = []
    lock = threading.Lock()
    workers = [
        threading.Thread(target=_worker, args=(host, port, jobs, lock, args.new_connections, errors))
        for dummy in range(threads)
    ]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    what = f"fleet {args.fleet[0]}x{args.fleet[1]}" if args.fleet else "owned list"
    connections = "a new connection per request" if args.new_connections else "keep-alive"
    print(
        f"{what}, {connections}: {total} requests from {threads} threads in {elapsed:.2f}s: "
        f"{total / elapsed:.0f} requests/second, {len(errors)} errors"
    )
    if before is not None:
        after = admin.stats()
        cpu = after["cpu_seconds"] - before["cpu_seconds"]
        print(
            f"emulator: {after['requests'] - before['requests']} requests, {cpu:.2f} CPU seconds "
            f"({cpu / elapsed:.0%} of one core; {cpu / total * 1e3:.2f} ms per request)"
        )
    if server is not None:
        server.stop()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
