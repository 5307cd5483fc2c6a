# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTP client (_client.py) at the HTTP boundary: paging, batches, and the shape of what it reads and writes.

requests' transport is replaced by `responses`. Retries, waits and error mapping are _transport.py's
(test_transport.py); the checks of the options are test_option_checks.py's and test_connection_options.py's.
"""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.existio.exist.plugins.module_utils._client import (
    MAX_ITEMS_PER_REQUEST,
    ExistClient,
    split_batches,
)
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError, ExistOutcomeUnknown
from ansible_collections.existio.exist.tests.unit.plugins.emulated import listed_attribute
from ansible_collections.existio.exist.tests.unit.plugins.http_boundary import (
    ACQUIRE,
    AVERAGES,
    BASE,
    COMBO,
    CORRELATIONS,
    INSIGHTS,
    OWNED,
    TOKEN,
    A,
    assert_no_token,
    average,
    correlation,
    insight,
    page,
)

# -- paging ------------------------------------------------------------------


@responses.activate
def test_paging_follows_every_next_with_limit_100_on_the_configured_host(client):
    responses.add(
        responses.GET,
        OWNED,
        json=page([A], 'http://internal:9000/api/2/attributes/owned/?limit=100&page=2'),
    )
    responses.add(
        responses.GET, OWNED, json=page([listed_attribute('b')], BASE + '/api/2/attributes/owned/?limit=100&page=3')
    )
    responses.add(responses.GET, OWNED, json=page([listed_attribute('c')]))
    assert [a['name'] for a in client.list_owned()] == ['a', 'b', 'c']
    urls = [call.request.url for call in responses.calls]
    assert urls == [OWNED + '?limit=100', OWNED + '?limit=100&page=2', OWNED + '?limit=100&page=3']


@responses.activate
def test_paging_under_a_base_path(rec):
    base = 'https://proxy.example/exist'
    client = ExistClient.connect(base, TOKEN, warn=rec.warn, sleep=rec.sleep)
    url = base + '/api/2/attributes/'
    responses.add(responses.GET, url, json=page([A], url + '?page=2&limit=100'))
    responses.add(responses.GET, url, json=page([listed_attribute('b')]))
    assert [a['name'] for a in client.list_attributes({'groups': 'mood'})] == ['a', 'b']
    assert responses.calls[0].request.url == url + '?groups=mood&limit=100'
    assert responses.calls[1].request.url == url + '?page=2&limit=100'


@responses.activate
def test_a_page_that_is_not_a_page_is_an_error(client):
    responses.add(responses.GET, OWNED, json=['not', 'a', 'page'])
    with pytest.raises(ExistApiError, match='not a page of results'):
        list(client.list_owned())


@responses.activate
def test_page_past_the_end_404_is_an_error_with_status(client):
    responses.add(responses.GET, OWNED, status=404, json={'detail': 'Invalid page.'})
    with pytest.raises(ExistApiError) as excinfo:
        list(client.list_owned())
    assert excinfo.value.status == 404 and 'Invalid page.' in excinfo.value.message


# -- batching ----------------------------------------------------------------


def test_split_batches_by_35():
    items = [{'name': 'a%d' % i} for i in range(71)]
    assert [len(batch) for batch in split_batches(items)] == [35, 35, 1]
    assert split_batches([]) == []
    assert MAX_ITEMS_PER_REQUEST == 35


def test_post_batch_refuses_more_than_35(client):
    with pytest.raises(ValueError, match='at most 35 items'):
        client.post_batch('/api/2/attributes/acquire/', [{'name': 'x'}] * 36)


@responses.activate
def test_acquire_sends_json_array_and_asks_for_success_objects(client):
    responses.add(
        responses.POST,
        ACQUIRE,
        status=202,
        json={
            'success': [{'name': 'mood', 'manual': False}],
            'failed': [{'template': 'nope', 'error_code': 'not_found', 'error': 'Template not found'}],
        },
    )
    result = client.acquire([{'template': 'mood'}, {'template': 'nope'}])
    assert result.status == 202
    assert result.success == [{'name': 'mood', 'manual': False}]
    assert result.failed[0]['error_code'] == 'not_found'
    sent = responses.calls[0].request
    assert json.loads(sent.body) == [{'template': 'mood'}, {'template': 'nope'}]
    assert sent.headers['Content-Type'] == 'application/json'
    assert 'success_objects=1' in sent.url


# -- hostile servers: paging is bounded ------------------------------------------


@responses.activate
def test_a_next_link_that_loops_is_an_error(client):
    responses.add(responses.GET, OWNED, json=page([A], OWNED + '?page=2'))
    responses.add(responses.GET, OWNED, json=page([listed_attribute('b')], OWNED + '?page=2'))
    with pytest.raises(ExistApiError, match='same "next" page twice'):
        list(client.list_owned())
    assert len(responses.calls) == 2


# -- hostile servers: every answer is checked for shape ----------------------


@responses.activate
@pytest.mark.parametrize(
    'body, fragment',
    [
        ({}, "no 'success' list"),
        ({'success': [], 'failed': None}, "no 'failed' list"),
        ({'success': 'mood', 'failed': []}, "no 'success' list (got \"mood\")"),
        ({'success': [], 'failed': ['mood']}, 'failed[0] that is not an object ("mood")'),
        ([], 'a body that is not an object ([])'),
    ],
)
def test_a_malformed_2xx_write_answer_is_an_unknown_outcome_naming_the_endpoint(client, body, fragment):
    responses.add(responses.POST, ACQUIRE, json=body)
    with pytest.raises(ExistOutcomeUnknown) as excinfo:
        client.acquire([{'name': 'a'}])
    assert excinfo.value.message.startswith('POST /api/2/attributes/acquire/: Exist answered 200 with ')
    assert fragment in excinfo.value.message and excinfo.value.may_be_applied


@responses.activate
def test_an_html_2xx_write_answer_is_an_unknown_outcome_not_a_refusal(client):
    responses.add(
        responses.POST, ACQUIRE, body='<html><body>Proxy says hi</body></html>', status=200, content_type='text/html'
    )
    with pytest.raises(ExistOutcomeUnknown, match='answered 200 with a body that is not JSON'):
        client.acquire([{'name': 'a'}])


@responses.activate
def test_results_that_are_not_a_list_is_an_error(client):
    responses.add(responses.GET, OWNED, json={'results': A, 'next': None})
    with pytest.raises(ExistApiError, match='not a page of results'):
        list(client.list_owned())


@responses.activate
def test_a_next_link_to_another_endpoint_is_not_followed(client):
    responses.add(responses.GET, OWNED, json=page([A], BASE + '/api/2/attributes/acquire/?page=2'))
    with pytest.raises(ExistApiError, match="answered a 'next' for another endpoint"):
        list(client.list_owned())
    assert len(responses.calls) == 1


@responses.activate
def test_malformed_bodies_that_echo_the_token_are_redacted(client):
    responses.add(responses.GET, OWNED, json={'results': 'token ' + TOKEN})
    with pytest.raises(ExistApiError) as listing:
        list(client.list_owned())
    responses.add(responses.POST, ACQUIRE, json={'success': TOKEN, 'failed': []})
    with pytest.raises(ExistOutcomeUnknown) as writing:
        client.acquire([{'name': 'a'}])
    assert_no_token(listing.value.message, writing.value.message)
    assert '********' in listing.value.message and '********' in writing.value.message


# -- averages, correlations, insights -------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    'url, read, make',
    [
        (AVERAGES, 'list_averages', average),
        (CORRELATIONS, 'list_correlations', correlation),
        (INSIGHTS, 'list_insights', insight),
    ],
)
def test_the_read_side_lists_follow_every_page_at_limit_100_with_the_query(client, url, read, make):
    first, second = make(), make(date='2026-11-22') if make is not insight else make(target_date='2026-11-22')
    responses.add(responses.GET, url, json=page([first], url + '?limit=100&page=2&x=1'))
    responses.add(responses.GET, url, json=page([second]))
    assert list(getattr(client, read)({'x': '1'})) == [first, second]
    assert [call.request.url for call in responses.calls] == [url + '?x=1&limit=100', url + '?limit=100&page=2&x=1']


@responses.activate
def test_a_new_accounts_empty_page_is_an_empty_list(client):
    responses.add(responses.GET, INSIGHTS, json={'count': 0, 'next': None, 'previous': None, 'results': []})
    assert list(client.list_insights()) == []


@responses.activate
def test_the_combination_is_one_get_of_one_object(client):
    found = correlation('steps', 'mood')
    responses.add(responses.GET, COMBO, json=found)
    assert client.correlation_combo('steps', 'mood') == found
    assert [call.request.url for call in responses.calls] == [COMBO + '?attribute=steps&attribute2=mood']
    assert client.requests_sent == 1


@responses.activate
def test_the_combinations_404_not_found_is_none(client, rec):
    # As recorded from exist.io for a combination it has not found.
    responses.add(responses.GET, COMBO, status=404, json={'error': 'not_found'})
    assert client.correlation_combo('steps', 'mood') is None
    assert len(responses.calls) == 1 and rec.warnings == []


@responses.activate
@pytest.mark.parametrize(
    'answer',
    [
        dict(json={'detail': 'Not found.'}),
        dict(body='<html>Not Found</html>', content_type='text/html'),
        dict(json={'error': 'not_allowed'}),
        dict(json=['not_found']),
    ],
)
def test_any_other_404_of_the_combination_fails_with_its_status(client, answer):
    responses.add(responses.GET, COMBO, status=404, **answer)
    with pytest.raises(ExistApiError) as excinfo:
        client.correlation_combo('steps', 'mood')
    assert excinfo.value.status == 404
    assert excinfo.value.message.startswith('GET /api/2/correlations/combo/: Exist answered 404')


@responses.activate
def test_a_combination_refused_fails_naming_the_endpoint(client):
    responses.add(responses.GET, COMBO, status=400, json={'error': 'attribute2 is required'})
    with pytest.raises(ExistApiError) as excinfo:
        client.correlation_combo('steps', 'mood')
    assert excinfo.value.status == 400 and 'GET /api/2/correlations/combo/' in excinfo.value.message


@responses.activate
@pytest.mark.parametrize(
    'answer, fragment',
    [
        (dict(json=correlation(stars='5')), "is not a correlation: it 'stars' is \"5\", expected a whole number"),
        (dict(json=[correlation()]), 'is not a correlation: it is [{'),
        (dict(body='not json'), 'with a body that is not JSON'),
    ],
)
def test_a_malformed_combination_fails_naming_the_endpoint(client, answer, fragment):
    responses.add(responses.GET, COMBO, **answer)
    with pytest.raises(ExistApiError) as excinfo:
        client.correlation_combo('steps', 'mood')
    assert excinfo.value.message.startswith('GET /api/2/correlations/combo/')
    assert fragment in excinfo.value.message


@responses.activate
def test_a_combination_that_echoes_the_token_is_redacted(client):
    responses.add(responses.GET, COMBO, json=correlation(stars=TOKEN))
    with pytest.raises(ExistApiError) as excinfo:
        client.correlation_combo('steps', 'mood')
    assert_no_token(excinfo.value.message, excinfo.value.detail)
    assert '********' in excinfo.value.message
