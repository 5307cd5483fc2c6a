# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client of Exist's API: its endpoints, paging and batching, on the transport of _transport.py.

Internal to this collection, not a stable API: it may change in any release.
It alone knows the endpoints, paging, batching and the shape of Exist's
answers; _transport.py sends the requests (the base URL, the auth header,
timeouts, retries, how Exist reports errors). Modules and action plugins never
build URLs or call ``requests`` themselves.

Every answer is checked for shape before anyone reads it: a body that is not
what Exist sends is an error naming the endpoint, never a Python exception
further down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._connection_options import Connection

from urllib.parse import urlsplit

from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import (
    average_problem,
    correlation_problem,
    insight_problem,
    is_text,
    listed_attribute_problem,
    template_problem,
    value_row_problem,
    with_values_problem,
)
from ansible_collections.existio.exist.plugins.module_utils._connection_options import validate
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError, ExistOutcomeUnknown
from ansible_collections.existio.exist.plugins.module_utils._option_checks import short
from ansible_collections.existio.exist.plugins.module_utils._remedies import NOBODY, TaskUser
from ansible_collections.existio.exist.plugins.module_utils._transport import MAX_REQUESTS_PER_TASK, Answer, Transport

COLLECTION_VERSION = '0.2.0'
USER_AGENT = 'existio.exist/%s (Ansible collection)' % COLLECTION_VERSION

# The API refuses write bodies with more items than this.
MAX_ITEMS_PER_REQUEST = 35
# The largest page the API serves; fewer pages means fewer requests.
PAGE_LIMIT = 100
# Exist leaves low-priority (priority >= 10) and inactive attributes out of every attribute list unless asked:
# the query of a read that must see every attribute the token can read.
EVERY_ATTRIBUTE = {'include_inactive': 'true', 'include_low_priority': 'true'}
# No list can be longer than this many pages; a server that keeps sending
# `next` past it is looping, and following it would burn the rate limit.
MAX_PAGES = 500


def _error_code(answer: Answer) -> object:
    """The `error` of an answer's JSON object body (Exist's own error bodies), or None."""
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get('error') if isinstance(body, dict) else None


def split_batches(items: list, size: int = MAX_ITEMS_PER_REQUEST) -> list[list]:
    """Split a list of write items into request bodies the API accepts."""
    return [items[start : start + size] for start in range(0, len(items), size)]


class BatchResult:
    """What Exist answered to one write request: lists of objects, shape-checked."""

    def __init__(self, status: int, success: list, failed: list) -> None:
        self.status = status
        self.success = success
        self.failed = failed


def _on_transport(name: str) -> property:
    """An attribute of the client that is its transport's."""
    return property(
        lambda self: getattr(self.transport, name), lambda self, value: setattr(self.transport, name, value)
    )


