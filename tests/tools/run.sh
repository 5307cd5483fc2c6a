#!/usr/bin/env bash
# The test driver behind `make test` and friends.
#
#   tests/tools/run.sh test             set-up, sanity, units, emulator tests, integration
#   tests/tools/run.sh sanity|units|emulator-tests|integration|compat|fuzz|demo-fleet|lint
#
# It creates the virtualenvs it needs (tests/tools/venv.sh), lays a copy of the
# checkout out under build/ansible_collections/existio/exist/, runs each stage
# there, keeps going after a failing stage, and ends with a summary whose last
# line is exactly `N passed, N failed`. Exit status 1 if anything failed or a
# stage could not run. Logs and ansible-test output: build/results/.
#
# Knobs (environment): SANITY_CORES="2.16 2.19 2.21" UNITS_CORES="2.19 2.21"
# INTEGRATION_CORES="2.19 2.21" COMPAT_CORES="2.16 2.21" ANSIBLE_TEST_ARGS="" (extra args for every
# ansible-test call, e.g. -v), PYTEST_ARGS="". An empty *_CORES skips that stage.
set -uo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

SANITY_CORES="${SANITY_CORES-2.16 2.19 2.21}"
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
    local core
    local -a cores=()
    if [[ ! -d "$ROOT/tests/integration/targets" ]] || [[ -z "$(ls -A "$ROOT/tests/integration/targets" 2>/dev/null)" ]]; then
        stage_skip integration "no tests/integration/targets yet"
        return
    fi
    for core in $INTEGRATION_CORES; do
        if setup_venv "$core"; then cores+=("$core"); else stage_error "integration-$core" "no virtualenv"; fi
    done
    # Every core at once, each in its own copy of the checkout against its own emulator: a target
    # is mostly one ansible-playbook at a time, so two cores take about the time of one.
    for core in "${cores[@]}"; do
        integration_on "$core" > "$RESULTS/integration-$core.console" 2>&1 &
    done
    wait
    for core in "${cores[@]}"; do
        grep -E '^(==>|FATAL|ERROR)' "$RESULTS/integration-$core.console" || true
    done
}

integration_on() {  # integration_on CORE: ansible-test integration in build/cores/CORE/...
    local core="$1" name="integration-$1" py="${PY_FOR_CORE[$1]}" rc
    # in_copy and save_output use COPY: this core's own copy (bash scopes it to this call).
    local COPY="$BUILD/cores/$core/ansible_collections/existio/exist"
    # A home of its own: ansible-test keeps per-user state there (its SSH key, made on first use), and two
    # cores starting at once on a new machine would race to create the same ~/.ansible/test/id_rsa.
    # This runs in a background subshell, so the caller's HOME is untouched.
    export HOME="$BUILD/cores/$core/home"
    rm -rf "$HOME"
    mkdir -p "$HOME"
    begin_stage
    bash "$TOOLS/layout.sh" "$COPY" || { stage_error "$name" "could not lay the checkout out in $COPY"; return; }
    if ! start_emulator "$core" "$RESULTS/$name-emulator.log" --port 0 --rate-limit 0; then
        stage_error "$name" "the emulator did not start, see build/results/$name-emulator.log"
        return
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
}

# --- lint stage: linters and the Galaxy package ---
# One result per check, with the 2.19 virtualenv:
#   ansible-lint             in the checkout itself, as users and editors run it:
#                            no ANSIBLE_COLLECTIONS_PATH; it installs the collection
#                            into the checkout's .ansible/ (git-ignored), see .ansible-lint
#   antsibull-docs, antsibull-changelog   plugin docs markup and the changelog (laid-out copy)
#   ruff                     ruff check and ruff format --check (ruff.toml)
#   mypy                     types of plugins/module_utils and plugin_utils (mypy.ini),
#                            the copy importable from MYPYPATH=build
#   version                  tests/tools/check_version.py: galaxy.yml = COLLECTION_VERSION
#   readme-links             tests/tools/check_links.py: links that work on Galaxy
#   package                  tests/tools/check_package.py: the tarball built from a
#                            littered tree holds the emulator and no tooling or litter
#   galaxy-importer          what Galaxy runs on an upload, on that tarball, offline
#                            (tests/tools/galaxy-importer.cfg); a warning or error fails
LINT_PASSED=0
LINT_FAILED=0

