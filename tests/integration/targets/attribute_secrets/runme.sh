#!/usr/bin/env bash
# Scenario: the token string appears nowhere in the output of a run at -vvvv,
# whatever happens (success, takeover warning, diff, check mode, 401, 403,
# refused http://). The test command writes the emulator's address to
# tests/integration/integration_config.yml, which ansible-test copies two
# levels up from this target's working directory.
set -eu

config=../../integration_config.yml
log="${OUTPUT_DIR:-.}/secrets-vvvv.log"

reset_world() {
    # Load the world (which holds the tokens) outside the output we check.
    python3 - "$config" <<'PY'
import sys
import urllib.request
import yaml
with open(sys.argv[1]) as handle:
    url = yaml.safe_load(handle)['exist_emulator_url']
with open('seed.json', 'rb') as handle:
    request = urllib.request.Request(url + '/_emulator/reset', data=handle.read(), method='POST',
                                     headers={'Content-Type': 'application/json'})
urllib.request.urlopen(request).read()
PY
}

: >"$log"
# Both paths: in the worker process, and through the module as on a remote host.
for in_worker in true false; do
    reset_world
    status=0
    ansible-playbook secrets.yml -i "${INVENTORY_PATH:-localhost,}" -e "@$config" \
        -e "existio_exist_worker_process=$in_worker" "$@" -vvvv >>"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        cat "$log"
        echo "secrets.yml failed with status $status (existio_exist_worker_process=$in_worker)" >&2
        exit 1
    fi
done

leaks=0
for token in sEcReT-oauth-9f3a17c2 sEcReT-simple-4be8d01a sEcReT-bogus-77c0e5d9; do
    count=$(grep -c -F -- "$token" "$log" || true)
    if [ "$count" -ne 0 ]; then
        echo "a token appears $count time(s) in the -vvvv output" >&2
        leaks=1
    fi
done
lines=$(wc -l <"$log")
echo "checked $lines lines of -vvvv output for 3 tokens"
[ "$lines" -gt 200 ] || { echo "the -vvvv output is suspiciously short" >&2; exit 1; }
exit "$leaks"
