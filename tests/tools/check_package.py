"""Build the Galaxy tarball from a developer's tree and check what it holds.

Usage: python tests/tools/check_package.py SOURCE OUTPUT_DIR

Copies SOURCE (a checkout) to a scratch folder, adds the litter a working
tree collects (virtualenvs, caches, build artefacts of the emulator, editor
swap and backup files, earlier tarballs), runs ``ansible-galaxy collection
build`` there (galaxy.yml's build_ignore) and checks the tarball:

- what a user needs is in it: the modules, the demo playbook, the emulator
  that the README tells users to pip-install from the installed collection;
- the development tooling that cannot run from an install is not
  (tests/tools, tests/perf, tests/fuzz, .ci, the Makefile, dev requirements);
- none of the litter is.

The tarball is left in OUTPUT_DIR (the `lint` stage then runs galaxy-importer
on it); its path is the last line printed. Exit 1 when a check fails.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

# Must be in the tarball.
REQUIRED = [
    'README.md',
    'COPYING',
    'requirements.txt',
    'meta/runtime.yml',
    'meta/execution-environment.yml',
    'plugins/modules/attribute.py',
    'plugins/modules/attribute_info.py',
    'plugins/action/attribute.py',
    'plugins/module_utils/_client.py',
    'playbooks/demo.yml',
    'docs/docsite/extra-docs.yml',
    'changelogs/changelog.yaml',
    'tests/config.yml',
    'tests/emulator/pyproject.toml',
    'tests/emulator/README.md',
    'tests/emulator/exist_emulator/__init__.py',
    'tests/emulator/exist_emulator/cli.py',
]

# Must not be in the tarball: fnmatch patterns against member names (a
# folder's pattern also matches everything under it).
FORBIDDEN = [
    '.ci',
    '.ci/*',
    'Makefile',
    '.git',
    '.git/*',
    '.gitignore',
    'tests/tools',
    'tests/tools/*',
    'tests/perf',
    'tests/perf/*',
    'tests/fuzz',
    'tests/fuzz/*',
    'tests/requirements-*.txt',
    'mypy.ini',
    'noxfile.py',
    'tests/output',
    'tests/output/*',
    'tests/integration/integration_config.yml',
    'tests/integration/inventory',
]

# Litter planted in the scratch copy; none of it may reach the tarball.
LITTER = [
    '.nox/lint/bin/python',
    '.venv/ansible-2.19/bin/python',
    'build/ansible_collections/existio/exist/README.md',
    'build/results/lint.log',
    '.ansible/collections/ansible_collections/existio/exist/README.md',
    'tests/output/junit/x.xml',
    'tests/integration/integration_config.yml',
    'tests/integration/inventory',
    'tests/emulator/build/lib/exist_emulator/cli.py',
    'tests/emulator/exist_emulator.egg-info/PKG-INFO',
    'tests/emulator/exist_emulator/__pycache__/cli.cpython-311.pyc',
    'tests/emulator/.pytest_cache/v/cache/lastfailed',
    'tests/emulator/tests/__pycache__/conftest.cpython-311-pytest-9.2.0.pyc',
    'plugins/module_utils/__pycache__/_client.cpython-311.pyc',
    'plugins/module_utils/_client.pyc',
    '.pytest_cache/README.md',
    '.hypothesis/examples/0123/abcd',
    '.mypy_cache/3.11/x.json',
    '.ruff_cache/x',
    '.tox/py311/x',
    '.nox/x',
    '.coverage',
    '.idea/workspace.xml',
    '.vscode/settings.json',
    'plugins/modules/.attribute.py.swp',
    'plugins/modules/attribute.py~',
    'plugins/modules/#attribute.py#',
    'plugins/modules/.#attribute.py',
    'plugins/modules/attribute.py.orig',
    'plugins/modules/attribute.py.rej',
    '.DS_Store',
    'plugins/.DS_Store',
    'existio-exist-0.0.1.tar.gz',
    'playbooks/demo.retry',
]


def in_patterns(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def build_littered(source: str, output: str) -> None:
    """Copy `source` to a scratch folder, plant LITTER in it and build the tarball from it into `output` (emptied of
    earlier tarballs first)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, 'exist')
        shutil.copytree(
            source,
            tree,
            symlinks=True,
            ignore=shutil.ignore_patterns(
                '.git', '.venv', 'build', '.ansible', 'output', '__pycache__', '.hypothesis', '.pytest_cache'
            ),
        )
        for name in LITTER:
            path = os.path.join(tree, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w', encoding='utf-8') as f:
                f.write('litter planted by tests/tools/check_package.py\n')
        os.makedirs(output, exist_ok=True)
        for old in glob.glob(os.path.join(output, '*.tar.gz')):
            os.remove(old)
        subprocess.run(['ansible-galaxy', 'collection', 'build', '--output-path', output, tree], check=True)


def litter_problems(members: set[str], source: str) -> list[str]:
    problems = []
    for litter in LITTER:
        parts = litter.split('/')
        # The planted file, or any folder on its way that exists only because of it.
        for depth in range(len(parts), 0, -1):
            prefix = '/'.join(parts[:depth])
            if prefix in members and not os.path.exists(os.path.join(source, prefix)):
                problems.append('litter in the tarball: %s' % prefix)
                break
        if litter in members:
            problems.append('litter in the tarball: %s' % litter)
    return problems


def member_problems(members: set[str], source: str) -> list[str]:
    """What is wrong with the tarball's members: required files missing, tooling, litter, caches."""
    problems = ['missing from the tarball: %s' % name for name in REQUIRED if name not in members]
    problems += [
        'development tooling in the tarball: %s' % name for name in sorted(members) if in_patterns(name, FORBIDDEN)
    ]
    problems += litter_problems(members, source)
    for name in sorted(members):
        base = name.rsplit('/', 1)[-1]
        if base in ('__pycache__', '.pytest_cache', '.hypothesis') or base.endswith(('.pyc', '.egg-info')):
            problems.append('cache or build artefact in the tarball: %s' % name)
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.exit(__doc__)
    source, output = (os.path.abspath(a) for a in argv)
    build_littered(source, output)
    tarballs = glob.glob(os.path.join(output, '*.tar.gz'))
    if len(tarballs) != 1:
        print('FAILED: expected one tarball in %s, found %r' % (output, tarballs))
        return 1
    with tarfile.open(tarballs[0]) as tar:
        names = [m.name[2:] if m.name.startswith('./') else m.name for m in tar.getmembers()]
    members = set(names)
    problems = member_problems(members, source)
    for problem in sorted(set(problems)):
        print('FAILED: %s' % problem)
    if not problems:
        print(
            'ok: %d files and folders; the emulator, the demo and the modules are in; tooling and %d kinds of'
            ' litter are out' % (len(members), len(LITTER))
        )
    print(tarballs[0])
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
