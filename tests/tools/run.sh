#!/usr/bin/env bash
# The test driver behind `make test` and friends.
#
#   tests/tools/run.sh test             set-up, sanity, units, emulator tests, integration
#   tests/tools/run.sh sanity|units|emulator-tests|integration|fuzz|lint
#
# It creates the virtualenvs it needs (tests/tools/venv.sh), lays a copy of the
# checkout out under build/ansible_collections/existio/exist/, runs each stage
# there, keeps going after a failing stage, and ends with a summary whose last
# line is exactly `N passed, N failed`. Exit status 1 if anything failed or a
# stage could not run. Logs and ansible-test output: build/results/.
#
# Knobs (environment): SANITY_CORES="2.19 2.21" UNITS_CORES="2.19 2.21"
# INTEGRATION_CORES="2.19 2.21" ANSIBLE_TEST_ARGS="" (extra args for every
# ansible-test call, e.g. -v), PYTEST_ARGS="". An empty *_CORES skips that stage.
set -uo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

SANITY_CORES="${SANITY_CORES-2.19 2.21}"
UNITS_CORES="${UNITS_CORES-2.19 2.21}"
INTEGRATION_CORES="${INTEGRATION_CORES-2.19 2.21}"
EMULATOR_CORE="${EMULATOR_CORE:-2.19}"
read -r -a AT_ARGS <<< "${ANSIBLE_TEST_ARGS:-}"
read -r -a PT_ARGS <<< "${PYTEST_ARGS:-}"

TOOLS="$ROOT/tests/tools"
declare -A VENV_OK=()

HELPER_PY="$(any_python)" || die "no Python 3 found"
counts() { "$HELPER_PY" "$TOOLS/results.py" "$@"; }

# Stage wrapper bookkeeping -------------------------------------------------

STAGE_T0=$SECONDS
begin_stage() { STAGE_T0=$SECONDS; }

# finish_stage NAME RC "passed failed skipped" [note]
finish_stage() {
    local name="$1" rc="$2" p f s note="${4:-}" status secs=$((SECONDS - STAGE_T0))
    read -r p f s <<< "$3"
    p="${p:-0}" f="${f:-0}" s="${s:-0}"
    if (( rc != 0 && f == 0 )); then
        status=error
        note="${note:+$note; }exited $rc with no failed test recorded, see build/results/$name.log"
    elif (( f > 0 )); then
        status=failed
        note="${note:+$note; }see build/results/$name.log"
    else
        status=ok
    fi
    write_result "$name" "$p $f $s $status $secs $note"
    log "$name: $status ($p passed, $f failed, $s skipped) in $secs s"
}

stage_error() { write_result "$1" "0 0 0 error 0 $2"; log "$1: could not run: $2"; }
stage_skip() { write_result "$1" "0 0 0 skipped 0 $2"; log "$1: skipped: $2"; }

save_output() {
    local name="$1"
    rm -rf "${RESULTS:?}/$name"
    if [[ -d "$COPY/tests/output" ]]; then
        mkdir -p "$RESULTS/$name"
        cp -a "$COPY/tests/output/." "$RESULTS/$name/"
    fi
}

# Set-up --------------------------------------------------------------------

setup_venv() {
    local core="$1"
    [[ -n "${VENV_OK[$core]:-}" ]] && return "${VENV_OK[$core]}"
    if bash "$TOOLS/venv.sh" "$core" 2>&1 | tee "$RESULTS/setup-$core.log"; then
        VENV_OK[$core]=0
    else
        VENV_OK[$core]=1
        stage_error "setup-$core" "creating .venv/ansible-$core failed, see build/results/setup-$core.log"
    fi
    return "${VENV_OK[$core]}"
}

LAID_OUT=""
layout() {
    [[ -n "$LAID_OUT" ]] && return 0
    bash "$TOOLS/layout.sh" || die "could not lay the checkout out in $COPY"
    LAID_OUT=1
}

in_copy() {  # in_copy CORE LOGNAME cmd...
    local core="$1" name="$2"; shift 2
    rm -rf "$COPY/tests/output"
    (
        cd "$COPY" || exit 2
        PATH="$(venv_path "$core")" "$@"
    ) 2>&1 | tee "$RESULTS/$name.log"
    return "${PIPESTATUS[0]}"
}

# Stages ----------------------------------------------------------------------

