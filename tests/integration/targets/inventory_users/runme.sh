#!/usr/bin/env bash
# Scenario: setting up the existio.exist.users inventory as an Automation Platform inventory source does
# (issue 19, item 8): the store from EXIST_TOKEN_STORE (what a credential injects) when the file names none, a
# templated store path, an error naming both when neither gives it, a warning naming the cache options it
# ignores; and include_token=false end to end: a vault-encrypted store, the inventory shows only the
# expression, a playbook's tasks get each user's own token. No token in any output. No API request.
set -eu

work="${OUTPUT_DIR:-.}/inventory-users-run"
rm -rf "$work"
mkdir -p "$work/secrets" "$work/inventory"
log="$work/output.log"
: >"$log"
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true
export ANSIBLE_INVENTORY_ENABLED=existio.exist.users

fail() { tail -n 40 "$log" >&2; echo "FAILED: $*" >&2; exit 1; }
no_token_in() {
    for user in alice bob; do
        ! grep -q -F -- "inv-$user-s3cret" "$@" || fail "a token in $*"
    done
}

cat >"$work/secrets/tokens.yml" <<'YAML'
alice:
  access_token: inv-alice-s3cret
  refresh_token: inv-alice-refresh
  expires_at: '2030-01-01T00:00:00Z'
  scope: mood_read mood_write
bob:
  access_token: inv-bob-s3cret
  refresh_token: inv-bob-refresh
  expires_at: '2030-01-01T00:00:00Z'
  scope: mood_read
YAML
store="$(cd "$work/secrets" && pwd)/tokens.yml"

# -- the store from EXIST_TOKEN_STORE ----------------------------------------
printf 'plugin: existio.exist.users\n' >"$work/inventory/env.exist_users.yml"
EXIST_TOKEN_STORE="$store" ansible-inventory -i "$work/inventory/env.exist_users.yml" --graph \
    >"$work/env-graph.txt" 2>>"$log" || fail "EXIST_TOKEN_STORE"
grep -q -- '|--alice' "$work/env-graph.txt" || fail "alice from EXIST_TOKEN_STORE"
grep -q -- '|--bob' "$work/env-graph.txt" || fail "bob from EXIST_TOKEN_STORE"
echo "EXIST_TOKEN_STORE: the store of a file that names none"

# -- neither ---------------------------------------------------------------------
status=0
env -u EXIST_TOKEN_STORE ansible-inventory -i "$work/inventory/env.exist_users.yml" --graph \
    >"$work/none.txt" 2>"$work/none-stderr.txt" || status=$?
cat "$work/none-stderr.txt" >>"$log"
[ "$status" -ne 0 ] || fail "no store at all did not fail"
tr -s ' \n' ' ' <"$work/none-stderr.txt" \
    | grep -q 'no token store: give its path as store in this file or in the environment variable EXIST_TOKEN_STORE' \
    || fail "the error does not name both"
echo "neither the file nor EXIST_TOKEN_STORE: an error naming both"

# -- a templated store, cache options ------------------------------------------------
cat >"$work/inventory/templated.exist_users.yml" <<'YAML'
plugin: existio.exist.users
store: "{{ lookup('ansible.builtin.env', 'FLEET_SECRETS') }}/tokens.yml"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_timeout: 3600
YAML
FLEET_SECRETS="$work/secrets" ansible-inventory -i "$work/inventory/templated.exist_users.yml" --graph \
    >"$work/templated-graph.txt" 2>"$work/templated-stderr.txt" || fail "templated store"
cat "$work/templated-stderr.txt" >>"$log"
grep -q -- '|--alice' "$work/templated-graph.txt" || fail "users from the templated store"
tr -s ' \n' ' ' <"$work/templated-stderr.txt" \
    | grep -q 'cache, cache_plugin, cache_timeout are ignored: this inventory plugin does not cache' \
    || fail "no warning naming the cache options"
echo "a templated store; the cache options ignored with a warning naming them"

# -- include_token=false, vault-encrypted ------------------------------------------------
printf 'inventory-users-vault-password\n' >"$work/vault-pass"
cp "$store" "$work/secrets/tokens.vault.yml"
ansible-vault encrypt --vault-password-file "$work/vault-pass" "$work/secrets/tokens.vault.yml" >>"$log" 2>&1
cat >"$work/inventory/vault.exist_users.yml" <<'YAML'
plugin: existio.exist.users
store: ../secrets/tokens.vault.yml
include_token: false
YAML
ansible-inventory -i "$work/inventory/vault.exist_users.yml" --vault-password-file "$work/vault-pass" --list \
    >"$work/vault-list.json" 2>>"$log" || fail "include_token=false inventory"
grep -q -F "lookup('existio.exist.stored_token'" "$work/vault-list.json" || fail "exist_token is not the lookup"
ansible-playbook -i "$work/inventory/vault.exist_users.yml" --vault-password-file "$work/vault-pass" -vvv \
    uses_token.yml >"$work/playbook.txt" 2>&1 || { cat "$work/playbook.txt" >>"$log"; fail "the playbook"; }
cat "$work/playbook.txt" >>"$log"
for user in alice bob; do
    grep -q "^$user .*ok=1 .*failed=0" "$work/playbook.txt" || fail "the task of $user"
done
echo "include_token=false: the inventory holds the lookup, every task gets its user's token"

no_token_in "$work/env-graph.txt" "$work/templated-graph.txt" "$work/vault-list.json" "$log"
echo "no token in $(wc -l <"$log") lines of output"
