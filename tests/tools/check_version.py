"""The collection's version lives in galaxy.yml; the User-Agent must say the same.

Usage: python tests/tools/check_version.py [COLLECTION_ROOT]

plugins/module_utils/_client.py cannot read galaxy.yml at run time (an
installed collection does not ship it, and modules run without it), so it
carries COLLECTION_VERSION as a literal. This check (the `lint` stage of
noxfile.py) fails, naming both, when the two differ: bump them
together.
"""

from __future__ import annotations

import ast
import os
import sys

import yaml


def client_version(path: str) -> str | None:
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == 'COLLECTION_VERSION' for target in node.targets
        ):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
            return ast.dump(node.value)
    return None


def main(argv: list[str]) -> int:
    root = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
    galaxy_path = os.path.join(root, 'galaxy.yml')
    client_path = os.path.join(root, 'plugins', 'module_utils', '_client.py')
    with open(galaxy_path, encoding='utf-8') as f:
        galaxy_version = str((yaml.safe_load(f) or {}).get('version'))
    version = client_version(client_path)
    if version is None:
        print(
            'FAILED: plugins/module_utils/_client.py defines no COLLECTION_VERSION (galaxy.yml version: %s)'
            % galaxy_version
        )
        return 1
    if version != galaxy_version:
        print(
            'FAILED: COLLECTION_VERSION in plugins/module_utils/_client.py is %r but galaxy.yml version is %r;'
            ' bump them together' % (version, galaxy_version)
        )
        return 1
    print('ok: galaxy.yml version and COLLECTION_VERSION in plugins/module_utils/_client.py are both %s' % version)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