run_sanity() {
    local core name py rc
    for core in $SANITY_CORES; do
        name="sanity-$core"; py="${PY_FOR_CORE[$core]}"; begin_stage
        setup_venv "$core" || { stage_error "$name" "no virtualenv"; continue; }
        layout
        log "$name: ansible-test sanity --venv --python $py (ansible-core $core)"
        in_copy "$core" "$name" ansible-test sanity --venv --python "$py" --junit --color no "${AT_ARGS[@]}"
        rc=$?
        save_output "$name"
        finish_stage "$name" "$rc" "$(counts sanity "$RESULTS/$name/junit")" "one result per sanity test"
    done
}

has_unit_tests() {
    [[ -d "$COPY/tests/unit" ]] && [[ -n "$(find "$COPY/tests/unit" -name 'test_*.py' -print -quit)" ]]
}

run_units() {
    local core name py rc
    for core in $UNITS_CORES; do
        name="units-$core"; py="${PY_FOR_CORE[$core]}"; begin_stage
        setup_venv "$core" || { stage_error "$name" "no virtualenv"; continue; }
        layout
        if ! has_unit_tests; then
            stage_skip "$name" "no tests/unit/**/test_*.py yet"
            continue
        fi
        log "$name: ansible-test units --local --python $py (ansible-core $core)"
        in_copy "$core" "$name" ansible-test units --local --python "$py" --color no "${AT_ARGS[@]}"
        rc=$?
        save_output "$name"
        finish_stage "$name" "$rc" "$(counts junit "$RESULTS/$name"/junit/*units.xml)"
    done
}

run_emulator_tests() {
    local core="$EMULATOR_CORE" name=emulator-tests rc venv
    begin_stage
    venv="$(venv_dir "$core")"
    if [[ ! -d "$ROOT/tests/emulator/tests" ]] || [[ -z "$(find "$ROOT/tests/emulator/tests" -name 'test_*.py' -print -quit)" ]]; then
        stage_skip "$name" "no tests/emulator/tests/test_*.py yet"
        return
    fi
    setup_venv "$core" || { stage_error "$name" "no virtualenv"; return; }
    layout
    log "$name: pytest tests/emulator/tests (Python ${PY_FOR_CORE[$core]})"
    rm -f "$RESULTS/$name.xml"
    (
        cd "$COPY/tests/emulator" || exit 2
        # Without a pyproject.toml the emulator is not installed: import it from the tree.
        pythonpath="${PYTHONPATH:-}"
        [[ -f pyproject.toml ]] || pythonpath="$PWD${pythonpath:+:$pythonpath}"
        PYTHONPATH="$pythonpath" PATH="$(venv_path "$core")" "$venv/bin/python" -m pytest tests -p no:cacheprovider \
            --junit-xml="$RESULTS/$name.xml" -o junit_family=xunit2 "${PT_ARGS[@]}"
    ) 2>&1 | tee "$RESULTS/$name.log"
    rc="${PIPESTATUS[0]}"
    local note=""
    [[ -f "$ROOT/tests/emulator/pyproject.toml" ]] || note="tests/emulator has no pyproject.toml: ran from the tree"
    finish_stage "$name" "$rc" "$(counts junit "$RESULTS/$name.xml")" "$note"
}

trap stop_emulator EXIT
trap 'stop_emulator; exit 130' INT TERM

run_integration() {
    local core name py rc
    if [[ ! -d "$ROOT/tests/integration/targets" ]] || [[ -z "$(ls -A "$ROOT/tests/integration/targets" 2>/dev/null)" ]]; then
        stage_skip integration "no tests/integration/targets yet"
        return
    fi
    for core in $INTEGRATION_CORES; do
        name="integration-$core"
        py="${PY_FOR_CORE[$core]}"; begin_stage
        setup_venv "$core" || { stage_error "$name" "no virtualenv"; continue; }
        layout
        if ! start_emulator "$core" "$RESULTS/$name-emulator.log" --port 0 --rate-limit 0; then
            stage_error "$name" "the emulator did not start, see build/results/$name-emulator.log"
            continue
        fi
        cat > "$COPY/tests/integration/integration_config.yml" <<EOF
# Written by tests/tools/run.sh: the emulator started for this run.
exist_api_url: $EMU_URL
exist_emulator_url: $EMU_URL
EOF
        log "$name: ansible-test integration --local --python $py (ansible-core $core)"
        in_copy "$core" "$name" ansible-test integration --local --python "$py" --continue-on-error --color no "${AT_ARGS[@]}"
        rc=$?
        stop_emulator
        save_output "$name"
        finish_stage "$name" "$rc" "$(counts integration "$RESULTS/$name/data" "$RESULTS/$name.log")" "one result per target"
    done
}

