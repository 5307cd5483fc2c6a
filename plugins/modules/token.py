#!/usr/bin/python
# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: token
short_description: Exchange and refresh Exist OAuth2 tokens, and keep them in a token store
version_added: 0.2.0
description:
  - Gets OAuth2 token pairs (an access token and a refresh token) from Exist for your client (service), and keeps
    them in a token store, a YAML file keyed by Exist username, which can be vault-encrypted.
  - O(grant=authorization_code) exchanges the code a user's browser brought back from Exist's authorisation page
    for a pair. O(grant=refresh_token) refreshes a pair before it expires (about a year after it was issued);
    Exist then invalidates the old pair at once.
  - With O(store), the new pairs are written to the store (mode 0600, atomically, and vault-encrypted again when
    the store is). O(grant=refresh_token) without O(refresh_token) refreshes every user of the store in one task,
    or with O(refresh_before) only those whose token expires within that many days. Without O(store), the new
    pair is returned in the result, which is then hidden from the output as C(no_log) results are.
  - The username is learned by reading the user's profile once with the new access token. A refresh of a user
    the store holds needs no profile read (one request per user).
  - The task runs in the controller (its action plugin does the work, whatever the host), where the store and
    the vault secrets are. Use it on C(localhost), or with C(run_once).
  - 'Built so that a refresh that fails half-way never loses a user''s only valid pair: a new pair is written to
    disk before anything else happens; when the store cannot be written it goes to a recovery file beside it
    (C(STORE.recovered-USERNAME)), which the next run merges back; and when the answer to a refresh is lost, the
    store entry is marked C(refresh_outcome_unknown) (unless the old access token is already refused), and the
    next run sends that refresh again, which settles it. A pair in an odd answer (an C(expires_in), C(token_type)
    or C(scope) Exist could not mean) replaces the stored one only once a profile read with it works; one that
    cannot be tried goes to the recovery file. See RV(failed_items) and the guide
    R(Exist tokens from Ansible, ansible_collections.existio.exist.docsite.guide_tokens).'
author:
  - Existio maintainers (@existio)
extends_documentation_fragment:
  - existio.exist.connection
  - existio.exist.attributes
attributes:
  check_mode:
    support: full
    details:
      - Sends nothing, since a code works only once and a refresh invalidates the old pair. Reports which users
        would be refreshed (RV(refreshed), with their current RV(expires_at)), and that a code would be exchanged.
        A user marked C(refresh_outcome_unknown) is among them, with a warning, since a real run sends that refresh
        again.
  diff_mode:
    support: partial
    details:
      - With O(store), the diff shows each user's expiry, scopes and mark before and after, never a token.
        Without O(store) there is no diff.
  action:
    description: Has an action plugin that does all the work in the controller.
    support: full
    details:
      - The task always runs in the controller, whatever the host and its connection, and never ships a module.
        C(async) is not supported. A task C(environment) (proxies, CA bundles) is applied there.
