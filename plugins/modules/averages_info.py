#!/usr/bin/python
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: averages_info
short_description: Read the weekly averages Exist computes for a user's attributes
version_added: 0.2.0
description:
  - Reads the averages Exist computes each week for the attributes of the user behind O(token), through
    C(GET /api/2/averages/). Each record is one attribute's averages of one week, overall and by day of the week.
  - By default only the newest record of each attribute is returned; O(include_historical=true) returns
    every record (within O(date_min) and O(date_max)).
  - Every page is followed (100 records a request), so the list is never cut short.
  - Exist returns only the attributes of groups the token may read. When an attribute named in O(attributes)
    has no record, the module reads the user's attribute list once more (one request per 100 attributes) and
    warns about each named attribute the token cannot read or the user does not have.
author:
  - Existio maintainers (@existio)
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.connection.token
  - existio.exist.attributes
  - existio.exist.attributes.info_module
options:
  attributes:
    description:
      - Only the averages of the attributes with these names, for example V(steps) or V(mood).
      - Each name is 1 to 100 letters, digits and underscores; another value fails before any request.
    type: list
    elements: str
  groups:
    description:
      - Only the averages of attributes of these groups, for example V(activity) or V(sleep).
    type: list
    elements: str
  date_min:
    description:
      - The oldest week to return, a date written C(YYYY-MM-DD) (quote it in YAML), compared with each record's
        C(date); inclusive.
    type: str
  date_max:
    description:
      - The newest week to return, a date written C(YYYY-MM-DD) (quote it in YAML), compared with each record's
        C(date); inclusive. Not before O(date_min).
    type: str
  include_historical:
    description:
      - Return every weekly record of each attribute, newest first, not only the newest one.
    type: bool
    default: false
notes:
  - Exist computes averages once a week; a new account has none, and the module then returns an empty list.
seealso:
  - name: Exist API, averages
    description: The endpoint and its filters.
    link: https://developer.exist.io/reference/averages/
  - module: existio.exist.correlations_info
  - module: existio.exist.insights_info
'''

EXAMPLES = r'''
- name: This week's averages of every attribute the token may read
  existio.exist.averages_info:
    token: "{{ exist_token }}"
  register: latest

- name: Alert when the weekly step average is under 5000
  ansible.builtin.debug:
    msg: "Steps are down: {{ steps.overall | int }} a day on average"
  vars:
    steps: "{{ latest.averages | selectattr('attribute', 'equalto', 'steps') | first | default({'overall': 5000}) }}"
  when: steps.overall < 5000

- name: Every weekly sleep and mood average of November 2026
  existio.exist.averages_info:
    token: "{{ exist_token }}"
    groups: [sleep, mood]
    date_min: "2026-11-01"
    date_max: "2026-11-30"
    include_historical: true
  register: november
'''

RETURN = r'''
api_requests:
  description:
    - How many HTTP requests this task sent to Exist, retries and rate-limited attempts included, out of the 300
      an hour Exist allows each user. V(0) when the task failed before any request.
  returned: always
  type: int
  sample: 1
averages:
  description:
    - The weekly averages, as Exist gives them, ordered by attribute and newest week first.
    - C(date) is the week's date (C(YYYY-MM-DD)); C(overall) and each day of the week are numbers.
  returned: always
  type: list
  elements: dict
  sample:
    - attribute: steps
      date: "2026-11-29"
      overall: 4174.0
      monday: 4057.0
      tuesday: 6614.0
      wednesday: 4001.0
      thursday: 3923.0
      friday: 4528.0
      saturday: 3649.0
      sunday: 3904.0
count:
  description: How many records were returned.
  returned: always
  type: int
  sample: 1
'''

from ansible_collections.existio.exist.plugins.module_utils import _averages_info_task
from ansible_collections.existio.exist.plugins.module_utils._module_entry import run_module


def main():
    run_module(_averages_info_task)


if __name__ == '__main__':
    main()
