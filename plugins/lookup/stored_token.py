# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: stored_token
short_description: The access token of one user from a token store, read once per run
version_added: 0.2.0
description:
  - Returns the access token that the token store (the file M(existio.exist.token) writes, plain or
    vault-encrypted) holds for O(user).
  - >-
    The store is read, decrypted and parsed once per process and kept while the file stays the same (its device,
    inode, size and modification time): the P(existio.exist.users#inventory) inventory reads the store in the
    controller before Ansible forks a worker for each host-task, so with O(existio.exist.users#inventory:include_token=false)
    a task that uses C(exist_token) reads no file at all. A worker that finds the file changed (a refresh
    replaced it) reads it again.
  - This is what C(exist_token) holds with O(existio.exist.users#inventory:include_token=false); a play rarely
    needs to call it itself.
  - The token is never printed, logged or put in an error; errors name the store and the user.
author:
  - Existio maintainers (@existio)
options:
  _terms:
    description:
      - The path of the token store, as given to the C(store) option of M(existio.exist.token).
      - A relative path is relative to the playbook's directory (or the role's).
      - A vault-encrypted store is decrypted with the vault secrets given to Ansible.
    type: list
    elements: path
    required: true
  user:
    description:
      - The Exist username whose access token to return, as the store files it.
    type: str
    required: true
notes:
  - The store's other users, refresh tokens and marks are not returned. A user marked C(reauthorization_needed) in
    the store still gets the stored token (which Exist will refuse); the inventory's groups say who that is.
seealso:
  - plugin: existio.exist.users
    plugin_type: inventory
  - module: existio.exist.token
'''

EXAMPLES = r'''
- name: Use one user's token from the store, whatever the inventory
  existio.exist.attribute_info:
    token: "{{ lookup('existio.exist.stored_token', 'tokens.vault.yml', user='alice') }}"
  no_log: true
'''

RETURN = r'''
_raw:
  description:
    - A list of one element, the access token of O(user).
  type: list
  elements: str
'''

# ansible-test wants the documentation before any import, as in a module.
from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402

from ansible_collections.existio.exist.plugins.plugin_utils._token_store import (  # noqa: E402
    TokenStoreError,
    access_tokens,
    shorten,
)

NAME = 'existio.exist.stored_token'


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        user = self.get_option('user')
        if not isinstance(user, str) or not user:
            raise AnsibleLookupError('%s: user must be the username of a user of the store' % NAME)
        if len(terms) != 1:
            raise AnsibleLookupError('%s: give one token store, got %d' % (NAME, len(terms)))
        path = self._loader.path_dwim(to_text(terms[0]))
        vault = getattr(self._loader, '_vault', None)
        try:
            tokens = access_tokens(path, getattr(vault, 'secrets', None))
        except TokenStoreError as exc:
            # The store's own messages name the file, the user and the key, never a token.
            raise AnsibleLookupError('%s: %s' % (NAME, exc.message)) from None
        token = tokens.get(user)
        if token is None:
            raise AnsibleLookupError(
                '%s: user %s is not in the token store %s; exchange a code for that user into it with '
                'existio.exist.token' % (NAME, shorten(user, 80), path)
            )
        return [token]
