#!/usr/bin/env bash
# Create or refresh the virtualenv for one ansible-core version:
#   tests/tools/venv.sh 2.19   -> .venv/ansible-2.19 on Python 3.11
#   tests/tools/venv.sh 2.21   -> .venv/ansible-2.21 on Python 3.12
# It installs tests/requirements-dev-<core>.txt and the emulator
# (tests/emulator, when it has a pyproject.toml), then seeds ansible-test's
# get-pip cache so `--venv` works offline. A stamp file keyed on the hash of
# the inputs makes a second run a no-op.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

core="${1:?usage: venv.sh <ansible-core minor version, e.g. 2.19>}"
py_minor="${PY_FOR_CORE[$core]:-}"
[[ -n "$py_minor" ]] || die "unknown ansible-core version '$core' (known: ${!PY_FOR_CORE[*]})"

python="$(find_python "$py_minor")" || exit 2
venv="$(venv_dir "$core")"
reqs="$ROOT/tests/requirements-dev-$core.txt"
[[ -f "$reqs" ]] || die "missing $reqs"

make_pybin "$py_minor"

hash_inputs() {
    {
        echo "python=$python"
        cat "$reqs" "$ROOT/tests/unit/requirements.txt" "$ROOT/tests/integration/requirements.txt" 2>/dev/null
        cat "$0" "$(dirname "$0")/seed_get_pip.py"
    } | sha256sum | cut -d' ' -f1
}

emulator_hash() {
    local dir="$ROOT/tests/emulator"
    [[ -f "$dir/pyproject.toml" ]] || { echo none; return; }
    (cd "$dir" && find . -type f \
        -not -path './tests/*' -not -path '*/__pycache__/*' -not -path './build/*' \
        -not -path '*.egg-info/*' -not -name '*.pyc' -print0 \
        | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

stamp="$venv/.existio-stamp"
want="$(hash_inputs)"
emu_want="$(emulator_hash)"
have="" emu_have=""
if [[ -f "$stamp" ]]; then
    have="$(sed -n 1p "$stamp")"
    emu_have="$(sed -n 2p "$stamp")"
fi

if [[ "$have" != "$want" || ! -x "$venv/bin/python" ]]; then
    log "Creating $venv (ansible-core $core, $python)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    quiet_pip "$venv/bin/python" -m pip install -q -r "$reqs"
    emu_have=""
    quiet_pip "$venv/bin/python" "$(dirname "$0")/seed_get_pip.py"
    printf '%s\n%s\n' "$want" "" > "$stamp"
else
    log "Re-using $venv (up to date)"
    # The cache lives in ~ and may have been wiped independently.
    quiet_pip "$venv/bin/python" "$(dirname "$0")/seed_get_pip.py" --quiet
fi

if [[ "$emu_have" != "$emu_want" ]]; then
    if [[ "$emu_want" == none ]]; then
        log "tests/emulator has no pyproject.toml yet: emulator not installed"
    else
        log "Installing the emulator (tests/emulator) into $venv"
        # Build from a scratch copy so that no build/ or *.egg-info lands in the checkout.
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        (cd "$ROOT/tests/emulator" && tar --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ -cf - .) | tar -C "$tmp" -xf -
        quiet_pip "$venv/bin/python" -m pip install -q "$tmp"
        quiet_pip "$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$tmp"
    fi
    printf '%s\n%s\n' "$want" "$emu_want" > "$stamp"
fi
