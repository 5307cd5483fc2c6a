"""The stages of `make test`, as nox sessions (https://nox.thea.codes).

    make test                      every session below, in this order, then the summary
    .venv/nox/bin/nox -s lint      one stage (make sanity, make units, ... do this)
    .venv/nox/bin/nox -l           the sessions

Each session is one stage, parametrised by ansible-core version where it runs on several. It records
its outcome in build/results/<stage>.result (passed failed skipped status seconds note) and logs in
build/results/; `tests/tools/results.py summary build/results` prints the table that ends `N passed,
N failed`. A failing stage fails its session and nox goes on with the next one.

The sessions run with python=False on this project's own virtualenvs, one per ansible-core version
(tests/tools/venv.sh, .venv/ansible-<core>): ansible-test needs ansible-core installed in the
interpreter it runs from, a stage uses the same core's tools as the next, and nox cannot share one
virtualenv between sessions, so building one per session would cost a minute each for nothing.

Knobs (environment): SANITY_CORES="2.16 2.19 2.21" UNITS_CORES="2.19 2.21" INTEGRATION_CORES="2.19 2.21"
COMPAT_CORES="2.16 2.21" (an empty list skips the stage), ANSIBLE_TEST_ARGS="" (extra arguments for
every ansible-test call, e.g. -v), PYTEST_ARGS="", FUZZ_SECONDS=60, FUZZ_PLAYBOOK_CASES=4, FUZZ_SEED.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import glob
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
import zlib

import nox

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(ROOT, 'build')
COPY = os.path.join(BUILD, 'ansible_collections', 'existio', 'exist')
RESULTS = os.path.join(BUILD, 'results')
PYBIN = os.path.join(BUILD, 'pybin')
TOOLS = os.path.join(ROOT, 'tests', 'tools')
sys.path.insert(0, TOOLS)
import results  # noqa: E402  (tests/tools/results.py: counting junit, integration data, playbook stats)

# ansible-core version -> the Python it runs on here (tests/tools/common.sh has the same table).
PY_FOR_CORE = {'2.16': '3.11', '2.19': '3.11', '2.21': '3.12'}


def _cores(variable: str, default: str) -> list:
    return os.environ.get(variable, default).split()


SANITY_CORES = _cores('SANITY_CORES', '2.16 2.19 2.21')
UNITS_CORES = _cores('UNITS_CORES', '2.19 2.21')
INTEGRATION_CORES = _cores('INTEGRATION_CORES', '2.19 2.21')
COMPAT_CORES = _cores('COMPAT_CORES', '2.16 2.21')
TOOLS_CORE = '2.19'  # emulator tests, fuzz, bench-requests, lint, the compat build
AT_ARGS = shlex.split(os.environ.get('ANSIBLE_TEST_ARGS', ''))
PT_ARGS = shlex.split(os.environ.get('PYTEST_ARGS', ''))

os.environ.update(
    ANSIBLE_STDOUT_CALLBACK='default',
    ANSIBLE_FORCE_COLOR='0',
    ANSIBLE_NOCOLOR=os.environ.get('ANSIBLE_NOCOLOR', '1'),
    PY_COLORS='0',
    PIP_DISABLE_PIP_VERSION_CHECK='1',
)
nox.options.default_venv_backend = 'none'  # every session runs on .venv/ansible-<core> (see above)
nox.options.sessions = [
    'sanity',
    'units',
    'emulator-tests',
    'integration',
    'compat',
    'fuzz',
    'demo-fleet',
    'bench-requests',
    'lint',
]


# Stage bookkeeping ------------------------------------------------------------


class Stage:
    """One stage's result file and log, and the failure that fails its session."""

    def __init__(self, session: nox.Session, name: str, closing: bool = True) -> None:
        # closing: a failed stage fails the session at once (a stage in a thread leaves it to the caller).
        self.session, self.name, self.started, self.closing = session, name, time.monotonic(), closing
        self.ok, self.why = False, 'did not finish'
        os.makedirs(RESULTS, exist_ok=True)
        self.log = os.path.join(RESULTS, name + '.log')
        # Until the stage says otherwise, it did not finish: a crash of this file counts as a failure.
        with open(os.path.join(RESULTS, name + '.result'), 'w', encoding='utf-8') as handle:
            handle.write('0 0 0 error 0 the stage did not finish, see the output of nox\n')

    def write(self, passed: int, failed: int, skipped: int, status: str, note: str = '') -> None:
        seconds = int(time.monotonic() - self.started)
        with open(os.path.join(RESULTS, self.name + '.result'), 'w', encoding='utf-8') as handle:
            handle.write('%d %d %d %s %d %s\n' % (passed, failed, skipped, status, seconds, note))
        self.session.log(
            '%s: %s (%d passed, %d failed, %d skipped) in %d s' % (self.name, status, passed, failed, skipped, seconds)
        )
        self.ok = status not in ('failed', 'error')
        self.why = note
        if self.closing:
            self.close()

    def close(self) -> None:
        """Fail the session if the stage failed (nox then goes on with the next session)."""
        if not self.ok:
            self.session.error('%s: %s' % (self.name, self.why or 'see build/results/%s.log' % self.name))

    def finish(self, rc: int, counts: tuple, note: str = '') -> None:
        """Like the counts say; a non-zero exit with no failed test is an error, never a pass."""
        passed, failed, skipped = counts[:3]
        if rc != 0 and failed == 0:
            note = '%sexited %d with no failed test recorded, see build/results/%s.log' % (
                note and note + '; ',
                rc,
                self.name,
            )
            self.write(passed, failed, skipped, 'error', note)
        elif failed:
            self.write(
                passed, failed, skipped, 'failed', '%ssee build/results/%s.log' % (note and note + '; ', self.name)
            )
        else:
            self.write(passed, failed, skipped, 'ok', note)

    def error(self, why: str) -> None:
        self.write(0, 0, 0, 'error', why)

    def skip(self, why: str) -> None:
        self.write(0, 0, 0, 'skipped', why)


