# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ansible-playbook with clocks on the phases of a task, for part `fleet` (where the time goes).

    python phase_timer.py OUTDIR ansible-playbook ARGS...

Runs ansible-playbook in this process (ansible.cli.playbook.main) after wrapping a few functions of ansible-core
and of this collection with a perf_counter clock each (about a microsecond a call; nothing else changes). Every
worker process writes OUTDIR/worker-PID.json at its end, the controller OUTDIR/controller.json at exit:
{"phases": {name: [calls, seconds, CPU seconds of the thread, page faults of the process]}, "cpu": seconds, "imports": [modules first imported in this worker],
"result_bytes": [size of each pickled result the controller read]}. Phases nest (times are inclusive); see
PHASES in fleet.py for how they are read. With EXIST_BENCH_CPROFILE=1 in the environment, every worker's run() is
also profiled with cProfile into OUTDIR/worker-PID.prof (slower: for finding hot spots, not for timing).
Benchmark-only: not part of the collection.
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
import os
import resource
import sys
import time

OUT = None
PHASES = {}
STATE = {'imports': None, 'result_bytes': [], 'worker': False}


def _faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _add(name, seconds, cpu=0.0, faults=0):
    entry = PHASES.get(name)
    if entry is None:
        PHASES[name] = [1, seconds, cpu, faults]
    else:
        entry[0] += 1
        entry[1] += seconds
        entry[2] += cpu
        entry[3] += faults


def clocked(name, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start, cpu, faults = time.perf_counter(), time.thread_time(), _faults()
        try:
            return func(*args, **kwargs)
        finally:
            _add(name, time.perf_counter() - start, time.thread_time() - cpu, _faults() - faults)

    wrapper.__clocked__ = True
    return wrapper


def clock(owner, attribute, name):
    func = getattr(owner, attribute)
    if not getattr(func, '__clocked__', False):
        setattr(owner, attribute, clocked(name, func))


def _dump(path, extra):
    data = {'phases': PHASES, 'cpu': time.process_time()}
    data.update(extra)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(data, f)


def _clock_collection():
    """This collection's steps (the parent has imported the action plugins before its first fork)."""
    from ansible.module_utils.common import arg_spec  # pylint: disable=import-outside-toplevel

    try:
        from ansible_collections.existio.exist.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
            _attribute_task,
            _client,
            _ownership_sync,
            _task_runner,
            _transport,
        )
        from ansible_collections.existio.exist.plugins.plugin_utils import (  # pylint: disable=import-outside-toplevel
            _worker_process,
        )
    except ImportError:
        return
    clock(_worker_process.ExistActionBase, '_check_args', 'existio: check arguments')
    clock(arg_spec.ArgumentSpecValidator, '__init__', 'existio: ArgumentSpecValidator()')
    clock(arg_spec.ArgumentSpecValidator, 'validate', 'existio: ArgumentSpecValidator.validate')
    clock(_worker_process, 'masked', 'existio: masked')
    clock(_worker_process, 'task_environment', 'existio: task_environment')
    clock(_worker_process, 'run_task', 'existio: run_task')
    clock(_task_runner, 'validate', 'existio: connection options checked')
    clock(_client.ExistClient, '__init__', 'existio: client set-up')
    clock(_transport.Transport, '_send', 'existio: HTTP request')
    clock(_client.ExistClient, 'get', 'existio: GET and decode')
    clock(_transport.Answer, 'json', 'existio: JSON decode')
    clock(_attribute_task, 'prepare', 'existio: declaration checked')
    clock(_ownership_sync, 'converge', 'existio: converge')
    clock(_ownership_sync, 'plan_ownership', 'existio: plan')
    clock(_ownership_sync, 'ownership_outcome', 'existio: build result')


def install():
    """Wrap ansible-core's steps with clocks: the controller's, then the workers' (they run in forks of it)."""
    _clock_controller()
    _clock_pickling()
    _clock_queueing()
    _clock_gc()
    _clock_worker()


def _clock_controller():
    # pylint: disable=import-outside-toplevel
    from ansible.executor import task_queue_manager
    from ansible.executor.task_result import _RawTaskResult
    from ansible.plugins import strategy
    from ansible.vars.manager import VariableManager

    clock(VariableManager, 'get_vars', 'controller: get_vars')
    clock(strategy.StrategyBase, '_process_pending_results', 'controller: process results')
    clock(strategy.StrategyBase, '_convert_wire_task_result_to_raw', 'controller: rebuild task of result')
    clock(task_queue_manager.TaskQueueManager, 'send_callback', 'controller: callbacks')
    clock(_RawTaskResult, 'as_callback_task_result', 'controller: copy result for callbacks')


def _clock_pickling():
    """Results go from worker to controller pickled: both ends of that, and each result's size."""
    import multiprocessing.queues  # pylint: disable=import-outside-toplevel

    pickler = multiprocessing.queues._ForkingPickler

    class Pickler(pickler):
        @classmethod
        def loads(cls, data, *args, **kwargs):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return pickler.loads(data, *args, **kwargs)
            finally:
                _add('controller: unpickle result', time.perf_counter() - start, time.thread_time() - cpu)
                STATE['result_bytes'].append(len(data))

        @classmethod
        def dumps(cls, obj, *args, **kwargs):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return pickler.dumps(obj, *args, **kwargs)
            finally:
                _add(
                    'worker: pickle result' if STATE['worker'] else 'controller: pickle',
                    time.perf_counter() - start,
                    time.thread_time() - cpu,
                )

    multiprocessing.queues._ForkingPickler = Pickler


