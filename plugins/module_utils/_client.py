# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one HTTP client of this collection that talks to Exist.

Internal to this collection, not a stable API: it may change in any release.
It alone knows the base URL, the auth header, JSON, timeouts, paging, batching,
retries, the shape of Exist's answers and how Exist reports errors. Modules and
action plugins never build URLs or call ``requests`` themselves.

Every answer is checked for shape before anyone reads it: a body that is not
what Exist sends is an error naming the endpoint, never a Python exception
further down. Every wait and every retry is bounded, whatever the server says,
and one client (one task) never sends more than MAX_REQUESTS_PER_TASK requests.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
import traceback
import warnings
from urllib.parse import urlencode, urlsplit

from ansible_collections.existio.exist.plugins.module_utils._answer_deadline import AnswerDeadline, WatchedAdapter
from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import (
    attribute_problem,
    is_text,
    template_problem,
    token_answer_oddities,
    token_answer_problem,
    value_row_problem,
    with_values_problem,
)
from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    TOKEN_SCHEMES,
    TRANSPORT,
    validate,
)
from ansible_collections.existio.exist.plugins.module_utils._errors import (
    ExistApiError,
    ExistConfigError,
    ExistOutcomeUnknown,
    ExistRateLimited,
    ExistRequestCapReached,
)
from ansible_collections.existio.exist.plugins.module_utils._option_checks import check_token, short

try:
    import requests
    from urllib3.exceptions import InsecureRequestWarning, NewConnectionError

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    requests = None
    InsecureRequestWarning = NewConnectionError = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()


COLLECTION_VERSION = '0.2.0'
USER_AGENT = 'existio.exist/%s (Ansible collection)' % COLLECTION_VERSION

# The API refuses write bodies with more items than this.
MAX_ITEMS_PER_REQUEST = 35
# The largest page the API serves; fewer pages means fewer requests.
PAGE_LIMIT = 100
# No list can be longer than this many pages; a server that keeps sending
# `next` past it is looping, and following it would burn the rate limit.
MAX_PAGES = 500
# One task never sends more requests than a user's whole hourly budget,
# whatever the server answers (429 loops, endless pages, retries).
MAX_REQUESTS_PER_TASK = 300
# After a 429, wait at least this long, doubling per 429 up to the ceiling:
# a `Retry-After: 0` (or a date in the past) must not turn into a busy loop.
RATE_LIMIT_MIN_WAIT = 1.0
RATE_LIMIT_MAX_BACKOFF = 30.0
# Exist's largest answer is a page of 100 attributes (tens of kB).
MAX_BODY_BYTES = 16 * 1024 * 1024


class _TokenAuth:
    """Sets the Authorization header on every request.

    Given to requests as the session's auth, it also keeps requests from
    applying ~/.netrc, which would otherwise replace the header with Basic auth.
    """

    def __init__(self, scheme, token):
        self._header = '%s %s' % (scheme, token)

    def __call__(self, request):
        request.headers['Authorization'] = self._header
        return request