# This machine's pip says so for every package: harmless (tests/tools/common.sh quiet_pip drops it too).
PIP_NOISE = "WARNING: Location 'file://"


def tee(
    cmd: list, log: str, cwd: str = ROOT, env: dict | None = None, append: bool = False, quiet: bool = False
) -> int:
    """Run cmd, its output to the console (unless quiet) and to log; return its exit status."""
    with open(log, 'a' if append else 'w', encoding='utf-8', errors='replace') as handle:
        try:
            process = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors='replace'
            )
        except OSError as exc:  # not found, not executable: the stage records it like any failed command
            handle.write('cannot run %s: %s\n' % (cmd[0], exc))
            print('cannot run %s: %s' % (cmd[0], exc))
            return 127
        for line in process.stdout:
            if line.startswith(PIP_NOISE):
                continue
            handle.write(line)
            if not quiet:
                sys.stdout.write(line)
                sys.stdout.flush()
        return process.wait()


# Virtualenvs, the laid-out copy, the emulator -----------------------------------


def venv_dir(core: str) -> str:
    return os.path.join(ROOT, '.venv', 'ansible-' + core)


def tool_env(core: str, **extra: str) -> dict:
    """The environment that runs a tool of core's virtualenv (and finds pythonX.Y for ansible-test)."""
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join([os.path.join(venv_dir(core), 'bin'), PYBIN, env.get('PATH', '')])
    env.update(extra)
    return env


_VENVS: dict = {}


def setup_venv(session: nox.Session, core: str) -> bool:
    """Create or refresh .venv/ansible-<core> once per run (tests/tools/venv.sh keys it on its inputs)."""
    if core not in _VENVS:
        log = os.path.join(RESULTS, 'setup-%s.log' % core)
        os.makedirs(RESULTS, exist_ok=True)
        _VENVS[core] = tee(['bash', os.path.join(TOOLS, 'venv.sh'), core], log) == 0
        if not _VENVS[core]:
            Stage(session, 'setup-' + core, closing=False).write(
                0, 0, 0, 'error', 'creating .venv/ansible-%s failed, see build/results/setup-%s.log' % (core, core)
            )
    return _VENVS[core]


_LAID_OUT: set = set()


def layout(copy: str = COPY) -> None:
    """A fresh copy of the checkout at copy (.../ansible_collections/existio/exist), once per run: ansible-test
    runs there, and every stage tests the same copy."""
    if copy not in _LAID_OUT:
        subprocess.run(['bash', os.path.join(TOOLS, 'layout.sh'), copy], check=True)
        _LAID_OUT.add(copy)


def ready_stage(session: nox.Session, name: str, core: str = TOOLS_CORE) -> Stage | None:
    """The stage, with its core's virtualenv and the laid-out copy ready; None (the stage an error) without them."""
    stage = Stage(session, name)
    if not setup_venv(session, core):
        stage.error('no virtualenv')
        return None
    layout()
    return stage


