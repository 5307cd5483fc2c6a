#!/usr/bin/python
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: values
short_description: Set the daily values of Exist attributes this service owns
version_added: 0.2.0
description:
  - Makes the values of Exist attributes match what the task declares, day by day, for the user behind
    O(token), and reports each value it changed with its previous value.
  - Only the service that owns an attribute may write its values. Use O(acquire) to acquire the attributes it
    writes first (as M(existio.exist.attribute) does), or declare them with M(existio.exist.attribute) once.
  - "Reads before it writes: the attributes this client owns (their value types; one request per 100), the
    user's profile only when an item leaves out O(values[].date), and the current values of the days declared,
    through whichever read costs fewer requests: C(GET /attributes/with-values/) (every attribute at once, one
    request per window of up to 31 days that holds a declared day) or C(GET /attributes/values/) (one attribute
    at a time, one request per stretch of up to 100 days that holds a declared day of it). Only the windows
    that hold a declared day are read, so dates years apart cost a window each, not the years between. On a
    tie, with-values is used. RV(read_with) says which, RV(read_requests) what it costs (known before it reads,
    also in check mode)."
  - When reading and writing the declared values would take more requests than the task may still send (at
    most 300, Exist's hourly allowance per user), the task fails before it reads anything, saying what it
    would cost.
  - "Values are compared by the attribute's value type, exactly: whole numbers as integers, however large
    (V(10000000001) differs from V(10000000000)); the numbers of a float or percentage attribute as the IEEE
    double Exist's JSON carries (Exist's docs do not say how it stores them; this module assumes it keeps that
    double), so V(0.3) differs from V(0.30000000000000004); V(true) is V(1)."
  - Then sends only the values that differ, 35 to a request (C(POST /attributes/update/)). A run with nothing to
    change sends no write.
  - With O(operation=increment) every item is added to the day's total (C(POST /attributes/increment/)), and
    nothing is read but the owned list. Adding is never idempotent; the task always reports changed.
  - Every item sent is accounted for, as in M(existio.exist.attribute). A value is reported updated only when
    Exist's answer says so or a fresh read shows it. An increment whose answer is lost is V(outcome_unknown),
    because no read can tell whether it was added.
author:
  - Existio maintainers (@existio)
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.connection.token
  - existio.exist.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads and plans as a real run, and reports what it would update, without any write.
      - With O(operation=increment), reports every item as a change it would make, with a warning that says
        so, because a real run adds them every time.
  diff_mode:
    support: full
    details:
      - The diff maps each attribute to the days that change, with the value before and after.
