# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """Connection options of the existio.exist lookup plugins: those of the modules
    (the existio.exist.connection fragment), with the same defaults and environment variables."""

    DOCUMENTATION = r'''
options:
  api_url:
    description:
      - Base URL of the Exist service. A trailing C(/api/2/) is accepted and dropped.
      - Plain C(http://) is accepted only for loopback hosts such as the local emulator
        (C(http://127.0.0.1:8787)); the token is never sent unencrypted over a network.
    type: str
    default: https://exist.io
    env:
      - name: EXIST_API_URL
  token:
    description:
      - Access token of the Exist user. By default an OAuth2 access token issued to your client
        (service); see O(token_type) for a simple, read-only token, which is enough to read.
      - The token is never shown in messages or warnings. It is sent only in the C(Authorization)
        header, which nothing else replaces (a C(~/.netrc) entry for the host is not used).
    type: str
    required: true
    env:
      - name: EXIST_TOKEN
  token_type:
    description:
      - The kind of O(token). V(bearer) is an OAuth2 access token, sent in the C(Authorization) header
        as C(Bearer <token>). V(token) is a simple, read-only token, sent as C(Token <token>).
    type: str
    choices: [bearer, token]
    default: bearer
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url).
      - Only set to V(false) for a test server you cannot give a CA for (prefer O(ca_path)); the lookup then
        warns once.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify O(api_url) with, for example a corporate CA that
        intercepts TLS.
      - Without it, the first of E(REQUESTS_CA_BUNDLE) and E(SSL_CERT_FILE) that is set is used, and
        otherwise the CA bundle that comes with C(requests).
      - A file that cannot be read fails the lookup before any request.
    type: path
    env:
      - name: EXIST_CA_PATH
  use_proxy:
    description:
      - Whether to use the proxy that the E(HTTPS_PROXY) (or E(HTTP_PROXY), E(ALL_PROXY)) environment
        variable names, except for the hosts in E(NO_PROXY).
      - When V(false), proxy variables are ignored.
    type: bool
    default: true
  timeout:
    description:
      - Seconds one request may take, from 1 to 3600. Connecting, sending, and the whole answer, headers
        and body, must be done within this time.
    type: int
    default: 30
  retries:
    description:
      - How often a request that fails with a connection error or a 5xx answer is retried (0 to 10), with
        backoff. The lookup only reads.
    type: int
    default: 3
  http_agent:
    description:
      - The C(User-Agent) header sent to Exist. When not set, C(existio.exist/VERSION (Ansible collection\)).
    type: str
  rate_limit_wait:
    description:
      - Most seconds in total (from 0 to 3600) the lookup waits when Exist answers C(429 Too Many Requests),
        as the modules do; past it the lookup fails with a message that it was rate-limited.
      - V(0) fails at the first C(429).
    type: int
    default: 60
notes:
  - A lookup runs on the controller, each time the template that holds it is rendered. A lookup in
    a play's C(vars) is read again wherever the variable is used; read once with M(ansible.builtin.set_fact)
    and use the fact.
  - Exist allows 300 requests an hour per user token; one lookup never sends more than 300 requests.
  - Every retry is reported as a warning. A TLS certificate failure is not retried; its message names
    the host and the cause.
requirements:
  - requests
'''
