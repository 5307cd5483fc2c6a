# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The existio.exist.values lookup: at the HTTP boundary with `responses`, and against the emulator in process."""

from __future__ import annotations

import datetime
import os
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from ansible import constants as C
from ansible.config.manager import ConfigManager
from ansible.errors import AnsibleError

from ansible_collections.existio.exist.plugins.lookup import values as plugin_module
from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._connection_options import connection_argument_spec
from ansible_collections.existio.exist.plugins.plugin_utils import _lookup_spool
from ansible_collections.existio.exist.tests.unit.plugins.documented import documented_options
from ansible_collections.existio.exist.tests.unit.plugins.emulated import bind, one_user_seed

BASE = 'http://127.0.0.1:8787'
TOKEN = 'lookup-s3cret-token-9911'
WITH_VALUES = BASE + '/api/2/attributes/with-values/'
VALUES = BASE + '/api/2/attributes/values/'
PROFILE = BASE + '/api/2/accounts/profile/'
NAME = 'existio.exist.values'


def plugin_options():
    """The options as ansible-core's plugin loader declares them: the plugin's own plus its doc fragments'."""
    return documented_options(plugin_module)


@pytest.fixture
def lookup():
    # What the plugin loader does, without it: a plain pytest run has no collection loader configured.
    C.config.initialize_plugin_configuration_definitions('lookup', NAME, plugin_options())
    plugin = plugin_module.LookupModule()
    plugin._load_name = NAME
    return plugin


def test_the_connection_options_are_those_of_the_modules():
    options, spec = plugin_options(), connection_argument_spec()
    assert set(spec) <= set(options)
    for name, option in spec.items():
        assert options[name]['type'] == option['type'], name
        assert options[name].get('default') == option.get('default'), name
        assert options[name].get('choices') == option.get('choices'), name
        fallback = option.get('fallback', (None, []))[1]
        assert [entry['name'] for entry in options[name].get('env', [])] == fallback, name


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(plugin_module.display, 'warning', lambda message, *args, **kwargs: seen.append(message))
    return seen


@pytest.fixture
def no_http(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('an HTTP request was made: %r' % (args,))

    monkeypatch.setattr(requests.Session, 'request', refuse)


def run(lookup, *terms, **kwargs):
    options = {'api_url': BASE, 'token': TOKEN, 'retries': 0}
    options.update(kwargs)
    result = lookup.run(list(terms), {}, **options)
    assert isinstance(result, list) and len(result) == 1
    return result[0]


def failure(lookup, *terms, **kwargs):
    with pytest.raises(AnsibleError) as excinfo:
        run(lookup, *terms, **kwargs)
    message = str(excinfo.value)
    assert TOKEN not in message
    return message


def page(results, next_url=None):
    return {'count': len(results), 'next': next_url, 'previous': None, 'results': results}


def attribute(name, rows):
    group = {'mood': 'mood', 'sleep': 'sleep'}.get(name, 'custom')
    return {
        'template': name,
        'name': name,
        'label': name.title(),
        'group': {'name': group, 'label': group.title(), 'priority': 1},
        'service': {'name': 'me', 'label': 'Me'},
        'active': True,
        'priority': 1,
        'manual': True,
        'value_type': 8,
        'value_type_description': 'Integer scale (1-9)',
        'values': [{'date': day, 'value': value} for day, value in rows],
    }


def query_of(call):
    return dict((key, values[0]) for key, values in parse_qs(urlsplit(call.request.url).query).items())


def paths():
    return [urlsplit(call.request.url).path for call in responses.calls]


def days_before(last, count):
    """`count` ISO dates ending on `last`, newest first."""
    return [(last - datetime.timedelta(days=n)).isoformat() for n in range(count)]


# -- with-values ---------------------------------------------------------------


@responses.activate
def test_seven_days_of_two_attributes_cost_one_with_values_request(lookup, warnings):
    responses.add(
        responses.GET,
        WITH_VALUES,
        json=page(
            [
                attribute('mood', [('2026-11-27', 8), ('2026-11-25', None), ('2026-11-24', 6)]),
                attribute('sleep', [('2026-11-26', 452)]),
            ]
        ),
    )
    result = run(lookup, 'sleep', 'mood', days=7)
    assert result == {'sleep': {'2026-11-26': 452}, 'mood': {'2026-11-24': 6, '2026-11-27': 8}}
    # Oldest first, nulls left out.
    assert list(result['mood']) == ['2026-11-24', '2026-11-27']
    assert paths() == ['/api/2/attributes/with-values/']
    query = query_of(responses.calls[0])
    assert query['days'] == '7' and query['attributes'] == 'mood,sleep' and query['include_low_priority'] == 'true'
    assert 'date_max' not in query and query['limit'] == '100'
    assert responses.calls[0].request.headers['Authorization'] == 'Bearer ' + TOKEN
    assert warnings == []


@responses.activate
def test_every_with_values_page_is_followed(lookup, warnings):
    responses.add(
        responses.GET,
        WITH_VALUES,
        json=page([attribute('a', [('2026-11-27', 1)])], next_url=WITH_VALUES + '?page=2&limit=100'),
    )
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('b', [('2026-11-27', 2)])]))
    assert run(lookup, 'a', 'b') == {'a': {'2026-11-27': 1}, 'b': {'2026-11-27': 2}}
    assert paths() == ['/api/2/attributes/with-values/'] * 2
    assert query_of(responses.calls[1])['page'] == '2'
    assert query_of(responses.calls[0])['days'] == '1'  # the default: one day


