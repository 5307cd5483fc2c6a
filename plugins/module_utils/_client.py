# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one HTTP client of this collection that talks to Exist.

Internal to this collection, not a stable API: it may change in any release.
It alone knows the base URL, the auth header, JSON, timeouts, paging, batching,
retries and how Exist reports errors. Modules and action plugins never build
URLs or call ``requests`` themselves.
"""

from __future__ import annotations

import email.utils
import ipaddress
import time
import traceback

from urllib.parse import urlsplit, urlunsplit

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()


COLLECTION_VERSION = '0.1.0'
USER_AGENT = 'existio.exist/%s (Ansible collection)' % COLLECTION_VERSION

# The API refuses write bodies with more items than this.
MAX_ITEMS_PER_REQUEST = 35
# The largest page the API serves; fewer pages means fewer requests.
PAGE_LIMIT = 100
# Transient failures of a read (connection errors, 5xx) are retried this often.
READ_RETRIES = 3
# No list can be longer than this many pages; a server that keeps sending
# `next` past it is looping, and following it would burn the rate limit.
MAX_PAGES = 500


class ExistError(Exception):
    """Any failure talking to Exist. The message never holds the token."""

    def __init__(self, message, status=None, method=None, path=None, detail=None):
        super(ExistError, self).__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.detail = detail


class ExistConfigError(ExistError):
    """The connection options are unusable; raised before any request."""


class ExistApiError(ExistError):
    """Exist answered with an error status (or an unreadable body)."""


class ExistRateLimited(ExistApiError):
    """Exist kept answering 429 for longer than rate_limit_wait allows."""


class ExistOutcomeUnknown(ExistError):
    """A write was sent, but whether Exist applied it is unknown
    (timeout, dropped connection, 5xx). Callers must re-read the state."""


def is_loopback_host(host):
    """True for hostnames that can only mean this machine."""
    if not host:
        return False
    host = host.strip('[]').rstrip('.').lower()
    if host == 'localhost' or host.endswith('.localhost'):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url):
    """Return the normalised base URL, or raise ExistConfigError naming the value.

    A bearer token must never cross the network in clear text, so plain http://
    is only accepted for loopback hosts (the local emulator).
    """
    if not isinstance(api_url, str) or not api_url.strip():
        raise ExistConfigError("api_url must be a non-empty http:// or https:// URL, got %r" % (api_url,))
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise ExistConfigError("api_url must be an http:// or https:// URL with a host, got %r" % (api_url,))
    if parts.query or parts.fragment:
        raise ExistConfigError("api_url must not carry a query or fragment, got %r" % (api_url,))
    if parts.username or parts.password:
        raise ExistConfigError("api_url must not carry credentials; use the token option")
    if parts.scheme == 'http' and not is_loopback_host(parts.hostname):
        raise ExistConfigError(
            "api_url %r uses plain http:// to a host that is not loopback; the bearer token would be sent "
            "unencrypted. Use https://, or http:// only for 127.0.0.1/localhost (the local emulator)." % (api_url,))
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip('/'), '', ''))


def check_token(token):
    """Raise ExistConfigError if the token cannot be a bearer token. Never echo it."""
    if not isinstance(token, str) or not token.strip():
        raise ExistConfigError("token is empty: set the token option or the EXIST_TOKEN environment variable")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) > 126 for ch in token.strip()):
        raise ExistConfigError("token contains whitespace or non-ASCII characters; it is not a valid Exist access token")
    return token.strip()


def split_batches(items, size=MAX_ITEMS_PER_REQUEST):
    """Split a list of write items into request bodies the API accepts."""
    return [items[start:start + size] for start in range(0, len(items), size)]


def _retry_after_seconds(value):
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class BatchResult(object):
    """What Exist answered to one write request."""

    def __init__(self, status, success, failed):
        self.status = status
        self.success = success
        self.failed = failed


class ExistClient(object):
    """A session against one Exist user, authenticated by one OAuth2 token."""

    def __init__(self, api_url, token, validate_certs=True, timeout=30, rate_limit_wait=60,
                 warn=None, sleep=None):
        if not HAS_REQUESTS:
            raise ExistConfigError("the Python library 'requests' is required")
        self.base_url = check_api_url(api_url)
        self._token = check_token(token)
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.rate_limit_wait = rate_limit_wait
        self._warn = warn or (lambda message: None)
        self._sleep = sleep or time.sleep
        self._session = requests.Session()
        self._session.headers.update({
            'Authorization': 'Bearer %s' % self._token,
            'Accept': 'application/json',
            'User-Agent': USER_AGENT,
        })

    # -- public API ---------------------------------------------------------

    def get(self, path, params=None):
        """One GET; returns the decoded JSON body."""
        return self._request('GET', path, params=params)[1]

    def get_all(self, path, params=None):
        """Yield every result of a paged list, following `next` until the end."""
        query = dict(params or {})
        query.setdefault('limit', PAGE_LIMIT)
        url_path, url_query = path, query
        for dummy in range(MAX_PAGES):
            page = self._request('GET', url_path, params=url_query)[1]
            if not isinstance(page, dict) or not isinstance(page.get('results'), list):
                raise ExistApiError('GET %s answered a body that is not a page of results' % url_path,
                                    method='GET', path=url_path)
            yield from page['results']
            next_url = page.get('next')
            if not next_url:
                return
            # Follow `next` on our own base URL: the token is only ever sent
            # to the host the user configured.
            parts = urlsplit(next_url)
            url_path, url_query = self._relative_path(parts.path), parts.query
        raise ExistApiError('GET %s: more than %d pages; the server keeps sending "next"' % (path, MAX_PAGES),
                            method='GET', path=path)

    def post_batch(self, path, items, params=None):
        """POST one body of at most 35 items. Returns a BatchResult.

        Raises ExistOutcomeUnknown when the write may or may not have been applied.
        """
        if len(items) > MAX_ITEMS_PER_REQUEST:
            raise ValueError('at most %d items per request, got %d' % (MAX_ITEMS_PER_REQUEST, len(items)))
        status, body = self._request('POST', path, params=params, json_body=items)
        if not isinstance(body, dict):
            raise ExistApiError('POST %s answered a body that is not an object' % path, status=status,
                                method='POST', path=path)
        return BatchResult(status, list(body.get('success') or []), list(body.get('failed') or []))

    # -- Exist endpoints ----------------------------------------------------

    def list_owned(self, params=None):
        """Every attribute this client owns (all pages)."""
        return self.get_all('/api/2/attributes/owned/', params)

    def list_attributes(self, params=None):
        """The user's attributes the token may read, with the API's filters (all pages)."""
        return self.get_all('/api/2/attributes/', params)

    def list_templates(self, params=None):
        """Every attribute template Exist supports (all pages)."""
        return self.get_all('/api/2/attributes/templates/', params)

    def acquire(self, items):
        """Acquire one batch; success items come back as full attribute objects."""
        return self.post_batch('/api/2/attributes/acquire/', items, params={'success_objects': 1})

    def release(self, items):
        """Release one batch of {"name": ...} items."""
        return self.post_batch('/api/2/attributes/release/', items)

    # -- internals ----------------------------------------------------------

    def _relative_path(self, absolute_path):
        """Strip the base URL's own path prefix, if any, from a path the server sent."""
        prefix = urlsplit(self.base_url).path
        if prefix and absolute_path.startswith(prefix + '/'):
            return absolute_path[len(prefix):]
        return absolute_path

    def _redact(self, text):
        text = str(text)
        if self._token and self._token in text:
            text = text.replace(self._token, '********')
        return text

    def _request(self, method, path, params=None, json_body=None):
        """Send one request with the retry policy; return (status, decoded JSON body)."""
        url = self.base_url + path
        retries = 0
        waited = 0.0
        rate_limited = 0
        while True:
            response, failure, sent = self._send(method, url, params, json_body)
            status = response.status_code if response is not None else None
            if status == 429:
                # A 429 means nothing was applied: any method may wait and retry.
                rate_limited += 1
                delay = self._rate_limit_delay(response, rate_limited, waited, method, path)
                waited += delay
                self._warn('%s %s: rate-limited by Exist (429); waiting %.1f s before retrying' % (method, path, delay))
                self._sleep(delay)
                continue
            if status is not None and status < 500:
                return status, self._decode(response, method, path)
            # A connection failure or a 5xx: transient, but a write may have been applied.
            problem = failure if status is None else 'Exist answered %d' % status
            if sent and method != 'GET':
                raise ExistOutcomeUnknown('%s %s: %s; whether Exist applied the write is unknown' % (method, path, problem),
                                          status=status, method=method, path=path,
                                          detail=self._detail(response) if status else None)
            if retries >= READ_RETRIES:
                if status is not None:
                    return status, self._decode(response, method, path)
                raise ExistApiError('%s %s: %s after %d retries' % (method, path, problem, READ_RETRIES),
                                    method=method, path=path)
            retries += 1
            delay = 0.5 * 2 ** (retries - 1)
            self._warn('%s %s: %s; retrying in %.1f s (retry %d of %d)' % (method, path, problem, delay, retries, READ_RETRIES))
            self._sleep(delay)

    def _send(self, method, url, params, json_body):
        """One attempt: (response, None, True), or (None, reason, whether the request may have been sent)."""
        try:
            response = self._session.request(method, url, params=params, json=json_body, timeout=self.timeout,
                                             verify=self.validate_certs, allow_redirects=False)
        except requests.exceptions.ConnectTimeout as exc:
            # Never connected, so nothing was sent: safe to retry even a write.
            return None, 'connection timed out (%s)' % type(exc).__name__, False
        except requests.exceptions.Timeout as exc:
            return None, 'timed out (%s)' % type(exc).__name__, True
        except requests.exceptions.ConnectionError as exc:
            return None, 'connection failed (%s)' % type(exc).__name__, True
        return response, None, True

    def _rate_limit_delay(self, response, attempt, waited, method, path):
        """Seconds to wait after a 429, or ExistRateLimited when that would pass rate_limit_wait."""
        retry_after = response.headers.get('Retry-After')
        delay = _retry_after_seconds(retry_after)
        if delay is None:
            delay = min(2.0 ** (attempt - 1), 30.0)
        if waited + delay > self.rate_limit_wait:
            raise ExistRateLimited(
                '%s %s: rate-limited by Exist (429, Retry-After %s s); waiting would exceed rate_limit_wait=%s s. '
                'The limit is 300 requests an hour per user token.'
                % (method, path, retry_after or 'not given', self.rate_limit_wait),
                status=429, method=method, path=path, detail=self._detail(response))
        return delay

    def _detail(self, response):
        try:
            body = response.json()
        except ValueError:
            return self._redact(response.text[:200]) if response.text else None
        if isinstance(body, dict) and body.get('detail'):
            return self._redact(body['detail'])
        return None

    def _decode(self, response, method, path):
        status = response.status_code
        if status >= 300:
            detail = self._detail(response)
            hint = {
                401: ' (the token is invalid, expired or revoked)',
                403: ' (the token may not do this: simple tokens are read-only, and writes need an OAuth2 token with write scopes)',
                404: ' (not found)',
            }.get(status, '')
            message = '%s %s: Exist answered %d%s' % (method, path, status, hint)
            if detail:
                message += ': %s' % detail
            raise ExistApiError(message, status=status, method=method, path=path, detail=detail)
        try:
            return response.json()
        except ValueError:
            raise ExistApiError('%s %s: Exist answered %d with a body that is not JSON' % (method, path, status),
                                status=status, method=method, path=path)