def remove(path: str) -> None:
    """A result file of an earlier run, gone, so that a stage that writes none is not read as passing."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def python_for(core: str) -> str:
    return PY_FOR_CORE[core]


@contextlib.contextmanager
def emulator(venv: str, logfile: str, *args: str):
    """The emulator of venv (its exist-emulator, else this checkout's tree) on a free port: yields its URL."""
    script = os.path.join(venv, 'bin', 'exist-emulator')
    env = dict(os.environ)
    if os.access(script, os.X_OK):
        cmd = [script]
    else:
        cmd = [os.path.join(venv, 'bin', 'python'), '-m', 'exist_emulator']
        env['PYTHONPATH'] = os.path.join(ROOT, 'tests', 'emulator')
    with open(logfile, 'w', encoding='utf-8') as handle:
        process = subprocess.Popen(cmd + list(args), stdout=handle, stderr=subprocess.STDOUT, env=env)
    try:
        url = _emulator_url(process, logfile)
        if url is None:
            raise RuntimeError('the emulator did not start, see %s' % os.path.relpath(logfile, ROOT))
        yield url
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _emulator_url(process: subprocess.Popen, logfile: str) -> str | None:
    for dummy in range(300):  # 30 s
        with open(logfile, encoding='utf-8', errors='replace') as handle:
            match = re.search(r'listening on http://\S+:(\d+)', handle.readline())
        if match:
            return 'http://127.0.0.1:' + match.group(1)
        if process.poll() is not None:
            return None
        time.sleep(0.1)
    return None


def save_output(copy: str, name: str) -> None:
    """Keep what ansible-test wrote (junit, data) under build/results/<name>/."""
    target = os.path.join(RESULTS, name)
    shutil.rmtree(target, ignore_errors=True)
    if os.path.isdir(os.path.join(copy, 'tests', 'output')):
        shutil.copytree(os.path.join(copy, 'tests', 'output'), target, symlinks=True)


def ansible_test(
    core: str, name: str, args: list, copy: str = COPY, env: dict | None = None, quiet: bool = False
) -> int:
    shutil.rmtree(os.path.join(copy, 'tests', 'output'), ignore_errors=True)
    log = os.path.join(RESULTS, name + '.log')
    rc = tee(['ansible-test'] + args + AT_ARGS, log, copy, env or tool_env(core), quiet=quiet)
    save_output(copy, name)
    return rc


# Stages -------------------------------------------------------------------------------


@nox.session(python=False)
@nox.parametrize('core', SANITY_CORES)
def sanity(session: nox.Session, core: str) -> None:
    """ansible-test sanity, in its own virtualenv (--venv), no ignore entries."""
    stage = ready_stage(session, 'sanity-' + core, core)
    if stage is None:
        return
    py = python_for(core)
    session.log('%s: ansible-test sanity --venv --python %s (ansible-core %s)' % (stage.name, py, core))
    rc = ansible_test(core, stage.name, ['sanity', '--venv', '--python', py, '--junit', '--color', 'no'])
    stage.finish(rc, results.cmd_sanity(os.path.join(RESULTS, stage.name, 'junit')), 'one result per sanity test')


@nox.session(python=False)
@nox.parametrize('core', UNITS_CORES)
def units(session: nox.Session, core: str) -> None:
    """ansible-test units (pytest, xdist) on the core's Python."""
    stage = ready_stage(session, 'units-' + core, core)
    if stage is None:
        return
    py = python_for(core)
    session.log('%s: ansible-test units --local --python %s (ansible-core %s)' % (stage.name, py, core))
    rc = ansible_test(core, stage.name, ['units', '--local', '--python', py, '--color', 'no'])
    junit = glob.glob(os.path.join(RESULTS, stage.name, 'junit', '*units.xml'))
    stage.finish(rc, results.cmd_junit(junit))


@nox.session(python=False, name='emulator-tests')
def emulator_tests(session: nox.Session) -> None:
    """The emulator's own pytest suite."""
    stage = ready_stage(session, 'emulator-tests')
    if stage is None:
        return
    junit = os.path.join(RESULTS, 'emulator-tests.xml')
    remove(junit)
    python = os.path.join(venv_dir(TOOLS_CORE), 'bin', 'python')
    cmd = [
        python,
        '-m',
        'pytest',
        'tests',
        '-p',
        'no:cacheprovider',
        '--junit-xml=' + junit,
        '-o',
        'junit_family=xunit2',
    ]
    rc = tee(cmd + PT_ARGS, stage.log, os.path.join(COPY, 'tests', 'emulator'), tool_env(TOOLS_CORE))
    stage.finish(rc, results.cmd_junit([junit]))


@nox.session(python=False)
def integration(session: nox.Session) -> None:
    """ansible-test integration on every core at once, each in its own copy against its own emulator.

    One session for all cores, not one per core: nox runs sessions one after the other, and a target is
    mostly one ansible-playbook at a time, so two cores side by side take about the time of one.
    """
    cores = [core for core in INTEGRATION_CORES if setup_venv(session, core)]
    for core in INTEGRATION_CORES:
        if core not in cores:
            Stage(session, 'integration-' + core, closing=False).error('no virtualenv')
    with concurrent.futures.ThreadPoolExecutor(max(1, len(cores))) as pool:
        outcomes = list(pool.map(lambda core: _integration_on(session, core), cores))
    for core in cores:
        # Their output went to their logs only (two at once would interleave): what matters, here.
        with open(os.path.join(RESULTS, 'integration-%s.log' % core), encoding='utf-8', errors='replace') as handle:
            for line in handle:
                if line.startswith(('FATAL', 'ERROR')):
                    session.log('integration-%s: %s' % (core, line.rstrip()))
    failed = [core for core, ok in zip(cores, outcomes) if not ok]
    if failed or len(cores) < len(INTEGRATION_CORES):
        session.error('integration failed on ' + ', '.join(failed or ['a core without its virtualenv']))


def _integration_on(session: nox.Session, core: str) -> bool:
    name = 'integration-' + core
    copy = os.path.join(BUILD, 'cores', core, 'ansible_collections', 'existio', 'exist')
    # A home of its own: ansible-test keeps per-user state there (its SSH key, made on first use), and two
    # cores starting at once on a new machine would race to create the same ~/.ansible/test/id_rsa.
    home = os.path.join(BUILD, 'cores', core, 'home')
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(home)
    stage = Stage(session, name, closing=False)
    try:
        layout(copy)
        with emulator(
            venv_dir(core), os.path.join(RESULTS, name + '-emulator.log'), '--port', '0', '--rate-limit', '0'
        ) as url:
            with open(
                os.path.join(copy, 'tests', 'integration', 'integration_config.yml'), 'w', encoding='utf-8'
            ) as handle:
                handle.write('# Written by noxfile.py: the emulator started for this run.\n')
                handle.write('exist_api_url: %s\nexist_emulator_url: %s\n' % (url, url))
            py = python_for(core)
            args = ['integration', '--local', '--python', py, '--continue-on-error', '--color', 'no']
            session.log('%s: ansible-test integration --local --python %s (ansible-core %s)' % (name, py, core))
            rc = ansible_test(core, name, args, copy, tool_env(core, HOME=home), quiet=True)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        stage.error(str(exc))
        return False
    counts = results.cmd_integration(os.path.join(RESULTS, name, 'data'), stage.log)
    stage.finish(rc, counts, 'one result per target')
    return stage.ok


# The Galaxy tarball on the oldest and the newest ansible-core ------------------------------------------
# The tarball is built once. Then, for each of COMPAT_CORES, in a virtualenv made afresh with nothing but
# ansible-core and requests (tests/requirements-compat-<core>.txt): install the tarball with that
# ansible-galaxy, pip-install the emulator from the installed collection and start it from there, and run
# the installed playbook existio.exist.demo twice in Ansible's worker process and twice through the module
# (existio_exist_worker_process false), the emulator's world reset before each pair. Every run must
# succeed, the first of a pair change something and the second nothing; the kept AnsiballZ files show
# which path ran. One result per ansible-core.


@nox.session(python=False)
def compat(session: nox.Session) -> None:
    """The Galaxy tarball, installed as a user would, on ansible-core 2.16 and 2.21, both execution paths."""
    if not COMPAT_CORES:
        return
    started = time.monotonic()
    tarball = None
    if setup_venv(session, TOOLS_CORE):
        layout()
        dist = os.path.join(BUILD, 'compat', 'dist')
        shutil.rmtree(dist, ignore_errors=True)
        os.makedirs(dist)
        session.log('compat: ansible-galaxy collection build (ansible-core %s)' % TOOLS_CORE)
        build = ['ansible-galaxy', 'collection', 'build', '--output-path', dist, '.']
        tee(build, os.path.join(RESULTS, 'compat-build.log'), COPY, tool_env(TOOLS_CORE))
        tarball = next(iter(glob.glob(os.path.join(dist, 'existio-exist-*.tar.gz'))), None)
    failed = []
    for core in COMPAT_CORES:
        stage = Stage(session, 'compat-' + core, closing=False)
        stage.started = min(stage.started, started)  # the first version's time includes the build
        started = time.monotonic()
        if tarball is None:
            stage.error('building the tarball failed, see build/results/compat-build.log')
        else:
            problems = _compat_core(session, core, tarball, os.path.join(BUILD, 'compat', core), stage.log)
            if problems is None:
                stage.error('could not create its virtualenv, see build/results/%s.log' % stage.name)
            elif problems:
                stage.write(0, 1, 0, 'failed', problems[0])
            else:
                stage.write(1, 0, 0, 'ok', 'install, emulator from the install, demo x2 on both paths')
        if not stage.ok:
            failed.append(stage.name)
    if failed:
        session.error(', '.join(failed) + ' failed')


def _compat_core(session: nox.Session, core: str, tarball: str, work: str, log: str) -> list | None:
    """The problems found on this core (empty: none), None when its virtualenv could not be made."""
    venv = os.path.join(work, 'venv')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, 'collections'))
    open(log, 'w').close()
    session.log('compat-%s: a fresh virtualenv with tests/requirements-compat-%s.txt only' % (core, core))
    python = _find_python(PY_FOR_CORE[core])
    requirements = os.path.join(ROOT, 'tests', 'requirements-compat-%s.txt' % core)
    if not python or tee([python, '-m', 'venv', venv], log, append=True) != 0:
        return None
    if tee([os.path.join(venv, 'bin', 'python'), '-m', 'pip', 'install', '-q', '-r', requirements], log, append=True):
        return None
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(work, 'collections'))
    env['PATH'] = os.path.join(venv, 'bin') + os.pathsep + env['PATH']
    install = ['ansible-galaxy', 'collection', 'install', '-p', os.path.join(work, 'collections'), tarball]
    if tee(install, log, work, env, append=True) != 0:
        return ['ansible-galaxy %s could not install the tarball' % core]
    installed = os.path.join(work, 'collections', 'ansible_collections', 'existio', 'exist')
    pip = [
        os.path.join(venv, 'bin', 'python'),
        '-m',
        'pip',
        'install',
        '-q',
        os.path.join(installed, 'tests', 'emulator'),
    ]
    if tee(pip, log, append=True) != 0 or not os.access(os.path.join(venv, 'bin', 'exist-emulator'), os.X_OK):
        return ['the emulator does not pip-install from the installed collection']
    try:
        with emulator(venv, os.path.join(RESULTS, 'compat-%s-emulator.log' % core), '--port', '0') as url:
            return [
                problem
                for path in ('worker', 'module')
                for problem in _compat_path(session, core, path, url, work, env, log)
            ]
    except RuntimeError:
        return ['the emulator installed from the collection did not start']


