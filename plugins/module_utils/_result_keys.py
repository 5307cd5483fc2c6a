# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The result keys every module returns and the fleet report reads, declared once.

Internal to this collection, not a stable API. A module's outcome writes its
result with these names and the fleet_report callback tallies by them, so a new
module that returns them is counted without editing the callback.
"""

from __future__ import annotations

# Every module: requests sent to Exist, and the items that failed ([{name, error_code, error, ...}]).
API_REQUESTS = 'api_requests'
FAILED_ITEMS = 'failed_items'

# Ownership: attribute names.
ACQUIRED = 'acquired'
RELEASED = 'released'
CREATED = 'created'
TAKEOVERS = 'takeovers'  # [{name, previous_owner}]

# Values: [{name, date, value, ...}].
UPDATED = 'updated'
INCREMENTED = 'incremented'
UNREAD = 'unread'  # sent to attributes the token cannot read: whether they changed anything is unknown

# Tokens: usernames.
REFRESHED = 'refreshed'
RECOVERED = 'recovered'
USERNAME = 'username'

# Each entry of these lists is one changed item of a user (a created attribute is acquired too).
CHANGED_ITEM_KEYS = (ACQUIRED, RELEASED, UPDATED, INCREMENTED)

# The error_code of a failed item whose outcome no one can know.
OUTCOME_UNKNOWN = 'outcome_unknown'
