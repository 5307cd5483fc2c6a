#!/usr/bin/env bash
# Lay a fresh copy of the checkout out under
# build/ansible_collections/existio/exist/ (a real directory, .git and
# working-tree changes included), which is where ansible-test must run.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

# An argument lays it out there instead (another .../ansible_collections/existio/exist).
COPY="${1:-$COPY}"
log "Laying the checkout out in ${COPY#"$ROOT"/}"
rm -rf "$COPY"
mkdir -p "$COPY"
if command -v rsync >/dev/null 2>&1; then
    rsync -a --delete --exclude=/.venv/ --exclude=/build/ --exclude=/tests/output/ \
        --exclude=/.ansible/ --exclude=/tests/integration/integration_config.yml \
        "$ROOT"/ "$COPY"/
else
    (cd "$ROOT" && tar --exclude=./.venv --exclude=./build --exclude=./tests/output \
        --exclude=./.ansible --exclude=./tests/integration/integration_config.yml -cf - .) \
        | tar -C "$COPY" -xf -
fi
