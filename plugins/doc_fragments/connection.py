# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The connection options of every existio.exist module and plugin, as the table of
    plugins/module_utils/_connection_options.py declares them (tests/unit/plugins/doc_fragments holds
    them to it).

    - existio.exist.connection: how to reach Exist (every module and plugin that talks to it).
    - existio.exist.connection.token: whose data it is (token, token_type), for those that take a token.
    - existio.exist.connection.plugins: the environment variables of those options, for plugins
      (modules read them through their argument spec).
    - existio.exist.connection.token_plugins: the same for the token options.
    - existio.exist.connection.values_lookup: the host variables (exist_token, exist_api_url...) and the
      ansible.cfg section [existio_exist_values] the values lookup reads them from too (the token only from a
      variable: a secret has no place in ansible.cfg).
    """

    DOCUMENTATION = r'''
options:
  api_url:
    description:
      - Base URL of the Exist service. A trailing C(/api/2/) is accepted and dropped.
      - Plain C(http://) is accepted only for loopback hosts such as the local emulator
        (C(http://127.0.0.1:8787)); no secret is ever sent unencrypted over a network.
      - If not set, the value of the E(EXIST_API_URL) environment variable is used.
    type: str
    default: https://exist.io
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url).
      - Only set to V(false) for a test server you cannot give a CA for (prefer O(ca_path)); a warning then says
        so once.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify O(api_url) with, for example a corporate CA that
        intercepts TLS.
      - If not set, the value of the E(EXIST_CA_PATH) environment variable is used. Without either, the
        first of E(REQUESTS_CA_BUNDLE) and E(SSL_CERT_FILE) that is set is used, and otherwise the CA
        bundle that comes with C(requests).
      - A file that cannot be read is an error before any request.
    type: path
  use_proxy:
    description:
      - Whether to use the proxy that the E(HTTPS_PROXY) (or E(HTTP_PROXY), E(ALL_PROXY)) environment
        variable names, except for the hosts in E(NO_PROXY), as M(ansible.builtin.uri) does.
      - When V(false), proxy variables are ignored.
    type: bool
    default: true
  timeout:
    description:
      - Seconds one request may take, from 1 to 3600. Connecting, sending, and the whole answer, headers
        and body, must be done within this time, so a server that trickles bytes cannot hold the run.
    type: int
    default: 30
  retries:
    description:
      - How often a read that fails with a connection error or a 5xx answer is retried (0 to 10), with
        backoff; a request that could not be sent at all is retried the same way, writes included.
      - A write that may have reached Exist is never retried; what follows is in the results.
    type: int
    default: 3
  rate_limit_wait:
    description:
      - Most seconds in total (from 0 to 3600) to wait when Exist answers C(429 Too Many Requests).
      - Each wait is the C(Retry-After) header or a backoff that starts at 1 second and doubles with every
        C(429) (up to 30 seconds), whichever is longer, so a C(Retry-After) of 0 or a date in the past
        cannot make a retry loop. When the next wait would go past this bound the run fails with a message
        that it was rate-limited, so a pipeline never hangs for the hour a limit can last.
      - V(0) fails at the first C(429).
    type: int
    default: 60
  http_agent:
    description:
      - The C(User-Agent) header sent to Exist. When not set, C(existio.exist/VERSION (Ansible collection\)).
    type: str
notes:
  - Exist allows 300 requests an hour per user token. Reads ask for pages of 100 and writes send up to 35
    attributes per request, the most the API takes. One task (or lookup, or token validation) never sends
    more than 300 requests, whatever Exist answers.
  - Every retry is reported as a warning. A TLS certificate failure is not retried; its message names
    the host and the cause.
  - A task C(environment) (E(HTTPS_PROXY), E(NO_PROXY), E(REQUESTS_CA_BUNDLE)...) applies to a module on both
    execution paths.
requirements:
  - requests
'''

    TOKEN = r'''
options:
  token:
    description:
      - Access token of the Exist user. By default an OAuth2 access token issued to your client
        (service); see O(token_type) for a simple, read-only token.
      - Writes need an OAuth2 token with the matching C(_write) scopes; simple (read-only) tokens can
        read but never acquire, release or write.
      - If not set, the value of the E(EXIST_TOKEN) environment variable is used.
      - The token is never logged, returned or shown in a message. It is sent only in the
        C(Authorization) header, which nothing else replaces (a C(~/.netrc) entry for the host is not used).
    type: str
    required: true
  token_type:
    description:
      - The kind of O(token). V(bearer) is an OAuth2 access token, sent in the C(Authorization) header
        as C(Bearer <token>). V(token) is a simple, read-only token, sent as C(Token <token>); what writes
        refuses it before any request.
    type: str
    choices: [bearer, token]
    default: bearer
'''

    PLUGINS = r'''
options:
  api_url:
    env:
      - name: EXIST_API_URL
  ca_path:
    env:
      - name: EXIST_CA_PATH
'''

    TOKEN_PLUGINS = r'''
options:
  token:
    env:
      - name: EXIST_TOKEN
'''

    VALUES_LOOKUP = r'''
options:
  api_url:
    vars:
      - name: exist_api_url
    ini:
      - section: existio_exist_values
        key: api_url
  token:
    vars:
      - name: exist_token
  token_type:
    vars:
      - name: exist_token_type
    ini:
      - section: existio_exist_values
        key: token_type
  validate_certs:
    vars:
      - name: exist_validate_certs
    ini:
      - section: existio_exist_values
        key: validate_certs
  ca_path:
    vars:
      - name: exist_ca_path
    ini:
      - section: existio_exist_values
        key: ca_path
  use_proxy:
    vars:
      - name: exist_use_proxy
    ini:
      - section: existio_exist_values
        key: use_proxy
  timeout:
    vars:
      - name: exist_timeout
    ini:
      - section: existio_exist_values
        key: timeout
  retries:
    vars:
      - name: exist_retries
    ini:
      - section: existio_exist_values
        key: retries
  rate_limit_wait:
    vars:
      - name: exist_rate_limit_wait
    ini:
      - section: existio_exist_values
        key: rate_limit_wait
  http_agent:
    vars:
      - name: exist_http_agent
    ini:
      - section: existio_exist_values
        key: http_agent
'''
