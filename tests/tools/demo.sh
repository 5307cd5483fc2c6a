#!/usr/bin/env bash
# `make demo`: set up the ansible-core 2.19 virtualenv, build and install the
# collection under build/collections, start the emulator with its default
# world on a free port, run playbooks/demo.yml against it twice, stop the
# emulator. The demo acquires attributes, creates a custom attribute
# (existio.exist.attribute) and sets a week of values (existio.exist.values);
# the second run must show changed=0, else this fails.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

core="${DEMO_CORE:-2.19}"
playbook="$ROOT/playbooks/demo.yml"
[[ -f "$playbook" ]] || die "playbooks/demo.yml does not exist yet: nothing to demo."

bash "$ROOT/tests/tools/venv.sh" "$core"
venv="$(venv_dir "$core")"
export PATH="$venv/bin:$PATH"

collections="$BUILD/collections"
dist="$BUILD/dist"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
log "Building the collection"
rm -rf "$dist" "$collections/ansible_collections/existio/exist"
mkdir -p "$dist" "$collections"
(cd "$ROOT" && ansible-galaxy collection build --force --output-path "$dist" .)
tarball="$(ls "$dist"/existio-exist-*.tar.gz)"
log "Installing $(basename "$tarball") into ${collections#"$ROOT"/}"
ansible-galaxy collection install --force -p "$collections" "$tarball" 2>&1 | grep -v "^Starting\|^Process install"

trap stop_emulator EXIT
start_emulator "$core" "$BUILD/demo-emulator.log" --port 0 || die "the emulator did not start"
url="$EMU_URL"
log "The emulator serves its default world (user demo, token demo-token)"

export ANSIBLE_STDOUT_CALLBACK=default
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
unset ANSIBLE_NOCOLOR
[[ -t 1 ]] || export ANSIBLE_NOCOLOR=1
cd "$ROOT"
log "First run: ansible-playbook playbooks/demo.yml -e exist_api_url=$url"
ansible-playbook playbooks/demo.yml -e "exist_api_url=$url" "$@"
log "Second run: the same playbook again; it should report changed=0"
second="$BUILD/demo-second-run.log"
ansible-playbook playbooks/demo.yml -e "exist_api_url=$url" "$@" | tee "$second"
# Colour codes (ANSIBLE_FORCE_COLOR=1) are taken out before looking at the recap.
sed 's/\x1b\[[0-9;]*m//g' "$second" | grep -Eq '^localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0 ' \
    || die "the second run of the demo changed something: see its PLAY RECAP above"
log "The second run changed nothing"