options:
  grant:
    description:
      - V(authorization_code) exchanges O(code) for a new pair.
      - V(refresh_token) refreshes O(refresh_token), or, without it, the pairs of the users of O(store).
    type: str
    required: true
    choices: [authorization_code, refresh_token]
  client_id:
    description:
      - The client ID of your Exist OAuth2 client (your service).
    type: str
    required: true
  client_secret:
    description:
      - The client secret of your Exist OAuth2 client. Never logged or returned.
    type: str
    required: true
  code:
    description:
      - The authorisation code Exist gave the user's browser (the C(code) query parameter of the redirect to
        O(redirect_uri)). A code works once, shortly after it was issued. Never logged or returned.
      - Required with O(grant=authorization_code), and only used with it.
    type: str
  redirect_uri:
    description:
      - The redirect URI the code was issued for, exactly as on the authorisation page.
      - Required with O(grant=authorization_code). With O(grant=refresh_token), only used in the authorisation
        address given when a user must authorise again.
    type: str
  refresh_token:
    description:
      - The refresh token to refresh, with O(grant=refresh_token). Never logged or returned.
      - With O(store), the new pair is written to the store under the username (one profile read, unless the
        store already holds this refresh token).
      - Without it, O(grant=refresh_token) refreshes the users of O(store).
    type: str
  store:
    description:
      - A token store on the controller, a YAML file keyed by Exist username (C(access_token),
        C(refresh_token), C(expires_at) in UTC, C(scope), C(username)). Created by the first exchange; its
        directory must exist and be writable.
      - Encrypt it with C(ansible-vault encrypt STORE); it is then read with the vault secrets of the run
        (C(--ask-vault-pass), C(--vault-id)) and stays encrypted, with the vault ID label it was encrypted
        with (C(--vault-id prod@...)), every time it is rewritten, whichever vault ID opened it.
      - A symbolic link is followed (the file it points to is rewritten), and the lock and recovery files sit
        beside that file.
      - The store is locked (C(STORE.lock)) for the whole task, so runs that share it wait for each other, at
        most O(lock_timeout) seconds. It is saved after each user's refresh.
      - A store that lists a user twice, or gives a key twice in one entry, fails the task before any request,
        naming the user and the lines; nothing is written.
      - Recovery files beside it (C(STORE.recovered-*), left by a run that could not write the store) are
        merged back first, when they hold a newer pair than the store. A file with an older pair is deleted
        (with a warning) when the store's own pair works, merged when Exist refuses the store's pair, and
        otherwise left in place with a warning. Beside an entry marked C(refresh_outcome_unknown), the file's
        pair is tried instead, and merged when it works, the file deleted (with a warning) when Exist refuses it.
    type: path
  refresh_before:
    description:
      - With O(grant=refresh_token) and O(store), refresh only the users whose access token expires within
        this many days (0 to 3660), so a scheduled run is idempotent. V(0) refreshes only expired tokens.
      - Without it, every user of the store is refreshed.
      - A user whose entry is marked C(refresh_outcome_unknown) (the answer to an earlier refresh was lost) is
        refreshed whatever this says, which settles the mark. See RV(failed_items).
      - Text is taken when it is ASCII digits (V('30')); anything else, such as V('²'), fails naming the option.
    type: int
  lock_timeout:
    description:
      - With O(store), the most seconds (0 to 3600) the task waits for another run that holds the store's lock
        (C(STORE.lock), beside the store). It then fails before any request, naming the lock file and the holder
        (its process ID, host and start, which every holder records in the lock file).
      - A refresh of a whole store of a thousand users can take minutes (a request and a store write per user);
        V(0) fails at once when the store is locked. Text is taken when it is ASCII digits.
    type: int
    default: 600