lint_one() {  # lint_one LABEL cmd...: run one check, count it, log it
    local label="$1" rc
    shift
    log "lint: $label"
    "$@" 2>&1 | tee -a "$RESULTS/lint.log"
    rc="${PIPESTATUS[0]}"
    if ((rc == 0)); then
        LINT_PASSED=$((LINT_PASSED + 1))
    else
        LINT_FAILED=$((LINT_FAILED + 1))
        printf 'lint: %s FAILED (exit %s)\n' "$label" "$rc" | tee -a "$RESULTS/lint.log"
    fi
}

lint_ansible_lint() {  # as in a plain checkout: no collection path, no virtualenv variables
    cd "$ROOT" && env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS -u ANSIBLE_HOME \
        -u ANSIBLE_LIBRARY -u ANSIBLE_ROLES_PATH -u ANSIBLE_CONFIG -u VIRTUAL_ENV \
        PATH="$(venv_path "$1")" ansible-lint --nocolor
}

lint_in_copy() {  # lint_in_copy CORE cmd...
    local core="$1"
    shift
    cd "$COPY" && PATH="$(venv_path "$core")" ANSIBLE_COLLECTIONS_PATH="$BUILD" "$@"
}

lint_galaxy_importer() {  # lint_galaxy_importer CORE TARBALL
    local core="$1" tarball="$2" out="$RESULTS/galaxy-importer" rc
    [[ -f "$tarball" ]] || { echo "no tarball: the package check did not build one"; return 1; }
    rm -rf "$out"
    mkdir -p "$out"
    # It writes importer_result.json to the working directory.
    (cd "$out" && GALAXY_IMPORTER_CONFIG="$TOOLS/galaxy-importer.cfg" PATH="$(venv_path "$core")" \
        "$(venv_dir "$core")/bin/python" -m galaxy_importer.main "$tarball") > "$out/output.log" 2>&1
    rc=$?
    cat "$out/output.log"
    if ((rc != 0)) || ! grep -q 'Importer processing completed successfully' "$out/output.log"; then
        echo "galaxy-importer failed (exit $rc)"
        return 1
    fi
    # Galaxy shows these on the collection's import log: none is acceptable.
    if grep -E '^(WARNING|ERROR):' "$out/output.log"; then
        echo "galaxy-importer reported the warnings or errors above"
        return 1
    fi
}

run_lint() {
    local core="${LINT_CORE:-2.19}" name=lint tarball py
    begin_stage
    setup_venv "$core" || { stage_error "$name" "no virtualenv"; return; }
    layout
    : >"$RESULTS/$name.log"
    LINT_PASSED=0
    LINT_FAILED=0
    py="$(venv_dir "$core")/bin/python"
    lint_one "ansible-lint (in the checkout, as users run it)" lint_ansible_lint "$core"
    lint_one "antsibull-docs lint-collection-docs --plugin-docs ." lint_in_copy "$core" antsibull-docs lint-collection-docs --plugin-docs .
    lint_one "antsibull-changelog lint" lint_in_copy "$core" antsibull-changelog lint
    lint_one "ruff check (ruff.toml)" lint_in_copy "$core" ruff check --no-cache .
    lint_one "ruff format --check" lint_in_copy "$core" ruff format --no-cache --check .
    lint_one "mypy (module_utils, plugin_utils)" lint_in_copy "$core" env MYPYPATH="$BUILD" mypy --cache-dir "$BUILD/.mypy_cache"
    lint_one "version: galaxy.yml and COLLECTION_VERSION" "$py" "$TOOLS/check_version.py" "$COPY"
    lint_one "README links work on Galaxy" "$py" "$TOOLS/check_links.py" "$COPY"
    rm -rf "$BUILD/package"
    lint_one "package: the tarball from a littered tree" env PATH="$(venv_path "$core")" "$py" "$TOOLS/check_package.py" "$COPY" "$BUILD/package"
    tarball="$(find "$BUILD/package" -name 'existio-exist-*.tar.gz' -print -quit 2>/dev/null)"
    lint_one "galaxy-importer (offline)" lint_galaxy_importer "$core" "${tarball:-none}"
    finish_stage "$name" "$LINT_FAILED" "$LINT_PASSED $LINT_FAILED 0" "one result per check"
}
# --- end lint stage ---

