# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""existio.exist.token: always in the controller, where the token store and the vault secrets are."""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.module_utils._connection_options import TRANSPORT, validate
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError, ExistError
from ansible_collections.existio.exist.plugins.module_utils._task_args import secret_values
from ansible_collections.existio.exist.plugins.module_utils._transport import HAS_REQUESTS
from ansible_collections.existio.exist.plugins.modules.token import (
    ARGUMENT_RULES,
    GROUP_OPTIONS_IGNORED,
    argument_spec,
)
from ansible_collections.existio.exist.plugins.plugin_utils._oauth import NUMBER_OPTIONS, Run, TaskFailure, whole_number
from ansible_collections.existio.exist.plugins.plugin_utils._worker_process import ExistActionBase, masked

MODULE = 'existio.exist.token'
# The keys of a new pair returned without a store; with them the whole result is no_log.
PAIR_KEYS = ('access_token', 'refresh_token', 'expires_at', 'scope', 'username')


def vault_secrets(loader):
    """The vault secrets of the run (--ask-vault-pass, --vault-id), to read and rewrite an encrypted store."""
    vault = getattr(loader, '_vault', None)
    return list(getattr(vault, 'secrets', None) or [])


class ActionModule(ExistActionBase):
    MODULE = MODULE
    CONTROLLER_ONLY = True
    ARGUMENT_RULES = ARGUMENT_RULES
    _supports_async = False

    def number_problems(self, args):
        # Numbers first: ansible-core's int conversion takes any Unicode digit ('٣' is 3), and a message that
        # quotes an int of more than 4300 digits raises ValueError.
        problems = []
        for name in sorted(NUMBER_OPTIONS):
            if args.get(name) is not None:
                number, problem = whole_number(name, args[name])
                if problem:
                    problems.append(problem)
                else:
                    args[name] = number
        return problems

    def _arguments(self):
        """(params or None, connection or None, problems, secrets). The secrets are collected first, whatever else is
        wrong; the connection options are checked once, here."""
        # The group's token options, set for the other modules by module_defaults, do not apply here.
        args = dict((k, v) for k, v in self._task.args.items() if k not in GROUP_OPTIONS_IGNORED)
        ignored = dict((k, v) for k, v in self._task.args.items() if k in GROUP_OPTIONS_IGNORED)
        validation, problems, secrets = self._check_args(argument_spec(), {}, args)
        secrets.add(*secret_values({'token': {'no_log': True}}, ignored, {}))
        if validation is None or problems:
            return None, None, problems, secrets
        try:
            connection = validate(validation.validated_parameters, TRANSPORT)
        except ExistConfigError as exc:
            return None, None, [exc.message], secrets
        return validation.validated_parameters, connection, [], secrets

    def run_in_controller(self, result):
        params, connection, problems, secrets = self._arguments()
        if problems:
            result.update(failed=True, msg='; '.join(problems), changed=False)
            return masked(result, secrets)
        if not HAS_REQUESTS:
            result.update(failed=True, msg="the Python library 'requests' is required on the controller")
            return result
        warnings = []
        run = Run(
            params,
            vault_secrets=vault_secrets(self._loader),
            check_mode=bool(self._play_context.check_mode),
            warn=warnings.append,
            connection=connection,
        )
        try:
            result.update(run.run())
        except (TaskFailure, ExistError) as exc:
            result.update(
                failed=True,
                msg=str(exc.message if isinstance(exc, ExistError) else exc),
                changed=run.changed,
                api_requests=run.api_requests(),
            )
        if not self._play_context.diff:
            result.pop('diff', None)
        if warnings:
            result['warnings'] = warnings
        # Every secret of the run (the options', the store's, the new pairs) is masked in what is returned...
        result = masked(result, list(secrets) + list(run.secrets))
        # ...except a new pair that is returned on purpose: then the whole result is no_log.
        if run.pair is not None:
            result.update((key, run.pair[key]) for key in PAIR_KEYS if key in run.pair)
            result['_ansible_no_log'] = True
        if run.unsaved is not None:
            result['unsaved_pair'] = dict(run.unsaved)
            result['_ansible_no_log'] = True
            # A no_log result hides its msg; warnings stay visible (ansible-core 2.19 and later).
            result.setdefault('warnings', []).append(
                'A new pair could not be written anywhere: it is in this task\'s registered result as unsaved_pair '
                '(hidden from the output). ' + result.get('msg', '')
            )
        return result
