"""Follow the README's emulator install on an installed collection and check that it stays verifiable.

Usage: python tests/tools/check_emulator_install.py SOURCE WORKDIR

Builds the Galaxy tarball from SOURCE (a checkout), installs it with ``ansible-galaxy collection
install -p WORKDIR/collections``, then runs the README's command (the ``$ pip install .../tests/emulator``
line of its console block, with ``~/.ansible/collections`` replaced by WORKDIR/collections) with the pip
of a fresh virtualenv. Checks, each printed and any failure making the exit status 1:

- the emulator's command ``exist-emulator`` is installed;
- pip wrote nothing into the installed collection (no build/, no egg-info);
- ``ansible-galaxy collection verify --offline existio.exist -p WORKDIR/collections`` succeeds;
- and, so that a passing verify means something, it fails once a file is planted in the collection.

ansible-galaxy is taken from PATH (the `lint` stage runs this with the 2.19 virtualenv first on it).
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

README_PREFIX = '~/.ansible/collections/'
# The README's console line, e.g. `$ pip install ~/.ansible/collections/.../tests/emulator`.
README_COMMAND = re.compile(r'^\$ (pip install \S*/tests/emulator\S*)\s*$', re.MULTILINE)


def readme_command(source: str) -> list[str]:
    """The README's emulator install command, split; exit when it is missing or not one command."""
    with open(os.path.join(source, 'README.md'), encoding='utf-8') as handle:
        found = README_COMMAND.findall(handle.read())
    if len(found) != 1 or README_PREFIX not in found[0]:
        sys.exit(
            'FAILED: expected one `$ pip install %s.../tests/emulator` line in README.md, found %r'
            % (README_PREFIX, found)
        )
    return shlex.split(found[0])


def run(cmd: list[str], check: bool = False, **kwargs) -> subprocess.CompletedProcess:
    print('$ ' + shlex.join(cmd), flush=True)
    return subprocess.run(cmd, check=check, **kwargs)


def tree(root: str) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files}


def verify(collections: str) -> int:
    cmd = ['ansible-galaxy', 'collection', 'verify', '--offline', 'existio.exist', '-p', collections]
    return run(cmd).returncode


def install_collection(source: str, work: str) -> str:
    """Build and install the collection under work; the installed collection's path."""
    dist, collections = os.path.join(work, 'dist'), os.path.join(work, 'collections')
    run(['ansible-galaxy', 'collection', 'build', '--output-path', dist, source], check=True)
    tarball = glob.glob(os.path.join(dist, 'existio-exist-*.tar.gz'))[0]
    run(['ansible-galaxy', 'collection', 'install', '-p', collections, tarball], check=True)
    return os.path.join(collections, 'ansible_collections', 'existio', 'exist')


def check(source: str, work: str) -> list[str]:
    """The problems found (empty: none)."""
    installed = install_collection(source, work)
    collections = os.path.join(work, 'collections')
    if verify(collections):
        return ['verify fails on the freshly installed collection, before pip ran']
    venv = os.path.join(work, 'venv')
    run([sys.executable, '-m', 'venv', venv], check=True)
    cmd = readme_command(source)
    cmd = [os.path.join(venv, 'bin', 'pip')] + [arg.replace(README_PREFIX, collections + '/') for arg in cmd[1:]]
    before = tree(installed)
    # No wheel cache: a wheel built earlier from the same folder would be installed without building, and
    # the build is what wrote into the collection.
    env = dict(os.environ, PIP_NO_CACHE_DIR='1', PIP_DISABLE_PIP_VERSION_CHECK='1')
    if run(cmd, env=env).returncode:
        return ['the README command failed: %s' % shlex.join(cmd)]
    problems = []
    if not os.access(os.path.join(venv, 'bin', 'exist-emulator'), os.X_OK):
        problems.append('the README command did not install exist-emulator')
    written = sorted(tree(installed) - before)
    if written:
        problems.append('pip wrote %d paths into the installed collection: %s' % (len(written), ', '.join(written[:5])))
    if verify(collections):
        problems.append('ansible-galaxy collection verify --offline fails after the README command')
    # The control: a planted file must make verify fail, or the checks above prove nothing.
    with open(os.path.join(installed, 'tests', 'emulator', 'planted.txt'), 'w', encoding='utf-8') as handle:
        handle.write('planted by tests/tools/check_emulator_install.py\n')
    if not verify(collections):
        problems.append('verify passed with a file planted in the collection: it would not see a change')
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.exit(__doc__)
    source, work = (os.path.abspath(a) for a in argv)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    problems = check(source, work)
    for problem in problems:
        print('FAILED: ' + problem)
    if not problems:
        print('ok: the README emulator install leaves the installed collection verifiable')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
