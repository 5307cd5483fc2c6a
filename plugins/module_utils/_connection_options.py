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
    TIMEOUT_RANGE,
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
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='int', default=DEFAULT_TIMEOUT),
        rate_limit_wait=dict(type='int', default=DEFAULT_RATE_LIMIT_WAIT),
    )


def check_connection_params(params):
    """Return an error message for unusable numeric options, or None."""
    return (check_number('timeout', params['timeout'], TIMEOUT_RANGE)
            or check_number('rate_limit_wait', params['rate_limit_wait'], RATE_LIMIT_WAIT_RANGE))


def client_from_params(params, warn):
    """An ExistClient for validated module parameters; raises ExistConfigError."""
    return ExistClient(
        api_url=params['api_url'],
        token=params['token'],
        validate_certs=params['validate_certs'],
        timeout=params['timeout'],
        rate_limit_wait=params['rate_limit_wait'],
        warn=warn,
    )
