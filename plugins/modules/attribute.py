#!/usr/bin/python
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: attribute
short_description: Declare which Exist attributes this service owns for a user
version_added: 0.1.0
description:
  - Makes the set of Exist attributes owned by your OAuth2 client (service) match what the task
    declares, for the user behind O(token), and reports exactly what changed.
  - Only one service owns an attribute at a time, and only the owner may write its values.
    Acquiring an attribute by O(attributes[].template) creates it when the user lacks it;
    acquiring by O(attributes[].name) needs an attribute the user already has.
  - A custom attribute is declared by O(attributes[].label) with O(attributes[].group) and
    O(attributes[].value_type), and found by its label, whatever Exist named it (C(deep_work_2) labelled
    C(Deep work) is the attribute for the label V(Deep work)). Labels are compared without regard to case
    or runs of spaces. When no attribute the reads show has the label, it is created
    (C(POST /attributes/create/), 35 to a request), and so owned by this client; when one has it with the
    declared group and value type, it is acquired like any other (from another service only as O(takeover)
    allows). RV(labels) says which attribute each label resolved to; the name Exist gives a new attribute
    is read from its answer (RV(created)).
  - When several attributes with the declared group and value type have the label, the one this client
    owns is the one; if it owns none of them the item fails with V(ambiguous_label), naming them all (declare
    the one you mean by O(attributes[].name)). An attribute with the label but another group or value type
    fails with V(group_or_type_differs) (Exist cannot change either), and nothing is created.
  - Reads the attributes this client owns (one request per 100), and when it is about to acquire
    something it does not own, reads the attributes the token can see once (one more request per 100)
    to learn their owners; then sends only the writes that differ, 35 to a request. A run with nothing
    to change sends no write. Both reads include low-priority and inactive attributes.
  - A template the token cannot see is created through Exist's create endpoint, which refuses an
    attribute that exists instead of taking it over; see O(takeover) for what follows.
  - Every item sent is accounted for. It is reported done only when Exist's answer says so (checked
    for shape) or a fresh read shows it; refused when the answer says so; and V(outcome_unknown) when
    neither can tell (timeout, dropped connection, server error, an answer that is not Exist's). See
    the user guide, "What the results mean when Exist misbehaves".
author:
  - Existio maintainers (@existio)
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.connection.token
  - existio.exist.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff maps each attribute this client owns before or after the run, and each attribute it takes
        over or releases, to its owner and manual flag.
options:
  attributes:
    description:
      - The attributes to declare. Each item has exactly one of O(attributes[].name),
        O(attributes[].template) or O(attributes[].label).
      - The same attribute may be listed twice only with the same wishes (the items are then merged).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name of an attribute the user already has, for example V(mood_note) or a custom
            attribute such as V(reading_time).
          - Mutually exclusive with O(attributes[].template).
        type: str
      template:
        description:
          - Name of an Exist attribute template, for example V(steps) or V(mood). Acquiring a
            template the user lacks creates the attribute. The attribute's name equals the template's.
          - Mutually exclusive with O(attributes[].name).
        type: str
      label:
        description:
          - The label of a custom attribute, for example V(Meditation streak). The attribute with that label is
            the one, whatever its name. A new one gets a name Exist chooses, most likely a slug of the label
            (V(meditation_streak)); check mode predicts it and says so in a warning.
          - Needs O(attributes[].group) and O(attributes[].value_type), except with O(attributes[].state=absent),
            which releases the attribute with that label this client owns (of that group and value type, when
            given).
          - Mutually exclusive with O(attributes[].name) and O(attributes[].template).
        type: str
        version_added: 0.2.0
      group:
        description:
          - The group of a custom attribute declared by O(attributes[].label), one of V(activity),
            V(productivity), V(mood), V(sleep), V(workouts), V(events), V(finance), V(food), V(health),
            V(location), V(media), V(social), V(weather), V(symptoms), V(medication) or V(custom) (custom
            tags, which are boolean).
        type: str
        version_added: 0.2.0
      value_type:
        description:
          - The value type of a custom attribute declared by O(attributes[].label), as Exist's number or its
            name. V(0)/V(integer), V(1)/V(float), V(2)/V(string), V(3)/V(duration) (minutes),
            V(4)/V(time_of_day) (minutes after midnight), V(5)/V(percentage), V(7)/V(boolean), V(8)/V(scale)
            (1-9). V(6)/V(time_of_day_midday) exists only for templates; Exist cannot create it.
        type: raw
        version_added: 0.2.0
      manual:
        description:
          - Whether the attribute is marked as manually tracked.
          - When it differs from the owned attribute's flag, the attribute is acquired again with the
            new flag. Omit it to leave the flag as it is.
          - Ignored for items whose state is V(absent).
        type: bool
      state:
        description:
          - Overrides O(state) for this item.
        type: str
        choices: [present, absent]
  state:
    description:
      - V(present) makes this client own each attribute (acquire when it does not).
      - V(absent) makes sure this client does not own it; it is released only when this client owns
        it. An attribute owned by another service, or one the user lacks, is already absent and
        nothing is written.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - When V(true), the declared set is authoritative. Every attribute this client owns that no
        item declares V(present) is released.
      - With no item declared V(present) this would release everything this client owns, which is
        more often a variable gone wrong (C(| default([]))) than an intent; the task then fails before
        any request. Use O(release_all) to say it.
    type: bool
    default: false
  release_all:
    description:
      - When V(true), release every attribute this client owns (as O(exclusive) with nothing declared
        V(present)). Items in O(attributes) may only be V(absent).
    type: bool
    default: false
  takeover:
    description:
      - When V(true), acquiring an attribute another service owns moves it to this client, as the
        API does, with a warning naming the previous owner (also shown in the diff).
      - When V(false), such attributes are not acquired; they are reported in RV(failed_items) with
        an error naming their owner, and the task fails.
      - Exist only shows a token the attributes of groups it has a C(_read) scope for (or manual ones,
        with C(manual_read)), so the owner of an attribute the token cannot see is unknown. A template it
        cannot see is first created, which proves it new when it succeeds. When Exist says it exists,
        V(true) acquires it, and the warning and the diff say the previous owner is unknown; V(false)
        reports it as V(owner_unknown). A custom attribute (by O(attributes[].label)) the token cannot see
        is never acquired that way, as which attribute has the name Exist refused is unknown (see
        RV(failed_items)). An attribute by O(attributes[].name) that the token cannot see is
        acquired with V(true) (Exist answers V(not_found) if the user lacks it) and refused as
        V(owner_unknown), without a request, with V(false).
    type: bool
    default: true
notes:
  - 'Ownership is reported from this client''s point of view; in the diff this client appears as
    C((this client\)), other owners by their service name, an attribute nobody owns as V(null), and an
    owner the token could not see as C((unknown: not visible to this token\)).'
  - Check mode reads, plans and reports what a real run would acquire and release, without any write.
    It can only predict refusals the reads reveal (an attribute another service owns with
    O(takeover=false), an attribute named by O(attributes[].name) that the user lacks). A template Exist
    does not know, a group the token may not write, or what an attribute the token cannot see turns out
    to be, is only reported by a real run.
seealso:
  - name: Exist API, attribute ownership
    description: How acquiring and releasing works.
    link: https://developer.exist.io/reference/attribute_ownership/
  - module: existio.exist.attribute_info
  - name: Troubleshooting existio.exist
    description: What each error and warning means and what to do (401, token_type, not_allowed, takeovers).
    link: https://github.com/existio/exist/blob/main/docs/docsite/rst/troubleshooting.rst
'''

EXAMPLES = r'''
- name: Own the attributes this service writes, for every user (one host per user)
  module_defaults:
    group/existio.exist.exist:
      token: "{{ exist_token }}"
  block:
    - name: Acquire mood and a note, create "coffees" if the user lacks it
      existio.exist.attribute:
        attributes:
          - template: mood
          - template: mood_note
            manual: true
          - template: coffees

    - name: Declare the custom attributes this service fills, creating them for users who lack them
      existio.exist.attribute:
        attributes:
          - label: Meditation streak
            group: health
            value_type: integer
          - label: Read before bed
            group: custom
            value_type: boolean
            manual: true

    - name: Stop owning steps, which another service fills better
      existio.exist.attribute:
        state: absent
        attributes:
          - name: steps

- name: Own exactly these attributes; release everything else this client owns
  existio.exist.attribute:
    token: "{{ exist_token }}"
    exclusive: true
    attributes:
      - template: mood
      - name: reading_time
        manual: true

- name: A service that stops, for one user, releases everything it owns
  existio.exist.attribute:
    token: "{{ exist_token }}"
    release_all: true

- name: Acquire only what no other service owns
  existio.exist.attribute:
    token: "{{ exist_token }}"
    takeover: false
    attributes:
      - template: sleep
  register: sleep_ownership
  ignore_errors: true

- name: Try a playbook offline against the local emulator
  existio.exist.attribute:
    api_url: http://127.0.0.1:8787
    token: demo-token
    attributes:
      - template: steps
'''

RETURN = r'''
api_requests:
  description:
    - How many HTTP requests this task sent to Exist, retries and rate-limited attempts included, out of the 300
      an hour Exist allows each user. V(0) when the task failed before any request.
  returned: always
  type: int
  sample: 2
  version_added: 0.2.0
acquired:
  description:
    - Names of the attributes this run acquired, sorted. Includes attributes acquired again to change
      their O(attributes[].manual) flag. In check mode, what a real run would acquire.
  returned: always
  type: list
  elements: str
  sample: [coffees, mood, steps]
created:
  description:
    - Names of the attributes this run created (custom attributes declared by O(attributes[].label), and
      templates the user lacked), sorted, as Exist named them. Each is also in RV(acquired). In check mode,
      the predicted names, with a warning that they are predictions.
  returned: always
  type: list
  elements: str
  sample: [meditation_streak]
  version_added: 0.2.0
labels:
  description:
    - 'For each item declared by O(attributes[].label) whose attribute is known, C(label), C(name) (the
      attribute it resolved to) and C(source): V(existing) (a read showed the attribute with that label),
      V(created) (this run created it; the name is Exist''s answer) or V(predicted) (check mode: it would be
      created, and the name is a prediction). Sorted by label. An item that failed before its attribute was
      known (V(ambiguous_label), a create that failed) is only in RV(failed_items).'
  returned: always
  type: list
  elements: dict
  sample:
    - {label: Deep work, name: deep_work_2, source: existing}
    - {label: Meditation streak, name: meditation_streak, source: created}
  version_added: 0.2.0