@responses.activate
def test_rows_outside_the_window_and_names_not_asked_for_are_left_out(lookup, warnings):
    # Exist has been seen to ignore the attributes= filter.
    responses.add(
        responses.GET,
        WITH_VALUES,
        json=page(
            [
                attribute('mood', [('2026-11-28', 9), ('2026-11-27', 8), ('2026-11-20', 1)]),
                attribute('other', [('2026-11-27', 5)]),
            ]
        ),
    )
    assert run(lookup, 'mood', days=2, date_max='2026-11-27') == {'mood': {'2026-11-27': 8}}
    assert query_of(responses.calls[0])['date_max'] == '2026-11-27'
    assert 'accounts/profile' not in ''.join(paths())


@responses.activate
def test_terms_as_one_list_and_repeats(lookup, warnings):
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('mood', []), attribute('sleep', [])]))
    assert run(lookup, ['mood', 'sleep'], 'mood') == {'mood': {}, 'sleep': {}}
    assert query_of(responses.calls[0])['attributes'] == 'mood,sleep'


@responses.activate
def test_more_than_31_days_of_many_attributes_read_with_values_windows_ending_on_date_max(lookup, warnings):
    names = ['a', 'b', 'c']
    for rows in ([('2026-10-31', 1), ('2026-10-01', 2)], [('2026-09-30', 3), ('2026-09-02', 4), ('2026-09-01', 5)]):
        responses.add(responses.GET, WITH_VALUES, json=page([attribute(n, rows) for n in names]))
    result = run(lookup, *names, days=60, date_max='2026-10-31')
    # 60 days up to 2026-10-31 start on 2026-09-02.
    assert result['a'] == {'2026-09-02': 4, '2026-09-30': 3, '2026-10-01': 2, '2026-10-31': 1}
    assert result['a'] == result['b'] == result['c']
    # 3 attributes over 60 days: 2 with-values windows beat 3 values/ reads; no profile, date_max is given.
    assert paths() == ['/api/2/attributes/with-values/'] * 2
    first, second = query_of(responses.calls[0]), query_of(responses.calls[1])
    assert (first['days'], first['date_max']) == ('31', '2026-10-31')
    assert (second['days'], second['date_max']) == ('29', '2026-09-30')


# -- values/ -------------------------------------------------------------------


@responses.activate
def test_more_than_31_days_read_the_users_today_then_values_pages(lookup, warnings):
    today = datetime.date(2026, 11, 28)
    responses.add(responses.GET, PROFILE, json={'username': 'u', 'local_time': '2026-11-28T09:15:00+01:00'})
    rows = [{'date': day, 'value': n} for n, day in enumerate(days_before(today, 170))]
    rows[3]['value'] = None  # a row without data
    responses.add(responses.GET, VALUES, json=page(rows[:100], next_url=VALUES + '?attribute=steps&page=2&limit=100'))
    responses.add(responses.GET, VALUES, json=page(rows[100:]))
    result = run(lookup, 'steps', days=150)
    # 1 attribute over 150 days: 2 values/ pages beat 5 with-values windows.
    assert paths() == ['/api/2/accounts/profile/', '/api/2/attributes/values/', '/api/2/attributes/values/']
    query = query_of(responses.calls[1])
    assert query['attribute'] == 'steps' and query['date_max'] == '2026-11-28'
    expected = dict((row['date'], row['value']) for row in rows[:150] if row['value'] is not None)
    assert result == {'steps': dict(sorted(expected.items()))}
    assert len(result['steps']) == 149 and min(result['steps']) == '2026-07-02'
    assert warnings == []


