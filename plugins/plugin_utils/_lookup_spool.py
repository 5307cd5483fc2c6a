# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The spool that carries the values lookup's request counts from the forked workers to the fleet report.

Internal to this collection, not a stable API. A lookup runs in a worker process that ansible-core forks for
each task; the fleet_report callback runs in the controller and never sees a lookup's result. So the callback
opens a spool (a 0700 directory under the system temp dir) at the start of the run and names it in an
environment variable, which the workers inherit; every lookup call appends one line
``{"host": inventory_hostname, "requests": n}`` to it; at the end the callback adds the lines to its users and
removes the spool. Without the callback there is no spool and the lookup writes nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
from typing import Callable, MutableMapping, Protocol


class _Tally(Protocol):
    """What a user's tally has for this module: its request count (UserTally of _fleet_tally.py)."""

    api_requests: int


# "<controller pid>:<spool directory>"; the pid keeps a nested ansible-playbook (a command task), which inherits
# the environment, from writing its own hosts into this run's spool.
SPOOL_VARIABLE = 'EXISTIO_EXIST_LOOKUP_SPOOL'
SPOOL_FILE = 'requests.jsonl'
# With O_APPEND each write() lands whole at the end of the file; a line is one write() of under 4 kB (a host name
# of 500 characters, JSON-escaped, is at most 3,000 bytes), so the lines of concurrent workers never mix.
MAX_HOST_LENGTH = 500


def open_spool() -> str:
    """Make the spool and name it for the workers forked from now on; the directory's path."""
    directory = tempfile.mkdtemp(prefix='existio-exist-lookup-')  # mode 0700
    os.environ[SPOOL_VARIABLE] = '%d:%s' % (os.getpid(), directory)
    # A run that ends without stats (interrupted) leaves nothing behind; only the controller removes it.
    atexit.register(_close_in, os.getpid(), directory)
    return directory


def _close_in(opener: int, directory: str) -> None:
    """close_spool at exit, in the process that opened the spool only (not in a forked child)."""
    if os.getpid() == opener:
        close_spool(directory)


def close_spool(directory: str) -> None:
    """Remove the spool and stop naming it (nothing happens when it is gone already)."""
    if os.environ.get(SPOOL_VARIABLE, '').endswith(':' + directory):
        del os.environ[SPOOL_VARIABLE]
    shutil.rmtree(directory, ignore_errors=True)


def _spool_of_this_run() -> str | None:
    """The spool directory when this process is the controller that opened it or one of its workers."""
    pid, sep, directory = os.environ.get(SPOOL_VARIABLE, '').partition(':')
    if not sep or not pid.isdigit() or not directory:
        return None
    if int(pid) not in (os.getpid(), os.getppid()):
        return None
    return directory if os.path.isdir(directory) else None


def record_requests(host: object, requests: int) -> bool:
    """Append one line for a lookup call of `host` that sent `requests` requests; whether it was written.

    Never raises: counting must not fail a lookup that read its values.
    """
    directory = _spool_of_this_run()
    if directory is None or not isinstance(host, str) or not host or len(host) > MAX_HOST_LENGTH or requests <= 0:
        return False
    line = (json.dumps(dict(host=host, requests=int(requests)), sort_keys=True) + '\n').encode('utf-8')
    try:
        fd = os.open(os.path.join(directory, SPOOL_FILE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            return os.write(fd, line) == len(line)
        finally:
            os.close(fd)
    except OSError:
        return False


def read_spool(directory: str) -> dict[str, int]:
    """{host: requests} of the spool's lines; a line that is not one of ours is skipped."""
    totals: dict[str, int] = {}
    try:
        with open(os.path.join(directory, SPOOL_FILE), 'rb') as spool:
            lines = spool.read().decode('utf-8', errors='replace').splitlines()
    except OSError:
        return totals
    for line in lines:
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            host, requests = entry['host'], entry['requests']
            if isinstance(host, str) and isinstance(requests, int) and not isinstance(requests, bool) and requests > 0:
                totals[host] = totals.get(host, 0) + requests
    return totals


def add_spooled_requests(
    directory: str | None, users: MutableMapping[str, _Tally], new_user: Callable[[str], _Tally]
) -> dict[str, int]:
    """Add the spooled requests to the users' tallies (`users`: {host: tally with api_requests}), then remove the
    spool. A host no task of the collection ran for gets a tally from new_user(host). The {host: requests} added.
    """
    if directory is None:
        return {}
    try:
        totals = read_spool(directory)
    finally:
        close_spool(directory)
    for host, requests in totals.items():
        user = users.get(host)
        if user is None:
            user = users[host] = new_user(host)
        user.api_requests += requests
    return totals
