# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one set of secrets every plugin masks with, and how a text is masked.

Internal to this collection, not a stable API. A secret (an access or
refresh token, a client secret, an authorisation code) counts as given and as
stripped of surrounding whitespace, as the client sends it; a message shows
MASK wherever either occurs. The longest secrets are masked first, so a
secret inside another cannot leave a piece of the longer one in the text.
"""

from __future__ import annotations

from typing import Iterator

# What a masked secret reads as (as ansible-core's no_log masks part of a string).
MASK = '********'


class Secrets:
    """A set of secrets; iterating gives each form once."""

    def __init__(self, *values: object) -> None:
        self._values: set = set()
        self.add(*values)

    def add(self, *values: object) -> Secrets:
        """Count these as secrets (a text of only spaces, or no text, is none)."""
        for value in values:
            if isinstance(value, str) and value.strip():
                self._values.update((value, value.strip()))
        return self

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._values, key=len, reverse=True))

    def __len__(self) -> int:
        return len(self._values)

    def mask(self, text: object) -> str:
        """text (made a str) with every secret replaced by MASK."""
        text = text if isinstance(text, str) else str(text)
        for secret in self:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