@responses.activate
def test_values_pages_stop_once_past_the_window(lookup, warnings):
    last = datetime.date(2026, 10, 31)
    rows = [{'date': day, 'value': 1} for day in days_before(last, 300)]
    responses.add(responses.GET, VALUES, json=page(rows[:100], next_url=VALUES + '?page=2'))
    responses.add(responses.GET, VALUES, json=page(rows[100:200], next_url=VALUES + '?page=3'))
    result = run(lookup, 'steps', days=120, date_max='2026-10-31')
    assert len(result['steps']) == 120
    assert paths() == ['/api/2/attributes/values/'] * 2  # page 3 is never asked for


@responses.activate
def test_a_name_the_token_cannot_see_is_empty_with_a_warning(lookup, warnings):
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('mood', [('2026-11-27', 8)])]))
    result = run(lookup, 'mood', 'ghost', days=7)
    assert result == {'mood': {'2026-11-27': 8}, 'ghost': {}}
    assert len(warnings) == 1 and 'ghost' in warnings[0] and 'mood' not in warnings[0]
    assert TOKEN not in warnings[0]


@responses.activate
def test_a_name_values_pages_know_nothing_of_is_empty_with_a_warning(lookup, warnings):
    responses.add(responses.GET, VALUES, json=page([{'date': '2026-10-30', 'value': 3}]))
    responses.add(responses.GET, VALUES, json=page([]))
    result = run(lookup, 'a', 'ghost', days=200, date_max='2026-10-31')
    assert result == {'a': {'2026-10-30': 3}, 'ghost': {}}
    assert [query_of(call)['attribute'] for call in responses.calls] == ['a', 'ghost']
    assert len(warnings) == 1 and 'ghost' in warnings[0] and '2026-10-31' in warnings[0]


# -- errors --------------------------------------------------------------------


@responses.activate
def test_an_api_error_names_the_attributes_and_never_the_token(lookup, warnings):
    responses.add(responses.GET, WITH_VALUES, status=500, json={'detail': 'boom for token %s' % TOKEN})
    message = failure(lookup, 'mood', 'sleep', days=7)
    assert 'reading mood, sleep' in message and 'answered 500' in message and 'boom for token' in message


@responses.activate
def test_a_values_error_names_the_attribute_that_failed(lookup, warnings):
    responses.add(responses.GET, VALUES, json=page([{'date': '2026-10-30', 'value': 3}]))
    responses.add(responses.GET, VALUES, status=401, json={'detail': 'Invalid token %s.' % TOKEN})
    message = failure(lookup, 'a', 'b', days=200, date_max='2026-10-31')
    assert 'reading b:' in message and 'reading a' not in message and 'answered 401' in message


@responses.activate
def test_a_malformed_answer_names_the_attribute(lookup, warnings):
    responses.add(responses.GET, WITH_VALUES, json=page([dict(attribute('mood', []), values='nope')]))
    message = failure(lookup, 'mood', days=3)
    assert 'reading mood' in message and 'malformed' in message


@responses.activate
def test_a_profile_without_local_time_names_the_attributes(lookup, warnings):
    responses.add(responses.GET, PROFILE, json={'username': 'u'})
    message = failure(lookup, 'steps', days=40)
    assert 'reading steps' in message and 'local_time' in message
    assert paths() == ['/api/2/accounts/profile/']


def test_a_refused_connection_names_the_attributes(lookup, warnings):
    message = failure(lookup, 'mood', api_url='http://127.0.0.1:1')
    assert 'reading mood' in message and '127.0.0.1:1' in message


