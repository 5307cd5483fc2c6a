#!/usr/bin/env bash
# existio.exist.token against the emulator, in the controller: exchange, refresh_before and
# idempotence, check mode, a vault-encrypted store that stays encrypted, lost answers, refused
# secrets, the marked user re-authorised. The whole run is at -vvvv, and helper.py then fails if
# any secret (the client secret, the codes, every token seeded or issued during the run) appears
# in its output. The test command writes the emulator's address to
# tests/integration/integration_config.yml, two levels up from this target's working directory.
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
python3 helper.py check "$config" "$log"
