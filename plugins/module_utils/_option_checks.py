# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Checks of what a user gives (a URL, a token, a number, a CA bundle), each failing as ExistConfigError or a
message that names the option and the value, never a Python error.

Internal to this collection, not a stable API.
"""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError

API_PREFIX = '/api/2'
# Where requests (and curl, and Python's ssl) find a CA bundle when none is given.
CA_BUNDLE_VARIABLES = ('REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE')
# Past this many digits an integer is shown by its size: Python refuses to write one of over 4300 as text.
_HUGE_DIGITS = 100
_HUGE = 10**_HUGE_DIGITS


def is_huge(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _HUGE


def shown(value: object, limit: int = 60) -> str:
    """repr(value) for a message, shortened, and never failing (Python refuses to write an integer of more
    than 4300 digits as text)."""
    if is_huge(value):
        return '<an integer of more than %d digits>' % _HUGE_DIGITS
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'


def short(value: object, limit: int = 60) -> str:
    """value as JSON for a message (as Exist sent it), shortened, and never failing."""
    if is_huge(value):
        return shown(value)
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool)) or value is None else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'


def is_loopback_host(host: str) -> bool:
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


def check_api_url(api_url: object) -> str:
    """Return the normalised base URL, or raise ExistConfigError naming the value.

    A bearer token must never cross the network in clear text, so plain http://
    is only accepted for loopback hosts (the local emulator). A trailing
    /api/2 (as in Exist's documentation) is accepted and dropped.
    """
    if not isinstance(api_url, str) or not api_url.strip():
        raise ExistConfigError("api_url must be a non-empty http:// or https:// URL, got %r" % (api_url,))
    try:
        parts = urlsplit(api_url.strip())
        hostname, dummy_port = parts.hostname, parts.port  # .port raises ValueError for a bad port
    except ValueError as exc:
        raise ExistConfigError("api_url %r is not a valid URL: %s" % (api_url, exc)) from None
    if parts.scheme not in ('http', 'https') or not hostname:
        raise ExistConfigError("api_url must be an http:// or https:// URL with a host, got %r" % (api_url,))
    if parts.query or parts.fragment:
        raise ExistConfigError("api_url must not carry a query or fragment, got %r" % (api_url,))
    if parts.username or parts.password:
        raise ExistConfigError("api_url must not carry credentials; use the token option")
    if parts.scheme == 'http' and not is_loopback_host(hostname):
        raise ExistConfigError(
            "api_url %r uses plain http:// to a host that is not loopback; the bearer token would be sent "
            "unencrypted. Use https://, or http:// only for 127.0.0.1/localhost (the local emulator)." % (api_url,)
        )
    path = parts.path.rstrip('/')
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return urlunsplit((parts.scheme, parts.netloc, path, '', ''))


def check_token(token: object) -> str:
    """Return the token without surrounding whitespace (a vault block scalar
    ends in a newline), or raise ExistConfigError. Never echo it."""
    if not isinstance(token, str) or not token.strip():
        raise ExistConfigError("token is empty: set the token option or the EXIST_TOKEN environment variable")
    if token.strip().split(' ', 1)[0].lower() in ('bearer', 'token'):
        raise ExistConfigError("token must be the access token alone, without the 'Bearer ' or 'Token ' prefix")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) > 126 for ch in token.strip()):
        raise ExistConfigError(
            "token contains whitespace or non-ASCII characters; it is not a valid Exist access token"
        )
    return token.strip()


def check_number(option: str, value: object, bounds: tuple[int, int], unit: str = 'seconds') -> str | None:
    """Return an error message naming the option when value is outside bounds, else None."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return '%s must be a whole number of %s from %d to %d, got %s' % (option, unit, low, high, shown(value))
    return None


def tls_verify(validate_certs: bool, ca_path: str | None, environ: Mapping[str, str] | None = None) -> bool | str:
    """What requests' `verify` gets: False, a CA bundle path, or True (certifi's bundle).

    ca_path wins; without it the variables users already set for other tools
    (REQUESTS_CA_BUNDLE, then SSL_CERT_FILE) are honoured. Raises
    ExistConfigError for a bundle that cannot be read, before any request.
    """
    if not validate_certs:
        return False
    environ = os.environ if environ is None else environ
    source: str | None
    source, path = 'ca_path', ca_path
    if not path:
        source, path = next(((name, environ[name]) for name in CA_BUNDLE_VARIABLES if environ.get(name)), (None, None))
    if not path:
        return True
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ExistConfigError('%s %r is not a readable CA bundle file' % (source, path))
    return path