def _compat_path(session: nox.Session, core: str, path: str, url: str, work: str, env: dict, log: str) -> list:
    """Two runs of existio.exist.demo on one execution path from the default world: changes, then none."""
    try:
        urllib.request.urlopen(
            urllib.request.Request(url + '/_emulator/reset', data=b'', method='POST'), timeout=30
        ).read()
    except OSError as exc:
        return ['POST /_emulator/reset failed: %s' % exc]
    problems = []
    for run, expect in ((1, 'changes'), (2, 'converged')):
        stats = os.path.join(work, '%s-%d.json' % (path, run))
        remote_tmp = os.path.join(work, 'tmp-%s-%d' % (path, run))
        session.log(
            'compat-%s: ansible-playbook existio.exist.demo, %s path, run %d (expect: %s)' % (core, path, run, expect)
        )
        run_env = dict(env, ANSIBLE_CALLBACK_PLUGINS=os.path.join(TOOLS, 'callback_plugins'))
        run_env.update(
            ANSIBLE_CALLBACKS_ENABLED='compat_stats',
            EXIST_COMPAT_STATS=stats,
            ANSIBLE_REMOTE_TMP=remote_tmp,
            ANSIBLE_KEEP_REMOTE_FILES='1',
            ANSIBLE_LOCALHOST_WARNING='false',
            ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
        )
        run_env.pop('ANSIBLE_CONFIG', None)
        cmd = ['ansible-playbook', 'existio.exist.demo', '-e', 'exist_api_url=' + url]
        if path == 'module':
            cmd += ['-e', 'existio_exist_worker_process=false']
        where = '%s path, run %d' % (path, run)
        rc = tee(cmd, log, work, run_env, append=True)
        if rc:
            problems.append('%s: ansible-playbook exited %d' % (where, rc))
        problems += ['%s: %s' % (where, problem) for problem in results.cmd_playbook(stats, expect)]
        shipped = glob.glob(os.path.join(remote_tmp, '**', 'AnsiballZ_attribute*.py'), recursive=True)
        if path == 'worker' and shipped:
            problems.append(
                '%s: %d existio.exist modules were shipped; the tasks should run in the worker' % (where, len(shipped))
            )
        elif path == 'module' and not shipped:
            problems.append('%s: no existio.exist module was shipped; the module path did not run' % where)
    for problem in problems:
        session.log('COMPAT FAILED: ' + problem)
    return problems


