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
      - OAuth2 access token of the Exist user, issued to your client (service).
      - Writes need an OAuth2 token with the matching C(_write) scopes; simple (read-only)
        tokens can read but never acquire or release.
      - If not set, the value of the E(EXIST_TOKEN) environment variable is used.
      - The token is never logged or returned.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url).
      - Only set to V(false) for a test server with a self-signed certificate.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for Exist to answer one request, from 1 to 3600. The body of an answer must
        arrive within this time too, so a server that trickles bytes cannot hold the task.
    type: int
    default: 30
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
  - Reads that fail with a connection error or a 5xx answer are retried up to 3 times
    with backoff; every retry is reported as a warning. A request that could not be sent at all
    (name resolution, refused connection) is retried the same way, writes included. A TLS certificate
    failure is not retried; its message names the host and the cause.
  - One task never sends more than 300 requests (a user's whole hourly budget), whatever Exist answers.
requirements:
  - requests
'''