@pytest.mark.parametrize(
    'terms, kwargs, fragment',
    [
        (['mood', 'bad name'], {}, "'bad name' is not an attribute name"),
        ([['mood', '']], {}, "'' is not an attribute name"),
        (['mood', 7], {}, '7 is not an attribute name'),
        (['mood', 10**5000], {}, 'an integer of more than 4300 digits is not an attribute name'),
        (['mood', 'x' * 5000], {}, "'xxxxxxxx"),
        (['mood'], {'days': 0}, 'days must be a whole number of days from 1 to 3660, got 0'),
        (['mood'], {'days': 3661}, 'days must be a whole number of days from 1 to 3660, got 3661'),
        (['mood'], {'days': 'week'}, "days must be a whole number, got 'week'"),
        (['mood'], {'days': True}, 'days must be a whole number, got True'),
        (['mood'], {'days': 7.5}, 'days must be a whole number, got 7.5'),
        (['mood'], {'date_max': '2026-02-30'}, "date_max must be a date written YYYY-MM-DD, got '2026-02-30'"),
        (['mood'], {'date_max': '28/11/2026'}, "date_max must be a date written YYYY-MM-DD, got '28/11/2026'"),
        (['mood'], {'date_max': 20261128}, 'date_max must be a date written YYYY-MM-DD, got 20261128'),
        (['mood'], {'dayz': 7}, 'unknown option(s) dayz'),
        (['mood'], {'timeout': 0}, 'timeout must be a whole number of seconds from 1 to 3600, got 0'),
        (['mood'], {'api_url': 'http://exist.example'}, "api_url 'http://exist.example' uses plain http://"),
        (['mood'], {'token': 'Bearer ' + TOKEN}, "token must be the access token alone"),
    ],
)
def test_bad_input_fails_before_any_request_naming_option_and_value(lookup, no_http, terms, kwargs, fragment):
    message = failure(lookup, *terms, **kwargs)
    assert message.startswith('existio.exist.values: ') and fragment in message


@pytest.mark.parametrize('option', ['days', 'timeout', 'retries', 'rate_limit_wait'])
@pytest.mark.parametrize(
    'value, fragment',
    [
        ('9' * 5000, "must be a whole number, got '" + '9' * 40),
        ('²', "must be a whole number, got '²'"),
        ('٣', "must be a whole number, got '٣'"),
        ('\u2003' + '7', "must be a whole number, got '\\u20037'"),
        (10**5000, 'got an integer of more than 4300 digits'),
        (-(10**5000), 'got an integer of more than 4300 digits'),
        (10**4000, 'got an integer of 4001 digits'),
        ('1' + '0' * 100, 'got an integer of 101 digits'),
    ],
    ids=[
        '5000-digits',
        'superscript',
        'arabic-indic',
        'unicode-space',
        'int-5000-digits',
        'negative',
        'int-4001',
        'text-101-digits',
    ],
)
def test_a_number_option_of_any_size_or_script_fails_naming_it_and_the_value_shortened(
    lookup, no_http, option, value, fragment
):
    message = failure(lookup, 'mood', **{option: value})
    assert message.startswith('existio.exist.values: %s ' % option) and fragment in message, message
    assert len(message) < 300


def test_no_name_reads_nothing(lookup, no_http):
    assert run(lookup) == {} and run(lookup, []) == {}


def test_a_date_object_is_a_date_max(lookup, monkeypatch):
    seen = []
    monkeypatch.setattr(plugin_module, 'read', lambda client, names, days, last: seen.append(last) or {})
    run(lookup, 'mood', date_max=datetime.date(2026, 11, 27))
    assert seen == [datetime.date(2026, 11, 27)]


# -- connection options --------------------------------------------------------


@responses.activate
def test_token_and_api_url_from_the_environment(lookup, warnings, monkeypatch):
    monkeypatch.setenv('EXIST_TOKEN', TOKEN)
    monkeypatch.setenv('EXIST_API_URL', 'http://localhost:9999/api/2/')
    url = 'http://localhost:9999/api/2/attributes/with-values/'
    responses.add(responses.GET, url, json=page([attribute('mood', [('2026-11-27', 8)])]))
    assert lookup.run(['mood'], {}) == [{'mood': {'2026-11-27': 8}}]
    assert responses.calls[0].request.headers['Authorization'] == 'Bearer ' + TOKEN