options:
  values:
    description:
      - The values to declare. Each day of each attribute may be given once.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The attribute's name, for example V(mood) or a custom attribute such as V(meditation_streak).
        type: str
        required: true
      date:
        description:
          - The day, as C(YYYY-MM-DD), in the user's own timezone (Exist's days are the user's local days).
          - Omit it for the user's today, read from the user's profile (one more request).
        type: str
      value:
        description:
          - The day's value, checked against the attribute's value type before anything is written. A number has
            at most 4300 digits (what Python writes as text), and one of a float or percentage attribute must fit
            a double. Integer,
            duration (minutes), time of day (minutes after midnight, 0-1439) and scale (1-9) take whole numbers;
            float and percentage (0.0-1.0) take numbers; string takes text; boolean takes V(true), V(false), V(1)
            or V(0).
          - For a numeric type, a number written as text (V('3')) is taken as that number, as options of type int
            take it; before ansible-core 2.19 a template inside a list, such as C("{{ x | int }}"), gives text.
            Only the digits 0-9 count (V('²') is text, not a number).
          - V(null) means "no value". Exist cannot set a day's value back to null, so V(null) on a day that
            has a value fails, with Exist's reason; on a day without one it changes nothing.
          - With O(operation=increment), the number to add.
        type: raw
  operation:
    description:
      - V(set) makes each day's value equal O(values[].value), writing only those that differ.
      - V(increment) adds O(values[].value) to each day's total and returns the new totals in RV(incremented).
        Exist refuses increments of string, scale and time of day attributes; this module refuses them before
        any write.
    type: str
    choices: [set, increment]
    default: set
  acquire:
    description:
      - When V(true), first acquires (by name) the attributes it writes that this client does not own, with the
        same rules, warnings and results as M(existio.exist.attribute) with O(takeover). Values of an attribute
        it could not acquire are not sent, and fail as V(not_attempted).
    type: bool
    default: false
  takeover:
    description:
      - With O(acquire=true), whether to take attributes from another service that owns them (as
        M(existio.exist.attribute)'s O(existio.exist.attribute#module:takeover)).
    type: bool
    default: true
notes:
  - Values are checked before any write, and one value that does not fit its attribute's value type fails the
    task with nothing written. Ranges (scale 1-9, percentage 0.0-1.0, minutes of a day 0-1439) follow Exist's
    description of each type.
  - The values of an attribute are compared only when the token may read them (its group's C(_read) scope). An
    attribute this client owns but cannot read is written on every run, with a warning, and its values are
    listed in RV(unread), not RV(updated), since whether each changed anything is unknown; they do not make the
    task changed and are not in the diff. A C(null) for such an attribute is sent too (and listed in
    RV(unread) when Exist takes it, which it does only over no value; over a value it refuses it). A values/
    read cannot tell an attribute without data from one the token cannot read, so when it shows no row at all
    of an attribute, one with-values request settles which.
  - Check mode can predict refusals it can see (a value of the wrong type, an attribute this client does not own,
    null over a value). An attribute no read shows is predicted as V(not_owned), which a real run reports as Exist's
    V(unauthorised) or V(not_found); a group the token may not write is only reported by a real run.
seealso:
  - module: existio.exist.attribute
  - plugin: existio.exist.values
    plugin_type: lookup
  - name: Exist API, writing attribute values
    description: Update and increment.
    link: https://developer.exist.io/reference/writing_data/
  - name: Troubleshooting existio.exist
    description: What each error and warning means and what to do (401, token_type, not_allowed, takeovers).
    link: https://github.com/existio/exist/blob/main/docs/docsite/rst/troubleshooting.rst
'''

EXAMPLES = r'''
- name: Log today's meditation minutes, owning the attribute first
  existio.exist.values:
    token: "{{ exist_token }}"
    acquire: true
    values:
      - name: meditation_min
        value: 20

- name: Backfill from another system's export, a JSON list of {name, date, value} (only days that differ are written)
  existio.exist.values:
    token: "{{ exist_token }}"
    values: "{{ lookup('ansible.builtin.file', 'mood-export.json') | from_json }}"

- name: Set two days of two attributes
  existio.exist.values:
    token: "{{ exist_token }}"
    values:
      - {name: mood, date: "2026-11-26", value: 7}
      - {name: mood, date: "2026-11-27", value: 8}
      - {name: coffees, date: "2026-11-27", value: 3}
  register: written

- name: Count one more coffee today (not idempotent; always changed)
  existio.exist.values:
    token: "{{ exist_token }}"
    operation: increment
    values:
      - name: coffees
        value: 1
  register: coffee

- name: Show the new total
  ansible.builtin.debug:
    msg: "{{ coffee.incremented[0].current }} coffees today"
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
updated:
  description:
    - The values this run set, in the order declared, each with the day's value before (V(null) when it had none,
      as a read showed). In check mode, what a real run would set.
    - A value of an attribute the token cannot read is never here, but in RV(unread).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: mood, date: "2026-11-27", previous: 6, value: 8}
    - {name: coffees, date: "2026-11-27", previous: null, value: 3}
unread:
  description:
    - The values this run sent to attributes whose values the token cannot read (no C(_read) scope of their
      group), in the order declared. Exist took each, but whether the day already held it is unknown, so these
      are not changes the task reports (C(changed) stays V(false) for them, the diff leaves them out). In check
      mode, what a real run would send.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: mood, date: "2026-11-27", value: 8}
  version_added: 0.2.0
incremented:
  description:
    - With O(operation=increment), each value added, with C(current), the day's new total as Exist answered it
      (V(null) in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: coffees, date: "2026-11-27", value: 1, current: 4}
acquired:
  description: With O(acquire=true), the attributes this run acquired, sorted.
  returned: always
  type: list
  elements: str
  sample: [meditation_min]
failed_items:
  description:
    - The declared values that could not be written, each with C(name), C(date), C(value), and Exist's
      C(error_code) and C(error). Any entry here fails the task.
    - Codes from Exist include V(unauthorised) (this client does not own the attribute), V(not_found) (the user
      lacks it), V(not_allowed) (the token may not write its group) and V(validation). The module adds
      V(validation) for values it refuses before any write, V(request_failed), V(outcome_unknown) and
      V(not_attempted), as in M(existio.exist.attribute).
  returned: always
  type: list
  elements: dict
  sample:
    - name: mood
      date: "2026-11-27"
      value: 12
      error_code: validation
      error: 12 is not a valid scale value (a whole number from 1 to 9)
read_with:
  description:
    - The read that compared the values, V(with-values) or V(values); V(null) when nothing was read (an
      increment, or nothing to compare).
  returned: always
  type: str
  sample: with-values
read_requests:
  description:
    - The GET requests the read of the current values takes, counted from the declared days before reading
      (in check mode too); V(0) when nothing is read. A values/ read that shows no row at all of an attribute
      adds one with-values request to learn whether the token can read it. RV(api_requests) counts every
      request the task sent.
  returned: always
  type: int
  sample: 2
  version_added: 0.2.0
msg:
  description: What failed, value by value, and what was changed all the same.
  returned: failure
  type: str
  sample: "1 value(s) failed: mood on 2026-11-27 (unauthorised: Attribute 'mood' does not belong to this service). Done all the same: updated 2 value(s)."
'''

from ansible_collections.existio.exist.plugins.module_utils import _values_task
from ansible_collections.existio.exist.plugins.module_utils._module_entry import run_module


def main():
    run_module(_values_task)


if __name__ == '__main__':
    main()
