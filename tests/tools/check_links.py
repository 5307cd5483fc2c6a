"""Every README link must work where the README is read: GitHub, Galaxy, Automation Hub.

Usage: python tests/tools/check_links.py [COLLECTION_ROOT]

Galaxy and Automation Hub render only README.md, from the tarball, so a
relative link there (to an .rst guide, to the changelog) is broken. This
check (the `lint` stage of noxfile.py), offline:

- every Markdown link and image in README.md is absolute (https://...) or an
  anchor of a heading in README.md itself;
- a link into this repository (galaxy.yml `repository`, ``/blob/<branch>/PATH``
  or ``/tree/<branch>/PATH``) names a file or folder that exists in the checkout,
  or one that the release writes (CHANGELOG.rst, from changelogs/config.yaml);
- galaxy.yml's repository, documentation, homepage and issues are https URLs,
  and `documentation` points into the repository at a folder that exists.

It prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import os
import re
import sys

import yaml

# [text](target) and ![alt](target), not inside `code` spans or fenced blocks.
LINK = re.compile(r'!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
REFERENCE = re.compile(r'^\s*\[[^\]]+\]:\s*(\S+)', re.M)


def generated_files(root: str) -> set[str]:
    """Files the release writes (not in the checkout until then)."""
    names = set()
    path = os.path.join(root, 'changelogs', 'config.yaml')
    if os.path.exists(path):
        with open(path, encoding='utf-8') as f:
            template = (yaml.safe_load(f) or {}).get('changelog_filename_template')
        if template:
            names.add(os.path.normpath(os.path.join('changelogs', template)))
    return names


def strip_code(text: str) -> str:
    text = re.sub(r'^(```|~~~).*?^\1', '', text, flags=re.S | re.M)
    return re.sub(r'`[^`\n]*`', '', text)


def anchors(text: str) -> set[str]:
    found = set()
    for heading in re.findall(r'^#+\s+(.*?)\s*#*\s*$', text, re.M):
        slug = re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')
        found.add(slug)
    return found


def check_repo_link(url: str, repository: str, root: str, generated: set[str]) -> str | None:
    rest = url[len(repository) :].split('#', 1)[0].split('?', 1)[0].strip('/')
    if not rest or rest in ('issues', 'pulls', 'releases') or rest.startswith(('issues/', 'pull/', 'releases/')):
        return None
    match = re.match(r'(blob|tree|raw)/[^/]+/(.+)$', rest)
    if not match:
        return None
    kind, path = match.groups()
    local = os.path.join(root, path)
    if kind == 'tree':
        return None if os.path.isdir(local) else 'no folder %s in the checkout' % path
    if os.path.isfile(local) or os.path.normpath(path) in generated:
        return None
    return 'no file %s in the checkout' % path


def galaxy_problems(galaxy: dict, repository: str, root: str) -> list[str]:
    """galaxy.yml's URLs are https, and its documentation, when in the repository, exists."""
    problems = []
    for key in ('repository', 'documentation', 'homepage', 'issues'):
        value = str(galaxy.get(key) or '')
        if not value.startswith('https://'):
            problems.append('galaxy.yml %s is not an https URL: %r' % (key, value))
    documentation = str(galaxy.get('documentation') or '')
    if repository and documentation.startswith(repository + '/'):
        problem = check_repo_link(documentation, repository, root, set())
        if problem:
            problems.append('galaxy.yml documentation: %s' % problem)
    return problems


def link_problem(target: str, own_anchors: set[str], repository: str, root: str, generated: set[str]) -> str | None:
    """What is wrong with one README link, or None."""
    if target.startswith('#'):
        if target[1:].lower() not in own_anchors:
            return 'README.md: link to a heading that does not exist: %s' % target
        return None
    if not target.startswith('https://'):
        return 'README.md: %s is not an absolute https link; Galaxy renders only the README, where it breaks' % target
    if repository and target.startswith(repository + '/'):
        problem = check_repo_link(target, repository, root, generated)
        if problem:
            return 'README.md: %s: %s' % (target, problem)
    return None


def main(argv: list[str]) -> int:
    root = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
    with open(os.path.join(root, 'galaxy.yml'), encoding='utf-8') as f:
        galaxy = yaml.safe_load(f) or {}
    with open(os.path.join(root, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    repository = str(galaxy.get('repository') or '').rstrip('/')
    problems = galaxy_problems(galaxy, repository, root)
    generated = generated_files(root)
    own_anchors = anchors(readme)
    text = strip_code(readme)
    targets = LINK.findall(text) + REFERENCE.findall(text)
    for target in targets:
        problem = link_problem(target, own_anchors, repository, root, generated)
        if problem:
            problems.append(problem)
    for problem in problems:
        print('FAILED: %s' % problem)
    if not problems:
        print('ok: %d README links, all absolute; those into %s exist' % (len(targets), repository or 'the repository'))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
