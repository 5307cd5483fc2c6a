#!/usr/bin/env bash
# `make bench` and `make bench-requests`: set up the ansible-core 2.19 / Python 3.11
# virtualenv (tests/tools/venv.sh), build and install the collection under
# build/perf/collections (what users get), then run tests/perf/bench.py, which
# starts and stops its own emulator on 127.0.0.1.
#
#   tests/perf/bench.sh              all five parts; writes docs/docsite/rst/performance.rst
#   tests/perf/bench.sh requests     only the requests part (exit 1 if a ratio is not 1.00)
#   tests/perf/bench.sh all --large  1000 users in the scale part (any bench.py option may follow)
#   tests/perf/bench.sh all --parts fleet   only the fleet part (200 users; the page is not written)
#   tests/perf/bench.sh all --parts chaos --chaos-users 100   a quick chaos run (the page is not written)
set -euo pipefail
# shellcheck source=../tools/common.sh
source "$(dirname "$0")/../tools/common.sh"

what="${1:-all}"
[[ $# -gt 0 ]] && shift
core="${BENCH_CORE:-2.19}"

bash "$ROOT/tests/tools/venv.sh" "$core"
venv="$(venv_dir "$core")"

perf="$BUILD/perf"
collections="$perf/collections"
dist="$perf/dist"
log "Building and installing the collection into ${collections#"$ROOT"/}"
rm -rf "$dist" "$collections"
mkdir -p "$dist" "$collections"
(cd "$ROOT" && PATH="$venv/bin:$PATH" ansible-galaxy collection build --force --output-path "$dist" . >/dev/null)
tarball="$(ls "$dist"/existio-exist-*.tar.gz)"
ANSIBLE_COLLECTIONS_PATH="$collections" PATH="$venv/bin:$PATH" ansible-galaxy collection install --force -p "$collections" "$tarball" >/dev/null

work="$perf/work"
rm -rf "$work"
mkdir -p "$work"
case "$what" in
    requests)
        exec "$venv/bin/python" "$ROOT/tests/perf/bench.py" --collections-path "$collections" --workdir "$work" \
            --parts requests "$@"
        ;;
    all)
        exec "$venv/bin/python" "$ROOT/tests/perf/bench.py" --collections-path "$collections" --workdir "$work" \
            --rst "$ROOT/docs/docsite/rst/performance.rst" "$@"
        ;;
    *) die "unknown part '$what' (requests, all)" ;;
esac