def _find_python(minor: str) -> str | None:
    """A real pythonX.Y (pyenv's versions first, not its shims), as tests/tools/common.sh find_python."""
    override = os.environ.get('EXIST_PYTHON_' + minor.replace('.', '_'))
    candidates = [override] if override else []
    for root in (os.environ.get('PYENV_ROOT'), os.path.expanduser('~/.pyenv'), '/root/.pyenv'):
        if root:
            found = glob.glob(os.path.join(root, 'versions', minor + '.*', 'bin', 'python' + minor))
            candidates += sorted(found, key=lambda p: [int(x) for x in re.findall(r'\d+', p)], reverse=True)
    candidates += ['/usr/bin/python' + minor, '/usr/local/bin/python' + minor]
    check = 'import sys; sys.exit(0 if "%d.%d" % sys.version_info[:2] == sys.argv[1] else 3)'
    for candidate in candidates:
        if (
            os.access(candidate, os.X_OK)
            and subprocess.run([candidate, '-c', check, minor], capture_output=True, check=False).returncode == 0
        ):
            return candidate
    return None


# The fault fuzzers, the fleet demo, requests per run ---------------------------------------------------


@nox.session(python=False)
def fuzz(session: nox.Session) -> None:
    """Every tests/fuzz/fuzz_*.py (ownership, values, token flow) against the emulator, one result per invariant.

    Random worlds, tasks and fault schedules for about FUZZ_SECONDS each in the worker process, plus
    FUZZ_PLAYBOOK_CASES cases through ansible-playbook. Each prints its master seed; FUZZ_SEED replays a
    run, and one case replays with `python tests/fuzz/fuzz_NAME.py --case N`.
    """
    stage = ready_stage(session, 'fuzz')
    if stage is None:
        return
    open(stage.log, 'w').close()
    rc, totals = 0, [0, 0, 0]
    seed = ['--seed', os.environ['FUZZ_SEED']] if os.environ.get('FUZZ_SEED') else []
    python = os.path.join(venv_dir(TOOLS_CORE), 'bin', 'python')
    for fuzzer in sorted(glob.glob(os.path.join(COPY, 'tests', 'fuzz', 'fuzz_*.py'))):
        label = os.path.basename(fuzzer)[:-3]
        counts_file = os.path.join(RESULTS, label + '.counts')
        remove(counts_file)
        session.log('fuzz: ' + label)
        # Each fuzzer bounds its cases itself; the timeout bounds it whatever happens.
        cmd = ['timeout', '900', python, fuzzer, '--seconds', os.environ.get('FUZZ_SECONDS', '60')]
        cmd += ['--playbook-cases', os.environ.get('FUZZ_PLAYBOOK_CASES', '4'), '--collections-path', BUILD]
        cmd += ['--result-file', counts_file] + seed
        fuzzer_log = os.path.join(RESULTS, label + '.log')
        if tee(cmd, fuzzer_log, COPY, tool_env(TOOLS_CORE, PYTHONPATH=BUILD)) != 0:
            rc = 1
            _fuzz_why(fuzzer_log, os.path.join(RESULTS, 'fuzz.why'))
        with open(fuzzer_log, encoding='utf-8', errors='replace') as source, open(
            stage.log, 'a', encoding='utf-8'
        ) as log:
            log.write(source.read())
        try:
            with open(counts_file, encoding='utf-8') as handle:
                totals = [a + int(b) for a, b in zip(totals, handle.read().split())]
        except (OSError, ValueError):
            rc = 1
    stage.finish(rc, tuple(totals), 'one result per invariant of each fuzzer')


