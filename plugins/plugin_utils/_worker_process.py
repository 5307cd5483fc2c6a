# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run an existio.exist task inside Ansible's worker process when it may.

Internal to this collection, not a stable API.

A module costs a fresh Python on every task (Ansible ships it as a zip and
imports ansible.module_utils.basic from it); the task itself is one or two
HTTP requests. On a local connection the same code (the shared *_task module
in module_utils) runs here instead, in the worker Ansible has already forked,
with everything imported once by the parent. Everywhere else the module runs
as usual.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
from typing import Any, Callable, Iterable, Iterator, Mapping

from ansible import constants as C
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

try:
    # ansible-core 2.19 and later: the native type's name of a tagged value, and
    # the ciphertext of a value decrypted from a vault.
    from ansible.module_utils.datatag import native_type_name
    from ansible.parsing.vault import VaultHelper
except ImportError:  # older ansible-core tags nothing
    native_type_name = VaultHelper = None

from ansible_collections.existio.exist.plugins.module_utils._remedies import TaskUser
from ansible_collections.existio.exist.plugins.module_utils._secrets import Secrets
from ansible_collections.existio.exist.plugins.module_utils._task_args import (
    secret_values,
    shape_problems,
    without_env_fallbacks,
)
from ansible_collections.existio.exist.plugins.module_utils._task_runner import run_task
from ansible_collections.existio.exist.plugins.module_utils._transport import HAS_REQUESTS
from ansible_collections.existio.exist.plugins.plugin_utils._ansible_core import (
    execute_module,
    no_log_values,
    task_environment,
)

# Set this variable to false to always run the module, as on a remote host.
WORKER_PROCESS_VAR = 'existio_exist_worker_process'
# The token's environment variable: moved into the (no_log) module arguments
# on the module path, so Ansible's EXEC line never prints it.
TOKEN_VARIABLE = 'EXIST_TOKEN'


# The native types of the tagged values plain() copies, by name, and how to copy one untagged.
_UNTAGGED: dict[str, tuple[type, Callable[[Any], Any]]] = {
    'str': (str, str.__str__),
    'int': (int, int.__int__),
    'float': (float, float.__float__),
}


def plain(value: Any, _texts: dict | None = None) -> Any:
    """A copy of a task's arguments without ansible-core's data tags.

    ansible-core 2.19 and later give an action plugin its arguments as tagged
    subclasses of dict, list, str, int and float (every key and value carries
    where it came from and whether it may be templated). ArgumentSpecValidator
    deep-copies its parameters, and a deep copy of a tagged value copies its
    tags one by one: that was most of the time of validating 20 declared
    attributes in the worker process. This copy has the same values as plain
    dict, list, str, int and float, as the module gets them (as JSON, untagged),
    equal strings made one. A value of any other type (a vault-encrypted value,
    an older ansible-core's unsafe string, a tuple...) is kept as it is, so is a
    string decrypted from a vault (its tag makes ansible-core show the
    ciphertext, never the secret, wherever the task's arguments are written
    out), and so is every value on ansible-core < 2.19.
    """
    texts = {} if _texts is None else _texts
    kind = type(value)
    if kind is str:
        return texts.setdefault(value, value)
    if kind in (int, float, bool) or value is None:
        return value
    # Before 2.19 nothing is tagged: only a plain dict or list (type name 'dict', 'list') is copied.
    name = kind.__name__ if native_type_name is None else native_type_name(value)
    if name == 'dict' and isinstance(value, dict):
        return dict((plain(key, texts), plain(item, texts)) for key, item in value.items())
    if name == 'list' and isinstance(value, list):
        return [plain(item, texts) for item in value]
    native = _UNTAGGED.get(name)
    if native is None or not isinstance(value, native[0]) or isinstance(value, bool):
        return value
    if name == 'str':
        if VaultHelper.get_ciphertext(value, with_tags=False) is not None:
            return value
        text = str.__str__(value)
        return texts.setdefault(text, text)
    return native[1](value)