# --- compat stage: the Galaxy tarball on the oldest and the newest ansible-core ---
# Builds the tarball once. Then, for each of COMPAT_CORES (default "2.16 2.21"),
# in a virtualenv made afresh with nothing but ansible-core and requests
# (tests/requirements-compat-<core>.txt, on the core's Python from PY_FOR_CORE):
# installs the tarball with that ansible-galaxy into a temporary collections
# path, pip-installs the emulator from the installed collection
# (<path>/ansible_collections/existio/exist/tests/emulator) and starts it from
# there, and runs the installed playbook existio.exist.demo twice in Ansible's
# worker process and twice through the module (existio_exist_worker_process
# false), the emulator's world reset to the default before each pair. Every run
# must succeed, the first of a pair change something and the second nothing;
# the kept AnsiballZ files show which path ran. One result per ansible-core.
COMPAT_CORES="${COMPAT_CORES-2.16 2.21}"
COMPAT_PROBLEMS=""

compat_venv() {  # compat_venv CORE VENV: a fresh virtualenv with tests/requirements-compat-CORE.txt only
    local core="$1" venv="$2" py reqs
    py="$(find_python "${PY_FOR_CORE[$core]:-none}")" || return 1
    reqs="$ROOT/tests/requirements-compat-$core.txt"
    [[ -f "$reqs" ]] || { echo "missing $reqs" >&2; return 1; }
    log "compat-$core: a fresh virtualenv ($py) with tests/requirements-compat-$core.txt only"
    rm -rf "$venv"
    "$py" -m venv "$venv" || return 1
    quiet_pip "$venv/bin/python" -m pip install -q -r "$reqs"
}

compat_problem() {  # compat_problem TEXT: record one failed check of this version
    printf 'COMPAT FAILED: %s\n' "$*"
    printf '%s\n' "$*" >> "$COMPAT_PROBLEMS"
}

compat_reset() {  # POST /_emulator/reset with an empty body: the default world
    "$1/bin/python" - "$EMU_URL" <<'PY'
import sys
import urllib.request

request = urllib.request.Request(sys.argv[1] + '/_emulator/reset', data=b'', method='POST')
with urllib.request.urlopen(request, timeout=30) as response:
    response.read()
PY
}

