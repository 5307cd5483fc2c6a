# Shared helpers for the test toolchain. Source it; do not run it.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
BUILD="$ROOT/build"
COPY="$BUILD/ansible_collections/existio/exist"
RESULTS="$BUILD/results"
PYBIN="$BUILD/pybin"

# ansible-core version -> Python minor version used with it. 2.16 is the oldest
# ansible-core the collection supports (meta/runtime.yml); it runs on Python
# 3.10-3.12. 2.19 is the newest for Python 3.11; 2.20 and later need 3.12.
declare -A PY_FOR_CORE=([2.16]=3.11 [2.19]=3.11 [2.21]=3.12)

export ANSIBLE_STDOUT_CALLBACK=default
export ANSIBLE_FORCE_COLOR=0
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
export PY_COLORS=0
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Run pip (or anything) hiding this machine's harmless "Location ... is ignored" noise.
quiet_pip() {
    local rc=0
    "$@" 2>&1 | grep -v "^WARNING: Location 'file://.*' is ignored" || true
    rc="${PIPESTATUS[0]}"
    return "$rc"
}

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 2; }

venv_dir() { printf '%s/.venv/ansible-%s\n' "$ROOT" "$1"; }

# find_python 3.11 -> absolute path of a real (non-shim) interpreter.
# Override with EXIST_PYTHON_3_11=/path/to/python3.11.
find_python() {
    local minor="$1" var cand found=""
    var="EXIST_PYTHON_${minor//./_}"
    local -a cands=()
    [[ -n "${!var:-}" ]] && cands+=("${!var}")
    local root
    for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv; do
        [[ -n "$root" && -d "$root/versions" ]] || continue
        while IFS= read -r cand; do
            cands+=("$cand")
        done < <(printf '%s\n' "$root"/versions/"$minor".*/bin/python"$minor" | sort -V -r)
    done
    cands+=("/usr/bin/python$minor" "/usr/local/bin/python$minor")
    for cand in "${cands[@]}"; do
        [[ -x "$cand" ]] || continue
        # Must really be that version and really run (pyenv shims exit 127).
        if found="$("$cand" -c 'import sys; print(sys.executable) if "%d.%d" % sys.version_info[:2] == sys.argv[1] else sys.exit(3)' "$minor" 2>/dev/null)"; then
            printf '%s\n' "$found"
            return 0
        fi
    done
    die "Python $minor not found. Looked in \$PYENV_ROOT/versions/$minor.*, ~/.pyenv/versions/$minor.*, /usr/bin, /usr/local/bin. Install it (e.g. 'pyenv install $minor') or set EXIST_PYTHON_${minor//./_}=/path/to/python$minor."
}

# A folder of symlinks to the real interpreters, so that ansible-test's
# `--python X.Y` finds `pythonX.Y` without going through pyenv shims.
make_pybin() {  # make_pybin 3.11 [3.12...]
    mkdir -p "$PYBIN"
    local py real
    for py in "$@"; do
        real="$(find_python "$py")" || return 1
        ln -sfn "$real" "$PYBIN/python$py"
    done
}

# Any usable Python 3 for the helper scripts.
any_python() {
    find_python 3.11 2>/dev/null || find_python 3.12 2>/dev/null || command -v python3
}

# Environment for running a tool from the venv of ansible-core $1.
venv_path() {
    printf '%s/bin:%s:%s\n' "$(venv_dir "$1")" "$PYBIN" "$PATH"
}

# Write one stage result: name passed failed skipped status note...
write_result() {
    local name="$1"; shift
    mkdir -p "$RESULTS"
    printf '%s\n' "$*" > "$RESULTS/$name.result"
}

# The emulator, started from a virtualenv on a free port. Callers set their own traps.
EMU_PID=""
EMU_URL=""

start_emulator() {  # start_emulator CORE LOGFILE [emulator args] -> sets EMU_PID, EMU_URL
    local core="$1"
    shift
    start_emulator_in "$(venv_dir "$core")" "$@"
}

# start_emulator_in VENV LOGFILE [emulator args]: the emulator installed in any
# virtualenv (without its exist-emulator script: from this checkout's tree).
start_emulator_in() {
    local venv="$1" logfile="$2" line="" i
    local -a cmd
    if [[ -x "$venv/bin/exist-emulator" ]]; then
        cmd=("$venv/bin/exist-emulator")
    else
        cmd=(env "PYTHONPATH=$ROOT/tests/emulator" "$venv/bin/python" -m exist_emulator)
    fi
    shift 2
    : > "$logfile"
    "${cmd[@]}" "$@" > "$logfile" 2>&1 &
    EMU_PID=$!
    for ((i = 0; i < 300; i++)); do
        line="$(head -n 1 "$logfile" 2>/dev/null)"
        [[ "$line" == *"listening on http://"* ]] && break
        kill -0 "$EMU_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ "$line" != *"listening on http://"* ]]; then
        printf 'emulator did not start (%s):\n' "${cmd[*]} $*" >&2
        cat "$logfile" >&2
        stop_emulator
        return 1
    fi
    EMU_URL="http://127.0.0.1:${line##*:}"
    EMU_URL="${EMU_URL%%[[:space:]]*}"
    log "Emulator (pid $EMU_PID) listening on $EMU_URL"
}

stop_emulator() {
    [[ -n "$EMU_PID" ]] || return 0
    if kill -0 "$EMU_PID" 2>/dev/null; then
        kill -TERM "$EMU_PID" 2>/dev/null
        local i
        for ((i = 0; i < 50; i++)); do
            kill -0 "$EMU_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$EMU_PID" 2>/dev/null && kill -KILL "$EMU_PID" 2>/dev/null
    fi
    wait "$EMU_PID" 2>/dev/null
    log "Emulator stopped"
    EMU_PID=""
}
