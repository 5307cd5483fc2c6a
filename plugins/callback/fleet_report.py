# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: fleet_report
type: aggregate
short_description: A JSON and a Markdown report of what existio.exist tasks did to every Exist user
version_added: 0.2.0
description:
  - >-
    Collects the results of the tasks of this collection (M(existio.exist.attribute), M(existio.exist.values),
    M(existio.exist.attribute_info) and every other module of its C(existio.exist.exist) action group) for every
    host, usually one host per Exist user (see the P(existio.exist.users#inventory) inventory plugin). A task counts
    when the module that ran is this collection's, by its resolved full name (C(existio.exist.values)), however the
    task names it; a module of the playbook's own C(library/) named C(values) or C(attribute) is not counted.
  - >-
    At the end of the run it writes two files to O(output_dir): C(exist-fleet-report.json) and
    C(exist-fleet-report.md). Each says how many users converged, changed, failed (each failure with its reason:
    the item's C(error_code) and C(error), or the task's message) or ended with C(outcome_unknown) (their only
    failures are items Exist may or may not have applied: run again to converge them); the items changed, failed
    and of unknown outcome, with every unknown item named; the attributes acquired,
    released and created (in total and by attribute); the takeovers by previous owner; the failures by
    C(error_code); the values updated and incremented, and those sent to attributes the token cannot read (taken
    by Exist, whether they changed anything unknown: C(values.unread)); the API requests spent, in total and per user; and the ten
    busiest users against Exist's budget of 300 requests per user and hour.
  - >-
    With the P(existio.exist.users#inventory) inventory, every user is accounted for: a task of another module that
    fails for a user fails that user, with its message; the users of the group C(exist_users) that no task of this
    collection ran for are C(not_run), with the reason (not in the plays' host patterns or C(--limit), or no such
    task ran) and their C(exist_token_state); the users the inventory left out (C(exist_users_left_out)) are listed
    with the reason; and C(users.by_token_state) groups every user by C(exist_token_state).
  - >-
    M(existio.exist.token) tasks run once for the whole token store, usually on C(localhost): their results go to
    a C(tokens) section (pairs exchanged, refreshed and merged back from recovery files, failures by C(error_code)
    with the users they name and each failure's reason, the requests they spent), not to a user named after their
    host.
  - >-
    A run with C(--check) writes the same report titled as a drift report: what a real run would change. The
    counts are then predictions.
  - >-
    Both files are written whole and atomically (a temporary file in O(output_dir), renamed over the old report),
    so a reader never sees half a report. A report that cannot be written is a warning; it never fails the run.
  - >-
    The report holds no token and nothing from a result's C(invocation): only the counts, names, error codes and
    messages listed above. A failed task's C(msg) is kept (shortened), with the host's C(exist_token) masked all
    the same.
  - Enable it like any callback, in C(callbacks_enabled) or E(ANSIBLE_CALLBACKS_ENABLED); it does not change the
    output on the screen.
author:
  - Existio maintainers (@existio)
requirements:
  - enabled in C(callbacks_enabled) (E(ANSIBLE_CALLBACKS_ENABLED))
options:
  output_dir:
    description:
      - The directory to write C(exist-fleet-report.json) and C(exist-fleet-report.md) into, created when missing.
      - When not set, the current working directory of C(ansible-playbook).
      - Environment variables in it are expanded, so that C(/srv/exist-reports/$JOB_ID) gives every job of
        Automation Platform (every slice of a sliced job) a directory of its own.
    type: path
    env:
      - name: EXIST_FLEET_REPORT_DIR
    ini:
      - section: callback_existio_exist_fleet_report
        key: output_dir
  summary:
    description:
      - Print a short summary at the end of the run, at default verbosity (users changed, failed and the
        others by outcome; API requests and the busiest user against the hourly budget; where the report
        went). When V(false), the summary is printed only with C(-vv).
    type: bool
    default: true
    version_added: 0.2.0
    env:
      - name: EXIST_FLEET_REPORT_SUMMARY
    ini:
      - section: callback_existio_exist_fleet_report
        key: summary
seealso:
  - name: Running a fleet of Exist users
    description: The token store, the inventory, converging every user and this report.
    link: https://github.com/existio/exist/blob/main/docs/docsite/rst/guide_fleet.rst
'''

EXAMPLES = r'''
# ansible.cfg
# [defaults]
# callbacks_enabled = existio.exist.fleet_report
#
# [callback_existio_exist_fleet_report]
# output_dir = reports/
#
# or for one run:
# ANSIBLE_CALLBACKS_ENABLED=existio.exist.fleet_report EXIST_FLEET_REPORT_DIR=reports \
#   ansible-playbook -i fleet.exist_users.yml converge.yml
'''

# ansible-test wants the documentation before any import, as in a module.
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Mapping  # noqa: E402

import yaml  # noqa: E402
from ansible import context  # noqa: E402
from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.plugins.callback import CallbackBase  # noqa: E402

from ansible_collections.existio.exist.plugins.plugin_utils._atomic_file import write_atomically  # noqa: E402
from ansible_collections.existio.exist.plugins.plugin_utils._fleet_markdown import (  # noqa: E402
    render_markdown,
    summary_lines,
)
from ansible_collections.existio.exist.plugins.plugin_utils._fleet_tally import (  # noqa: E402
    REPORT_NAME,
    TokenTally,
    UserTally,
    build_report,
    short,
    text_or_none,
)
from ansible_collections.existio.exist.plugins.plugin_utils._lookup_spool import (  # noqa: E402
    add_spooled_requests,
    open_spool,
)
from ansible_collections.existio.exist.plugins.plugin_utils._store_users import STATE_VALID  # noqa: E402

COLLECTION = 'existio.exist'
ACTION_GROUP = 'exist'
# What the existio.exist.users inventory gives: the group of every user, its group variable naming the users it
# left out (username: reason), and each host's token state.
USERS_GROUP = 'exist_users'
LEFT_OUT_VARIABLE = 'exist_users_left_out'
STATE_VARIABLE = 'exist_token_state'
# Used when meta/runtime.yml cannot be read (it ships with the collection, so it normally can).
KNOWN_MODULES = (
    'attribute',
    'attribute_info',
    'averages_info',
    'correlations_info',
    'insights_info',
    'token',
    'values',
)
# existio.exist.token runs once for the whole store (on localhost): its results go to the report's
# `tokens` section, per Exist user it names, not to a user named after its host.
TOKEN_MODULE = 'token'
# Both files are for anyone to read: they hold no token.
REPORT_MODE = 0o644


def _action_group():
    """The full names of the modules of the collection's action group, from meta/runtime.yml, and the token module.

    Only full names: a task's resolved action is the full name of the module that ran, and a short name such as
    `values` may be a module of the playbook's own library/ (ansible-core resolves that as `values`).
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'meta', 'runtime.yml')
    try:
        with open(path, 'rb') as f:
            groups = (yaml.safe_load(f) or {}).get('action_groups') or {}
        names = [name for name in groups.get(ACTION_GROUP) or [] if isinstance(name, str)]
    except (OSError, yaml.YAMLError, AttributeError):
        names = []
    short_names = (set(name.split('.')[-1] for name in names) or set(KNOWN_MODULES)) | set([TOKEN_MODULE])
    return frozenset('%s.%s' % (COLLECTION, name) for name in short_names)


class CallbackModule(CallbackBase):
    """Collect the existio.exist task results of every host; write the report at the end of the run."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'existio.exist.fleet_report'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.actions = _action_group()
        self.users = {}
        self.tokens = TokenTally()
        self.playbooks = []
        self.started = time.time()
        self.check_results = 0
        self.real_results = 0
        self.inventory = None  # the run's inventory manager, once a play started

    # -- what to collect -----------------------------------------------------

    def _action_of(self, task):
        """The short name of the collection's module the task runs, or None."""
        action = getattr(task, 'action', None)
        if isinstance(action, str) and '{{' in action:
            # A templated action: only the resolved name counts (asking resolved_action too early warns).
            resolved = getattr(task, '_resolved_action', None)
        else:
            resolved = getattr(task, 'resolved_action', None) or action
        if not isinstance(resolved, str) or resolved not in self.actions:
            return None
        return resolved.split('.')[-1]

    def _is_ours(self, task):
        return self._action_of(task) is not None

    @staticmethod
    def _in_check_mode(task):
        value = getattr(task, 'check_mode', None)
        if isinstance(value, bool):
            return value
        return bool(context.CLIARGS.get('check', False))

    @staticmethod
    def _host_secret(result):
        """The host's exist_token, only to mask it should a message ever quote it; never written anywhere."""
        with contextlib.suppress(Exception):
            secret = result._host.get_vars().get('exist_token')
            if isinstance(secret, str) and '{{' not in secret and len(secret.strip()) >= 8:
                return to_text(secret.strip())
        return None

    @staticmethod
    def _host_vars(host):
        with contextlib.suppress(Exception):
            variables = host.get_vars()
            if isinstance(variables, Mapping):
                return variables
        return {}

    def _user(self, result):
        name = to_text(result._host.get_name())
        user = self.users.get(name)
        if user is None:
            user = self.users[name] = UserTally(name)
            user.secret = self._host_secret(result)
            user.token_state = text_or_none(self._host_vars(result._host).get(STATE_VARIABLE))
        return user

    def _record_other(self, result, status, data):
        """A task of another module failed for a user of the users inventory: the user failed, with the reason."""
        if status not in ('failed', 'unreachable') or 'exist_username' not in self._host_vars(result._host):
            return
        user = self._user(result)
        user.tasks[status] += 1
        user.hard_failures += 1
        msg = data.get('msg') or status
        user.add_task_failures(result._task.get_name(), [msg])

    def _record(self, result, status):
        task = result._task
        module = self._action_of(task)
        data = result._result if isinstance(result._result, dict) else {}
        if module is None:
            self._record_other(result, status, data)
            return
        if status == 'ok' and data.get('changed'):
            status = 'changed'
        if module == TOKEN_MODULE:
            # A token task is no user of the report, but it may run on one's host: its token is masked too.
            tally, user = self.tokens, None
            self.tokens.secret = self._host_secret(result)
        else:
            tally = user = self._user(result)
        tally.tasks[status] += 1
        if status == 'skipped':
            return
        if self._in_check_mode(task):
            self.check_results += 1
        else:
            self.real_results += 1
        failures, unknown_only = tally.add_result(data, status)
        if user is not None and status in ('failed', 'unreachable'):
            user.count_failure(unknown_only)
        tally.add_task_failures(
            task.get_name(), failures, None if user is not None else to_text(result._host.get_name())
        )

    # -- the callback API ----------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        # Where the values lookup, in the forked workers, counts its requests (one spool for every playbook).
        if getattr(self, 'lookup_spool', None) is None:
            self.lookup_spool = open_spool()
        name = getattr(playbook, '_file_name', None)
        if name:
            self.playbooks.append(os.path.basename(to_text(name)))

    def v2_playbook_on_play_start(self, play):
        # The inventory, to name the users no task ran for (read at the end: refresh_inventory may renew it).
        with contextlib.suppress(Exception):
            inventory = getattr(play.get_variable_manager(), '_inventory', None)
            if inventory is not None:
                self.inventory = inventory

    def _inventory_users(self, stats):
        """(not_run, left_out) from the users inventory: {username: {token_state, reason}}, {username: reason}."""
        not_run, left_out = {}, {}
        try:
            group = self.inventory.groups.get(USERS_GROUP) if self.inventory is not None else None
        except Exception:  # pylint: disable=broad-exception-caught
            group = None
        if group is None:
            return not_run, left_out
        processed = getattr(stats, 'processed', None) or {}
        with contextlib.suppress(Exception):
            named = group.get_vars().get(LEFT_OUT_VARIABLE)
            if isinstance(named, Mapping):
                left_out = dict((to_text(name), short(to_text(reason), 200)) for name, reason in named.items())
        for host in group.get_hosts():
            name = to_text(host.get_name())
            if name in self.users:
                continue
            state = text_or_none(self._host_vars(host).get(STATE_VARIABLE))
            if name in processed:
                reason = 'no task of this collection ran for this user'
            else:
                reason = 'not in the hosts of this run (the plays\' host patterns, --limit)'
            if state and state != STATE_VALID:
                reason += '; its token state is %s' % state
            not_run[name] = dict(token_state=state, reason=reason)
        return not_run, left_out

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    @staticmethod
    def _write(directory, extension, text):
        return write_atomically(os.path.join(directory, REPORT_NAME + extension), text.encode('utf-8'), REPORT_MODE)

    def v2_playbook_on_stats(self, stats):
        # The values lookup's requests, per host, counted in the workers; the spool is removed.
        add_spooled_requests(getattr(self, 'lookup_spool', None), self.users, UserTally)
        self.lookup_spool = None
        not_run, left_out = self._inventory_users(stats)
        report = build_report(
            self.users,
            self.check_results,
            self.real_results,
            bool(context.CLIARGS.get('check', False)),
            self.playbooks,
            self.started,
            time.time(),
            self.tokens,
            not_run,
            left_out,
        )
        directory = self.get_option('output_dir') or os.getcwd()
        try:
            os.makedirs(directory, exist_ok=True)
            written = [
                self._write(directory, '.json', json.dumps(report, indent=2) + '\n'),
                self._write(directory, '.md', render_markdown(report)),
            ]
        except OSError as exc:
            self._display.warning(
                '%s: could not write the report to %s: %s' % (self.CALLBACK_NAME, directory, exc.strerror or exc)
            )
            return
        # On screen by default: the report's gist, without opening it (-vv only when the summary option is off).
        show = self._display.display if self.get_option('summary') else self._display.vv
        for line in summary_lines(report, written):
            show('%s: %s' % (self.CALLBACK_NAME, line))
