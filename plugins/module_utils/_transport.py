# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How this collection's requests reach Exist: one session, bounded retries and waits, answers read in full.

Internal to this collection, not a stable API: it may change in any release.
The clients (_client.py for the API, plugin_utils/_oauth_client.py for the
token endpoint) prepare a request and read its answer; this module sends it:
TLS, proxies, the token header, the retry policy, 429 and Retry-After, the
deadline of each whole answer (_answer_deadline.py), the request cap, and the
error of an answer that is not a success (the _errors.py family). Every wait
and every retry is bounded, whatever the server says, and one transport (one
task) never sends more than max_requests requests. Nothing else imports
``requests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._connection_options import Connection

import email.utils
import json
import math
import time
import traceback
import warnings
from urllib.parse import urlsplit

from ansible_collections.existio.exist.plugins.module_utils._answer_deadline import AnswerDeadline, WatchedAdapter
from ansible_collections.existio.exist.plugins.module_utils._errors import (
    ExistApiError,
    ExistConfigError,
    ExistOutcomeUnknown,
    ExistRateLimited,
    ExistRequestCapReached,
)
from ansible_collections.existio.exist.plugins.module_utils._option_checks import short
from ansible_collections.existio.exist.plugins.module_utils._remedies import (
    NOBODY,
    TaskUser,
    forbidden_hint,
    unauthorised_hint,
)
from ansible_collections.existio.exist.plugins.module_utils._secrets import Secrets

try:
    import requests
    from urllib3.exceptions import InsecureRequestWarning, NewConnectionError

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:
    requests = None  # type: ignore[assignment]
    InsecureRequestWarning = NewConnectionError = None  # type: ignore[misc,assignment]
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()


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

    def __init__(self, scheme: str, token: str) -> None:
        self._header = '%s %s' % (scheme, token)

    def __call__(self, request: Any) -> Any:
        request.headers['Authorization'] = self._header
        return request


class _NoAuth:
    """No Authorization header at all. Given to requests as the auth of a request,
    it also keeps requests from applying ~/.netrc (see _TokenAuth)."""

    def __call__(self, request: Any) -> Any:
        request.headers.pop('Authorization', None)
        return request


def _retry_after_seconds(value: str | None) -> float | None:
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

    def __init__(self, reason: str, sent: bool, retryable: bool = True) -> None:
        self.reason = reason  # words for the user, naming the host and the cause
        self.sent = sent  # whether the request may have reached the server
        self.retryable = retryable


def _chain(exc: BaseException) -> list[BaseException]:
    """exc and every exception behind it (reason, args, cause, context), outermost first."""
    chain: list[BaseException] = []
    todo: list[object] = [exc]  # reasons, args and causes may be anything, or None
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or any(current is seen for seen in chain):
            continue
        chain.append(current)
        todo.append(getattr(current, 'reason', None))
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
        todo.extend((current.__cause__, current.__context__))
    return chain


def _describe(exc: BaseException) -> str:
    """The innermost cause of a transport failure, in words: '[Errno 111] Connection refused (ConnectionRefusedError)'."""
    root = _chain(exc)[-1]
    return '%s (%s)' % (str(root) or 'no details', type(root).__name__)


def _parse_int(text: str) -> int | float:
    """A JSON integer; one too long for Python to read (over 4300 digits) as an infinity of its sign, so that
    the rest of the answer (a token pair, say) is still read, and the number is out of every range."""
    try:
        return int(text)
    except ValueError:
        return float('-inf') if text.startswith('-') else float('inf')


class Answer:
    """One HTTP answer: status, headers and the raw body (already read in full)."""

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        """The decoded JSON body; ValueError when it is not JSON."""
        try:
            return json.loads(self.content.decode('utf-8'), parse_int=_parse_int)
        except RecursionError:
            # A hostile body nested deeper than Python's stack is not JSON we can use.
            raise ValueError('JSON nested too deeply') from None

    @property
    def text(self) -> str:
        return self.content.decode('utf-8', 'replace')


