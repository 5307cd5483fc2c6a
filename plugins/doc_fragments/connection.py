# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """Connection options shared by every existio.exist module."""

    DOCUMENTATION = r'''
options:
  api_url:
    description:
      - Base URL of the Exist service. A trailing C(/api/2/) is accepted and dropped.
      - Plain C(http://) is accepted only for loopback hosts such as the local emulator
        (C(http://127.0.0.1:8787)); the bearer token is never sent unencrypted over a network.
      - If not set, the value of the E(EXIST_API_URL) environment variable is used.
    type: str
    default: https://exist.io
  token:
    description:
      - Access token of the Exist user. By default an OAuth2 access token issued to your client
        (service); see O(token_type) for a simple token.
      - Writes need an OAuth2 token with the matching C(_write) scopes; simple (read-only)
        tokens can read but never acquire or release.
      - If not set, the value of the E(EXIST_TOKEN) environment variable is used.
      - The token is never logged or returned. It is sent only in the C(Authorization) header,
        which nothing else replaces (a C(~/.netrc) entry for the host is not used).
    type: str
    required: true
  token_type:
    description:
      - The kind of O(token). V(bearer) is an OAuth2 access token, sent in the C(Authorization) header
        as C(Bearer <token>). V(token) is a simple, read-only token, sent as C(Token <token>); modules
        that write refuse it before any request.
    type: str
    choices: [bearer, token]
    default: bearer
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url).
      - Only set to V(false) for a test server you cannot give a CA for (prefer O(ca_path)); the task then
        warns once.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify O(api_url) with, for example a corporate CA that
        intercepts TLS.
      - If not set, the value of the E(EXIST_CA_PATH) environment variable is used. Without either, the
        first of E(REQUESTS_CA_BUNDLE) and E(SSL_CERT_FILE) that is set is used, and otherwise the CA
        bundle that comes with C(requests).
      - A file that cannot be read fails the task before any request.
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
        and body, must be done within this time, so a server that trickles bytes cannot hold the task.
    type: int
    default: 30
  retries:
    description:
      - How often a read that fails with a connection error or a 5xx answer is retried (0 to 10), with
        backoff; a request that could not be sent at all is retried the same way, writes included.
      - A write that may have reached Exist is never retried; see the module's results for what
        follows.
    type: int
    default: 3
  http_agent:
    description:
      - The C(User-Agent) header sent to Exist. When not set, C(existio.exist/VERSION (Ansible collection\)).
    type: str
  rate_limit_wait:
    description:
      - Most seconds in total (from 0 to 3600) the task waits when Exist answers C(429 Too Many Requests).
      - Each wait is the C(Retry-After) header or a backoff that starts at 1 second and doubles with every
        C(429) of the task (up to 30 seconds), whichever is longer, so a C(Retry-After) of 0 or a date in
        the past cannot make the task retry in a loop. When the next wait would go past this bound the
        task fails with a message that it was rate-limited, so a pipeline never hangs for the hour a
        limit can last.
      - V(0) fails at the first C(429).
    type: int
    default: 60
notes:
  - Exist allows 300 requests an hour per user token. Reads ask for pages of 100 and
    writes send up to 35 attributes per request, the most the API takes.
  - Every retry is reported as a warning. A TLS certificate failure is not retried; its message names
    the host and the cause.
  - A task C(environment) (E(HTTPS_PROXY), E(NO_PROXY), E(REQUESTS_CA_BUNDLE)...) applies on both
    execution paths.
  - One task never sends more than 300 requests (a user's whole hourly budget), whatever Exist answers.
requirements:
  - requests
'''
