# -*- coding: utf-8 -*-
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Connection options shared by every module of this collection, declared once.

Internal to this collection, not a stable API. Documented by the
``existio.exist.connection`` doc fragment.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.existio.exist.plugins.module_utils._client import (
    RATE_LIMIT_WAIT_RANGE,
    READ_RETRIES,
    RETRIES_RANGE,
    TIMEOUT_RANGE,
    TOKEN_SCHEMES,
    ExistClient,
    check_number,
)

DEFAULT_API_URL = 'https://exist.io'
DEFAULT_TIMEOUT = 30
DEFAULT_RATE_LIMIT_WAIT = 60


def connection_argument_spec():
    """The argument spec of the connection options; merge it into a module's own."""
    return dict(
        api_url=dict(type='str', default=DEFAULT_API_URL, fallback=(env_fallback, ['EXIST_API_URL'])),
        token=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['EXIST_TOKEN'])),
        token_type=dict(type='str', default='bearer', choices=sorted(TOKEN_SCHEMES)),
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path', fallback=(env_fallback, ['EXIST_CA_PATH'])),
        use_proxy=dict(type='bool', default=True),
        timeout=dict(type='int', default=DEFAULT_TIMEOUT),
        retries=dict(type='int', default=READ_RETRIES),
        rate_limit_wait=dict(type='int', default=DEFAULT_RATE_LIMIT_WAIT),
        http_agent=dict(type='str'),
    )


def connection_problem(params):
    """Return an error message for unusable connection options, or None."""
    agent = params['http_agent']
    if agent is not None and (not agent.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in agent)):
        return 'http_agent must be a non-empty line of text, got %r' % (agent,)
    return (
        check_number('timeout', params['timeout'], TIMEOUT_RANGE)
        or check_number('retries', params['retries'], RETRIES_RANGE, 'retries')
        or check_number('rate_limit_wait', params['rate_limit_wait'], RATE_LIMIT_WAIT_RANGE)
    )


def client_from_params(params, warn):
    """An ExistClient for validated module parameters; raises ExistConfigError."""
    return ExistClient(
        api_url=params['api_url'],
        token=params['token'],
        token_type=params['token_type'],
        validate_certs=params['validate_certs'],
        ca_path=params['ca_path'],
        use_proxy=params['use_proxy'],
        timeout=params['timeout'],
        retries=params['retries'],
        rate_limit_wait=params['rate_limit_wait'],
        http_agent=params['http_agent'],
        warn=warn,
    )