def _fuzz_why(fuzzer_log: str, why: str) -> None:
    """The violations and the seeds that replay them, for the summary: CI shows only the end of the output."""
    with open(fuzzer_log, encoding='utf-8', errors='replace') as handle:
        lines = handle.read().splitlines()
    kept = [line for line in lines if 'master seed' in line][:1]
    for index, line in enumerate(lines):
        if 'FAILED' in line:
            kept += lines[index : index + 3]
    with open(why, 'a', encoding='utf-8') as handle:
        handle.write(''.join(line[:600] + '\n' for line in kept[:30]))


@nox.session(python=False, name='demo-fleet')
def demo_fleet(session: nox.Session) -> None:
    """`make demo-fleet` and its checks (tests/tools/demo_fleet.sh), one result."""
    stage = Stage(session, 'demo-fleet')
    rc = tee(['bash', os.path.join(TOOLS, 'demo_fleet.sh')], stage.log, quiet=True)
    with open(stage.log, encoding='utf-8', errors='replace') as handle:
        session.log(''.join(handle.readlines()[-3:]).rstrip())
    stage.finish(rc, (0, 1, 0) if rc else (1, 0, 0), 'the fleet demo and its checks')


@nox.session(python=False, name='bench-requests')
def bench_requests(session: nox.Session) -> None:
    """Requests per run of existio.exist.attribute against a fresh emulator, both paths; one result per size."""
    stage = ready_stage(session, 'bench-requests')
    if stage is None:
        return
    counts_file = os.path.join(RESULTS, 'bench-requests.counts')
    remove(counts_file)
    python = os.path.join(venv_dir(TOOLS_CORE), 'bin', 'python')
    cmd = [python, 'tests/perf/bench.py', '--parts', 'requests', '--collections-path', BUILD]
    cmd += ['--workdir', os.path.join(RESULTS, 'bench-requests'), '--result-file', counts_file]
    rc = tee(cmd, stage.log, COPY, tool_env(TOOLS_CORE))
    try:
        with open(counts_file, encoding='utf-8') as handle:
            counts = tuple(int(x) for x in handle.read().split()[:3])
    except (OSError, ValueError):
        counts = (0, 0, 0)
    stage.finish(rc, counts, 'one result per size, both paths')


