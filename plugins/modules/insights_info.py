#!/usr/bin/python
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: insights_info
short_description: Read the insights Exist wrote for a user
version_added: 0.2.0
description:
  - Reads the insights Exist wrote for the user behind O(token), newest first, through
    C(GET /api/2/insights/). Every page is followed (100 insights a request).
  - Exist leaves out insights about attributes the token cannot read.
author:
  - Existio maintainers (@existio)
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.connection.token
  - existio.exist.attributes
  - existio.exist.attributes.info_module
options:
  date_min:
    description:
      - The oldest day to return insights about, a date written C(YYYY-MM-DD) (quote it in YAML), compared with
        each insight's C(target_date); inclusive.
    type: str
  date_max:
    description:
      - The newest day to return insights about, a date written C(YYYY-MM-DD) (quote it in YAML), compared with
        each insight's C(target_date); inclusive. Not before O(date_min).
    type: str
  priority:
    description:
      - Only insights of this priority, from V(1) (about today) to V(4) (about last month).
    type: int
notes:
  - A new account has no insights, and the module then returns an empty list.
seealso:
  - name: Exist API, insights
    description: The endpoint and its filters.
    link: https://developer.exist.io/reference/insights/
  - module: existio.exist.averages_info
  - module: existio.exist.correlations_info
'''

EXAMPLES = r'''
- name: Today's insights
  existio.exist.insights_info:
    token: "{{ exist_token }}"
    priority: 1
  register: today

- name: Show them as text
  ansible.builtin.debug:
    msg: "{{ today.insights | map(attribute='text') | list }}"

- name: Archive the insights of November 2026
  existio.exist.insights_info:
    token: "{{ exist_token }}"
    date_min: "2026-11-01"
    date_max: "2026-11-30"
  register: november

- name: Write them to a file
  ansible.builtin.copy:
    content: "{{ november.insights | to_nice_json }}"
    dest: /srv/exist-archive/insights-2026-11.json
    mode: "0644"
  delegate_to: localhost
'''

RETURN = r'''
api_requests:
  description:
    - How many HTTP requests this task sent to Exist, retries and rate-limited attempts included, out of the 300
      an hour Exist allows each user. V(0) when the task failed before any request.
  returned: always
  type: int
  sample: 1
insights:
  description:
    - The insights, as Exist gives them, newest C(created) first.
    - C(target_date) is the day the insight is about (C(YYYY-MM-DD)); C(type.attribute) is the attribute it is
      about, or null; C(text) is the insight in plain text, C(html) the same as Exist shows it.
  returned: always
  type: list
  elements: dict
  sample:
    - created: "2026-11-30T13:17:03+00:00"
      target_date: "2026-11-30"
      type:
        name: dow_sleep
        period: 1
        priority: 1
        attribute:
          name: sleep
          label: Time asleep
          group: {name: sleep, label: Sleep, priority: 3}
          priority: 1
          value_type: 3
          value_type_description: Period (min)
      html: <div class="secondary">Last night&#x27;s sleep was surprisingly long.</div>
      text: Last night's sleep was surprisingly long.
count:
  description: How many insights were returned.
  returned: always
  type: int
  sample: 1
'''

from ansible_collections.existio.exist.plugins.module_utils import _insights_info_task
from ansible_collections.existio.exist.plugins.module_utils._module_entry import run_module


def main():
    run_module(_insights_info_task)


if __name__ == '__main__':
    main()
