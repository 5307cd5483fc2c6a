"""Seed ansible-test's get-pip cache so that ``--venv`` works offline.

ansible-test bootstraps pip into every virtualenv it creates with a
``get-pip.py`` that it downloads from ci-files.testing.ansible.com, a host this
kind of machine cannot reach. It first looks in
``~/.ansible/test/cache/get_pip_<version>.py``. This script, run with the
Python of a virtualenv that has ansible-core installed, reads the pip
version(s) ansible_test pins, fetches each pip wheel with ``pip download``
(through the configured package index) and writes a small stand-in
``get_pip_<version>.py`` that installs that wheel.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

MARKER = '# existio.exist offline get-pip stand-in'

TEMPLATE = '''%(marker)s (written by tests/tools/seed_get_pip.py)
"""Install pip %(version)s from the wheel next to this file, like get-pip.py would."""
import os
import sys

WHEEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), %(wheel)r)


def main():
    args = []
    for arg in sys.argv[1:]:
        if arg in ('--no-setuptools', '--no-wheel'):
            continue  # get-pip.py options, not pip ones
        if arg.split('==')[0].strip().lower() == 'pip':
            arg = WHEEL
        args.append(arg)
    if WHEEL not in args:
        args.append(WHEEL)
    sys.path.insert(0, WHEEL)
    from pip._internal.cli.main import main as pip_main
    return pip_main(['install'] + args)


if __name__ == '__main__':
    sys.exit(main())
'''


def pinned_pip_versions() -> list[str]:
    import ansible_test  # noqa: F401  (only to find it)

    base = os.path.dirname(ansible_test.__file__)
    path = os.path.join(base, '_internal', 'python_requirements.py')
    with open(path, encoding='utf-8') as f:
        source = f.read()
    match = re.search(r'def get_venv_packages\(.*?\n(?=def )', source, re.S)
    body = match.group(0) if match else source
    # ansible-test 2.16 also pins older pips for Python 2.7 and 3.6 targets
    # (override_packages); only the default one is used on Python 3.7+.
    default = re.search(r'default_packages\s*=\s*dict\((.*?)\)', body, re.S)
    if default:
        body = default.group(1)
    versions = sorted(set(re.findall(r'''\bpip\s*=\s*['"]([0-9][^'"]*)['"]''', body)))
    if not versions:
        sys.exit('seed_get_pip: could not find the pip version pinned in %s' % path)
    return versions


def seed(version: str, cache: str, quiet: bool) -> None:
    script = os.path.join(cache, 'get_pip_%s.py' % version.replace('.', '_'))
    wheel = 'pip-%s-py3-none-any.whl' % version
    wheel_path = os.path.join(cache, wheel)
    if os.path.exists(script):
        with open(script, encoding='utf-8', errors='replace') as f:
            ours = f.read(len(MARKER)) == MARKER
        if not ours or os.path.exists(wheel_path):
            if not quiet:
                print('seed_get_pip: %s already present' % script)
            return
    os.makedirs(cache, exist_ok=True)
    if not os.path.exists(wheel_path):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [
                    sys.executable,
                    '-m',
                    'pip',
                    'download',
                    '-q',
                    '--no-deps',
                    '--only-binary=:all:',
                    '--dest',
                    tmp,
                    'pip==%s' % version,
                ],
                check=True,
            )
            files = [n for n in os.listdir(tmp) if n.endswith('.whl')]
            if len(files) != 1:
                sys.exit('seed_get_pip: expected one pip wheel, got %r' % files)
            os.replace(os.path.join(tmp, files[0]), wheel_path + '.tmp')
            os.replace(wheel_path + '.tmp', wheel_path)
    with open(script + '.tmp', 'w', encoding='utf-8') as f:
        f.write(TEMPLATE % dict(marker=MARKER, version=version, wheel=wheel))
    os.replace(script + '.tmp', script)
    print('seed_get_pip: seeded %s (pip %s)' % (script, version))


def main() -> None:
    quiet = '--quiet' in sys.argv[1:]
    cache = os.path.expanduser('~/.ansible/test/cache')
    for version in pinned_pip_versions():
        seed(version, cache, quiet)


if __name__ == '__main__':
    main()
