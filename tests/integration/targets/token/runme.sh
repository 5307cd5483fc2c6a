#!/usr/bin/env bash
# existio.exist.token against the emulator, in the controller: exchange, refresh_before and
# idempotence, check mode, a vault-encrypted store that stays encrypted, lost answers (the entry
# marked refresh_outcome_unknown, then settled), refused secrets, the marked user re-authorised
# (token.yml, with --vault-id prod@...); then the store's details (token-store.yml, with a vault
# password file): the vault label kept, a symbolic link written through, a lock held by another
# process, a user listed twice. Both runs are at -vvvv, and helper.py then fails if any secret
# (the client secret, the codes, every token seeded or issued during the run) appears in their
# output. The test command writes the emulator's address to tests/integration/integration_config.yml,
# two levels up from this target's working directory.
set -eu

config=../../integration_config.yml
out="${OUTPUT_DIR:-$(mktemp -d)}"
log="$out/token-vvvv.log"

python3 helper.py prepare "$config" "$out"
ansible-vault encrypt --vault-id "prod@$out/vault-password" "$out/store-vault.yml" >/dev/null 2>&1

status=0
ansible-playbook token.yml -i "${INVENTORY_PATH:-localhost,}" -e "@$config" -e "token_dir=$out" \
    --vault-id "prod@$out/vault-password" "$@" -vvvv >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    cat "$log"
    echo "token.yml failed with status $status" >&2
    exit 1
fi
grep -A 1 'PLAY RECAP' "$log"

# Another process holds the lock of store-client.yml while token-store.yml runs.
python3 helper.py hold "$out/store-client.yml.lock" >"$out/holder.out" &
holder=$!
trap 'kill "$holder" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q held "$out/holder.out" && break
    sleep 0.1
done
grep -q held "$out/holder.out" || { echo "the lock holder did not start" >&2; exit 1; }

store_log="$out/token-store-vvvv.log"
ansible-playbook token-store.yml -i "${INVENTORY_PATH:-localhost,}" -e "@$config" -e "token_dir=$out" \
    -e "lock_holder_pid=$holder" --vault-password-file "$out/vault-password" "$@" -vvvv >"$store_log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    cat "$store_log"
    echo "token-store.yml failed with status $status" >&2
    exit 1
fi
grep -A 1 'PLAY RECAP' "$store_log"
cat "$store_log" >>"$log"
python3 helper.py check "$config" "$log"