def share_strings(result: dict) -> dict:
    """The result, every string in it that equals another made the same object.

    A result goes to the controller pickled, and the controller keeps every
    host's result of a task until the task has run on every host. Exist
    answers the same texts again and again (a service's name and label on
    every attribute it owns, group names, value types), and JSON decoding
    makes each one a string of its own: shared, they are pickled once, and a
    converged result of 20 attributes takes about half the controller's
    memory (12 kB less a user). Dictionaries and lists are changed in place;
    only which string object holds a text changes, never a value.
    """
    texts: dict = {}
    todo = [result]
    seen = set()
    while todo:
        container = todo.pop()
        if id(container) in seen:
            continue
        seen.add(id(container))
        pairs = container.items() if isinstance(container, dict) else enumerate(container)
        for key, item in list(pairs):
            kind = type(item)
            if kind is str:
                container[key] = texts.setdefault(item, item)
            elif kind in (dict, list):
                todo.append(item)
    return result


def masked(result: dict, secrets: Iterable[str]) -> dict:
    """The result with every secret masked, as remove_values() masks it.

    remove_values() walks every string of the result, and a result holds up to
    hundreds of attribute objects: it was a third of a converged task's time.
    When no secret occurs in the result's JSON text (as it is, or as JSON
    escapes it), there is nothing to mask; anything else goes the long way.
    """
    secrets = [secret for secret in secrets if secret]
    if not secrets:
        return result
    try:
        text = json.dumps(result, ensure_ascii=False)
    except (TypeError, ValueError):
        return remove_values(result, secrets)
    for secret in secrets:
        if not isinstance(secret, str) or secret in text or json.dumps(secret, ensure_ascii=False)[1:-1] in text:
            return remove_values(result, secrets)
    return result


# Whether this process has already spared the objects it inherited (see below).
_SPARED = False


def spare_inherited_objects() -> None:
    """In a forked worker, keep the garbage collector away from the controller's objects.

    Ansible forks one worker per task, and the worker inherits every object of
    the controller (its inventory, variables, plugins: hundreds of thousands
    for a fleet). A full collection walks all of them and writes into each,
    so the kernel copies page after page of the controller's memory (what it
    cost is on the performance page, "where the time of a task goes").
    gc.freeze() (constant time)
    moves the objects that exist now out of the collector's sight for the
    rest of this process, which ends with its task; objects made later are
    collected as usual (a loop's items too: this runs once per process).
    Nothing is done outside a process started by multiprocessing.
    """
    global _SPARED  # pylint: disable=global-statement
    if _SPARED or multiprocessing.parent_process() is None:
        return
    _SPARED = True
    gc.freeze()


@contextlib.contextmanager
def applied_environment(environment: dict[str, str]) -> Iterator[None]:
    """os.environ with the task's environment, as the module would see it;
    restored afterwards (the worker process is the task's own, but a clean
    exit costs nothing). Only what differs is set back: clearing and
    refilling all of os.environ is a libc call per variable."""
    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        yield
    finally:
        for key in [key for key in os.environ if key not in saved]:
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


