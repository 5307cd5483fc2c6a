#!/usr/bin/python
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: attribute_info
short_description: List a user's Exist attributes, those this service owns, or the templates
version_added: 0.1.0
description:
  - Lists the attributes of the user behind O(token), either every attribute the token may read or only
    those your client (service) owns; or lists the attribute templates Exist supports.
  - Every page is followed (100 attributes a request), so the list is never cut short.
  - With O(with_values), each listed attribute also carries its values of the last days.
author:
  - Existio maintainers (@existio)
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.connection.token
  - existio.exist.attributes
  - existio.exist.attributes.info_module
options:
  source:
    description:
      - V(all) lists the user's attributes that the token's read scopes cover.
      - V(owned) lists the attributes this client owns, whatever its read scopes.
      - V(templates) lists the attribute templates Exist supports; only O(groups) and
        O(include_low_priority) apply to it.
    type: str
    choices: [all, owned, templates]
    default: all
  groups:
    description:
      - Only attributes (or templates) of these groups, for example V(activity) or V(mood).
    type: list
    elements: str
  names:
    description:
      - Only the attributes with these names.
    type: list
    elements: str
  manual:
    description:
      - V(true) lists only manually tracked attributes, V(false) only the others. Omit it for both.
    type: bool
  include_inactive:
    description:
      - Also list attributes that are inactive (nobody owns them).
    type: bool
    default: false
  include_low_priority:
    description:
      - Also list low-priority attributes (and templates).
    type: bool
    default: false
  exclude_custom:
    description:
      - Leave out custom attributes (custom tags and attributes the user created).
    type: bool
    default: false
  with_values:
    description:
      - How many days of values to read with the list, from 1 to 31, ending on the user's today; each listed
        attribute then has a C(values) key. V(0) or omitted reads no values.
      - The values are read through Exist's C(GET /api/2/attributes/with-values/) for the listed attributes
        only, after the list (one more request per 100 listed attributes).
      - Exist's with-values read leaves out inactive attributes and those outside the token's read scopes;
        such an attribute gets empty values and a warning names it.
      - Cannot be used with O(source=templates).
      - For more than 31 days, use the P(existio.exist.values#lookup) lookup.
    type: int
    version_added: 0.2.0
seealso:
  - name: Exist API, reading attributes
    description: The list endpoints and their filters.
    link: https://developer.exist.io/reference/reading_data/
  - module: existio.exist.attribute
  - plugin: existio.exist.values
    plugin_type: lookup
'''

EXAMPLES = r'''
- name: What does this service own for the user?
  existio.exist.attribute_info:
    token: "{{ exist_token }}"
    source: owned
  register: owned

- name: Show the names
  ansible.builtin.debug:
    msg: "{{ owned.attributes | map(attribute='name') | list }}"

- name: Manually tracked mood and sleep attributes, inactive ones included
  existio.exist.attribute_info:
    token: "{{ exist_token }}"
    groups: [mood, sleep]
    manual: true
    include_inactive: true

- name: The mood attributes with their values of the last week
  existio.exist.attribute_info:
    token: "{{ exist_token }}"
    groups: [mood]
    with_values: 7
  register: mood

- name: Show each day's mood
  ansible.builtin.debug:
    msg: "{{ (mood.attributes | selectattr('name', 'equalto', 'mood') | first)['values'] }}"

- name: Every template Exist supports, low-priority ones too
  existio.exist.attribute_info:
    token: "{{ exist_token }}"
    source: templates
    include_low_priority: true
  register: templates
'''

RETURN = r'''
api_requests:
  description:
    - How many HTTP requests this task sent to Exist, retries and rate-limited attempts included, out of the 300
      an hour Exist allows each user. V(0) when the task failed before any request.
  returned: always
  type: int
  sample: 1
  version_added: 0.2.0
attributes:
  description:
    - The attributes, as Exist's attribute objects, in the order Exist lists them.
      Empty when O(source=templates).
    - With O(with_values) (version 0.2.0 or later), each also has a C(values) key, the attribute's values of
      the last O(with_values) days, a dictionary from the date (a C(YYYY-MM-DD) string, the user's local day) to
      the value, oldest first; only days with a value are listed. In Jinja write C(item['values']), since
      C(item.values) is the dictionary's own method.
  returned: always
  type: list
  elements: dict
  sample:
    - template: steps
      name: steps
      label: Steps
      group: {name: activity, label: Activity, priority: 1}
      service: {name: withings, label: Withings}
      active: true
      priority: 1
      manual: false
      value_type: 0
      value_type_description: Integer
      available_services: [{name: withings, label: Withings}]
      values: {"2026-11-26": 10342, "2026-11-27": 8120}
templates:
  description:
    - The templates, as Exist lists them, when O(source=templates); empty otherwise.
  returned: always
  type: list
  elements: dict
  sample:
    - name: steps
      label: Steps
      group: {name: activity, label: Activity, priority: 1}
      priority: 1
      value_type: 0
      value_type_description: Integer
count:
  description: How many attributes (or templates) were listed.
  returned: always
  type: int
  sample: 12
'''

from ansible_collections.existio.exist.plugins.module_utils import _attribute_info_task
from ansible_collections.existio.exist.plugins.module_utils._module_entry import run_module


def main():
    run_module(_attribute_info_task)


if __name__ == '__main__':
    main()