@responses.activate
def test_simple_token_and_user_agent(lookup, warnings):
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('mood', [])]))
    run(lookup, 'mood', token_type='token', http_agent='my-agent/1.0')
    headers = responses.calls[0].request.headers
    assert headers['Authorization'] == 'Token ' + TOKEN and headers['User-Agent'] == 'my-agent/1.0'


@responses.activate
def test_a_retry_is_a_warning_without_the_token(lookup, warnings, monkeypatch):
    monkeypatch.setattr('time.sleep', lambda seconds: None)
    responses.add(responses.GET, WITH_VALUES, status=503, json={'detail': 'busy %s' % TOKEN})
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('mood', [('2026-11-27', 8)])]))
    assert run(lookup, 'mood', retries=1) == {'mood': {'2026-11-27': 8}}
    assert len(warnings) == 1 and all(TOKEN not in w for w in warnings)


# -- where the options come from: keyword, host variable, environment, ansible.cfg ------------------------

LAYER_URLS = {
    'ini': 'http://localhost:9001',
    'env': 'http://localhost:9002',
    'var': 'http://localhost:9003',
    'keyword': 'http://localhost:9004',
}


@pytest.fixture
def configured(tmp_path, monkeypatch):
    """A lookup whose ansible-core configuration reads the ansible.cfg written by the returned function."""
    monkeypatch.delenv('EXIST_TOKEN', raising=False)
    monkeypatch.delenv('EXIST_API_URL', raising=False)

    def make(ini=''):
        cfg = tmp_path / 'ansible.cfg'
        cfg.write_text(ini)
        manager = ConfigManager(conf_file=str(cfg))
        monkeypatch.setattr(C, 'config', manager)
        manager.initialize_plugin_configuration_definitions('lookup', NAME, plugin_options())
        plugin = plugin_module.LookupModule()
        plugin._load_name = NAME
        return plugin

    return make


def answer_every_layer():
    for url in LAYER_URLS.values():
        responses.add(responses.GET, url + '/api/2/attributes/with-values/', json=page([attribute('mood', [])]))


@responses.activate
def test_token_and_api_url_from_the_hosts_variables(configured, warnings):
    lookup = configured()
    answer_every_layer()
    variables = {'inventory_hostname': 'alice', 'exist_token': TOKEN, 'exist_api_url': LAYER_URLS['var']}
    assert lookup.run(['mood'], variables) == [{'mood': {}}]
    request = responses.calls[0].request
    assert request.url.startswith(LAYER_URLS['var'] + '/api/2/')
    assert request.headers['Authorization'] == 'Bearer ' + TOKEN


@responses.activate
def test_every_connection_option_has_its_host_variable(configured, warnings):
    lookup = configured()
    answer_every_layer()
    variables = {
        'exist_token': TOKEN,
        'exist_api_url': LAYER_URLS['var'],
        'exist_token_type': 'token',
        'exist_http_agent': 'from-host-vars/1.0',
    }
    lookup.run(['mood'], variables)
    headers = responses.calls[0].request.headers
    assert headers['Authorization'] == 'Token ' + TOKEN and headers['User-Agent'] == 'from-host-vars/1.0'
    # A number from a host variable is checked as a keyword's is, naming the option.
    with pytest.raises(AnsibleError) as excinfo:
        lookup.run(['mood'], dict(variables, exist_timeout=0))
    assert 'timeout' in str(excinfo.value) and len(responses.calls) == 1


@pytest.mark.parametrize(
    'layers, winner',
    [
        (('ini',), 'ini'),
        (('ini', 'env'), 'env'),
        (('ini', 'env', 'var'), 'var'),
        (('ini', 'var'), 'var'),
        (('ini', 'env', 'var', 'keyword'), 'keyword'),
        (('env', 'keyword'), 'keyword'),
    ],
)
@responses.activate
def test_api_url_a_keyword_beats_a_variable_beats_the_environment_beats_ansible_cfg(
    configured, warnings, monkeypatch, layers, winner
):
    ini = '[existio_exist_values]\napi_url = %s\n' % LAYER_URLS['ini'] if 'ini' in layers else ''
    lookup = configured(ini)
    if 'env' in layers:
        monkeypatch.setenv('EXIST_API_URL', LAYER_URLS['env'])
    variables = {'exist_token': TOKEN}
    if 'var' in layers:
        variables['exist_api_url'] = LAYER_URLS['var']
    keywords = {'api_url': LAYER_URLS['keyword']} if 'keyword' in layers else {}
    answer_every_layer()
    lookup.run(['mood'], variables, **keywords)
    assert [call.request.url.split('/api/2/')[0] for call in responses.calls] == [LAYER_URLS[winner]]