class ExistActionBase(ActionBase):
    """Subclasses set MODULE (the FQCN) and TASK (its *_task module_utils).

    A controller-only action (CONTROLLER_ONLY: the token module, whose store and
    vault secrets are on the controller) sets argument_spec() and
    run_in_controller() instead of TASK, and shares the argument checks and the
    masking.
    """

    MODULE = None
    TASK: Any = None  # the module_utils task module: argument_spec(), run()
    CONTROLLER_ONLY = False
    ARGUMENT_RULES: dict = {}  # ArgumentSpecValidator's mutually_exclusive, required_if...
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True  # through the module

    def runs_in_worker_process(self, task_vars: dict) -> bool:
        """Whether this task may run here with the same outcome as the module.

        Only on a local connection, without become (the module would run as
        another user), not async, and with requests importable here. A task
        environment is applied here as the module would see it.
        """
        wanted = self._templar.template(task_vars.get(WORKER_PROCESS_VAR, True))
        return (
            boolean(wanted, strict=False)
            and HAS_REQUESTS
            and self._connection.transport == 'local'
            and not self._play_context.become
            and not self._task.async_val
        )

    def task_user(self, task_vars: dict) -> TaskUser:
        """Who this host's token is of, for the messages: exist_username (the users inventory sets it) with
        exist_token_scopes, else the inventory host unless it is this machine; never the token."""
        username = self._templar.template(task_vars.get('exist_username'))
        scopes = self._templar.template(task_vars.get('exist_token_scopes'))
        scopes = tuple(str(scope) for scope in scopes) if isinstance(scopes, (list, tuple)) else None
        if username:
            return TaskUser(str(username), 'user', scopes)
        host = task_vars.get('inventory_hostname')
        if host and host not in C.LOCALHOST:
            return TaskUser(str(host), 'host', scopes)
        return TaskUser(None, 'user', scopes)

    def _error_message(self, error: Any) -> str:
        # Worded as AnsibleModule words it, so both paths fail alike.
        if isinstance(error, UnsupportedError):
            return 'Unsupported parameters for (%s) module: %s' % (self.MODULE, error.msg)
        return error.msg

    def _check_args(self, spec: dict, environ: Mapping[str, str], args: dict) -> tuple[Any, list[str], Secrets]:
        """(validation or None, problems, secrets) for the task's arguments
        (`args`, plain: see plain()).

        The secrets are collected first, whatever else is wrong, so that no
        failure can carry the token unmasked.
        """
        secrets = Secrets(*secret_values(spec, args, environ))
        problems = shape_problems(spec, args) or self.number_problems(args)
        if problems:
            return None, problems, secrets
        validation = ArgumentSpecValidator(spec, **self.ARGUMENT_RULES).validate(args)
        secrets.add(*secret_values(spec, validation.validated_parameters, {}))
        secrets.add(*no_log_values(validation))
        return validation, [self._error_message(error) for error in validation.errors.errors], secrets

    def number_problems(self, args: dict) -> list[str]:
        """Problems of number options checked before ansible-core converts them (and may edit args); none here."""
        return []

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        if self.CONTROLLER_ONLY:
            result = super().run(tmp, task_vars)
            with applied_environment(task_environment(self)):
                return self.run_in_controller(result)
        spare_inherited_objects()
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        environment = task_environment(self)
        spec = self.TASK.argument_spec()
        if not self.runs_in_worker_process(task_vars):
            # Checked here too, so that nothing invalid is shipped to the host.
            dummy, problems, secrets = self._check_args(
                without_env_fallbacks(spec), environment, plain(self._task.args)
            )
            if problems:
                result.update(failed=True, msg='; '.join(problems))
                return masked(result, secrets)
            user_environment = self.task_user(task_vars).to_environment()
            return masked(merge_hash(result, self._run_module(task_vars, environment, user_environment)), secrets)

        # The task's own copy of its arguments goes back to the controller with
        # the result (every field of the task does): untagged, it is a fifth of
        # the size and it takes the controller a hundredth of the time to read.
        self._task.args = plain(self._task.args)
        with applied_environment(environment):
            validation, problems, secrets = self._check_args(spec, os.environ, self._task.args)
            if problems:
                result.update(failed=True, msg='; '.join(problems))
                return masked(result, secrets)
            warnings: list = []
            result.update(
                run_task(
                    self.TASK,
                    validation.validated_parameters,
                    check_mode=bool(self._play_context.check_mode),
                    diff=bool(self._play_context.diff),
                    warn=warnings.append,
                    user=self.task_user(task_vars),
                )
            )
        if warnings:
            result['warnings'] = warnings
        # The module path masks no_log values in everything it returns; so must we.
        return share_strings(masked(result, secrets))

    def _run_module(self, task_vars: dict, environment: dict[str, str], user_environment: dict[str, str]) -> dict:
        """Run the module as ansible.builtin.normal would; user_environment names the user for its messages."""
        module_args = self._task.args
        if TOKEN_VARIABLE in environment or user_environment:
            if TOKEN_VARIABLE in environment and 'token' not in module_args:
                module_args = dict(module_args, token=environment[TOKEN_VARIABLE])
            kept = dict((k, v) for k, v in environment.items() if k != TOKEN_VARIABLE)
            self._task.environment = [dict(kept, **user_environment)]
        return execute_module(self, self.MODULE, module_args, task_vars)