class ExistClient:
    """A session against one Exist user, authenticated by one token.

    connection: a Connection from _connection_options.validate(), taken as it is (checked there, once).
    ExistClient.connect() checks options and connects in one call.
    """

    base_url = _on_transport('base_url')
    retries = _on_transport('retries')
    max_requests = _on_transport('max_requests')
    requests_sent = _on_transport('requests_sent')
    user = _on_transport('user')  # who the token is of (a TaskUser), for the remedies of messages
    _session = _on_transport('session')  # where tests mount their adapters

    def __init__(
        self,
        connection: Connection,
        warn: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] | None = None,
        max_requests: int = MAX_REQUESTS_PER_TASK,
        user: TaskUser = NOBODY,
    ) -> None:
        self.transport = Transport(connection, USER_AGENT, warn, sleep, max_requests, user)
        self._redact = self.transport.redact

    @classmethod
    def connect(
        cls,
        api_url: str,
        token: str,
        warn: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] | None = None,
        max_requests: int = MAX_REQUESTS_PER_TASK,
        user: TaskUser = NOBODY,
        **options: Any,
    ) -> ExistClient:
        """A client for these option values (those of the connection options table), checked first."""
        return cls(validate(dict(options, api_url=api_url, token=token)), warn, sleep, max_requests, user)

    # -- public API ---------------------------------------------------------

    def get(self, path: str, params: dict | str | None = None) -> Any:
        """One GET; returns the decoded JSON body."""
        return self.transport.decoded(self.transport.request('GET', path, params=params), 'GET', path)

    def get_all(
        self,
        path: str,
        params: dict | None = None,
        item_problem: Callable[[Any], str | None] = listed_attribute_problem,
    ) -> Iterator[dict]:
        """Yield every result of a paged list, following `next` until the end.

        Each result is checked with item_problem before it is yielded.
        """
        query = dict(params or {})
        query.setdefault('limit', PAGE_LIMIT)
        url_query: dict | str  # the caller's query, then the next page's query string
        url_path, url_query = path, query
        seen = set()
        index = 0
        for dummy in range(MAX_PAGES):
            page = self.get(url_path, url_query)
            if not isinstance(page, dict) or not isinstance(page.get('results'), list):
                raise ExistApiError(
                    self._redact('GET %s answered a body that is not a page of results (got %s)' % (path, short(page))),
                    method='GET',
                    path=path,
                )
            for result in page['results']:
                problem = item_problem(result)
                if problem:
                    raise ExistApiError(
                        self._redact('GET %s answered a malformed item: results[%d] %s' % (path, index, problem)),
                        method='GET',
                        path=path,
                    )
                index += 1
                yield result
            next_url = page.get('next')
            if not next_url:
                return
            if not isinstance(next_url, str):
                raise ExistApiError(
                    self._redact("GET %s answered a 'next' that is not a URL (got %s)" % (path, short(next_url))),
                    method='GET',
                    path=path,
                )
            # Follow `next` on our own base URL: the token is only ever sent
            # to the host the user configured, and only for the next page of this list.
            parts = urlsplit(next_url)
            url_path, url_query = self._relative_path(parts.path), parts.query
            if url_path.rstrip('/') != path.rstrip('/'):
                raise ExistApiError(
                    self._redact(
                        "GET %s answered a 'next' for another endpoint (%s); not followed"
                        % (path, short(parts.path, 80))
                    ),
                    method='GET',
                    path=path,
                )
            if (url_path, url_query) in seen:
                raise ExistApiError(
                    'GET %s: the server sent the same "next" page twice' % path, method='GET', path=path
                )
            seen.add((url_path, url_query))
        raise ExistApiError(
            'GET %s: more than %d pages; the server keeps sending "next"' % (path, MAX_PAGES), method='GET', path=path
        )

    def post_batch(self, path: str, items: list, params: dict | None = None) -> BatchResult:
        """POST one body of at most 35 items. Returns a BatchResult whose
        `success` and `failed` are lists of objects.

        Raises ExistOutcomeUnknown when the write may or may not have been
        applied (including a 2xx answer that is not Exist's shape), and
        ExistApiError when it was refused or never sent.
        """
        if len(items) > MAX_ITEMS_PER_REQUEST:
            raise ValueError('at most %d items per request, got %d' % (MAX_ITEMS_PER_REQUEST, len(items)))
        answer = self.transport.request('POST', path, params=params, json_body=items)
        try:
            body = answer.json()
        except ValueError:
            body = None
            problem: str | None = 'a body that is not JSON'
        else:
            problem = self._batch_problem(body)
        if problem:
            raise ExistOutcomeUnknown(
                self._redact(
                    'POST %s: Exist answered %d with %s; whether it applied the write is '
                    'unknown' % (path, answer.status, problem)
                ),
                status=answer.status,
                method='POST',
                path=path,
            )
        return BatchResult(answer.status, body['success'], body['failed'])

    @staticmethod
    def _batch_problem(body: object) -> str | None:
        if not isinstance(body, dict):
            return 'a body that is not an object (%s)' % short(body)
        for key in ('success', 'failed'):
            if not isinstance(body.get(key), list):
                return "no '%s' list (got %s)" % (key, short(body.get(key)))
            for index, entry in enumerate(body[key]):
                if not isinstance(entry, dict):
                    return "%s[%d] that is not an object (%s)" % (key, index, short(entry))
        return None

    # -- Exist endpoints ----------------------------------------------------

    def list_owned(self, params: dict | None = None) -> Iterator[dict]:
        """Every attribute this client owns (all pages)."""
        return self.get_all('/api/2/attributes/owned/', params)

    def list_attributes(self, params: dict | None = None) -> Iterator[dict]:
        """The user's attributes the token may read, with the API's filters (all pages)."""
        return self.get_all('/api/2/attributes/', params)

    def list_templates(self, params: dict | None = None) -> Iterator[dict]:
        """Every attribute template Exist supports (all pages)."""
        return self.get_all('/api/2/attributes/templates/', params, item_problem=template_problem)

    def profile(self) -> dict:
        """The user behind the token: GET /accounts/profile/ (an object with 'username')."""
        path = '/api/2/accounts/profile/'
        body = self.get(path)
        if not isinstance(body, dict) or not is_text(body.get('username')):
            raise ExistApiError(
                self._redact('GET %s answered a body that is not a profile (got %s)' % (path, short(body))),
                method='GET',
                path=path,
            )
        return body

    def list_with_values(self, params: dict | None = None) -> Iterator[dict]:
        """Attributes with the values of their last `days` days (all pages); only days with data are listed."""
        return self.get_all('/api/2/attributes/with-values/', params, item_problem=with_values_problem)

    def list_values(self, name: str, params: dict | None = None) -> Iterator[dict]:
        """One attribute's values, newest first, page by page: stop iterating to stop reading."""
        query = dict(params or {})
        query['attribute'] = name
        return self.get_all('/api/2/attributes/values/', query, item_problem=value_row_problem)

    def list_averages(self, params: dict | None = None) -> Iterator[dict]:
        """Weekly averages of the attributes the token may read (all pages)."""
        return self.get_all('/api/2/averages/', params, item_problem=average_problem)

    def list_correlations(self, params: dict | None = None) -> Iterator[dict]:
        """The correlations of the last week between attributes the token may read (all pages)."""
        return self.get_all('/api/2/correlations/', params, item_problem=correlation_problem)

    def correlation_combo(self, attribute: str, attribute2: str) -> dict | None:
        """The one correlation of two attributes (in either order), or None when Exist has found none.

        Exist answers "none" with 404 {"error": "not_found"}; any other 404 (a wrong api_url, say) fails.
        """
        path = '/api/2/correlations/combo/'
        answer = self.transport.send('GET', path, params={'attribute': attribute, 'attribute2': attribute2})
        if answer.status == 404 and _error_code(answer) == 'not_found':
            return None
        if answer.status >= 300:
            raise self.transport.error(answer, 'GET', path)
        body = self.transport.decoded(answer, 'GET', path)
        problem = correlation_problem(body)
        if problem:
            raise ExistApiError(
                self._redact('GET %s answered a body that is not a correlation: it %s' % (path, problem)),
                method='GET',
                path=path,
            )
        return body

    def list_insights(self, params: dict | None = None) -> Iterator[dict]:
        """The user's insights about what the token may read, newest first (all pages)."""
        return self.get_all('/api/2/insights/', params, item_problem=insight_problem)

    def update(self, items: list) -> BatchResult:
        """Set one batch of day totals ({"name", "date", "value"})."""
        return self.post_batch('/api/2/attributes/update/', items)

    def increment(self, items: list) -> BatchResult:
        """Add to one batch of day totals; success items carry `current`, the new total."""
        return self.post_batch('/api/2/attributes/increment/', items)

    def acquire(self, items: list) -> BatchResult:
        """Acquire one batch; success items come back as full attribute objects."""
        return self.post_batch('/api/2/attributes/acquire/', items, params={'success_objects': 1})

    def create(self, items: list) -> BatchResult:
        """Create one batch; success items come back as full attribute objects."""
        return self.post_batch('/api/2/attributes/create/', items, params={'success_objects': 1})

    def release(self, items: list) -> BatchResult:
        """Release one batch of {"name": ...} items."""
        return self.post_batch('/api/2/attributes/release/', items)

    # -- internals ----------------------------------------------------------

    def _relative_path(self, absolute_path: str) -> str:
        """Strip the base URL's own path prefix, if any, from a path the server sent."""
        prefix = urlsplit(self.base_url).path
        if prefix and absolute_path.startswith(prefix + '/'):
            return absolute_path[len(prefix) :]
        return absolute_path
