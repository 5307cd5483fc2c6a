# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The opening and the closing every task shares, written once.

Internal to this collection, not a stable API. A task (a *_task module in
module_utils) is its argument spec plus two functions:

- prepare(params) -> what the work needs, checked; raises TaskInputError
  naming the option and the value. Runs before any request.
- work(client, prepared, params, check_mode, warn) -> the task result.
  Reads may raise ExistError (nothing was written yet); once writing has
  begun, failures are reported in the result, never raised.

and NOTHING_DONE, the keys a failed task still returns. run_task() runs it,
the same way on both execution paths: the module's main() and the action
plugin in the worker process.
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._connection_options import validate
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistConfigError, ExistError
from ansible_collections.existio.exist.plugins.module_utils._remedies import NOBODY, TaskUser


class TaskInputError(ValueError):
    """A task's own options are unusable; the message names the option and the value."""


def run_task(
    task: ModuleType,
    params: dict,
    check_mode: bool,
    diff: bool,
    warn: Callable[[str], None],
    user: TaskUser = NOBODY,
) -> dict:
    """Run `task` for validated params. Returns the task result; a failed task has `failed` and `msg`.

    user: who the token is of, as the action plugin knows it. Every warning names them: Ansible shows
    identical warnings once, so a fleet's takeovers would otherwise fold into one line for many users.
    """

    def warn_naming_user(message: str) -> None:
        warn(user.prefixed(message))

    try:
        # The connection options are checked here, once; the client takes them as they are.
        connection = validate(params)
        prepared = task.prepare(params)
    except (ExistConfigError, TaskInputError) as exc:
        return dict(task.NOTHING_DONE, failed=True, msg=str(exc), changed=False, api_requests=0)
    client = None
    try:
        client = ExistClient(connection, warn_naming_user, user=user)
        result = task.work(client, prepared, params, check_mode, warn_naming_user)
    except ExistError as exc:
        # Raised only before any write (reads): nothing changed.
        result = dict(task.NOTHING_DONE, failed=True, msg=exc.message, changed=False)
    if not diff:
        result.pop('diff', None)
    # What this task spent of the user's 300 requests an hour (429s and retries included).
    result['api_requests'] = client.requests_sent if client is not None else 0
    return result
