#!/usr/bin/python
# -*- coding: utf-8 -*-
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
author:
  - existio.exist maintainers
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.attributes
attributes:
  check_mode:
    support: full
    details:
      - This module only reads.
  diff_mode:
    support: none
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
seealso:
  - name: Exist API, reading attributes
    description: The list endpoints and their filters.
    link: https://developer.exist.io/reference/reading_data/
  - module: existio.exist.attribute
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

- name: Every template Exist supports, low-priority ones too
  existio.exist.attribute_info:
    token: "{{ exist_token }}"
    source: templates
    include_low_priority: true
  register: templates
'''

RETURN = r'''
attributes:
  description:
    - The attributes, as Exist's attribute objects, in the order Exist lists them.
      Empty when O(source=templates).
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.existio.exist.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    ExistError,
)
from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    check_connection_params,
    client_from_params,
    connection_argument_spec,
)
from ansible_collections.existio.exist.plugins.module_utils._ownership_plan import NAME_PATTERN

# Filters the templates list does not take.
ATTRIBUTE_ONLY_FILTERS = ('names', 'manual', 'include_inactive', 'exclude_custom')


def argument_spec():
    spec = connection_argument_spec()
    spec.update(
        source=dict(type='str', default='all', choices=['all', 'owned', 'templates']),
        groups=dict(type='list', elements='str'),
        names=dict(type='list', elements='str'),
        manual=dict(type='bool'),
        include_inactive=dict(type='bool', default=False),
        include_low_priority=dict(type='bool', default=False),
        exclude_custom=dict(type='bool', default=False),
    )
    return spec


def list_params(params):
    """The API query for the module's filters; raises ValueError naming a bad option."""
    for option in ('groups', 'names'):
        for value in params[option] or []:
            if not NAME_PATTERN.match(value or ''):
                raise ValueError('%s: %r is not a valid name (letters, digits and underscores)' % (option, value))
    if params['source'] == 'templates':
        # manual=false is a filter too; the other options are off when falsy.
        used = [option for option in ATTRIBUTE_ONLY_FILTERS
                if (params[option] is not None if option == 'manual' else params[option])]
        if used:
            raise ValueError('%s cannot be used with source=templates' % ', '.join(used))
    query = {}
    if params['groups']:
        query['groups'] = ','.join(params['groups'])
    if params['include_low_priority']:
        query['include_low_priority'] = 'true'
    if params['source'] != 'templates':
        if params['names']:
            query['attributes'] = ','.join(params['names'])
        if params['manual'] is not None:
            query['manual'] = 'true' if params['manual'] else 'false'
        if params['include_inactive']:
            query['include_inactive'] = 'true'
        if params['exclude_custom']:
            query['exclude_custom'] = 'true'
    return query


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    problem = check_connection_params(params)
    if problem:
        module.fail_json(msg=problem)
    try:
        query = list_params(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        client = client_from_params(params, module.warn)
        listing = {
            'all': client.list_attributes,
            'owned': client.list_owned,
            'templates': client.list_templates,
        }[params['source']]
        items = list(listing(query))
    except ExistError as exc:
        module.fail_json(msg=exc.message)
    key = 'templates' if params['source'] == 'templates' else 'attributes'
    result = dict(changed=False, attributes=[], templates=[], count=len(items))
    result[key] = items
    module.exit_json(**result)


if __name__ == '__main__':
    main()