# Linters and the Galaxy package: one result per check, with the 2.19 virtualenv ---------------------------


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ansible-lint, antsibull-docs, antsibull-changelog, ruff, mypy, version, README links, the tarball, the README's
    emulator install, galaxy-importer, the docs site."""
    stage = ready_stage(session, 'lint')
    if stage is None:
        return
    open(stage.log, 'w').close()
    python = os.path.join(venv_dir(TOOLS_CORE), 'bin', 'python')
    in_copy = {'cwd': COPY, 'env': tool_env(TOOLS_CORE, ANSIBLE_COLLECTIONS_PATH=BUILD)}
    package = os.path.join(BUILD, 'package')
    shutil.rmtree(package, ignore_errors=True)
    checks = [
        # As users and editors run it: in the checkout, no collection path, no virtualenv variables.
        (
            'ansible-lint (in the checkout, as users run it)',
            ['ansible-lint', '--nocolor'],
            {'cwd': ROOT, 'env': _plain_env()},
        ),
        (
            'antsibull-docs lint-collection-docs --plugin-docs .',
            ['antsibull-docs', 'lint-collection-docs', '--plugin-docs', '.'],
            in_copy,
        ),
        ('antsibull-changelog lint', ['antsibull-changelog', 'lint'], in_copy),
        ('ruff check (ruff.toml)', ['ruff', 'check', '--no-cache', '.'], in_copy),
        ('ruff format --check', ['ruff', 'format', '--no-cache', '--check', '.'], in_copy),
        (
            'mypy (module_utils, plugin_utils)',
            ['env', 'MYPYPATH=' + BUILD, 'mypy', '--cache-dir', os.path.join(BUILD, '.mypy_cache')],
            in_copy,
        ),
        (
            # make bench times these functions of the collection: a rename must fail here, not in a 30-minute bench.
            'the benchmarks\' phase clocks find what they time',
            [
                python,
                '-c',
                'from ansible_collections.existio.exist.plugins.plugin_utils import _worker_process; '
                'from benchmarks import phase_timer; phase_timer._clock_collection()',
            ],
            {
                'cwd': COPY,
                'env': tool_env(TOOLS_CORE, PYTHONPATH=os.pathsep.join([BUILD, os.path.join(COPY, 'tests', 'perf')])),
            },
        ),
        ('version: galaxy.yml and COLLECTION_VERSION', [python, os.path.join(TOOLS, 'check_version.py'), COPY], {}),
        ('README links work on Galaxy', [python, os.path.join(TOOLS, 'check_links.py'), COPY], {}),
        (
            'package: the tarball from a littered tree',
            [python, os.path.join(TOOLS, 'check_package.py'), COPY, package],
            {'env': tool_env(TOOLS_CORE)},
        ),
        (
            "README's emulator install keeps the installed collection verifiable",
            [python, os.path.join(TOOLS, 'check_emulator_install.py'), COPY, os.path.join(BUILD, 'emulator-install')],
            {'env': tool_env(TOOLS_CORE)},
        ),
    ]
    passed = failed = 0
    for label, cmd, where in checks:
        if _lint_one(session, stage.log, label, functools.partial(tee, cmd, stage.log, append=True, **where)):
            passed += 1
        else:
            failed += 1
    tarball = next(iter(glob.glob(os.path.join(package, '**', 'existio-exist-*.tar.gz'), recursive=True)), None)
    in_process = [
        ('galaxy-importer (offline)', functools.partial(_galaxy_importer, tarball, stage.log)),
        ('docs site: antsibull-docs, sphinx-build -W (make docs)', functools.partial(build_docs, stage.log)),
    ]
    for label, check in in_process:
        if _lint_one(session, stage.log, label, check):
            passed += 1
        else:
            failed += 1
    stage.finish(failed, (passed, failed, 0), 'one result per check')


def _lint_one(session: nox.Session, log: str, label: str, check) -> bool:
    session.log('lint: ' + label)
    rc = check()
    if rc:
        with open(log, 'a', encoding='utf-8') as handle:
            handle.write('lint: %s FAILED (exit %s)\n' % (label, rc))
        session.log('lint: %s FAILED (exit %s)' % (label, rc))
    return rc == 0


def _plain_env() -> dict:
    env = tool_env(TOOLS_CORE)
    for name in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS', 'ANSIBLE_HOME', 'ANSIBLE_LIBRARY'):
        env.pop(name, None)
    for name in ('ANSIBLE_ROLES_PATH', 'ANSIBLE_CONFIG', 'VIRTUAL_ENV'):
        env.pop(name, None)
    return env


def _galaxy_importer(tarball: str | None, log: str) -> int:
    """What Galaxy runs on an upload, offline (tests/tools/galaxy-importer.cfg); a warning or an error fails."""
    if tarball is None:
        tee(['echo', 'no tarball: the package check did not build one'], log, append=True)
        return 1
    out = os.path.join(RESULTS, 'galaxy-importer')
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    importer_log = os.path.join(out, 'output.log')
    env = tool_env(TOOLS_CORE, GALAXY_IMPORTER_CONFIG=os.path.join(TOOLS, 'galaxy-importer.cfg'))
    # It writes importer_result.json to its working directory.
    rc = tee(
        [os.path.join(venv_dir(TOOLS_CORE), 'bin', 'python'), '-m', 'galaxy_importer.main', tarball],
        importer_log,
        out,
        env,
    )
    with open(importer_log, encoding='utf-8', errors='replace') as handle:
        text = handle.read()
    with open(log, 'a', encoding='utf-8') as handle:
        handle.write(text)
        if rc or 'Importer processing completed successfully' not in text:
            handle.write('galaxy-importer failed (exit %d)\n' % rc)
            return 1
        # Galaxy shows these on the collection's import log: none is acceptable.
        noise = [line for line in text.splitlines() if line.startswith(('WARNING:', 'ERROR:'))]
        if noise:
            handle.write('\n'.join(noise) + '\ngalaxy-importer reported the warnings or errors above\n')
            return 1
    return 0


# The docs site, offline ---------------------------------------------------------------------------------
# `make docs` (the docs session) and a check of `make lint`, on .venv/docs (tests/requirements-docs.txt).
# antsibull-docs sphinx-init lays out a Sphinx project in build/docs/site (docs/site/index.rst its root
# page), antsibull-docs collection writes the plugin pages and the guides of docs/docsite (extra-docs.yml,
# links.yml) into it, and sphinx-build -W makes build/docs/html: any warning fails. Intersphinx reads
# core's targets from a local inventory (docs/site/intersphinx-ansible_devel.txt): nothing is fetched.

DOCS_VENV = os.path.join(ROOT, '.venv', 'docs')
DOCS_REQUIREMENTS = os.path.join(ROOT, 'tests', 'requirements-docs.txt')
DOCS = os.path.join(BUILD, 'docs')
DOCS_SOURCE = os.path.join(ROOT, 'docs', 'site')
ANSIBLE_DOCS_URL = 'https://docs.ansible.com/projects/ansible/devel/'


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """The docs site into build/docs/html (antsibull-docs, sphinx-build -W), one result."""
    stage = Stage(session, 'docs')
    open(stage.log, 'w').close()
    layout()
    rc = build_docs(stage.log)
    stage.finish(rc, (0, 1, 0) if rc else (1, 0, 0), 'build/docs/html/index.html; any sphinx warning fails')


def build_docs(log: str) -> int:
    """Build the site from the laid-out copy (.venv/docs first, when its requirements changed); exit status."""
    if not _docs_venv(log):
        return 1
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=BUILD, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false')
    env['PATH'] = os.path.join(DOCS_VENV, 'bin') + os.pathsep + env['PATH']
    site, rst = os.path.join(DOCS, 'site'), os.path.join(DOCS, 'site', 'rst')
    shutil.rmtree(DOCS, ignore_errors=True)
    os.makedirs(site)
    os.chmod(site, 0o755)  # antsibull-docs writes only into a folder no one else can write to
    title = ['--project', 'existio.exist', '--copyright', 'existio.exist maintainers', '--title', 'existio.exist']
    init = ['antsibull-docs', 'sphinx-init', '--use-current', '--dest-dir', site] + title
    init += ['--index-rst-source', os.path.join(DOCS_SOURCE, 'index.rst'), 'existio.exist']
    pages = ['antsibull-docs', '--config-file', os.path.join(site, 'antsibull-docs.cfg'), 'collection']
    pages += ['--use-current', '--fail-on-error', '--dest-dir', rst, 'existio.exist']
    for cmd in (init, pages):
        if tee(cmd, log, ROOT, env, append=True):
            return 1
    _offline_intersphinx(site)
    doctrees, html = os.path.join(DOCS, 'doctrees'), os.path.join(DOCS, 'html')
    # -n: every reference must resolve; -W: any warning fails; -q: only the warnings on the console.
    return tee(
        ['sphinx-build', '-b', 'html', '-n', '-W', '-q', '-c', site, '-d', doctrees, rst, html],
        log,
        ROOT,
        env,
        append=True,
    )


def _offline_intersphinx(site: str) -> None:
    """Core's targets as a local objects.inv, and conf.py's intersphinx pointed at it instead of the web."""
    with open(os.path.join(DOCS_SOURCE, 'intersphinx-ansible_devel.txt'), encoding='utf-8') as handle:
        lines = [line for line in handle if line.strip() and not line.startswith('#')]
    inventory = os.path.join(site, 'ansible_devel.inv')
    with open(inventory, 'wb') as handle:
        handle.write(b'# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n')
        handle.write(b'# The remainder of this file is compressed using zlib.\n')
        handle.write(zlib.compress(''.join(lines).encode('utf-8')))
    with open(os.path.join(site, 'conf.py'), 'a', encoding='utf-8') as handle:
        handle.write('\n# Written by noxfile.py: offline, core\'s targets from a local inventory.\n')
        handle.write('intersphinx_mapping = {%r: (%r, %r)}\n' % ('ansible_devel', ANSIBLE_DOCS_URL, inventory))


def _docs_venv(log: str) -> bool:
    """.venv/docs with tests/requirements-docs.txt, made again only when they (or the Python) change."""
    python = _find_python('3.11')
    if python is None:
        tee(['echo', 'no Python 3.11 for .venv/docs'], log, append=True)
        return False
    with open(DOCS_REQUIREMENTS, 'rb') as handle:
        want = hashlib.sha256(handle.read() + python.encode()).hexdigest()
    stamp = os.path.join(DOCS_VENV, '.existio-stamp')
    with contextlib.suppress(OSError), open(stamp, encoding='utf-8') as handle:
        if handle.read().strip() == want and os.access(os.path.join(DOCS_VENV, 'bin', 'python'), os.X_OK):
            return True
    shutil.rmtree(DOCS_VENV, ignore_errors=True)
    pip = [os.path.join(DOCS_VENV, 'bin', 'python'), '-m', 'pip', 'install', '-q', '-r', DOCS_REQUIREMENTS]
    if tee([python, '-m', 'venv', DOCS_VENV], log, append=True) or tee(pip, log, append=True):
        return False
    with open(stamp, 'w', encoding='utf-8') as handle:
        handle.write(want + '\n')
    return True
