# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a task did, or in check mode would do: the one typed outcome every resource returns.

Internal to this collection, not a stable API. A resource fills an Outcome
(its lists of changed items under the shared result keys, the items that
failed, the errors that are no item's, what was done in words, the diff) and
the Outcome alone writes the Ansible result and its one failure message, so
every module words a partial failure the same way. One resource consumes
another's Outcome by its attributes (values read ownership's `acquired`),
never by result-dict keys.
"""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.module_utils._result_keys import FAILED_ITEMS


class Outcome:
    """Subclasses name their lists in LISTS (result keys, each also an attribute) and say how to word a failed item."""

    LISTS: tuple[str, ...] = ()
    ITEMS = 'item(s)'  # what a failed item is, in the failure message

    def __init__(self, check_mode: bool = False) -> None:
        self.check_mode = check_mode
        for key in self.LISTS:
            setattr(self, key, [])
        self.failed_items: list = []
        self.errors: list = []  # failures that are no item's (a write that stopped, a read that failed)
        self.done: list = []  # what did change, in words, for the failure message
        self.diff: dict | None = None
        self.extra: dict = {}  # further result keys of this resource
        self.changed = False

    @property
    def failed(self) -> bool:
        return bool(self.failed_items or self.errors)

    def describe(self, item: dict) -> str:
        """One failed item, in the failure message."""
        return '%s (%s: %s)' % (item.get('name'), item.get('error_code'), item.get('error'))

    def message(self) -> str:
        """The one failure message: what failed, then what was done all the same."""
        parts = list(self.errors)
        if self.failed_items:
            parts.append(
                '%d %s %s: %s.'
                % (
                    len(self.failed_items),
                    self.ITEMS,
                    'would fail' if self.check_mode else 'failed',
                    '; '.join(self.describe(item) for item in self.failed_items),
                )
            )
        if self.done:
            lead = 'Would still be done' if self.check_mode else 'Done all the same'
            parts.append('%s: %s.' % (lead, '; '.join(self.done)))
        return ' '.join(parts)

    def result(self) -> dict:
        """The Ansible result."""
        result = dict(self.extra)
        for key in self.LISTS:
            result[key] = list(getattr(self, key))
        result.update({FAILED_ITEMS: list(self.failed_items), 'changed': bool(self.changed)})
        if self.diff is not None:
            result['diff'] = self.diff
        if self.failed:
            result.update(failed=True, msg=self.message())
        return result

    @classmethod
    def nothing_done(cls, **extra: object) -> dict:
        """The result of a task that failed before any write: every key, nothing in it."""
        outcome = cls()
        outcome.extra.update(extra)
        return outcome.result()
