# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The connection doc fragment and every document that uses it agree with the one table of options."""

from __future__ import annotations

import re

import pytest

from ansible_collections.existio.exist.plugins.inventory import users
from ansible_collections.existio.exist.plugins.lookup import values as values_lookup
from ansible_collections.existio.exist.plugins.module_utils import _connection_options as table
from ansible_collections.existio.exist.plugins.modules import (
    attribute,
    attribute_info,
    averages_info,
    correlations_info,
    insights_info,
    token,
)
from ansible_collections.existio.exist.plugins.modules import values as values_module
from ansible_collections.existio.exist.tests.unit.plugins.documented import FRAGMENT, documented_options, fragment

USERS = [
    (attribute, table.ALL),
    (values_module, table.ALL),
    (attribute_info, table.ALL),
    (averages_info, table.ALL),
    (correlations_info, table.ALL),
    (insights_info, table.ALL),
    (values_lookup, table.ALL),
    (token, table.TRANSPORT),
    (users, table.TRANSPORT),
]
PLUGINS = (values_lookup, users)


@pytest.mark.parametrize('source, names', USERS, ids=lambda value: getattr(value, '__name__', ''))
def test_each_document_has_exactly_its_connection_options_as_the_table_gives_them(source, names):
    options = documented_options(source)
    for name in names:
        row = table.OPTIONS_BY_NAME[name]
        option = options[name]
        assert option['type'] == row.type, name
        assert option.get('default') == row.default, name
        assert option.get('choices') == (list(row.choices) if row.choices else None), name
        assert bool(option.get('required')) == row.required, name
        assert option['description'], name
    others = set(table.ALL) - set(names)
    assert not others & set(options), 'options the table gives to others only: %s' % (others & set(options))


@pytest.mark.parametrize('source, names', USERS, ids=lambda value: getattr(value, '__name__', ''))
def test_the_environment_variables_are_the_tables(source, names):
    """A plugin lists them in env (ansible-core reads them there); every description names them (a module
    reads them through its argument spec's fallback)."""
    options = documented_options(source)
    for name in names:
        row = table.OPTIONS_BY_NAME[name]
        described = ' '.join(options[name]['description'])
        for variable in row.env:
            assert 'E(%s)' % variable in described, (name, variable)
        if source in PLUGINS:
            assert [entry['name'] for entry in options[name].get('env', [])] == list(row.env), name
        else:
            assert 'env' not in options[name], name


def test_the_argument_spec_is_the_table():
    spec = table.connection_argument_spec()
    assert list(spec) == list(table.ALL)
    assert spec['token']['no_log'] is True and spec['token']['required'] is True
    assert spec['api_url']['fallback'][1] == ['EXIST_API_URL']
    assert [name for name, entry in spec.items() if entry.get('no_log')] == ['token']
    assert table.connection_argument_spec(table.TRANSPORT).keys() == set(table.TRANSPORT)


def test_the_ranges_written_in_the_docs_are_the_tables():
    """'from 1 to 3600', '(0 to 10)': the text of each number option gives the table's bounds."""
    options = fragment(FRAGMENT)['options']
    for row in table.CONNECTION_OPTIONS:
        if not row.bounds:
            continue
        text = ' '.join(options[row.name]['description'])
        low, high = row.bounds
        assert re.search(r'(from )?%d (to|-) %d\b' % (low, high), text), (row.name, text)


def test_no_fragment_options_are_left_without_a_row():
    documented = set(fragment(FRAGMENT)['options']) | set(fragment(FRAGMENT + '.token')['options'])
    assert documented == set(table.ALL)
    for name in ('plugins', 'token_plugins'):
        assert set(fragment('%s.%s' % (FRAGMENT, name))['options']) <= set(table.ALL)


def test_the_values_lookup_reads_every_option_from_its_host_variable_and_all_but_the_token_from_ansible_cfg():
    options = documented_options(values_lookup)
    for name in table.ALL:
        row = table.OPTIONS_BY_NAME[name]
        assert [entry['name'] for entry in options[name].get('vars', [])] == [row.host_var], name
        # A secret has no place in ansible.cfg.
        expected_ini = [] if row.no_log else [{'section': 'existio_exist_values', 'key': name}]
        assert options[name].get('ini', []) == expected_ini, name
    assert table.OPTIONS_BY_NAME['token'].host_var == 'exist_token'  # what the existio.exist.users inventory sets
    assert table.OPTIONS_BY_NAME['api_url'].host_var == 'exist_api_url'


def test_only_the_values_lookup_reads_host_variables():
    for source, dummy in USERS:
        if source is not values_lookup:
            options = documented_options(source)
            assert not any('vars' in options[name] or 'ini' in options[name] for name in table.ALL if name in options)
