# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Replace a file whole and atomically: a reader sees the old file or the new one, never a mixture.

Internal to this collection, not a stable API. The token store and the
fleet_report callback write their files through write_atomically().
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def write_atomically(path: str, data: bytes, mode: int) -> str:
    """Replace path with data (bytes), with mode, through a temporary file beside it; return path.

    The temporary file (.NAME.XXXX.tmp, in path's directory so that the rename stays on one file system) is
    given mode whatever the umask, written, flushed and fsynced, then renamed over path, and the directory
    fsynced (best effort). path is replaced as given: a caller that writes through a symbolic link passes the
    file it points to. Any failure removes the temporary file and raises (an OSError for the system's refusals).
    """
    directory = os.path.dirname(path) or os.curdir
    temporary = None
    try:
        fd, temporary = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # On POSIX (the controller) os.rename replaces an existing file atomically, as os.replace does.
        os.rename(temporary, path)
    except BaseException:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise
    # The rename itself is durable only once the directory is.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path