takeovers:
  description:
    - 'The attributes this run took from another service, sorted by name, each with C(previous_owner), that
      service''s name (C((unknown: not visible to this token\)) when the token could not see it). In check mode,
      the takeovers it can see.'
  returned: always
  type: list
  elements: dict
  sample:
    - {name: steps, previous_owner: withings}
  version_added: 0.2.0
released:
  description:
    - Names of the attributes this run released, sorted. In check mode, what a real run would release.
  returned: always
  type: list
  elements: str
  sample: [sleep]
failed_items:
  description:
    - The declared attributes that could not be converged, each with its O(attributes[].name),
      O(attributes[].template) or O(attributes[].label) and Exist's error. Any entry here fails the task.
    - V(group_or_type_differs) says a custom attribute exists with another group or value type than declared
      (the entry then also has its C(name)); Exist cannot change either. V(ambiguous_label) says several
      attributes have the label and none of them is this client's (or two items name one attribute); the error
      names them.
    - V(exists) for an item declared by O(attributes[].label) says Exist refused to create it because the
      name it would give it is taken by an attribute with another label; rename the label, or declare the
      attribute you mean by name. When the token cannot read the attribute that has the name (no C(_read)
      scope for its group), whether it has the declared label is unknown, so it is not taken over whatever
      O(takeover) says; the error says so. Give the token the group's C(_read) scope, or declare the
      attribute by name.
    - Codes from Exist include V(not_found), V(not_allowed) and V(unauthorised). The module adds
      V(owned_by_other_service) (O(takeover=false) and another service owns it),
      V(owner_unknown) (O(takeover=false) and the token cannot see who owns it),
      V(request_failed) (the request that carried it was refused as a whole, for example with 401, 403
      or 429, or could not be sent; not applied),
      V(outcome_unknown) (the request that carried it failed in a way that leaves open whether Exist applied
      it, and a fresh read did not show it applied or could not be made; run the task again to converge) and
      V(not_attempted) (not sent because an earlier request failed).
    - A release that Exist refuses as V(unauthorised) or V(not_found) while a fresh read shows this client
      does not own the attribute (another run released it first) is not a failure; the declared state is reached.
  returned: always
  type: list
  elements: dict
  sample:
    - template: nope
      error_code: not_found
      error: Template matching query does not exist.
    - name: steps
      error_code: owned_by_other_service
      error: "Attribute 'steps' is owned by Withings (withings); not taken over because takeover is false"
    - template: water
      error_code: outcome_unknown
      error: >-
        outcome unknown: the request that carried it failed and a fresh read does not show it applied,
        but Exist may still apply it; run the task again to converge
owned:
  description:
    - The attributes this client owns after the run, as Exist's attribute objects, sorted by name. This is
      the owned list as last read, updated with what Exist answered since. An item in RV(failed_items) with
      V(outcome_unknown) may differ.
    - In check mode, the predicted objects, with this client as their C(service); when this client owns
      nothing yet its service name is not known and shows as C((this client\)).
  returned: when the owned list could be read
  type: list
  elements: dict
  sample:
    - template: mood
      name: mood
      label: Mood
      group: {name: mood, label: Mood, priority: 3}
      service: {name: my_service, label: My Service}
      active: true
      priority: 1
      manual: true
      value_type: 8
      value_type_description: Scale (1-9)
      available_services: []
msg:
  description: What failed, attribute by attribute, and what was changed all the same.
  returned: failure
  type: str
  sample: "1 attribute(s) failed: template 'nope' (not_found: Template matching query does not exist.). Done all the same: acquired mood."
'''

from ansible_collections.existio.exist.plugins.module_utils import _attribute_task
from ansible_collections.existio.exist.plugins.module_utils._module_entry import run_module


def main():
    run_module(_attribute_task)


if __name__ == '__main__':
    main()
