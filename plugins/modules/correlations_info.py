#!/usr/bin/python
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: correlations_info
short_description: Read the correlations Exist found between a user's attributes
version_added: 0.2.0
description:
  - Reads the correlations Exist found in the last week between the attributes of the user behind O(token),
    through C(GET /api/2/correlations/); every page is followed (100 correlations a request).
  - With O(attribute) and O(attribute2), reads the one correlation of those two attributes instead, through
    C(GET /api/2/correlations/combo/) (one request). When Exist has found none, the result is an empty list,
    not a failure.
  - Exist returns only correlations of attributes the token may read. When an attribute named in O(attribute)
    or O(attribute2) appears in no result, the module reads the user's attribute list once more (one request
    per 100 attributes) and warns about each named attribute the token cannot read or the user does not have.
author:
  - Existio maintainers (@existio)
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.connection.token
  - existio.exist.attributes
  - existio.exist.attributes.info_module
options:
  attribute:
    description:
      - Only the correlations of the attribute with this name, on either side, for example V(sleep).
      - A name is 1 to 100 letters, digits and underscores; another value fails before any request.
    type: str
  attribute2:
    description:
      - With O(attribute), the other attribute of the one combination to read, in either order.
      - Needs O(attribute), must name another attribute, and cannot be used with O(strong) or O(confident).
    type: str
  strong:
    description:
      - Only correlations above the relationship strength Exist deems strong.
    type: bool
    default: false
  confident:
    description:
      - Only correlations with a five-star confidence.
    type: bool
    default: false
notes:
  - Exist computes correlations once a week; a new account has none, and the module then returns an empty list.
seealso:
  - name: Exist API, correlations
    description: The endpoints and their filters.
    link: https://developer.exist.io/reference/correlations/
  - module: existio.exist.averages_info
  - module: existio.exist.insights_info
'''

EXAMPLES = r'''
- name: This week's strong, certain correlations
  existio.exist.correlations_info:
    token: "{{ exist_token }}"
    strong: true
    confident: true
  register: strong

- name: Say each in words
  ansible.builtin.debug:
    msg: "{{ strong.correlations | map(attribute='second_person') | list }}"

- name: Every correlation involving sleep
  existio.exist.correlations_info:
    token: "{{ exist_token }}"
    attribute: sleep

- name: Does Exist relate steps and mood?
  existio.exist.correlations_info:
    token: "{{ exist_token }}"
    attribute: steps
    attribute2: mood
  register: steps_mood

- name: Show it, or that there is none
  ansible.builtin.debug:
    msg: "{{ steps_mood.correlations[0].second_person if steps_mood.count else 'No correlation found' }}"
'''

RETURN = r'''
api_requests:
  description:
    - How many HTTP requests this task sent to Exist, retries and rate-limited attempts included, out of the 300
      an hour Exist allows each user. V(0) when the task failed before any request.
  returned: always
  type: int
  sample: 1
correlations:
  description:
    - The correlations, as Exist gives them, newest first. With O(attribute2), zero or one.
    - C(date) is C(YYYY-MM-DD); C(value) (from -1 to 1), C(p) and C(percentage) are numbers; C(stars) (the
      confidence, up to 5), C(period) and C(offset) (days) are whole numbers.
  returned: always
  type: list
  elements: dict
  sample:
    - date: "2026-11-30"
      period: 309
      offset: 0
      attribute: sleep
      attribute2: sleep_start
      value: -0.5577
      p: 1.15e-26
      percentage: 55.77
      stars: 5
      second_person: you spend more time asleep when you go to bed earlier.
      second_person_elements: [you spend more time asleep, when, you go to bed earlier]
      attribute_category: null
      strength_description: Quite often go together
      stars_description: Certain to be related
      description: null
      occurrence: null
      rating: null
count:
  description: How many correlations were returned.
  returned: always
  type: int
  sample: 1
'''

from ansible_collections.existio.exist.plugins.module_utils import _correlations_info_task
from ansible_collections.existio.exist.plugins.module_utils._module_entry import run_module


def main():
    run_module(_correlations_info_task)


if __name__ == '__main__':
    main()
