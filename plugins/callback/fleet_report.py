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
    At the end of a run in which at least one task of this collection reported a result (for any host, skipped
    included), it writes two files to O(output_dir), named by the playbook and the UTC time the run started, as
    C(ansible.builtin.junit) does: C(exist-fleet-report-converge-20261207T184500Z.json) and C(.md) for
    C(converge.yml). With several playbooks on one command line, the first names the report. When a report of
    that name is there already (two runs within a second), C(-2), C(-3)... is added to the name. A run in which
    no task of this collection reported (a C(ping), a playbook of other modules) writes nothing and replaces
    nothing; it says so at C(-vv).
  - >-
    C(exist-fleet-report-latest.json) and C(exist-fleet-report-latest.md) are relative symbolic links to the
    newest report, each replaced atomically (a new link renamed over the old one). Where the file system has no
    symbolic links they are copies, written atomically as the report is.
  - >-
    After writing, it deletes the oldest reports beyond O(keep) in O(output_dir): only files of its own name
    pattern (C(exist-fleet-report-<playbook>-<YYYYmmddTHHMMSSZ>[-<n>].json) and C(.md)), oldest first by the
    time in the name, whatever their playbook. C(exist-fleet-report.json) and C(.md) of earlier versions are
    left alone.
  - >-
    Under ansible-runner (and so in an AWX or Automation Platform job), which sets E(AWX_ISOLATED_DATA_DIR) to
    the job's artifacts directory, the report goes there when O(output_dir) is not set. A summary of the run is
    in the run's custom stats, C(stats.custom['_run']['exist_fleet_report']), from the first result of this
    collection's tasks on, kept up to date result by result, so that ansible-runner's stdout callback puts it in
    the C(playbook_on_stats) event's C(artifact_data), which AWX shows as the job's artifacts: C(users) (counts
    by outcome of the users tasks ran for), C(api_requests), C(outside_limit) and C(reauthorization_needed) (counts
    from the inventory and C(--limit), known when a play starts) and C(report)
    (the directory and the two files' names). ansible-core gives a callback no stats before the end of the run,
    and at the end the stdout callback comes first: this callback takes the stats from the TaskQueueManager that
    sends it C(v2_playbook_on_start); where that fails (a future ansible-core), the job has no artifact data from
    it (a C(-vvv) message says so), and the report files are written all the same.
  - >-
    Each says how many users converged, changed, failed (each failure with its reason:
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
    The users a C(--limit) leaves out are not users of this run (with a job split in slices by C(--limit), each
    slice's report counts its own): their number is C(users.outside_limit), and they are neither C(not_run) nor
    in C(users.total). The users of the group C(exist_token_reauthorization_needed) within the limit, whether a
    task ran for them or not, are listed in C(reauthorization_needed), in a section of the Markdown file that
    says what to do, and counted in the summary on screen.
  - >-
    M(existio.exist.token) tasks run once for the whole token store, usually on C(localhost): their results go to
    a C(tokens) section (pairs exchanged, refreshed and merged back from recovery files, failures by C(error_code)
    with the users they name and each failure's reason, the requests they spent), not to a user named after their
    host.
  - >-
    A run with C(--check) writes the same report titled as a drift report: what a real run would change. The
    counts are then predictions.
  - >-
    Both files are written whole and atomically (a temporary file in O(output_dir), renamed into place), so a
    reader never sees half a report. A report that cannot be written is a warning; it never fails the run.
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
      - The directory to write the reports into, created when missing.
      - When not set, the job's artifacts directory under ansible-runner (E(AWX_ISOLATED_DATA_DIR), which
        ansible-runner sets), else the current working directory of C(ansible-playbook). So O(output_dir) comes
        first, then E(AWX_ISOLATED_DATA_DIR), then the working directory.
      - Environment variables in it are expanded, so that C(/srv/exist-reports/$JOB_ID) gives every job of
        Automation Platform (every slice of a sliced job) a directory of its own.
    type: path
    env:
      - name: EXIST_FLEET_REPORT_DIR
    ini:
      - section: callback_existio_exist_fleet_report
        key: output_dir
  progress:
    description:
      - Every this many seconds at most, print one line of progress at default verbosity while tasks of this
        collection report (time so far, users with results of the users of the run, by outcome, API requests
        so far, the task), so that a run over 1,000 users shows where it is. V(0) (the default) or less prints
        none.
    type: int
    default: 0
    version_added: 0.2.0
    env:
      - name: EXIST_FLEET_REPORT_PROGRESS
    ini:
      - section: callback_existio_exist_fleet_report
        key: progress
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
  keep:
    description:
      - How many older reports to keep in O(output_dir) besides the one just written; the oldest beyond that
        are deleted (both files of each). V(0) keeps them all.
      - Only files of this callback's name pattern are ever deleted.
    type: int
    default: 30
    version_added: 0.2.0
    env:
      - name: EXIST_FLEET_REPORT_KEEP
    ini:
      - section: callback_existio_exist_fleet_report
        key: keep
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
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Mapping  # noqa: E402

import yaml  # noqa: E402
from ansible import context  # noqa: E402
from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.plugins.callback import CallbackBase  # noqa: E402

from ansible_collections.existio.exist.plugins.plugin_utils._atomic_file import write_atomically  # noqa: E402
from ansible_collections.existio.exist.plugins.plugin_utils._fleet_files import (  # noqa: E402
    EXTENSIONS,
    expired_reports,
    remove_reports,
    replace_link,
    report_stem,
    unique_stem,
)
from ansible_collections.existio.exist.plugins.plugin_utils._fleet_markdown import (  # noqa: E402
    progress_line,
    render_markdown,
    summary_lines,
)
from ansible_collections.existio.exist.plugins.plugin_utils._fleet_tally import (  # noqa: E402
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
from ansible_collections.existio.exist.plugins.plugin_utils._store_users import (  # noqa: E402
    REAUTHORIZATION_GROUP,
    STATE_VALID,
)

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
# ansible-runner (and so AWX) sets it to the job's artifacts directory, <private_data_dir>/artifacts/<ident>.
RUNNER_DIR_VARIABLE = 'AWX_ISOLATED_DATA_DIR'
# The key of the run's custom stats (stats.custom['_run']) that ansible-runner's awx_display serialises as the
# playbook_on_stats event's artifact_data, which AWX shows as the job's artifacts.
ARTIFACT_KEY = 'exist_fleet_report'
# How far up the stack to look for the TaskQueueManager that sends v2_playbook_on_start.
STACK_DEPTH = 8
OUTCOMES = ('changed', 'unchanged', 'failed', 'outcome_unknown', 'skipped')


def _run_stats():
    """The run's AggregateStats, from the TaskQueueManager whose send_callback() is up the stack, or None.

    ansible-core hands a callback no stats before v2_playbook_on_stats, and sends that to the stdout callback
    first: ansible-runner's awx_display has serialised stats.custom['_run'] before this callback sees it. Taken at
    v2_playbook_on_start, the stats let the summary be there, kept up to date, by the time the run ends.
    """
    try:
        from ansible.executor.task_queue_manager import TaskQueueManager

        frame = sys._getframe(1)  # pylint: disable=protected-access
        for dummy in range(STACK_DEPTH):
            if frame is None:
                break
            owner = frame.f_locals.get('self')
            if isinstance(owner, TaskQueueManager):
                stats = getattr(owner, '_stats', None)
                return stats if isinstance(getattr(stats, 'custom', None), dict) else None
            frame = frame.f_back
    except Exception:  # pylint: disable=broad-exception-caught
        pass
    return None


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
        self.stats = None  # the run's AggregateStats, when found (see _run_stats)
        self.stem = None  # the report's file name without extension, chosen when a task of ours first reports
        self.directory = None
        # What the job's artifact data holds, kept up to date per result in O(1): users by outcome, requests, files.
        self.artifact = dict(users=dict((outcome, 0) for outcome in OUTCOMES), api_requests=0, report={})
        self.progress_shown = time.monotonic()  # when the last progress line was printed (or the run started)
        self.users_of_run = None  # how many users of exist_users the run's limit holds, counted once for progress

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

    # -- where the report goes, and the job's artifact data -----------------------

    def _output_dir(self):
        """output_dir when set, else ansible-runner's artifacts directory for the job, else the working directory."""
        return self.get_option('output_dir') or os.environ.get(RUNNER_DIR_VARIABLE) or os.getcwd()

    def _choose_files(self):
        """Name the report once a task of ours reported (a run without one writes nothing): playbook and start."""
        self.directory = self._output_dir()
        try:
            taken = set(os.listdir(self.directory))
        except OSError:
            taken = set()
        self.stem = unique_stem(report_stem(self.playbooks[0] if self.playbooks else None, self.started), taken)
        self.artifact['report'] = dict(directory=self.directory, json=self.stem + '.json', markdown=self.stem + '.md')
        if self.stats is not None:
            with contextlib.suppress(Exception):
                self.stats.custom.setdefault('_run', {})[ARTIFACT_KEY] = self.artifact

    def _track(self, user, before, requests_before):
        """Move the user from outcome before (None: new) to its outcome now, and add its new requests."""
        counts = self.artifact['users']
        if before is not None:
            counts[before] -= 1
        counts[user.outcome()] += 1
        self.artifact['api_requests'] += user.api_requests - requests_before

    def _record_other(self, result, status, data):
        """A task of another module failed for a user of the users inventory: the user failed, with the reason."""
        if status not in ('failed', 'unreachable') or 'exist_username' not in self._host_vars(result._host):
            return
        known = self.users.get(to_text(result._host.get_name()))
        before = known.outcome() if known is not None else None
        user = self._user(result)
        user.tasks[status] += 1
        user.hard_failures += 1
        msg = data.get('msg') or status
        user.add_task_failures(result._task.get_name(), [msg])
        self._track(user, before, user.api_requests)

    def _record(self, result, status):
        task = result._task
        module = self._action_of(task)
        data = result._result if isinstance(result._result, dict) else {}
        if module is None:
            self._record_other(result, status, data)
            return
        if self.stem is None:
            self._choose_files()
        if status == 'ok' and data.get('changed'):
            status = 'changed'
        known = self.users.get(to_text(result._host.get_name()))
        before = known.outcome() if known is not None and module != TOKEN_MODULE else None
        requests_before = known.api_requests if known is not None else 0
        if module == TOKEN_MODULE:
            # A token task is no user of the report, but it may run on one's host: its token is masked too.
            tally, user = self.tokens, None
            self.tokens.secret = self._host_secret(result)
            requests_before = self.tokens.api_requests
        else:
            tally = user = self._user(result)
        tally.tasks[status] += 1
        if status != 'skipped':
            self._tally_result(task, tally, user, result, data, status)
        if user is not None:
            self._track(user, before, requests_before)
        else:
            self.artifact['api_requests'] += self.tokens.api_requests - requests_before
        self._show_progress(task)

    def _show_progress(self, task):
        """A line of progress when the progress option's seconds have passed since the last one (O(1) per result)."""
        interval = self.get_option('progress') or 0
        now = time.monotonic()
        if interval <= 0 or now - self.progress_shown < interval:
            return
        self.progress_shown = now
        if self.users_of_run is None:
            self.users_of_run = 0
            with contextlib.suppress(Exception):
                if self.inventory is not None and USERS_GROUP in self.inventory.groups:
                    self.users_of_run = len(self.inventory.get_hosts(USERS_GROUP))
        line = progress_line(
            time.time() - self.started,
            self.artifact['users'],
            self.users_of_run,
            self.artifact['api_requests'],
            to_text(task.get_name()),
        )
        self._display.display('%s: %s' % (self.CALLBACK_NAME, line))

    def _tally_result(self, task, tally, user, result, data, status):
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
        if self.stats is None:
            self.stats = _run_stats()
            if self.stats is None:
                self._display.vvv(
                    '%s: the run\'s stats were not found: no summary in the artifact data' % self.CALLBACK_NAME
                )

    def v2_playbook_on_play_start(self, play):
        # The inventory, to name the users no task ran for (read at the end: refresh_inventory may renew it).
        with contextlib.suppress(Exception):
            inventory = getattr(play.get_variable_manager(), '_inventory', None)
            if inventory is not None:
                self.inventory = inventory
        # Known before any result, from the inventory and --limit: a job slice's artifact data says how many users
        # are other slices' and how many must re-authorise.
        self.artifact['outside_limit'] = self._group_hosts(USERS_GROUP)[1]
        self.artifact['reauthorization_needed'] = len(self._reauthorization_needed())

    def _group_hosts(self, name):
        """(hosts of the group within --limit, how many of its hosts --limit left out); ([], 0) without the group."""
        try:
            group = self.inventory.groups.get(name) if self.inventory is not None else None
            if group is None:
                return [], 0
            every = group.get_hosts()
            if not hasattr(self.inventory, 'get_hosts'):
                return list(every), 0
            # The --limit (the inventory's subset) applies; a play's restriction (serial batches) does not.
            limited = self.inventory.get_hosts(name, ignore_restrictions=True)
        except Exception:  # pylint: disable=broad-exception-caught
            return [], 0
        return list(limited), len(set(every) - set(limited))

    def _inventory_users(self, stats):
        """(not_run, left_out, outside_limit) from the users inventory.

        {username: {token_state, reason}}, {username: reason}, and how many users of the inventory --limit left
        out: not this job's users (a slice of a sliced job counts the others), so neither not_run nor counted.
        """
        not_run, left_out = {}, {}
        hosts, outside_limit = self._group_hosts(USERS_GROUP)
        with contextlib.suppress(Exception):
            named = self.inventory.groups[USERS_GROUP].get_vars().get(LEFT_OUT_VARIABLE)
            if isinstance(named, Mapping):
                left_out = dict((to_text(name), short(to_text(reason), 200)) for name, reason in named.items())
        processed = getattr(stats, 'processed', None) or {}
        for host in hosts:
            name = to_text(host.get_name())
            if name in self.users:
                continue
            state = text_or_none(self._host_vars(host).get(STATE_VARIABLE))
            if name in processed:
                reason = 'no task of this collection ran for this user'
            else:
                reason = 'in no play\'s hosts (the plays\' host patterns)'
            if state and state != STATE_VALID:
                reason += '; its token state is %s' % state
            not_run[name] = dict(token_state=state, reason=reason)
        return not_run, left_out, outside_limit

    def _reauthorization_needed(self):
        """The users of the group exist_token_reauthorization_needed within --limit, whether a task ran or not."""
        hosts, dummy = self._group_hosts(REAUTHORIZATION_GROUP)
        return sorted(to_text(host.get_name()) for host in hosts)

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def _write_files(self, report):
        """Write the report's two files, point the latest links at them, delete the oldest; the paths written."""
        directory = self.directory
        os.makedirs(directory, exist_ok=True)
        names = set(os.listdir(directory))
        # Another run may have taken the name since it was chosen: a new one (the artifact data names the files
        # a moment too early to follow, a race of runs started within the same second into one directory).
        if any(self.stem + extension in names for extension in EXTENSIONS):
            self.stem = unique_stem(self.stem, names)
            self.artifact['report'].update(json=self.stem + '.json', markdown=self.stem + '.md')
        written = []
        for extension, text in (('.json', json.dumps(report, indent=2) + '\n'), ('.md', render_markdown(report))):
            data = text.encode('utf-8')
            written.append(write_atomically(os.path.join(directory, self.stem + extension), data, REPORT_MODE))
            replace_link(directory, self.stem + extension, data, REPORT_MODE)
        removed = remove_reports(directory, expired_reports(os.listdir(directory), self.get_option('keep'), self.stem))
        if removed:
            self._display.vv(
                '%s: deleted %d old report file(s) (keep: %d)'
                % (self.CALLBACK_NAME, len(removed), self.get_option('keep'))
            )
        return written

    def v2_playbook_on_stats(self, stats):
        # The values lookup's requests, per host, counted in the workers; the spool is removed whatever follows.
        spooled = add_spooled_requests(getattr(self, 'lookup_spool', None), self.users, UserTally)
        self.lookup_spool = None
        if self.stem is None and any(spooled.values()):
            # Only the values lookup of this collection ran: its requests are this run's Exist use.
            self._choose_files()
        if self.stem is None:
            # No task of this collection ran (a ping, a playbook of other modules): no report, none replaced.
            self._display.vv('%s: no task of existio.exist ran: no report written' % self.CALLBACK_NAME)
            return
        not_run, left_out, outside_limit = self._inventory_users(stats)
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
            outside_limit=outside_limit,
            reauthorization_needed=self._reauthorization_needed(),
        )
        try:
            written = self._write_files(report)
        except OSError as exc:
            self._display.warning(
                '%s: could not write the report to %s: %s' % (self.CALLBACK_NAME, self.directory, exc.strerror or exc)
            )
            return
        # On screen by default: the report's gist, without opening it (-vv only when the summary option is off).
        show = self._display.display if self.get_option('summary') else self._display.vv
        for line in summary_lines(report, written):
            show('%s: %s' % (self.CALLBACK_NAME, line))