# compat_core CORE TARBALL WORKDIR: exit 2 when it could not set up, 1 when a check failed.
compat_core() {
    local core="$1" tarball="$2" work="$3" venv coll path run expect stats rtmp zips rc line
    venv="$work/venv"
    rm -rf "$work"
    mkdir -p "$work/collections"
    compat_venv "$core" "$venv" || { echo "could not create $venv" >&2; return 2; }
    log "compat-$core: ansible-galaxy collection install $(basename "$tarball") (ansible-core $core)"
    if ! ANSIBLE_COLLECTIONS_PATH="$work/collections" "$venv/bin/ansible-galaxy" collection install -p "$work/collections" "$tarball"; then
        compat_problem "ansible-galaxy $core could not install the tarball"
        return 1
    fi
    coll="$work/collections/ansible_collections/existio/exist"
    log "compat-$core: pip install ${coll#"$work"/}/tests/emulator (the emulator from the installed collection)"
    if ! quiet_pip "$venv/bin/python" -m pip install -q "$coll/tests/emulator" || [[ ! -x "$venv/bin/exist-emulator" ]]; then
        compat_problem "the emulator does not pip-install from the installed collection"
        return 1
    fi
    if ! start_emulator_in "$venv" "$RESULTS/compat-$core-emulator.log" --port 0; then
        compat_problem "the emulator installed from the collection did not start"
        return 1
    fi
    for path in worker module; do
        if ! compat_reset "$venv"; then
            compat_problem "POST /_emulator/reset failed"
            continue
        fi
        for run in 1 2; do
            expect=changes
            ((run == 2)) && expect=converged
            stats="$work/$path-$run.json"
            rtmp="$work/tmp-$path-$run"
            local -a extra=()
            [[ "$path" == module ]] && extra=(-e existio_exist_worker_process=false)
            log "compat-$core: ansible-playbook existio.exist.demo, $path path, run $run (expect: $expect)"
            (
                cd "$work" || exit 2
                env -u ANSIBLE_CONFIG PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$work/collections" \
                    ANSIBLE_CALLBACK_PLUGINS="$TOOLS/callback_plugins" ANSIBLE_CALLBACKS_ENABLED=compat_stats \
                    EXIST_COMPAT_STATS="$stats" ANSIBLE_REMOTE_TMP="$rtmp" ANSIBLE_KEEP_REMOTE_FILES=1 \
                    ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
                    "$venv/bin/ansible-playbook" existio.exist.demo -e "exist_api_url=$EMU_URL" "${extra[@]}"
            )
            rc=$?
            ((rc == 0)) || compat_problem "$path path, run $run: ansible-playbook exited $rc"
            while IFS= read -r line; do
                [[ -n "$line" ]] && compat_problem "$path path, run $run: $line"
            done < <(counts playbook "$stats" "$expect")
            zips="$(find "$rtmp" -name 'AnsiballZ_attribute*.py' 2>/dev/null | wc -l)"
            if [[ "$path" == worker ]] && ((zips > 0)); then
                compat_problem "$path path, run $run: $zips existio.exist modules were shipped; the tasks should run in the worker"
            elif [[ "$path" == module ]] && ((zips == 0)); then
                compat_problem "$path path, run $run: no existio.exist module was shipped; the module path did not run"
            fi
        done
    done
    stop_emulator
    [[ ! -s "$COMPAT_PROBLEMS" ]]
}

run_compat() {
    local build_core="${COMPAT_BUILD_CORE:-2.19}" core name rc dist tarball note first=1
    [[ -n "$COMPAT_CORES" ]] || return 0
    begin_stage
    dist="$BUILD/compat/dist"
    tarball=""
    if setup_venv "$build_core"; then
        layout
        rm -rf "$dist"
        mkdir -p "$dist"
        log "compat: ansible-galaxy collection build (ansible-core $build_core)"
        (cd "$COPY" && PATH="$(venv_path "$build_core")" ansible-galaxy collection build --output-path "$dist" .) \
            2>&1 | tee "$RESULTS/compat-build.log"
        tarball="$(find "$dist" -name 'existio-exist-*.tar.gz' -print -quit)"
    fi
    for core in $COMPAT_CORES; do
        name="compat-$core"
        [[ -n "$tarball" ]] || { stage_error "$name" "building the tarball failed, see build/results/compat-build.log"; continue; }
        ((first)) || begin_stage  # the first version's time includes the build
        first=0
        COMPAT_PROBLEMS="$RESULTS/$name.problems"
        : > "$COMPAT_PROBLEMS"
        (
            trap stop_emulator EXIT
            trap 'exit 130' INT TERM
            compat_core "$core" "$tarball" "$BUILD/compat/$core"
        ) 2>&1 | tee "$RESULTS/$name.log"
        rc="${PIPESTATUS[0]}"
        note="$(head -n 1 "$COMPAT_PROBLEMS")"
        if ((rc == 2)); then
            stage_error "$name" "could not create its virtualenv, see build/results/$name.log"
        elif ((rc == 0)); then
            finish_stage "$name" 0 "1 0 0" "install, emulator from the install, demo x2 on both paths"
        else
            finish_stage "$name" 1 "0 1 0" "${note:-failed}"
        fi
    done
}
# --- end compat stage ---

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