@pytest.mark.parametrize(
    'layers, winner',
    [
        (('env',), 'env'),
        (('env', 'var'), 'var'),
        (('env', 'var', 'keyword'), 'keyword'),
        (('var', 'keyword'), 'keyword'),
    ],
)
@responses.activate
def test_token_a_keyword_beats_a_variable_beats_the_environment(configured, warnings, monkeypatch, layers, winner):
    tokens = dict((layer, 'token-from-%s-0042' % layer) for layer in ('env', 'var', 'keyword'))
    lookup = configured()
    if 'env' in layers:
        monkeypatch.setenv('EXIST_TOKEN', tokens['env'])
    variables = {'exist_api_url': BASE}
    if 'var' in layers:
        variables['exist_token'] = tokens['var']
    keywords = {'token': tokens['keyword']} if 'keyword' in layers else {}
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('mood', [])]))
    lookup.run(['mood'], variables, **keywords)
    assert responses.calls[0].request.headers['Authorization'] == 'Bearer ' + tokens[winner]


@responses.activate
def test_the_token_is_never_read_from_ansible_cfg(configured, warnings):
    lookup = configured('[existio_exist_values]\ntoken = ini-token-s3cret-77\napi_url = %s\n' % BASE)
    with pytest.raises(AnsibleError) as excinfo:
        lookup.run(['mood'], {})
    assert 'token' in str(excinfo.value) and 'ini-token-s3cret-77' not in str(excinfo.value)
    assert len(responses.calls) == 0


@responses.activate
def test_an_error_never_shows_a_token_from_the_hosts_variables(configured, warnings):
    lookup = configured()
    responses.add(responses.GET, WITH_VALUES, status=401, json={'detail': 'bad token %s' % TOKEN})
    with pytest.raises(AnsibleError) as excinfo:
        lookup.run(['mood'], {'exist_token': TOKEN, 'exist_api_url': BASE, 'exist_retries': 0})
    assert 'answered 401' in str(excinfo.value) and TOKEN not in str(excinfo.value)


# -- the requests counted for the fleet report ------------------------------------------------------------


@pytest.fixture
def spool(monkeypatch):
    monkeypatch.delenv(_lookup_spool.SPOOL_VARIABLE, raising=False)
    directory = _lookup_spool.open_spool()
    yield directory
    _lookup_spool.close_spool(directory)


@responses.activate
def test_each_call_counts_its_requests_retries_included_for_its_host(lookup, warnings, spool, monkeypatch):
    monkeypatch.setattr('time.sleep', lambda seconds: None)
    responses.add(responses.GET, WITH_VALUES, status=503, json={'detail': 'busy'})
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('mood', [])]))
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('mood', [])]))
    variables = {'inventory_hostname': 'alice', 'exist_token': TOKEN, 'exist_api_url': BASE}
    lookup.run(['mood'], variables, retries=1)
    lookup.run(['mood'], dict(variables, inventory_hostname='bob'))
    assert _lookup_spool.read_spool(spool) == {'alice': 2, 'bob': 1}
    assert len(responses.calls) == 3


@responses.activate
def test_a_failed_read_counts_its_requests_too(lookup, warnings, spool):
    responses.add(responses.GET, WITH_VALUES, status=401, json={'detail': 'no'})
    with pytest.raises(AnsibleError):
        lookup.run(['mood'], {'inventory_hostname': 'alice', 'exist_token': TOKEN, 'exist_api_url': BASE})
    assert _lookup_spool.read_spool(spool) == {'alice': 1}


def test_a_call_that_sends_nothing_writes_nothing(lookup, no_http, spool):
    assert lookup.run([], {'inventory_hostname': 'alice', 'exist_token': TOKEN}) == [{}]
    with pytest.raises(AnsibleError):
        lookup.run(['mood'], {'inventory_hostname': 'alice', 'exist_token': TOKEN, 'exist_timeout': 0})
    assert not os.path.exists(os.path.join(spool, _lookup_spool.SPOOL_FILE))