def _clock_queueing():
    """Queueing a task (the fork included), and the fork itself; the first queued task clocks this collection."""
    # pylint: disable=import-outside-toplevel
    from ansible.executor.process import worker
    from ansible.plugins import strategy

    original_queue_task = strategy.StrategyBase._queue_task

    def queue_task(self, *args, **kwargs):
        if not STATE.get('collection'):
            STATE['collection'] = True
            _clock_collection()
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return original_queue_task(self, *args, **kwargs)
        finally:
            _add('controller: queue task (fork included)', time.perf_counter() - start, time.thread_time() - cpu)

    strategy.StrategyBase._queue_task = queue_task

    original_start = worker.WorkerProcess.start

    def start(self):
        self._bench_forked_at = time.monotonic()
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return original_start(self)
        finally:
            _add('controller: fork worker', time.perf_counter() - started, time.thread_time() - cpu)

    worker.WorkerProcess.start = start


def _clock_gc():
    gc_started = {}

    def gc_clock(phase, info):
        # The collector's own callback: one phase per generation collected in a worker.
        if not STATE['worker'] or STATE.get('dumping'):
            return
        if phase == 'start':
            gc_started['at'] = (time.perf_counter(), time.thread_time())
        elif 'at' in gc_started:
            start, cpu = gc_started.pop('at')
            _add(
                'worker: garbage collection, generation %d' % info['generation'],
                time.perf_counter() - start,
                time.thread_time() - cpu,
            )

    gc.callbacks.append(gc_clock)


def _clock_worker():
    # pylint: disable=import-outside-toplevel
    from ansible._internal import _task
    from ansible.executor import task_executor, task_queue_manager
    from ansible.executor.process import worker
    from ansible.playbook.play_context import PlayContext
    from ansible.playbook.task import Task
    from ansible.plugins.action import ActionBase

    original_run = worker.WorkerProcess.run

    def run(self):
        # In the worker, just forked: what the controller counted is its own, not ours.
        entered = time.monotonic()
        PHASES.clear()
        STATE.update(worker=True, result_bytes=[], imports=set(sys.modules))
        cpu0, faults0 = time.process_time(), _faults()
        _add('worker: from fork to run()', entered - getattr(self, '_bench_forked_at', entered))
        profile = None
        if os.environ.get('EXIST_BENCH_CPROFILE'):
            import cProfile  # pylint: disable=import-outside-toplevel

            profile = cProfile.Profile()
            profile.enable()
        start = time.perf_counter()
        try:
            return original_run(self)
        finally:
            _add('worker: run() in all', time.perf_counter() - start, time.process_time() - cpu0, _faults() - faults0)
            STATE['dumping'] = True
            if profile is not None:
                profile.disable()
                profile.dump_stats(os.path.join(OUT, 'worker-%d.prof' % os.getpid()))
            new = sorted(set(sys.modules) - STATE['imports'])
            data = {'phases': PHASES, 'cpu': time.process_time() - cpu0, 'imports': new}
            with open(os.path.join(OUT, 'worker-%d.json' % os.getpid()), 'w', encoding='utf-8') as f:
                json.dump(data, f)

    worker.WorkerProcess.run = run

    clock(task_executor.TaskExecutor, 'run', 'worker: TaskExecutor.run')
    clock(task_executor.TaskExecutor, '_execute', 'worker: TaskExecutor._execute')
    clock(task_executor.TaskExecutor, '_set_connection_options', 'worker: connection options')
    clock(Task, 'post_validate', 'worker: task post_validate')
    clock(_task.TaskArgsFinalizer, 'finalize', 'worker: task args templated')
    clock(PlayContext, 'set_task_and_variable_override', 'worker: play context')
    clock(task_executor.TaskExecutor, '_get_connection', 'worker: connection plugin')
    clock(task_executor.TaskExecutor, '_get_action_handler_with_module_context', 'worker: action plugin loaded')
    clock(task_queue_manager.FinalQueue, 'send_task_result', 'worker: send result')
    clock(ActionBase, 'run', 'worker: ActionBase.run (common checks)')

    original_handler = task_executor.TaskExecutor._get_action_handler_with_module_context

    def handler_with_context(self, *args, **kwargs):
        handler, context = original_handler(self, *args, **kwargs)
        handler.run = clocked('worker: action plugin run()', handler.run)
        return handler, context

    task_executor.TaskExecutor._get_action_handler_with_module_context = handler_with_context


def main():
    global OUT  # pylint: disable=global-statement
    OUT = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    sys.argv = sys.argv[2:]
    install()

    def controller_done():
        if not STATE['worker']:
            times = os.times()
            _dump(
                os.path.join(OUT, 'controller.json'),
                {'cpu': times.user + times.system, 'result_bytes': STATE['result_bytes']},
            )

    atexit.register(controller_done)
    from ansible.cli.playbook import main as playbook  # pylint: disable=import-outside-toplevel

    return playbook()


if __name__ == '__main__':
    sys.exit(main())