notes:
  - The token requests go to C(/oauth2/access_token) under O(api_url). One that got no answer within O(timeout),
    or that may have reached Exist, is never retried (a refresh Exist applied has already ended the old pair);
    see RV(failed_items). The profile read that tells what happened is made once.
  - In a play whose C(module_defaults) for C(group/existio.exist.exist) set O(existio.exist.attribute#module:token)
    and O(existio.exist.attribute#module:token_type) for the other modules, this module ignores those two; the
    other connection options apply to it too.
  - A refresh that fails for a reason every user would share (the client ID or secret refused, Exist unreachable,
    rate-limited), or whose outcome is unknown, stops the run; the users left are reported as V(not_attempted).
  - An entry marked C(refresh_outcome_unknown) holds a pair that may no longer work. The next refresh run settles
    it first; until then the mark stays in the store, where the C(existio.exist.users) inventory plugin sees it.
  - A user whose entry is marked C(reauthorization_needed) is not refreshed and is reported at every run until a
    new code is exchanged into the store for that user.
  - The result holds no token, except without O(store) (the new pair) or when no file could hold a new pair
    (RV(unsaved_pair)); such a result is returned as a C(no_log) result, hidden from the output. Register it.
seealso:
  - name: Exist API, OAuth2 authentication
    description: The authorisation page, the code exchange and the refresh.
    link: https://developer.exist.io/reference/authentication/oauth2/
  - name: Exist tokens from Ansible
    description: The whole flow, the token store, and how to recover from each failure.
    link: https://github.com/existio/exist/blob/main/docs/docsite/rst/guide_tokens.rst
  - module: existio.exist.attribute
'''

EXAMPLES = r'''
- name: Keep the Exist tokens of every user in a vault-encrypted store
  hosts: localhost
  gather_facts: false
  vars:
    exist_client_id: my-client-id
    exist_client_secret: "{{ vault_exist_client_secret }}"   # from a vault-encrypted vars file
  tasks:
    - name: Exchange the code a user just brought back from the authorisation page
      existio.exist.token:
        grant: authorization_code
        code: "{{ exist_code }}"   # ansible-playbook tokens.yml -e exist_code=...
        redirect_uri: https://my-service.example/exist/callback
        client_id: "{{ exist_client_id }}"
        client_secret: "{{ exist_client_secret }}"
        store: "{{ playbook_dir }}/exist-tokens.yml"
      when: exist_code is defined
      register: exchanged

    - name: Refresh, once a month, the tokens that expire within 60 days
      existio.exist.token:
        grant: refresh_token
        client_id: "{{ exist_client_id }}"
        client_secret: "{{ exist_client_secret }}"
        store: "{{ playbook_dir }}/exist-tokens.yml"
        refresh_before: 60
      register: refresh

    - name: Say who was refreshed
      ansible.builtin.debug:
        msg: "Refreshed {{ refresh.refreshed | join(', ') or 'nobody' }}; next expiries: {{ refresh.expires_at }}"

- name: Exchange a code without a store, and keep the pair yourself
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The pair is in the registered result (hidden from the output)
      existio.exist.token:
        grant: authorization_code
        code: "{{ exist_code }}"
        redirect_uri: https://my-service.example/exist/callback
        client_id: my-client-id
        client_secret: "{{ vault_exist_client_secret }}"
      register: pair

    - name: Keep it where your service reads it
      ansible.builtin.copy:
        dest: /etc/my-service/exist-{{ pair.username }}.json
        content: "{{ {'access_token': pair.access_token, 'refresh_token': pair.refresh_token} | to_json }}"
        mode: '0600'
      no_log: true

- name: Try it offline against the local emulator (its demo client and code)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Exchange the emulator's demo code into a store
      existio.exist.token:
        api_url: http://127.0.0.1:8787
        grant: authorization_code
        code: demo-code
        redirect_uri: http://localhost/callback
        client_id: demo-client
        client_secret: demo-secret
        store: /tmp/exist-tokens.yml
'''

RETURN = r'''
changed:
  description:
    - Whether a new pair was issued, or the store changed (a pair merged back from a recovery file, an entry
      marked C(reauthorization_needed)). In check mode, whether a real run would.
  returned: always
  type: bool
  sample: true
refreshed:
  description:
    - The users whose pair this run refreshed, sorted. In check mode, those a real run would refresh.
  returned: always
  type: list
  elements: str
  sample: [alice, bob]
failed_items:
  description:
    - What failed, each with C(username) (V(null) when it is not known yet), C(error_code) and C(error), a
      sentence that names no secret. Any entry here fails the task. Some carry C(authorize_url) (the address
      where the user authorises your client again; no secret in it), C(recovery_file) or C(refresh_sent_at).
    - V(reauthorization_needed), the pair no longer works, and the user must authorise again at C(authorize_url);
      the store entry is kept and marked so. Either Exist refused the refresh token (invalid_grant; for an entry
      marked C(refresh_outcome_unknown), the lost refresh did happen), or the answer to a refresh was lost and
      the old access token is now refused.
    - V(refresh_failed), Exist refused the refresh (for example a wrong client secret), or it could not be sent;
      nothing was issued, and the entry is unchanged (with its C(refresh_outcome_unknown) mark, if it had one).
    - V(outcome_unknown), the answer to the token request was lost (a timeout, a dropped connection, a C(5xx),
      an answer that is not a token), and whether Exist issued a pair cannot be told, since Exist may apply a refresh
      after its answer was given up on, so the old access token still working proves nothing. With O(store),
      the entry keeps its old pair, marked C(refresh_outcome_unknown) with the UTC time the refresh was sent
      (also in C(refresh_sent_at)); the next refresh run sends that refresh again, whatever O(refresh_before)
      says, and so settles it (a new pair, or V(reauthorization_needed)). For a code, have the user authorise
      again.
    - V(store_write_failed), a new pair was issued, and the store could not be written; the pair is in
      C(recovery_file), which the next run merges back.
    - V(pair_not_saved), a new pair was issued, and no file could hold it; it is in RV(unsaved_pair).
    - V(profile_failed), a new pair was issued, and its profile could not be read; it is in C(recovery_file)
      until the next run learns the username.
    - V(exchange_failed), Exist refused the code (or the exchange could not be sent).
    - V(not_attempted), not refreshed because an earlier refresh of this run failed in a way that could repeat.
  returned: always
  type: list
  elements: dict
  sample:
    - username: carol
      error_code: reauthorization_needed
      error: >-
        POST /oauth2/access_token: Exist answered 400 (invalid_grant: the code or refresh token is not valid...):
        the refresh token no longer works. The user must authorise again at the URL given...
      authorize_url: https://exist.io/oauth2/authorize?response_type=code&client_id=my-client-id&scope=mood_read+mood_write
api_requests:
  description: How many HTTP requests this task sent to Exist, token requests and profile reads.
  returned: always
  type: int
  sample: 2
store:
  description: The absolute path of O(store).
  returned: with O(store)
  type: str
  sample: /home/me/exist-tokens.yml
recovered:
  description: The users whose newer pair this run merged back into the store from recovery files.
  returned: with O(store)
  type: list
  elements: str
  sample: []
expires_at:
  description:
    - With O(store), a dictionary of every user of the store to when their access token expires (ISO 8601, UTC),
      after the run; in check mode, as it stands.
    - Without O(store), when the new access token expires.
  returned: always, except when the task failed before anything was issued without O(store)
  type: raw
  sample: {alice: '2027-11-28T19:00:00Z', bob: '2027-06-02T08:30:00Z'}
username:
  description: The Exist username of the new pair (from the profile), or of the refreshed O(refresh_token).
  returned: when known
  type: str
  sample: alice
access_token:
  description: Without O(store), the new access token. The whole result is then C(no_log).
  returned: success, without O(store), not in check mode
  type: str
  sample: 3f8a0c...
refresh_token:
  description: Without O(store), the new refresh token. The whole result is then C(no_log).
  returned: success, without O(store), not in check mode
  type: str
  sample: 9b1d44...
scope:
  description: Without O(store), the scopes Exist granted, space-separated.
  returned: success, without O(store), not in check mode
  type: str
  sample: mood_read mood_write
unsaved_pair:
  description:
    - With O(store), a new pair that neither the store nor a recovery file could hold (C(pair_not_saved)), as a
      store entry (C(username), C(access_token), C(refresh_token), C(expires_at), C(scope)). The whole result is
      then C(no_log). Put it into the store before anything else.
  returned: when a new pair could not be written anywhere
  type: dict
  sample: {username: alice, access_token: 3f8a0c..., refresh_token: 9b1d44..., expires_at: '2027-11-28T19:00:00Z', scope: mood_read}
msg:
  description: What failed, user by user, and who was refreshed all the same.
  returned: failure
  type: str
  sample: "1 failed: user carol: reauthorization_needed (...). Refreshed all the same: alice, bob"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.existio.exist.plugins.module_utils._connection_options import (
    TOKEN_OPTIONS,
    TRANSPORT,
    connection_argument_spec,
)

# The connection options of the group that make no sense for this module: its
# tokens come from code, refresh_token or store. Left out of its options; the
# action plugin drops them when module_defaults set them for the whole group.
GROUP_OPTIONS_IGNORED = TOKEN_OPTIONS
# The rules between options, for AnsibleModule and for the action plugin's check.
ARGUMENT_RULES = dict(
    required_if=[
        ('grant', 'authorization_code', ('code', 'redirect_uri')),
        ('grant', 'refresh_token', ('refresh_token', 'store'), True),
    ],
    mutually_exclusive=[('code', 'refresh_token'), ('refresh_token', 'refresh_before')],
    required_by={'refresh_before': 'store'},
)


def argument_spec():
    """The options of existio.exist.token (the action plugin checks the task against it)."""
    spec = connection_argument_spec(TRANSPORT)
    spec.update(
        grant=dict(type='str', required=True, choices=['authorization_code', 'refresh_token']),
        client_id=dict(type='str', required=True),
        client_secret=dict(type='str', required=True, no_log=True),
        code=dict(type='str', no_log=True),
        redirect_uri=dict(type='str'),
        refresh_token=dict(type='str', no_log=True),
        store=dict(type='path'),
        refresh_before=dict(type='int'),
        lock_timeout=dict(type='int', default=600),
    )
    return spec


def main():
    # Only reached when the action plugin is missing (a copy of this file alone): the work needs the
    # controller (the store, the vault secrets), so the module checks its options and stops.
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **ARGUMENT_RULES)
    module.fail_json(
        msg='existio.exist.token runs in the controller through its action plugin, which was not found: install '
        'the whole existio.exist collection and call the task as existio.exist.token'
    )


if __name__ == '__main__':
    main()
