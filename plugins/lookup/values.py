# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: values
short_description: Read the values of Exist attributes, day by day
version_added: 0.2.0
description:
  - >-
    Reads the values of the named attributes of the user behind O(token) over the last O(days) days
    and returns one dictionary C({name: {date: value}}), dates as C(YYYY-MM-DD) strings (the user's
    local days), oldest first.
  - Only days with a value are listed; a day without data (absent, or C(null) in Exist) is left out.
  - Every page is followed. The read that costs fewer requests is used. C(GET /api/2/attributes/with-values/)
    answers every named attribute for up to 31 days (one request per 31-day window per 100 attributes);
    C(GET /api/2/attributes/values/) answers one attribute, 100 days a page (one request per attribute
    per 100 days). Up to 31 days with-values is always used; beyond that values/ when it is cheaper (few
    attributes over many days).
  - An attribute the token cannot see (the user lacks it, it is inactive, or the token's read scopes do
    not cover its group) comes back as an empty dictionary, with a warning naming it.
  - Runs on the controller and only reads; a simple (read-only) token is enough.
  - >-
    The connection options come, first found, from a keyword of the lookup (C(token=...)), then a variable of
    the host (C(exist_token), C(exist_api_url), C(exist_token_type)..., C(exist_) and the option's name), then the
    environment (E(EXIST_TOKEN), E(EXIST_API_URL), E(EXIST_CA_PATH)), then the C([existio_exist_values]) section
    of C(ansible.cfg) (every option but the token). So with the P(existio.exist.users#inventory) inventory, whose
    hosts have C(exist_token), a lookup needs no C(token=).
  - >-
    With the P(existio.exist.fleet_report#callback) callback enabled, the requests of every lookup call count for
    its host in the report (C(api_requests)).
author:
  - Existio maintainers (@existio)
options:
  _terms:
    description:
      - Names of the attributes to read, for example V(mood) or V(sleep), as separate terms or as one list.
      - No name reads nothing and returns an empty dictionary without any request.
    type: list
    elements: str
    required: true
  days:
    description:
      - How many days to read, ending on O(date_max), from 1 to 3660.
    type: int
    default: 1
  date_max:
    description:
      - The last day to read, as C(YYYY-MM-DD) (the user's local day).
      - When not set, the user's today. Up to 31 days Exist's today is used as is; for more days the
        lookup first reads the user's profile (one more request) to know which day that is.
    type: str
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.connection.token
  - existio.exist.connection.plugins
  - existio.exist.connection.token_plugins
  - existio.exist.connection.values_lookup
notes:
  - A lookup runs on the controller, each time the template that holds it is rendered. A lookup in
    a play's C(vars) is read again wherever the variable is used; read once with M(ansible.builtin.set_fact)
    and use the fact.
seealso:
  - module: existio.exist.attribute_info
  - name: Reading values from a playbook
    description: Which read is used when, and what it costs.
    link: https://github.com/existio/exist/blob/main/docs/docsite/rst/guide_reading_values.rst
  - name: Exist API, reading attributes and values
    description: The with-values and values endpoints.
    link: https://developer.exist.io/reference/reading_data/
'''

EXAMPLES = r'''
# With the existio.exist.users inventory the host's exist_token is the token: no token= needed.
- name: Mood and sleep of the last week (one request)
  ansible.builtin.set_fact:
    recent: "{{ lookup('existio.exist.values', 'mood', 'sleep', days=7) }}"

- name: Show the mood of each day
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value }}"
  loop: "{{ recent.mood | dict2items }}"

- name: Sixty days of steps up to the end of October; names as one list, token from EXIST_TOKEN
  ansible.builtin.set_fact:
    steps: "{{ lookup('existio.exist.values', ['steps'], days=60, date_max='2026-10-31') }}"

# ansible.cfg: every host's lookups against the emulator (host variable exist_api_url would do it per host)
# [existio_exist_values]
# api_url = http://127.0.0.1:8787

- name: Against the local emulator, with a simple (read-only) token
  ansible.builtin.debug:
    msg: >-
      {{ lookup('existio.exist.values', 'coffees', days=3, api_url='http://127.0.0.1:8787',
                token='demo-token', token_type='token') }}
'''

RETURN = r'''
_value:
  description:
    - >-
      One dictionary with a key for every name asked for; its value is a dictionary C({date: value})
      of the days in the window that have a value, oldest first (empty when there is none, or when the
      token cannot see the attribute).
    - A value is what Exist holds, by the attribute's value type (an integer, a number, a string...).
  type: dict
  sample:
    mood: {"2026-11-26": 7, "2026-11-27": 8}
    sleep: {"2026-11-27": 452}
'''

# ansible-test wants the documentation before any import (validate-modules), as in a module.
import datetime
import re

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import is_iso_date
from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._connection_options import ALL as CONNECTION_OPTIONS
from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    NUMBER_OPTIONS as CONNECTION_NUMBER_OPTIONS,
)
from ansible_collections.existio.exist.plugins.module_utils._connection_options import validate
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError, ExistError
from ansible_collections.existio.exist.plugins.module_utils._ownership_declaration import NAME_PATTERN
from ansible_collections.existio.exist.plugins.module_utils._secrets import Secrets
from ansible_collections.existio.exist.plugins.module_utils._values_plan import MAX_DIGITS, digits_in, too_long
from ansible_collections.existio.exist.plugins.module_utils._values_read import (
    VALUES,
    WITH_VALUES,
    WITH_VALUES_MAX_DAYS,
    choose_read,
    iso_day,
    read_values,
    today_of,
)
from ansible_collections.existio.exist.plugins.plugin_utils._lookup_spool import record_requests

display = Display()

PLUGIN = 'existio.exist.values'
DAYS_RANGE = (1, 3660)
# The whole-number options: (bounds, unit), checked here, where the value is still as the user gave it.
INT_OPTIONS = {
    'days': (DAYS_RANGE, 'days'),
}
INT_OPTIONS.update(CONNECTION_NUMBER_OPTIONS)
# re.ASCII: '²' or '٣' are digits to \d and str.isdigit(), not to int(), and not to a user reading the message.
WHOLE_NUMBER = re.compile(r'\A\s*[+-]?[0-9]+\s*\Z', re.ASCII)
SHOWN_DIGITS = 30


class _Problem(ValueError):
    """Why the lookup cannot answer; the message names the option, the value or the attribute."""


def _show_int(value):
    """An integer for a message: as it is, or how long it is when that is all a reader can use."""
    if too_long(value):
        return 'an integer of more than %d digits' % MAX_DIGITS
    text = str(abs(value))
    return str(value) if len(text) <= SHOWN_DIGITS else 'an integer of %d digits' % len(text)


def _show_text(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else '%s... (%d characters)' % (text[: limit - 3], len(value))


def whole_number(option, value):
    """An option's value as an int within its bounds; raises _Problem naming the option and the value, shortened."""
    (low, high), unit = INT_OPTIONS[option]
    if isinstance(value, str) and WHOLE_NUMBER.match(value) and digits_in(value) <= MAX_DIGITS:
        value = int(value)
    elif isinstance(value, bool) or not isinstance(value, int):
        shown = _show_text(value) if isinstance(value, str) else _show_text(value, 40)
        raise _Problem('%s must be a whole number, got %s' % (option, shown))
    if not low <= value <= high:
        raise _Problem(
            '%s must be a whole number of %s from %d to %d, got %s' % (option, unit, low, high, _show_int(value))
        )
    return int(value)


def _check_keywords(kwargs, known):
    """Keyword arguments checked before ansible-core converts them (its messages do not show the value, and a
    number too long for Python to read raises a bare ValueError there)."""
    unknown = sorted(str(key) for key in kwargs if key not in known)
    if unknown:
        raise _Problem('unknown option(s) %s; the options are %s' % (', '.join(unknown), ', '.join(sorted(known))))
    checked = dict(kwargs)
    for option in INT_OPTIONS:
        if checked.get(option) is not None:
            checked[option] = whole_number(option, checked[option])
    value = checked.get('date_max')
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        checked['date_max'] = value.isoformat()
    elif value is not None and not isinstance(value, str):
        raise _Problem('date_max must be a date written YYYY-MM-DD, got %s' % _show_text(value, 40))
    return checked


def attribute_names(terms):
    """The names asked for, in order and without repeats; terms may hold lists of names."""
    names = []
    for term in terms:
        for name in term if isinstance(term, (list, tuple)) else [term]:
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                shown = _show_int(name) if isinstance(name, int) and not isinstance(name, bool) else _show_text(name)
                raise _Problem(
                    '%s is not an attribute name: use letters, digits and underscores, like mood_note' % shown
                )
            if name not in names:
                names.append(name)
    return names


def _listing(names):
    return ', '.join(names)


def _unseen_warning(read_with, unseen, days, last):
    if read_with == VALUES:
        return (
            '%s: Exist has no value at all of %s up to %s: the user has no such attribute, or the token\'s read '
            'scopes do not cover it; its values are {}' % (PLUGIN, _listing(unseen), last.isoformat())
        )
    window = 'the last %d day(s)' % days if last is None else 'the %d day(s) up to %s' % (days, last.isoformat())
    return (
        '%s: Exist did not show %s to this token for %s: the user has no such attribute, it is inactive, or the '
        "token's read scopes do not cover it; its values are {}" % (PLUGIN, _listing(unseen), window)
    )


def _read_some(client, names, days, last, read_with):
    try:
        return read_values(client, names, days, last=last, read_with=read_with)
    except ExistError as exc:
        raise _Problem('reading %s: %s' % (_listing(names), exc.message)) from None


def read(client, names, days, last):
    """{name: {date: value}} for `names` over the `days` days ending on `last` (None: Exist's today)."""
    if not names:
        return {}
    if last is None and days > WITH_VALUES_MAX_DAYS:
        # values/ and more than one with-values window need the last day: the user's today.
        try:
            last = today_of(client.profile())
        except ExistError as exc:
            raise _Problem('reading %s: %s' % (_listing(names), exc.message)) from None
    if choose_read(len(names), days, last is not None) == VALUES:
        # values/ reads one attribute per request anyway: read them one by one, so an error names its attribute.
        reads = [_read_some(client, [name], days, last, VALUES) for name in names]
    else:
        reads = [_read_some(client, names, days, last, WITH_VALUES)]
    found, unseen = {}, []
    for one in reads:
        found.update(one.values)
        unseen.extend(one.unseen)
    if unseen:
        display.warning(_unseen_warning(reads[0].read_with, unseen, days, last))
    return dict((name, dict(sorted(found.get(name, {}).items()))) for name in names)


class LookupModule(LookupBase):
    def _connection_params(self):
        """The connection options' values; one from a host variable may still be a template (ansible-core
        before 2.19 passes variables as written, as exist_token of the users inventory's include_token=false)."""
        params = {}
        for option in CONNECTION_OPTIONS:
            value, origin = self.get_option_and_origin(option)
            templar = self._templar
            if isinstance(value, str) and str(origin).startswith('var:') and templar and templar.is_template(value):
                value = self._templar.template(value)
            params[option] = value
        return params

    def run(self, terms, variables=None, **kwargs):
        token = None
        client = None
        try:
            kwargs = _check_keywords(kwargs, self.option_definitions)
            self.set_options(var_options=variables, direct=kwargs)
            params = self._connection_params()
            token = params['token']
            names = attribute_names(terms)
            days = whole_number('days', self.get_option('days'))
            date_max = self.get_option('date_max')
            if date_max is not None and not is_iso_date(date_max):
                raise _Problem('date_max must be a date written YYYY-MM-DD, got %s' % _show_text(date_max))
            try:
                client = ExistClient(validate(params), display.warning)
            except ExistConfigError as exc:
                raise _Problem(exc.message) from None
            return [read(client, names, days, iso_day(date_max) if date_max is not None else None)]
        except _Problem as exc:
            # Every message is built without the token (the client redacts its own); make sure all the same.
            raise AnsibleLookupError('%s: %s' % (PLUGIN, Secrets(token).mask(exc))) from None
        finally:
            if client is not None:
                # For the fleet report, failed reads included: Exist counted them all the same.
                record_requests((variables or {}).get('inventory_hostname'), client.requests_sent)
