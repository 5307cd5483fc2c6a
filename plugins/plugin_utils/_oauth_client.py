# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client of the token flow (existio.exist.token): Exist's client plus its OAuth2 token endpoint.

Internal to this collection, not a stable API. One OAuthClient sends a token
request and then reads the profile with the pair it got, on one transport: one
connection, one request count. The token endpoint differs from the API on
four points:

- It lives outside /api/2 and takes a form (grant_type, client_id,
  client_secret, and the code or the refresh token), not JSON.
- It is sent without any Authorization header: the form authenticates.
- A token request that may have reached Exist is never retried (the
  transport retries no request but a GET once it may have been sent). A
  refresh that Exist applied has invalidated the old pair at once, so asking
  again would be refused and the pair from the lost answer would stay lost:
  it raises ExistOutcomeUnknown, and the caller finds out what happened (the
  token module tries the old access token). A request that was never sent,
  and a 429, are retried as any other request: nothing was issued.
- Its refusals are OAuth2's {"error": ..., "error_description": ...}.

Every value of the form except grant_type, client_id and redirect_uri is a
secret, and so is every token in an answer: all are redacted from every
message of the client, as the access token is, and no message ever quotes
the body of a token answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlencode

from ansible_collections.existio.exist.plugins.module_utils._answer_shapes import (
    token_answer_oddities,
    token_answer_problem,
)
from ansible_collections.existio.exist.plugins.module_utils._client import MAX_REQUESTS_PER_TASK, ExistClient
from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    TOKEN_SCHEMES,
    TRANSPORT,
    validate,
)
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError, ExistOutcomeUnknown
from ansible_collections.existio.exist.plugins.module_utils._option_checks import check_token, short

if TYPE_CHECKING:
    from ansible_collections.existio.exist.plugins.module_utils._transport import Answer


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

    def __init__(
        self,
        message: str,
        error: str | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path, detail=detail)
        self.error = error

    @property
    def concerns_client(self) -> bool:
        """True when every request of this client would be refused the same way (not one user's problem)."""
        return self.error in OAUTH_CLIENT_ERRORS or (self.status == 401 and self.error is None)


class OAuthClient(ExistClient):
    """An ExistClient that also sends token requests, and may take an access token once one is issued."""

    @classmethod
    def without_access_token(
        cls,
        api_url: str,
        warn: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] | None = None,
        max_requests: int = MAX_REQUESTS_PER_TASK,
        **options: Any,
    ) -> OAuthClient:
        """A client with no access token yet, for token requests (and then use_access_token()).

        options: the connection options but token and token_type. Checked as for any client, before any request.
        """
        connection = validate(dict(options, api_url=api_url), TRANSPORT)
        return cls(connection, warn, sleep, max_requests)

    def use_access_token(self, token: str) -> None:
        """Send this OAuth2 access token (one just issued, say) as the bearer of every later request."""
        checked = check_token(token)
        self.add_secrets(token)
        self.transport.use_token(TOKEN_SCHEMES['bearer'], checked)

    def add_secrets(self, *values: object) -> None:
        """Redact these values (a client secret, a code, tokens) from every message of this client."""
        self.transport.add_secrets(*values)

    def oauth_token(self, form: dict) -> dict:
        """POST form to /oauth2/access_token, without any bearer header; the answer, checked.

        Returns {'access_token', 'refresh_token', 'expires_in' (seconds), 'scope' (str, '' when Exist gave
        none), 'oddities'}. Raises ExistOAuthRefused when Exist refused it (4xx: nothing issued), ExistApiError
        when it could not be sent or stayed rate-limited, and ExistOutcomeUnknown when it was sent and whether
        Exist issued a new pair is unknown (timeout, dropped connection, 5xx, or a 2xx answer that is not
        a token). Never retried once sent.
        """
        self.add_secrets(*(value for key, value in form.items() if key not in OAUTH_PUBLIC_FIELDS))
        method, path = 'POST', OAUTH_TOKEN_PATH
        answer = self.transport.send(method, path, form=form, send_token=False, effect='issued a new token pair')
        if answer.status >= 300:
            raise self._refusal(answer, method, path)
        try:
            body = answer.json()
        except ValueError:
            problem: str | None = 'a body that is not JSON'
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
        return self._token_answer(body, method, path)

    def _token_answer(self, body: Any, method: str, path: str) -> dict:
        """What oauth_token() returns for a token answer, said in a warning when it is odd."""
        oddities = token_answer_oddities(body)
        if oddities:
            self.transport.warn(
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

    def authorize_url(self, client_id: str, scope: str | None = None, redirect_uri: str | None = None) -> str:
        """The address where a user authorises client_id (no secret in it)."""
        query = [('response_type', 'code'), ('client_id', client_id)]
        if redirect_uri:
            query.append(('redirect_uri', redirect_uri))
        if scope:
            query.append(('scope', scope))
        return self.base_url + OAUTH_AUTHORIZE_PATH + '?' + urlencode(query)

    def _refusal(self, answer: Answer, method: str, path: str) -> ExistApiError:
        """The ExistOAuthRefused for a 4xx answer of the token endpoint (a redirect as any other)."""
        if answer.status < 400:
            return self.transport.error(answer, method, path)
        try:
            body = answer.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        error = body.get('error') if isinstance(body.get('error'), str) and body.get('error') else None
        description = body.get('error_description')
        description = self._redact(description[:200]) if isinstance(description, str) and description.strip() else None
        if error is None and description is None:
            description = self.transport.detail(answer)
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
