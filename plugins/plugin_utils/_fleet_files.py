# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report's files: their names, the `latest` links, and which old reports to delete.

Internal to this collection, not a stable API. A report is two files with one
stem, exist-fleet-report-<playbook>-<UTC time>[-<n>], plus .json and .md;
exist-fleet-report-latest.json and .md point at the newest. The naming and
retention functions are pure (names in, names out); only replace_link() and
remove_reports() touch the file system.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from typing import Container, Iterable

from ansible_collections.existio.exist.plugins.plugin_utils._atomic_file import write_atomically

PREFIX = 'exist-fleet-report'
EXTENSIONS = ('.json', '.md')
LATEST_STEM = PREFIX + '-latest'
# Reports with no playbook name (ansible-runner's ad-hoc mode, a unit test): this stands in for it.
NO_PLAYBOOK = 'playbook'
# A report's stem: the playbook part is greedy, the UTC time and optional counter anchor the end.
_STEM = re.compile(r'^%s-(?P<playbook>.+)-(?P<time>\d{8}T\d{6}Z)(?:-(?P<counter>\d+))?$' % re.escape(PREFIX))
_UNSAFE = re.compile(r'[^A-Za-z0-9_.]+')


def playbook_part(playbook: str | None) -> str:
    """A playbook path as a file name part: its base name without .yml/.yaml, only letters, digits, '.', '_', '-'."""
    name = os.path.basename(playbook or '')
    for suffix in ('.yml', '.yaml'):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    name = _UNSAFE.sub('-', name).strip('-.')
    return name or NO_PLAYBOOK


def report_stem(playbook: str | None, moment: float) -> str:
    """exist-fleet-report-<playbook>-<YYYYmmddTHHMMSSZ> for a run of playbook started at moment (Unix time)."""
    return '%s-%s-%s' % (PREFIX, playbook_part(playbook), time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(moment)))


def unique_stem(stem: str, taken: Container[str]) -> str:
    """stem, or stem-2, stem-3...: the first whose files are none of taken (the names in the directory)."""
    candidate, counter = stem, 1
    while any(candidate + extension in taken for extension in EXTENSIONS):
        counter += 1
        candidate = '%s-%d' % (stem, counter)
    return candidate


def _report_key(name: str) -> tuple[str, str, int] | None:
    """(stem, time, counter) of a file of this callback's name pattern, else None (the latest links included)."""
    stem, extension = os.path.splitext(name)
    if extension not in EXTENSIONS:
        return None
    match = _STEM.match(stem)
    if match is None:
        return None
    return stem, match.group('time'), int(match.group('counter') or 1)


def expired_reports(names: Iterable[str], keep: int, current: str) -> list[str]:
    """The files to delete so that the current report (a stem) and at most keep older reports remain.

    Only names of this callback's pattern count; oldest first by the UTC time in the name, then the counter.
    keep 0 keeps every report.
    """
    if keep <= 0:
        return []
    stems: dict = {}
    for name in names:
        key = _report_key(name)
        if key is not None and key[0] != current:
            stems.setdefault(key[1:] + (key[0],), []).append(name)
    older = sorted(stems)
    doomed = older[: max(0, len(older) - keep)]
    return sorted(name for key in doomed for name in stems[key])


def latest_name(extension: str) -> str:
    return LATEST_STEM + extension


def replace_link(directory: str, target: str, data: bytes, mode: int) -> str:
    """Point directory/exist-fleet-report-latest<ext> at target (a file name in directory), atomically.

    A relative symbolic link, made beside the old one and renamed over it. Where the file system has no
    symbolic links, a copy of data written atomically instead. Returns 'link' or 'copy'.
    """
    link = os.path.join(directory, latest_name(os.path.splitext(target)[1]))
    temporary = os.path.join(directory, '.%s.%d.tmp' % (os.path.basename(link), os.getpid()))
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        os.symlink(target, temporary)
        os.replace(temporary, link)
        return 'link'
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    # No symbolic links here: replace a link that may be there by a regular file (rename replaces a link itself).
    write_atomically(link, data, mode)
    return 'copy'


def remove_reports(directory: str, names: Iterable[str]) -> list[str]:
    """Delete the named files of directory (best effort); the names deleted."""
    removed = []
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))
            removed.append(name)
    return removed