# --- fuzz stage: tests/fuzz (fault fuzzers against the emulator) ---
# Every tests/fuzz/fuzz_*.py (ownership, values, the token flow): random worlds,
# tasks and fault schedules for about FUZZ_SECONDS each (default 60), in the
# worker process, plus FUZZ_PLAYBOOK_CASES cases through ansible-playbook. One
# result per invariant of each fuzzer. Each prints its master seed; set
# FUZZ_SEED to replay a run, or run one fuzzer with --case N.
run_fuzz() {
    local core="${FUZZ_CORE:-2.19}" name=fuzz rc=0 fuzzer label p f s tp=0 tf=0 ts=0
    local -a seed_args=()
    [[ -n "${FUZZ_SEED:-}" ]] && seed_args=(--seed "$FUZZ_SEED")
    begin_stage
    setup_venv "$core" || { stage_error "$name" "no virtualenv"; return; }
    layout
    : > "$RESULTS/$name.log"
    for fuzzer in "$COPY"/tests/fuzz/fuzz_*.py; do
        label="$(basename "$fuzzer" .py)"
        rm -f "$RESULTS/$label.counts"
        log "$name: $label"
        (
            cd "$COPY" || exit 2
            # Each fuzzer bounds its cases itself; this bounds it whatever happens.
            PATH="$(venv_path "$core")" PYTHONPATH="$BUILD" timeout 900 "$(venv_dir "$core")/bin/python" "$fuzzer" \
                --seconds "${FUZZ_SECONDS:-60}" --playbook-cases "${FUZZ_PLAYBOOK_CASES:-4}" --collections-path "$BUILD" \
                --result-file "$RESULTS/$label.counts" "${seed_args[@]}"
        ) 2>&1 | tee "$RESULTS/$label.log" | tee -a "$RESULTS/$name.log"
        if ((PIPESTATUS[0] != 0)); then
            rc=1
            # The violations and the seeds that replay them, for the summary: CI shows only the end of the output.
            { grep -m1 'master seed' "$RESULTS/$label.log"; grep -A2 'FAILED' "$RESULTS/$label.log"; } |
                cut -c1-600 | head -n 30 >> "$RESULTS/$name.why"
        fi
        if [[ -s "$RESULTS/$label.counts" ]]; then
            read -r p f s < "$RESULTS/$label.counts"
            tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
        else
            rc=1
        fi
    done
    finish_stage "$name" "$rc" "$tp $tf $ts" "one result per invariant of each fuzzer"
}
# --- end fuzz stage ---

# --- demo-fleet stage: `make demo-fleet` and its checks, one result ---
# (`make demo` runs in the compat stage, from the tarball, on both paths.)
run_demo_fleet() {
    local name=demo-fleet rc
    begin_stage
    bash "$TOOLS/demo_fleet.sh" > "$RESULTS/$name.log" 2>&1
    rc=$?
    tail -n 3 "$RESULTS/$name.log"
    if ((rc == 0)); then
        finish_stage "$name" "$rc" "1 0 0" "the fleet demo and its checks"
    else
        finish_stage "$name" "$rc" "0 1 0" "the fleet demo and its checks"
    fi
}

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
            run_compat
            run_fuzz
            run_demo_fleet
            stage_bench_requests
            run_lint
            ;;
        sanity) run_sanity ;;
        units) run_units ;;
        emulator-tests) run_emulator_tests ;;
        integration) run_integration ;;
        lint) run_lint ;;
        fuzz) run_fuzz ;;
        compat) run_compat ;;
        demo-fleet) run_demo_fleet ;;
        *) die "unknown stage '$what' (test, sanity, units, emulator-tests, integration, compat, fuzz, demo-fleet, lint)" ;;
    esac
    log "Finished in $((SECONDS - start)) s"
    counts summary "$RESULTS"
}

main "$@"