# --- lint stage: ansible-lint (production profile), plugin docs markup, changelog ---
# One result per linter, run in the laid-out copy with the 2.19 virtualenv.
run_lint() {
    local core="${LINT_CORE:-2.19}" name=lint passed=0 failed=0 rc linter
    begin_stage
    setup_venv "$core" || { stage_error "$name" "no virtualenv"; return; }
    layout
    : >"$RESULTS/$name.log"
    for linter in "ansible-lint --nocolor" "antsibull-docs lint-collection-docs --plugin-docs ." "antsibull-changelog lint"; do
        log "$name: $linter"
        # shellcheck disable=SC2086  # each linter line is a command and its words
        (cd "$COPY" && PATH="$(venv_path "$core")" ANSIBLE_COLLECTIONS_PATH="$BUILD" $linter) 2>&1 | tee -a "$RESULTS/$name.log"
        rc="${PIPESTATUS[0]}"
        if (( rc == 0 )); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
    finish_stage "$name" "$failed" "$passed $failed 0" "one result per linter"
}
# --- end lint stage ---

# --- bench-requests stage: tests/perf (owned by the benchmarks; keep this block self-contained) ---
# Requests per run of existio.exist.attribute against a fresh emulator, both paths;
# one result per declared-attribute size. `make bench-requests` runs the same part alone.
stage_bench_requests() {
    local core="${BENCH_CORE:-2.19}" name=bench-requests rc
    begin_stage
    setup_venv "$core" || { stage_error "$name" "no virtualenv"; return; }
    layout
    rm -f "$RESULTS/$name.counts"
    (
        cd "$COPY" || exit 2
        PATH="$(venv_path "$core")" "$(venv_dir "$core")/bin/python" tests/perf/bench.py --parts requests \
            --collections-path "$BUILD" --workdir "$RESULTS/$name" --result-file "$RESULTS/$name.counts"
    ) 2>&1 | tee "$RESULTS/$name.log"
    rc="${PIPESTATUS[0]}"
    finish_stage "$name" "$rc" "$(cat "$RESULTS/$name.counts" 2>/dev/null)" "one result per size, both paths"
}
# --- end bench-requests stage ---

# --- fuzz stage: tests/fuzz (fault fuzzer against the emulator) ---
# Random worlds, tasks and fault schedules for about FUZZ_SECONDS (default 60),
# in the worker process, plus FUZZ_PLAYBOOK_CASES cases through ansible-playbook
# on both paths. One result per invariant. The master seed is printed; set
# FUZZ_SEED to replay a run, or run tests/fuzz/fuzz_attribute.py --case N.
run_fuzz() {
    local core="${FUZZ_CORE:-2.19}" name=fuzz rc
    local -a seed_args=()
    [[ -n "${FUZZ_SEED:-}" ]] && seed_args=(--seed "$FUZZ_SEED")
    begin_stage
    setup_venv "$core" || { stage_error "$name" "no virtualenv"; return; }
    layout
    rm -f "$RESULTS/$name.counts"
    (
        cd "$COPY" || exit 2
        # The fuzzer bounds each case itself; this bounds the stage whatever happens.
        PATH="$(venv_path "$core")" PYTHONPATH="$BUILD" timeout 900 "$(venv_dir "$core")/bin/python" tests/fuzz/fuzz_attribute.py \
            --seconds "${FUZZ_SECONDS:-60}" --playbook-cases "${FUZZ_PLAYBOOK_CASES:-6}" --collections-path "$BUILD" \
            --result-file "$RESULTS/$name.counts" "${seed_args[@]}"
    ) 2>&1 | tee "$RESULTS/$name.log"
    rc="${PIPESTATUS[0]}"
    finish_stage "$name" "$rc" "$(cat "$RESULTS/$name.counts" 2>/dev/null)" "one result per invariant"
}
# --- end fuzz stage ---

# Main ------------------------------------------------------------------------

main() {
    local what="${1:-test}"
    rm -rf "$RESULTS"
    mkdir -p "$RESULTS"
    local start=$SECONDS
    case "$what" in
        test)
            run_sanity
            run_units
            run_emulator_tests
            run_integration
            run_fuzz
            stage_bench_requests
            run_lint
            ;;
        sanity) run_sanity ;;
        units) run_units ;;
        emulator-tests) run_emulator_tests ;;
        integration) run_integration ;;
        lint) run_lint ;;
        fuzz) run_fuzz ;;
        *) die "unknown stage '$what' (test, sanity, units, emulator-tests, integration, fuzz, lint)" ;;
    esac
    log "Finished in $((SECONDS - start)) s"
    counts summary "$RESULTS"
}

main "$@"
