#!/usr/bin/env bash
# `make demo-fleet`: the fleet workflow end to end against the emulator.
#   1. three users authorise the service; existio.exist.token exchanges their codes into a token store
#   2. the existio.exist.users inventory plugin turns the store into one host per user
#   3. one existio.exist.attribute task converges every user; the fleet_report callback writes the report
#   4. the same run again: the report must say 0 changed
#   5. existio.exist.token refreshes the store (refresh_before)
#   6. the converge again, with the new tokens: still 0 changed
# It fails unless every step does what it says.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

core="${DEMO_CORE:-2.19}"
bash "$ROOT/tests/tools/venv.sh" "$core"
venv="$(venv_dir "$core")"
export PATH="$venv/bin:$PATH"

collections="$BUILD/collections"
dist="$BUILD/dist"
work="$BUILD/demo-fleet"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_STDOUT_CALLBACK=default
export ANSIBLE_NOCOLOR=1
log "Building the collection"
rm -rf "$dist" "$collections/ansible_collections/existio/exist" "$work"
mkdir -p "$dist" "$collections" "$work"
(cd "$ROOT" && ansible-galaxy collection build --force --output-path "$dist" . >/dev/null)
tarball="$(ls "$dist"/existio-exist-*.tar.gz)"
ansible-galaxy collection install --force -p "$collections" "$tarball" >/dev/null

trap stop_emulator EXIT
start_emulator "$core" "$BUILD/demo-fleet-emulator.log" --port 0 --fleet 3,10 || die "the emulator did not start"
url="$EMU_URL"
store="$work/exist-tokens.yml"
inventory="$work/fleet.exist_users.yml"
cat > "$inventory" <<INVENTORY
plugin: existio.exist.users
store: $store
INVENTORY
export EXIST_FLEET_REPORT_DIR="$work/report"
report="$EXIST_FLEET_REPORT_DIR/exist-fleet-report-latest.json"

report_says() {  # report_says JQ-LIKE-PYTHON-EXPRESSION: the expression over the JSON report, printed
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$report" "$1"
}

cd "$ROOT"
log "1. Three users authorise the service; their codes are exchanged into ${store#"$ROOT"/}"
ansible-playbook playbooks/demo_fleet_tokens.yml -e "exist_api_url=$url" -e "exist_store=$store"
[[ "$(stat -c %a "$store")" == 600 ]] || die "the token store is not mode 0600"

log "2. The inventory, from the store"
ansible-inventory -i "$inventory" --graph
[[ "$(ansible-inventory -i "$inventory" --graph | grep -c 'user000')" -ge 3 ]] || die "the inventory lacks the three users"

log "3. Converge every user, with the fleet report"
ANSIBLE_CALLBACKS_ENABLED=existio.exist.fleet_report ansible-playbook -i "$inventory" playbooks/demo_fleet.yml \
    -e "exist_api_url=$url"
cat "$EXIST_FLEET_REPORT_DIR/exist-fleet-report-latest.md"
log "4. The same run again: nothing to change"
ANSIBLE_CALLBACKS_ENABLED=existio.exist.fleet_report ansible-playbook -i "$inventory" playbooks/demo_fleet.yml \
    -e "exist_api_url=$url"
[[ "$(report_says "r['users']['changed']")" == 0 ]] || die "the second converge changed something: see $report"
[[ "$(report_says "r['users']['failed']")" == 0 ]] || die "the second converge failed for some user: see $report"

log "5. Refresh the store"
before="$(sha256sum "$store")"
ansible-playbook playbooks/demo_fleet_tokens.yml -e "exist_api_url=$url" -e "exist_store=$store" -e demo_refresh=true
[[ "$(sha256sum "$store")" != "$before" ]] || die "the refresh did not rewrite the store"

log "6. Converge again with the new tokens"
ANSIBLE_CALLBACKS_ENABLED=existio.exist.fleet_report ansible-playbook -i "$inventory" playbooks/demo_fleet.yml \
    -e "exist_api_url=$url"
[[ "$(report_says "r['users']['changed']")" == 0 ]] || die "the converge after the refresh changed something"
[[ "$(report_says "r['users']['failed']")" == 0 ]] || die "the converge after the refresh failed: see $report"
log "The fleet demo did what it says: report in ${EXIST_FLEET_REPORT_DIR#"$ROOT"/}"
