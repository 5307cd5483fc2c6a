# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A plugin's options as ansible-core documents them: its own, with this collection's doc fragments merged in."""

from __future__ import annotations

import copy

import yaml
from ansible.utils.plugin_docs import merge_fragment

from ansible_collections.existio.exist.plugins.doc_fragments import connection

FRAGMENT = 'existio.exist.connection'


def fragment(name):
    """One fragment of existio.exist.connection (DOCUMENTATION or a sub-fragment), as YAML."""
    variable = 'DOCUMENTATION' if name == FRAGMENT else name.rsplit('.', 1)[1].upper()
    return yaml.safe_load(getattr(connection.ModuleDocFragment, variable))


def documented_options(source):
    """The options of a plugin's DOCUMENTATION with this collection's connection fragments merged in, as
    ansible-core merges them (option by option)."""
    doc = yaml.safe_load(source.DOCUMENTATION)
    options = copy.deepcopy(doc['options'])
    for name in doc.get('extends_documentation_fragment', []):
        if name == FRAGMENT or name.startswith(FRAGMENT + '.'):
            merge_fragment(options, fragment(name)['options'])
    return options