class Transport:
    """One session to one Exist server, and the policy of every request sent on it.

    connection: a Connection from _connection_options.validate(), taken as it is (checked there, once); without
    a token, requests carry no Authorization header until use_token(). user_agent: unless http_agent says otherwise.
    """

    def __init__(
        self,
        connection: Connection,
        user_agent: str,
        warn: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] | None = None,
        max_requests: int = MAX_REQUESTS_PER_TASK,
        user: TaskUser = NOBODY,
    ) -> None:
        if not HAS_REQUESTS:
            raise ExistConfigError("the Python library 'requests' is required")
        self.base_url = connection.base_url
        self.host = urlsplit(self.base_url).netloc
        self.verify = connection.verify
        self.retries = connection.retries
        self.timeout = connection.timeout
        self.rate_limit_wait = connection.rate_limit_wait
        self.max_requests = max_requests
        self.requests_sent = 0
        self._rate_limited = 0  # 429s seen by this task
        self._rate_limit_waited = 0.0
        self.secrets = Secrets()
        self.warn = warn or (lambda message: None)
        self.user = user  # who the token is of, for the remedies of error messages
        self._sleep = sleep or time.sleep
        self.session = requests.Session()
        for scheme in ('https://', 'http://'):
            self.session.mount(scheme, WatchedAdapter())
        self.use_token(connection.scheme, connection.token)
        # use_proxy=false ignores the proxy variables, as ansible.builtin.uri does; the
        # CA variables are read in validate() either way, and netrc never applies (see _TokenAuth).
        self.session.trust_env = connection.use_proxy
        self.session.headers.update({'Accept': 'application/json', 'User-Agent': connection.http_agent or user_agent})
        if self.verify is False and self.base_url.startswith('https://'):
            self.warn(
                'validate_certs=false: the TLS certificate of %s is not checked, so the token goes to '
                'whoever answers; use ca_path for a private CA instead' % self.host
            )

    def use_token(self, scheme: str, token: str | None) -> None:
        """Send `scheme token` as the Authorization of every later request (none at all without a token)."""
        self.add_secrets(token)
        self.scheme = scheme
        self.session.auth = _TokenAuth(scheme, token) if token else _NoAuth()

    def add_secrets(self, *values: object) -> None:
        """Redact these values (tokens, a client secret, a code) from every message of this transport."""
        self.secrets.add(*values)

    def redact(self, text: object) -> str:
        return self.secrets.mask(text)

    def request(self, method: str, path: str, params: dict | str | None = None, json_body: object = None) -> Answer:
        """send() with the token; the Answer of a 2xx, or ExistApiError (error()) for any other answer."""
        answer = self.send(method, path, params=params, json_body=json_body)
        if answer.status >= 300:
            raise self.error(answer, method, path)
        return answer

    def send(self, method, path, params=None, json_body=None, form=None, send_token=True, effect='applied the write'):
        # type: (str, str, dict | str | None, object, dict | None, bool, str) -> Answer
        # (a type comment: annotations would take this file past 400 lines of code)
        """Send one request with the retry policy; return its Answer, whatever its status below 500 but 429.

        json_body or form: the body. send_token=False: without any Authorization header.
        Raises ExistApiError when no answer came (never sent, retries spent, rate-limited past rate_limit_wait,
        the request cap), and ExistOutcomeUnknown when a request other than a GET may have been applied
        ("whether Exist <effect> is unknown"): those are never sent again.
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
            answer, failure = self._send(method, url, params, json_body, form, send_token)
            if answer is not None and answer.status == 429:
                # A 429 means nothing was applied: any method may wait and retry.
                delay = self._rate_limit_delay(answer, method, path)
                self.warn('%s %s: rate-limited by Exist (429); waiting %.1f s before retrying' % (method, path, delay))
                self._sleep(delay)
                continue
            if answer is not None and answer.status < 500:
                return answer
            # A connection failure or a 5xx: transient, but a write may have been applied.
            problem = failure.reason if answer is None else 'Exist answered %d' % answer.status
            sent = failure.sent if answer is None else True
            if sent and method != 'GET':
                raise ExistOutcomeUnknown(
                    '%s %s: %s; whether Exist %s is unknown' % (method, path, problem, effect),
                    status=answer.status if answer is not None else None,
                    method=method,
                    path=path,
                    detail=self.detail(answer) if answer is not None else None,
                )
            if (answer is None and not failure.retryable) or retries >= self.retries:
                if answer is not None:
                    raise self.error(answer, method, path, retried=retries)
                suffix = ' after %d retries' % retries if retries else ''
                raise ExistApiError('%s %s: %s%s' % (method, path, problem, suffix), method=method, path=path)
            retries += 1
            delay = 0.5 * 2 ** (retries - 1)
            self.warn(
                '%s %s: %s; retrying in %.1f s (retry %d of %d)' % (method, path, problem, delay, retries, self.retries)
            )
            self._sleep(delay)

    def _send(self, method, url, params, json_body, form, send_token):
        # type: (str, str, dict | str | None, object, dict | None, bool) -> tuple[Answer | None, Any]
        # (the _Failure is Any: it is there exactly when the Answer is None, which mypy cannot pair)
        """One attempt: (Answer, None) or (None, _Failure).

        The whole attempt (connecting, sending, the headers and the body) has `timeout` seconds: a
        server trickling its answer is cut off then (AnswerDeadline), not only one that goes silent.
        """
        deadline = AnswerDeadline(self.timeout)
        with deadline:
            try:
                return self._attempt(method, url, params, json_body, form, send_token, deadline)
            except (requests.exceptions.RequestException, OSError, _BodyProblem) as exc:
                if deadline.fired:
                    return None, self._late(deadline)
                return None, self._failure(exc)

    def _attempt(self, method, url, params, json_body, form, send_token, deadline):
        # type: (str, str, dict | str | None, object, dict | None, bool, AnswerDeadline) -> tuple[Answer | None, Any]
        with warnings.catch_warnings():
            # validate_certs=false is said once, as an Ansible warning, not on stderr per request.
            warnings.simplefilter('ignore', InsecureRequestWarning)
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=form,
                auth=None if send_token else _NoAuth(),
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
                % (self.host, response.status_code, self.redact(_describe(exc))),
                sent=True,
            )
        finally:
            response.close()
        if deadline.fired:
            # The last byte came in as the time ran out: the answer is late all the same.
            return None, self._late(deadline)
        return Answer(response.status_code, response.headers, content), None

    def _late(self, deadline: AnswerDeadline) -> _Failure:
        """The failure of an attempt whose whole answer did not arrive within timeout."""
        if not deadline.sending:
            return _Failure('could not connect to %s within %s s' % (self.host, self.timeout), sent=False)
        return _Failure(
            '%s sent no complete answer within %s s (timeout bounds the whole answer, headers and body)'
            % (self.host, self.timeout),
            sent=True,
        )

    def _failure(self, exc: BaseException) -> _Failure:
        """Why an attempt that raised got no answer, and whether the request may have reached the server."""
        if isinstance(exc, requests.exceptions.SSLError):
            # Certificate problems do not go away by asking again.
            return _Failure(
                'TLS failure talking to %s: %s' % (self.host, self.redact(_describe(exc))), sent=False, retryable=False
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
            return _Failure('the proxy for %s failed: %s' % (self.host, self.redact(_describe(exc))), sent=False)
        if isinstance(exc, requests.exceptions.ConnectionError):
            # Name resolution and refused connections fail before anything is sent.
            if any(isinstance(cause, NewConnectionError) for cause in _chain(exc)):
                return _Failure('could not connect to %s: %s' % (self.host, self.redact(_describe(exc))), sent=False)
            return _Failure(
                'connection failed talking to %s before an answer arrived: %s'
                % (self.host, self.redact(_describe(exc))),
                sent=True,
            )
        if isinstance(exc, requests.exceptions.RequestException):
            return _Failure(
                'the request to %s failed: %s' % (self.host, self.redact(_describe(exc))), sent=False, retryable=False
            )
        # A socket error requests did not wrap: the request may have gone out.
        return _Failure('connection failed talking to %s: %s' % (self.host, self.redact(_describe(exc))), sent=True)

    def _read_body(self, response: requests.Response, deadline: AnswerDeadline) -> bytes:
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

    def _rate_limit_delay(self, answer: Answer, method: str, path: str) -> float:
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
                'rate_limit_wait=%s s. The limit is 300 requests an hour per user token; nothing was applied by it: '
                'raise rate_limit_wait, or run the task later'
                % (
                    method,
                    path,
                    self.redact(short(retry_after, 40)) if retry_after else 'not given',
                    delay,
                    self.rate_limit_wait,
                ),
                status=429,
                method=method,
                path=path,
                detail=self.detail(answer),
            )
        self._rate_limit_waited += delay
        return delay

    def detail(self, answer: Answer) -> str | None:
        """What an error answer says (its `detail`, or the start of a body that is not JSON), redacted; or None."""
        try:
            body = answer.json()
        except ValueError:
            text = answer.text.strip()
            return self.redact(text[:200]) if text else None
        if isinstance(body, dict) and body.get('detail'):
            return self.redact(
                short(body['detail'], 300) if not isinstance(body['detail'], str) else body['detail'][:300]
            )
        return None

    def error(self, answer: Answer, method: str, path: str, retried: int = 0) -> ExistApiError:
        """The ExistApiError of an answer that is not a success (a redirect, a 4xx, a 5xx after retried retries)."""
        status = answer.status
        detail = self.detail(answer)
        hint = {
            401: ' (%s)' % unauthorised_hint(self.scheme, self.user),
            403: ' (%s)' % forbidden_hint(self.scheme, self.user),
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

    def decoded(self, answer: Answer, method: str, path: str) -> Any:
        """The JSON body of answer; ExistApiError when it is not JSON."""
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