def split_batches(items, size=MAX_ITEMS_PER_REQUEST):
    """Split a list of write items into request bodies the API accepts."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def _retry_after_seconds(value):
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        try:
            seconds = when.timestamp() - time.time()
        except (OverflowError, ValueError, OSError):
            return None
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


# -- transport failures -------------------------------------------------------


class _Failure:
    """Why one attempt got no usable answer."""

    def __init__(self, reason, sent, retryable=True):
        self.reason = reason  # words for the user, naming the host and the cause
        self.sent = sent  # whether the request may have reached the server
        self.retryable = retryable


def _chain(exc):
    """exc and every exception behind it (reason, args, cause, context), outermost first."""
    chain, todo = [], [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or any(current is seen for seen in chain):
            continue
        chain.append(current)
        todo.append(getattr(current, 'reason', None))
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
        todo.extend((current.__cause__, current.__context__))
    return chain


def _describe(exc):
    """The innermost cause of a transport failure, in words: '[Errno 111] Connection refused (ConnectionRefusedError)'."""
    root = _chain(exc)[-1]
    return '%s (%s)' % (str(root) or 'no details', type(root).__name__)


def _parse_int(text):
    """A JSON integer; one too long for Python to read (over 4300 digits) as an infinity of its sign, so that
    the rest of the answer (a token pair, say) is still read, and the number is out of every range."""
    try:
        return int(text)
    except ValueError:
        return float('-inf') if text.startswith('-') else float('inf')


class Answer:
    """One HTTP answer: status, headers and the raw body (already read in full)."""

    def __init__(self, status, headers, content):
        self.status = status
        self.headers = headers
        self.content = content

    def json(self):
        """The decoded JSON body; ValueError when it is not JSON."""
        try:
            return json.loads(self.content.decode('utf-8'), parse_int=_parse_int)
        except RecursionError:
            # A hostile body nested deeper than Python's stack is not JSON we can use.
            raise ValueError('JSON nested too deeply') from None

    @property
    def text(self):
        return self.content.decode('utf-8', 'replace')


# -- OAuth2 token requests (existio.exist.token) ------------------------------
# Everything the client knows about Exist's token endpoint is here, in this
# block and in the block of the same name in ExistClient (plus the `form` and
# `error_answer` arguments of _request and _send, which only it uses). The
# endpoint differs from the API on four points:
#
# - It lives outside /api/2 and takes a form (grant_type, client_id,
#   client_secret, and the code or the refresh token), not JSON.
# - It is sent without any Authorization header: the form authenticates.
# - A token request that may have reached Exist is never retried. A refresh
#   that Exist applied has invalidated the old pair at once, so asking again
#   would be refused and the pair from the lost answer would stay lost: it
#   raises ExistOutcomeUnknown, and the caller finds out what happened (the
#   token module tries the old access token). A request that was never sent,
#   and a 429, are retried as any other request: nothing was issued.
# - Its refusals are OAuth2's {"error": ..., "error_description": ...}.
#
# Every value of the form except grant_type, client_id and redirect_uri is a
# secret, and so is every token in an answer: all are redacted from every
# message of the client, as the access token is, and no message ever quotes
# the body of a token answer.

OAUTH_TOKEN_PATH = '/oauth2/access_token'
OAUTH_AUTHORIZE_PATH = '/oauth2/authorize'
# The form fields that are not secrets.
OAUTH_PUBLIC_FIELDS = ('grant_type', 'client_id', 'redirect_uri')
# OAuth2 refusals that concern the client (its id, its secret, the grant), not one user's pair:
# every other request of the same client would be refused the same way.
OAUTH_CLIENT_ERRORS = frozenset(('invalid_client', 'unauthorized_client', 'unsupported_grant_type'))
OAUTH_ERROR_HINTS = {
    'invalid_grant': 'the code or refresh token is not valid: already used, expired, revoked or issued to another '
    'client, or the redirect_uri is not the one the code was issued for',
    'invalid_client': 'client_id or client_secret is wrong',
    'unauthorized_client': 'this client may not use this grant',
    'unsupported_grant_type': 'Exist does not support this grant',
    'invalid_request': 'a form field is missing or malformed',
    'invalid_scope': 'a scope is not valid',
}


class ExistOAuthRefused(ExistApiError):
    """Exist refused a token request (a 4xx answer): nothing was issued and no pair was invalidated.

    error: OAuth2's error code (invalid_grant, invalid_client...) or None when the answer had none.
    """

    def __init__(self, message, error=None, status=None, method=None, path=None, detail=None):
        super().__init__(message, status=status, method=method, path=path, detail=detail)
        self.error = error

    @property
    def concerns_client(self):
        """True when every request of this client would be refused the same way (not one user's problem)."""
        return self.error in OAUTH_CLIENT_ERRORS or (self.status == 401 and self.error is None)


class _NoAuth:
    """No Authorization header at all. Given to requests as the auth of a request,
    it also keeps requests from applying ~/.netrc (see _TokenAuth)."""

    def __call__(self, request):
        request.headers.pop('Authorization', None)
        return request


class BatchResult:
    """What Exist answered to one write request: lists of objects, shape-checked."""

    def __init__(self, status, success, failed):
        self.status = status
        self.success = success
        self.failed = failed


class ExistClient:
    """A session against one Exist user, authenticated by one token.

    connection: a Connection from _connection_options.validate(), taken as it is (checked there, once).
    ExistClient.connect() checks options and connects in one call.
    """

    def __init__(self, connection, warn=None, sleep=None, max_requests=MAX_REQUESTS_PER_TASK):
        if not HAS_REQUESTS:
            raise ExistConfigError("the Python library 'requests' is required")
        self.base_url = connection.base_url
        self.host = urlsplit(self.base_url).netloc
        self._token = connection.token
        self._secrets = set([self._token]) if self._token else set()
        self.verify = connection.verify
        self.retries = connection.retries
        self.timeout = connection.timeout
        self.rate_limit_wait = connection.rate_limit_wait
        self.max_requests = max_requests
        self.requests_sent = 0
        self._rate_limited = 0  # 429s seen by this task
        self._rate_limit_waited = 0.0
        self._warn = warn or (lambda message: None)
        self._sleep = sleep or time.sleep
        self._session = requests.Session()
        for scheme in ('https://', 'http://'):
            self._session.mount(scheme, WatchedAdapter())
        # No token yet (a client for token requests): no Authorization header at all, until use_access_token().
        self._session.auth = _TokenAuth(connection.scheme, self._token) if self._token else _NoAuth()
        # use_proxy=false ignores the proxy variables, as ansible.builtin.uri does; the
        # CA variables are read in validate() either way, and netrc never applies (see _TokenAuth).
        self._session.trust_env = connection.use_proxy
        self._session.headers.update({'Accept': 'application/json', 'User-Agent': connection.http_agent or USER_AGENT})
        if self.verify is False and self.base_url.startswith('https://'):
            self._warn(
                'validate_certs=false: the TLS certificate of %s is not checked, so the token goes to '
                'whoever answers; use ca_path for a private CA instead' % self.host
            )

    # -- public API ---------------------------------------------------------

    def get(self, path, params=None):
        """One GET; returns the decoded JSON body."""
        return self._json(self._request('GET', path, params=params), 'GET', path)

    def get_all(self, path, params=None, item_problem=attribute_problem):
        """Yield every result of a paged list, following `next` until the end.

        Each result is checked with item_problem before it is yielded.
        """
        query = dict(params or {})
        query.setdefault('limit', PAGE_LIMIT)
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

    def post_batch(self, path, items, params=None):
        """POST one body of at most 35 items. Returns a BatchResult whose
        `success` and `failed` are lists of objects.

        Raises ExistOutcomeUnknown when the write may or may not have been
        applied (including a 2xx answer that is not Exist's shape), and
        ExistApiError when it was refused or never sent.
        """
        if len(items) > MAX_ITEMS_PER_REQUEST:
            raise ValueError('at most %d items per request, got %d' % (MAX_ITEMS_PER_REQUEST, len(items)))
        answer = self._request('POST', path, params=params, json_body=items)
        try:
            body = answer.json()
        except ValueError:
            body = None
            problem = 'a body that is not JSON'
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
    def _batch_problem(body):
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

    def list_owned(self, params=None):
        """Every attribute this client owns (all pages)."""
        return self.get_all('/api/2/attributes/owned/', params)

    def list_attributes(self, params=None):
        """The user's attributes the token may read, with the API's filters (all pages)."""
        return self.get_all('/api/2/attributes/', params)

    def list_templates(self, params=None):
        """Every attribute template Exist supports (all pages)."""
        return self.get_all('/api/2/attributes/templates/', params, item_problem=template_problem)

    def profile(self):
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

    def list_with_values(self, params=None):
        """Attributes with the values of their last `days` days (all pages); only days with data are listed."""
        return self.get_all('/api/2/attributes/with-values/', params, item_problem=with_values_problem)

    def list_values(self, name, params=None):
        """One attribute's values, newest first, page by page: stop iterating to stop reading."""
        query = dict(params or {})
        query['attribute'] = name
        return self.get_all('/api/2/attributes/values/', query, item_problem=value_row_problem)

    def update(self, items):
        """Set one batch of day totals ({"name", "date", "value"})."""
        return self.post_batch('/api/2/attributes/update/', items)

    def increment(self, items):
        """Add to one batch of day totals; success items carry `current`, the new total."""
        return self.post_batch('/api/2/attributes/increment/', items)

    def acquire(self, items):
        """Acquire one batch; success items come back as full attribute objects."""
        return self.post_batch('/api/2/attributes/acquire/', items, params={'success_objects': 1})

    def create(self, items):
        """Create one batch; success items come back as full attribute objects."""
        return self.post_batch('/api/2/attributes/create/', items, params={'success_objects': 1})

    def release(self, items):
        """Release one batch of {"name": ...} items."""
        return self.post_batch('/api/2/attributes/release/', items)

    # -- OAuth2 token requests (existio.exist.token) ------------------------
    # See the module-level block of the same name.

    @classmethod
    def connect(cls, api_url, token, warn=None, sleep=None, max_requests=MAX_REQUESTS_PER_TASK, **options):
        """A client for these option values (those of the connection options table), checked first."""
        return cls(validate(dict(options, api_url=api_url, token=token)), warn, sleep, max_requests)

    @classmethod
    def without_access_token(cls, api_url, warn=None, sleep=None, max_requests=MAX_REQUESTS_PER_TASK, **options):
        """A client with no access token yet, for token requests (and then use_access_token()).

        options: the connection options but token and token_type. Checked as for any client, before any request.
        """
        connection = validate(dict(options, api_url=api_url), TRANSPORT)
        return cls(connection, warn, sleep, max_requests)

    def use_access_token(self, token):
        """Send this OAuth2 access token (one just issued, say) as the bearer of every later request."""
        self._token = check_token(token)
        self.add_secrets(token)
        self._session.auth = _TokenAuth(TOKEN_SCHEMES['bearer'], self._token)

    def add_secrets(self, *values):
        """Redact these values (a client secret, a code, tokens) from every message of this client."""
        for value in values:
            if isinstance(value, str) and value.strip():
                self._secrets.update((value, value.strip()))

    def oauth_token(self, form):
        """POST form to /oauth2/access_token, without any bearer header; the answer, checked.

        Returns {'access_token', 'refresh_token', 'expires_in' (seconds), 'scope' (str, '' when Exist gave
        none)}. Raises ExistOAuthRefused when Exist refused it (4xx: nothing issued), ExistApiError when
        it could not be sent or stayed rate-limited, and ExistOutcomeUnknown when it was sent and whether
        Exist issued a new pair is unknown (timeout, dropped connection, 5xx, or a 2xx answer that is not
        a token). Never retried once sent.
        """
        self.add_secrets(*(value for key, value in form.items() if key not in OAUTH_PUBLIC_FIELDS))
        method, path = 'POST', OAUTH_TOKEN_PATH
        try:
            answer = self._request(method, path, form=form, error_answer=self._oauth_refusal)
        except ExistOutcomeUnknown as exc:
            reason = exc.message.split(': ', 1)[-1].replace('; whether Exist applied the write is unknown', '')
            raise ExistOutcomeUnknown(
                self._redact('%s %s: %s; whether Exist issued a new token pair is unknown' % (method, path, reason)),
                status=exc.status,
                method=method,
                path=path,
            ) from None
        try:
            body = answer.json()
        except ValueError:
            problem = 'a body that is not JSON'
        else:
            problem = token_answer_problem(body)
        if problem:
            raise ExistOutcomeUnknown(
                '%s %s: Exist answered %d with %s; whether it issued a new token pair is unknown'
                % (method, path, answer.status, problem),
                status=answer.status,
                method=method,
                path=path,
            )
        self.add_secrets(body['access_token'], body['refresh_token'])
        oddities = token_answer_oddities(body)
        if oddities:
            self._warn(
                '%s %s: Exist issued a new token pair, kept, but its answer had %s'
                % (method, path, '; and '.join(oddities))
            )
        expires_in = body.get('expires_in')
        scope = body.get('scope')
        return {
            'access_token': body['access_token'],
            'refresh_token': body['refresh_token'],
            # An unknown expiry counts as now: the next refresh renews the pair, which then gets a real one.
            'expires_in': int(expires_in) if not any('expires_in' in odd for odd in oddities) else 0,
            'scope': scope if isinstance(scope, str) else '',
            # Said to the caller too: a pair from an odd answer is worth one read before it replaces a working one.
            'oddities': oddities,
        }

    def authorize_url(self, client_id, scope=None, redirect_uri=None):
        """The address where a user authorises client_id (no secret in it)."""
        query = [('response_type', 'code'), ('client_id', client_id)]
        if redirect_uri:
            query.append(('redirect_uri', redirect_uri))
        if scope:
            query.append(('scope', scope))
        return self.base_url + OAUTH_AUTHORIZE_PATH + '?' + urlencode(query)

    def _oauth_refusal(self, answer, method, path, retried=0):
        """The ExistOAuthRefused for a 4xx answer of the token endpoint (a redirect as any other)."""
        if answer.status < 400:
            return self._error_answer(answer, method, path, retried=retried)
        try:
            body = answer.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        error = body.get('error') if isinstance(body.get('error'), str) and body.get('error') else None
        description = body.get('error_description')
        description = self._redact(description[:200]) if isinstance(description, str) and description.strip() else None
        if error is None and description is None:
            description = self._detail(answer)
        message = '%s %s: Exist answered %d' % (method, path, answer.status)
        if error:
            message += ' (%s: %s)' % (
                self._redact(short(error, 40).strip('"')),
                OAUTH_ERROR_HINTS.get(error, 'refused'),
            )
        elif answer.status == 401:
            message += ' (%s)' % OAUTH_ERROR_HINTS['invalid_client']
        if description:
            message += ': %s' % description
        return ExistOAuthRefused(
            message, error=error, status=answer.status, method=method, path=path, detail=description
        )

    # -- internals ----------------------------------------------------------

    def _relative_path(self, absolute_path):
        """Strip the base URL's own path prefix, if any, from a path the server sent."""
        prefix = urlsplit(self.base_url).path
        if prefix and absolute_path.startswith(prefix + '/'):
            return absolute_path[len(prefix) :]
        return absolute_path

    def _redact(self, text):
        text = str(text)
        for secret in self._secrets:
            if secret and secret in text:
                text = text.replace(secret, '********')
        return text

    def _request(self, method, path, params=None, json_body=None, form=None, error_answer=None):
        """Send one request with the retry policy; return the Answer of a 2xx.

        Raises ExistApiError for an error answer (nothing applied),
        ExistOutcomeUnknown when a write may have been applied.
        form and error_answer: for the token endpoint only (see "OAuth2 token requests").
        """
        url = self.base_url + path
        retries = 0
        while True:
            if self.requests_sent >= self.max_requests:
                raise ExistRequestCapReached(
                    '%s %s: not sent; this task already sent %d requests, the most one task may send '
                    '(Exist allows 300 an hour per user)' % (method, path, self.requests_sent),
                    method=method,
                    path=path,
                )
            self.requests_sent += 1
            answer, failure = self._send(method, url, params, json_body, form)
            if answer is not None and answer.status == 429:
                # A 429 means nothing was applied: any method may wait and retry.
                delay = self._rate_limit_delay(answer, method, path)
                self._warn('%s %s: rate-limited by Exist (429); waiting %.1f s before retrying' % (method, path, delay))
                self._sleep(delay)
                continue
            if answer is not None and answer.status < 500:
                if answer.status >= 300:
                    raise (error_answer or self._error_answer)(answer, method, path)
                return answer
            # A connection failure or a 5xx: transient, but a write may have been applied.
            problem = failure.reason if answer is None else 'Exist answered %d' % answer.status
            sent = failure.sent if answer is None else True
            if sent and method != 'GET':
                raise ExistOutcomeUnknown(
                    '%s %s: %s; whether Exist applied the write is unknown' % (method, path, problem),
                    status=answer.status if answer is not None else None,
                    method=method,
                    path=path,
                    detail=self._detail(answer) if answer is not None else None,
                )
            if (answer is None and not failure.retryable) or retries >= self.retries:
                if answer is not None:
                    raise self._error_answer(answer, method, path, retried=retries)
                suffix = ' after %d retries' % retries if retries else ''
                raise ExistApiError('%s %s: %s%s' % (method, path, problem, suffix), method=method, path=path)
            retries += 1
            delay = 0.5 * 2 ** (retries - 1)
            self._warn(
                '%s %s: %s; retrying in %.1f s (retry %d of %d)' % (method, path, problem, delay, retries, self.retries)
            )
            self._sleep(delay)

    def _send(self, method, url, params, json_body, form=None):
        """One attempt: (Answer, None) or (None, _Failure).

        The whole attempt (connecting, sending, the headers and the body) has `timeout` seconds: a
        server trickling its answer is cut off then (AnswerDeadline), not only one that goes silent.
        form: a form body, sent without any Authorization header (see "OAuth2 token requests").
        """
        deadline = AnswerDeadline(self.timeout)
        with deadline:
            try:
                return self._attempt(method, url, params, json_body, form, deadline)
            except (requests.exceptions.RequestException, OSError, _BodyProblem) as exc:
                if deadline.fired:
                    return None, self._late(deadline)
                return None, self._failure(exc)

    def _attempt(self, method, url, params, json_body, form, deadline):
        with warnings.catch_warnings():
            # validate_certs=false is said once, as an Ansible warning, not on stderr per request.
            warnings.simplefilter('ignore', InsecureRequestWarning)
            response = self._session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=form,
                auth=_NoAuth() if form is not None else None,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
                stream=True,
            )
        try:
            content = self._read_body(response, deadline)
        except _BodyProblem as exc:
            if deadline.fired:
                raise
            return None, _Failure('%s answered %d but %s' % (self.host, response.status_code, exc), sent=True)
        except (requests.exceptions.RequestException, OSError) as exc:
            if deadline.fired:
                raise
            return None, _Failure(
                '%s answered %d but the body broke off: %s'
                % (self.host, response.status_code, self._redact(_describe(exc))),
                sent=True,
            )
        finally:
            response.close()
        if deadline.fired:
            # The last byte came in as the time ran out: the answer is late all the same.
            return None, self._late(deadline)
        return Answer(response.status_code, response.headers, content), None

    def _late(self, deadline):
        """The failure of an attempt whose whole answer did not arrive within timeout."""
        if not deadline.sending:
            return _Failure('could not connect to %s within %s s' % (self.host, self.timeout), sent=False)
        return _Failure(
            '%s sent no complete answer within %s s (timeout bounds the whole answer, headers and body)'
            % (self.host, self.timeout),
            sent=True,
        )

    def _failure(self, exc):
        """Why an attempt that raised got no answer, and whether the request may have reached the server."""
        if isinstance(exc, requests.exceptions.SSLError):
            # Certificate problems do not go away by asking again.
            return _Failure(
                'TLS failure talking to %s: %s' % (self.host, self._redact(_describe(exc))), sent=False, retryable=False
            )
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            # Never connected, so nothing was sent: safe to retry even a write.
            return _Failure(
                'could not connect to %s within %s s (connection timed out)' % (self.host, self.timeout), sent=False
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return _Failure(
                '%s sent no complete answer within %s s (read timed out)' % (self.host, self.timeout), sent=True
            )
        if isinstance(exc, requests.exceptions.ProxyError):
            return _Failure('the proxy for %s failed: %s' % (self.host, self._redact(_describe(exc))), sent=False)
        if isinstance(exc, requests.exceptions.ConnectionError):
            # Name resolution and refused connections fail before anything is sent.
            if any(isinstance(cause, NewConnectionError) for cause in _chain(exc)):
                return _Failure('could not connect to %s: %s' % (self.host, self._redact(_describe(exc))), sent=False)
            return _Failure(
                'connection failed talking to %s before an answer arrived: %s'
                % (self.host, self._redact(_describe(exc))),
                sent=True,
            )
        if isinstance(exc, requests.exceptions.RequestException):
            return _Failure(
                'the request to %s failed: %s' % (self.host, self._redact(_describe(exc))), sent=False, retryable=False
            )
        # A socket error requests did not wrap: the request may have gone out.
        return _Failure('connection failed talking to %s: %s' % (self.host, self._redact(_describe(exc))), sent=True)

    def _read_body(self, response, deadline):
        # The deadline cuts a trickle off; the size bound keeps a huge body out of memory.
        chunks = []
        size = 0
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _BodyProblem('the body is larger than %d bytes' % MAX_BODY_BYTES)
            chunks.append(chunk)
            if deadline.fired:
                raise _BodyProblem('the body took longer than %s s to arrive' % self.timeout)
        return b''.join(chunks)

    def _rate_limit_delay(self, answer, method, path):
        """Seconds to wait after a 429, or ExistRateLimited when that would pass rate_limit_wait.

        Every 429 counts: the wait is at least the Retry-After and at least a
        backoff that doubles with each 429 of this task.
        """
        self._rate_limited += 1
        retry_after = answer.headers.get('Retry-After')
        backoff = min(RATE_LIMIT_MIN_WAIT * 2 ** (self._rate_limited - 1), RATE_LIMIT_MAX_BACKOFF)
        delay = max(_retry_after_seconds(retry_after) or 0.0, backoff)
        if self._rate_limit_waited + delay > self.rate_limit_wait:
            raise ExistRateLimited(
                '%s %s: rate-limited by Exist (429, Retry-After %s); waiting %.0f s more would exceed '
                'rate_limit_wait=%s s. The limit is 300 requests an hour per user token.'
                % (
                    method,
                    path,
                    self._redact(short(retry_after, 40)) if retry_after else 'not given',
                    delay,
                    self.rate_limit_wait,
                ),
                status=429,
                method=method,
                path=path,
                detail=self._detail(answer),
            )
        self._rate_limit_waited += delay
        return delay

    def _detail(self, answer):
        try:
            body = answer.json()
        except ValueError:
            text = answer.text.strip()
            return self._redact(text[:200]) if text else None
        if isinstance(body, dict) and body.get('detail'):
            return self._redact(
                short(body['detail'], 300) if not isinstance(body['detail'], str) else body['detail'][:300]
            )
        return None

    def _error_answer(self, answer, method, path, retried=0):
        status = answer.status
        detail = self._detail(answer)
        hint = {
            401: ' (the token is invalid, expired or revoked)',
            403: ' (the token may not do this: simple tokens are read-only, and writes need an OAuth2 token with write scopes)',
            404: ' (not found: is api_url the address of Exist?)',
        }.get(status, '')
        if 300 <= status < 400:
            location = urlsplit(answer.headers.get('Location') or '')
            hint = ' (a redirect%s; api_url may be wrong)' % (' to %s' % location.netloc if location.netloc else '')
            detail = None
        message = '%s %s: Exist answered %d%s' % (method, path, status, hint)
        if retried:
            message += ' after %d retries' % retried
        if detail:
            message += ': %s' % detail
        return ExistApiError(message, status=status, method=method, path=path, detail=detail)

    def _json(self, answer, method, path):
        try:
            return answer.json()
        except ValueError:
            raise ExistApiError(
                '%s %s: Exist answered %d with a body that is not JSON' % (method, path, answer.status),
                status=answer.status,
                method=method,
                path=path,
            ) from None


class _BodyProblem(Exception):
    """The answer's body could not be read within the bounds."""
