# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The connection options of this collection, in one table, and their one check.

Internal to this collection, not a stable API. The table gives each option's type, default, environment
variables, host variable, range and secrecy; from it come the modules' argument spec and every plugin's list of options,
and validate() checks a set of values once into a Connection that the client takes as it is. The
``existio.exist.connection`` doc fragment documents the options; a unit test holds it to this table.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Iterable

from ansible.module_utils.basic import env_fallback

from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError
from ansible_collections.existio.exist.plugins.module_utils._option_checks import (
    check_api_url,
    check_number,
    check_token,
    tls_verify,
)

# The Authorization scheme of each kind of Exist token (the choices of token_type).
TOKEN_SCHEMES = {'bearer': 'Bearer', 'token': 'Token'}


class ConnectionOption(
    namedtuple('ConnectionOption', 'name type default env bounds unit no_log choices required host_var')
):
    """One row of the table. bounds and unit: an int option's range and what it counts. host_var: the host
    variable a plugin (the values lookup) reads the option from, exist_<name> unless given (exist_token is what
    the existio.exist.users inventory sets)."""

    def __new__(
        cls,
        name: str,
        type: str,
        default: object = None,
        env: tuple[str, ...] = (),
        bounds: tuple[int, int] | None = None,
        unit: str | None = None,
        no_log: bool = False,
        choices: tuple[str, ...] | None = None,
        required: bool = False,
        host_var: str | None = None,
    ) -> ConnectionOption:  # pylint: disable=redefined-builtin
        return super().__new__(
            cls, name, type, default, env, bounds, unit, no_log, choices, required, host_var or 'exist_' + name
        )


CONNECTION_OPTIONS = (
    ConnectionOption('api_url', 'str', 'https://exist.io', env=('EXIST_API_URL',)),
    ConnectionOption('token', 'str', env=('EXIST_TOKEN',), no_log=True, required=True),
    ConnectionOption('token_type', 'str', 'bearer', choices=tuple(sorted(TOKEN_SCHEMES))),
    ConnectionOption('validate_certs', 'bool', True),
    ConnectionOption('ca_path', 'path', env=('EXIST_CA_PATH',)),
    ConnectionOption('use_proxy', 'bool', True),
    ConnectionOption('timeout', 'int', 30, bounds=(1, 3600), unit='seconds'),
    ConnectionOption('retries', 'int', 3, bounds=(0, 10), unit='retries'),
    ConnectionOption('rate_limit_wait', 'int', 60, bounds=(0, 3600), unit='seconds'),
    ConnectionOption('http_agent', 'str'),
)
OPTIONS_BY_NAME = dict((option.name, option) for option in CONNECTION_OPTIONS)
ALL = tuple(option.name for option in CONNECTION_OPTIONS)
# What says whose data it is: plugins that find the token elsewhere (a token store) take only the rest.
TOKEN_OPTIONS = ('token', 'token_type')
TRANSPORT = tuple(name for name in ALL if name not in TOKEN_OPTIONS)
# {name: (bounds, unit)} of the number options, for plugins that check what a configuration file gives.
NUMBER_OPTIONS = dict((option.name, (option.bounds, option.unit)) for option in CONNECTION_OPTIONS if option.bounds)

# What validate() gives the client: every value checked and normalised (token None: not known yet).
Connection = namedtuple(
    'Connection', 'base_url token scheme verify use_proxy timeout retries rate_limit_wait http_agent'
)


def default(name: str) -> object:
    return OPTIONS_BY_NAME[name].default


def connection_argument_spec(names: Iterable[str] = ALL) -> dict:
    """The argument spec of the named connection options; merge it into a module's own."""
    spec = {}
    for name in names:
        option = OPTIONS_BY_NAME[name]
        entry = dict(type=option.type)
        if option.default is not None:
            entry['default'] = option.default
        if option.env:
            entry['fallback'] = (env_fallback, list(option.env))
        if option.no_log:
            entry['no_log'] = True
        if option.choices:
            entry['choices'] = list(option.choices)
        if option.required:
            entry['required'] = True
        spec[name] = entry
    return spec


def validate(params: dict, names: Iterable[str] = ALL) -> Connection:
    """The Connection of the named options' values in params (a missing one takes its default).

    Raises ExistConfigError naming the option and the value (never the token) before any request. The only
    check of these options: the client takes the Connection as it is.
    """
    values = dict((name, params.get(name, default(name))) for name in names)
    for name in names:
        option = OPTIONS_BY_NAME[name]
        if option.bounds:
            problem = check_number(name, values[name], option.bounds, option.unit)
            if problem:
                raise ExistConfigError(problem)
    token_type = values.get('token_type', default('token_type'))
    if token_type not in TOKEN_SCHEMES:
        raise ExistConfigError('token_type must be one of %s, got %r' % (', '.join(sorted(TOKEN_SCHEMES)), token_type))
    agent = values.get('http_agent')
    if agent is not None and (
        not isinstance(agent, str) or not agent.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in agent)
    ):
        raise ExistConfigError('http_agent must be a non-empty line of text, got %r' % (agent,))
    return Connection(
        base_url=check_api_url(values.get('api_url', default('api_url'))),
        token=check_token(values['token']) if 'token' in names else None,
        scheme=TOKEN_SCHEMES[token_type],
        verify=tls_verify(values.get('validate_certs', True), values.get('ca_path')),
        use_proxy=bool(values.get('use_proxy', True)),
        timeout=values.get('timeout', default('timeout')),
        retries=values.get('retries', default('retries')),
        rate_limit_wait=values.get('rate_limit_wait', default('rate_limit_wait')),
        http_agent=agent,
    )


def with_token(connection: Connection, token: str, token_type: str = 'bearer') -> Connection:
    """connection (validated without a token) for this token: only the token is checked, once per user."""
    return connection._replace(token=check_token(token), scheme=TOKEN_SCHEMES[token_type])
