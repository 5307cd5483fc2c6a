# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The errors of this collection's talk with Exist, for every caller to catch by kind.

Internal to this collection, not a stable API.
"""

from __future__ import annotations


class ExistError(Exception):
    """Any failure talking to Exist. The message never holds the token.

    may_be_applied: True only when a write was sent and whether Exist applied
    it is unknown; every other failure means nothing was applied.
    """

    may_be_applied = False

    def __init__(
        self,
        message: str,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.detail = detail


class ExistConfigError(ExistError):
    """The connection options are unusable; raised before any request."""


class ExistApiError(ExistError):
    """Exist answered with an error status, a read failed, or a read's answer
    was malformed. For a write: the request was refused or never sent."""


class ExistRateLimited(ExistApiError):
    """Exist kept answering 429 for longer than rate_limit_wait allows."""


class ExistRequestCapReached(ExistApiError):
    """The task already sent MAX_REQUESTS_PER_TASK requests; nothing more is sent."""


class ExistOutcomeUnknown(ExistError):
    """A write was sent, but whether Exist applied it is unknown (timeout,
    dropped connection, 5xx, or a 2xx answer that is not Exist's shape).
    Callers must re-read the state."""

    may_be_applied = True