@responses.activate
def test_without_the_fleet_report_nothing_is_spooled(lookup, warnings, monkeypatch):
    monkeypatch.delenv(_lookup_spool.SPOOL_VARIABLE, raising=False)
    recorded = []

    def spy(host, requests):
        recorded.append((host, requests, _lookup_spool.record_requests(host, requests)))

    monkeypatch.setattr(plugin_module, 'record_requests', spy)
    responses.add(responses.GET, WITH_VALUES, json=page([attribute('mood', [])]))
    lookup.run(['mood'], {'inventory_hostname': 'alice', 'exist_token': TOKEN, 'exist_api_url': BASE})
    # The lookup offered its count; with no spool it went nowhere.
    assert recorded == [('alice', 1, False)]


# -- against the emulator, in process --------------------------------------------


def emulator_seed(today):
    def days(count, value):
        return dict((day, value(n)) for n, day in enumerate(days_before(today, count)))

    return one_user_seed(
        [
            {'template': 'mood', 'service': 'me', 'manual': True, 'values': days(90, lambda n: 1 + n % 9)},
            {'template': 'steps', 'service': 'me', 'values': days(90, lambda n: 1000 + n)},
            {'template': 'keystrokes', 'service': 'me', 'values': days(3, lambda n: 50)},
        ],
        token=TOKEN,
        more_tokens=[{'token': TOKEN + '-mood', 'service': 'me', 'scopes': ['mood_read'], 'kind': 'oauth2'}],
    )


@pytest.fixture
def emulated(monkeypatch, make_exist):
    """An emulator in process, whose today is the user's (UTC); every client the lookup builds talks to it."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    exist = make_exist(emulator_seed(today))

    class ConnectedClient(ExistClient):
        def __init__(self, connection, warn=None, **options):
            super().__init__(connection, warn, **options)
            bind(self, exist.adapter)

    monkeypatch.setattr(plugin_module, 'ExistClient', ConnectedClient)
    return today, exist


def sent(exist):
    """The path of every request the lookup sent."""
    return [path for unused_method, path in exist.log]


def test_emulator_seven_days(lookup, warnings, emulated):
    today, exist = emulated
    result = run(lookup, 'mood', 'steps', 'keystrokes', days=7)
    stored = exist.user.attributes
    for name in ('mood', 'steps', 'keystrokes'):
        expected = dict((d, v) for d, v in stored[name].values.items() if d in days_before(today, 7))
        assert result[name] == dict(sorted(expected.items()))
    assert len(result['mood']) == 7 and len(result['keystrokes']) == 3
    assert sent(exist) == ['/api/2/attributes/with-values/'] and warnings == []


def test_emulator_sixty_days_of_one_attribute_read_values_pages(lookup, warnings, emulated):
    today, exist = emulated
    result = run(lookup, 'steps', days=60)
    assert result['steps'] == dict((d, 1000 + n) for n, d in reversed(list(enumerate(days_before(today, 60)))))
    assert sent(exist) == ['/api/2/accounts/profile/', '/api/2/attributes/values/']


def test_emulator_sixty_days_of_three_attributes_read_two_with_values_windows(lookup, warnings, emulated):
    today, exist = emulated
    result = run(lookup, 'mood', 'steps', 'keystrokes', days=60)
    assert len(result['mood']) == len(result['steps']) == 60 and len(result['keystrokes']) == 3
    assert min(result['mood']) == days_before(today, 60)[-1] and max(result['mood']) == today.isoformat()
    assert sent(exist) == ['/api/2/accounts/profile/'] + ['/api/2/attributes/with-values/'] * 2


def test_emulator_read_scopes_hide_an_attribute(lookup, warnings, emulated):
    result = run(lookup, 'mood', 'steps', days=2, token=TOKEN + '-mood')
    assert len(result['mood']) == 2 and result['steps'] == {}
    assert len(warnings) == 1 and 'steps' in warnings[0] and TOKEN not in warnings[0]


def test_emulator_invalid_token(lookup, warnings, emulated):
    message = failure(lookup, 'mood', token='not-' + TOKEN)
    assert 'reading mood' in message and 'answered 401' in message and TOKEN not in message
