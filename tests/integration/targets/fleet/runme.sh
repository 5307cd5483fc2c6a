#!/usr/bin/env bash
# Scenario: a service's fleet. Four users of the emulator (seed.json, loaded
# through the admin reset) and a token store for them; the inventory plugin
# existio.exist.users builds the inventory (ansible-inventory --list and
# --graph, a vault-encrypted store with include_token=false, validate_tokens);
# one existio.exist.attribute task converges ownership for every user with the
# fleet_report callback enabled: a --check run gives the drift report, the real
# run and a second run (changed 0) their reports, each checked against what the
# emulator logged and holds. Both execution paths. No token in any output.
#
# The test command writes the emulator's address to
# tests/integration/integration_config.yml, which ansible-test copies two
# levels up from this target's working directory.
set -eu

config=../../integration_config.yml
py="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
check() { "$py" check_fleet.py "$@"; }
work="${OUTPUT_DIR:-.}/fleet-run"
rm -rf "$work"
mkdir -p "$work"
log="$work/output.log"
: >"$log"

url="$(check url "$config")"
api="$(check url --api "$config")"
# Next to ansible-test's own junit callback.
export ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}existio.exist.fleet_report"
# A source the plugin cannot read must fail the command, not leave an empty inventory.
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true

run() {  # run EXPECTED_STATUS command...: the output goes to the log
    local expected="$1" status=0
    shift
    echo "### $*" >>"$log"
    "$@" >>"$log" 2>&1 || status=$?
    if [ "$status" -ne "$expected" ]; then
        tail -n 60 "$log"
        echo "exit status $status, expected $expected: $*" >&2
        exit 1
    fi
}

# -- the world and the store -------------------------------------------------
check reset "$url" seed.json
check store seed.json "$work/tokens.yml"
cat >"$work/fleet.exist_users.yml" <<'EOF'
plugin: existio.exist.users
store: tokens.yml
EOF

# -- the inventory -----------------------------------------------------------
ansible-inventory -i "$work/fleet.exist_users.yml" --list >"$work/list.json" 2>>"$log"
check inventory "$work/list.json" seed.json --tokens included
ansible-inventory -i "$work/fleet.exist_users.yml" --graph >"$work/graph.txt" 2>>"$log"
grep -q -- '--@exist_users:' "$work/graph.txt"
grep -q -- '--@exist_token_expiring:' "$work/graph.txt"
for token in $(grep -o '"fleet-[a-z]*-[A-Za-z0-9]*"' seed.json | tr -d '"'); do
    ! grep -q -F -- "$token" "$work/graph.txt" || { echo "--graph printed a token" >&2; exit 1; }
done
echo "ansible-inventory --graph: the groups, no token"

# The same store vault-encrypted, read with include_token=false: the inventory holds no token.
printf 'fleet-vault-password\n' >"$work/vault-pass"
cp "$work/tokens.yml" "$work/tokens.vault.yml"
ansible-vault encrypt --vault-password-file "$work/vault-pass" "$work/tokens.vault.yml" >>"$log" 2>&1
[ "$(head -c 14 "$work/tokens.vault.yml")" = "\$ANSIBLE_VAULT" ] || { echo "the store is not vault-encrypted" >&2; exit 1; }
cat >"$work/vault.exist_users.yml" <<'EOF'
plugin: existio.exist.users
store: tokens.vault.yml
include_token: false
EOF
ansible-inventory -i "$work/vault.exist_users.yml" --vault-password-file "$work/vault-pass" --list \
    >"$work/vault-list.json" 2>>"$log"
check inventory "$work/vault-list.json" seed.json --tokens expression
run 1 ansible-inventory -i "$work/vault.exist_users.yml" --list
grep -q 'the token store is vault-encrypted and cannot be decrypted' "$log"
echo "without the vault password: the inventory fails, naming the store"

# validate_tokens: one profile request per user; erin's token is unknown to Exist.
check store seed.json "$work/tokens-erin.yml" --with-unknown
cat >"$work/validate.exist_users.yml" <<'EOF'
plugin: existio.exist.users
store: tokens-erin.yml
validate_tokens: true
validate_concurrency: 2
EOF
check clear "$url"
EXIST_API_URL="$api" ansible-inventory -i "$work/validate.exist_users.yml" --list \
    >"$work/validate-list.json" 2>>"$log"
check validated "$work/validate-list.json" "$url"

# Users named like groups (all, exist_users, scope_mood_read, exist_token_expired, a keyed group...) and
# marked users: the others are hosts in exactly their groups, the clashing ones are left out and named.
check store seed.json "$work/tokens-clash.yml" --with-clashes
cat >"$work/clash.exist_users.yml" <<'EOF'
plugin: existio.exist.users
store: tokens-clash.yml
keyed_groups:
  - key: exist_token_scopes | map('regex_replace', '_(read|write)$', '') | unique
    prefix: group
EOF
ansible-inventory -i "$work/clash.exist_users.yml" --list >"$work/clash-list.json" 2>"$work/clash-stderr.txt"
cat "$work/clash-stderr.txt" >>"$log"
check clashes "$work/clash-list.json" seed.json "$work/clash-stderr.txt"
# A typo of an option is an error naming the option meant, not a silently ignored setting.
printf 'plugin: existio.exist.users\nstore: tokens.yml\ninclude_tokens: false\n' >"$work/typo.exist_users.yml"
run 1 ansible-inventory -i "$work/typo.exist_users.yml" --list
grep -q "unknown option 'include_tokens' (did you mean include_token?)" "$log"
echo "an unknown option: the inventory fails, naming the option meant"

# -- converge every user, with the report ------------------------------------
drift='{"mode": "drift", "check_mode": true, "title": "Exist fleet drift report: what would change",
        "users": {"total": 4, "changed": 3, "unchanged": 1, "failed": 0,
                  "by_outcome": {"changed": ["alice", "bob", "carol"], "unchanged": ["dave"]}},
        "attributes": {"acquired": {"total": 5, "by_attribute": {"mood": 3, "steps": 2}},
                       "released": {"total": 0}, "created": {"by_attribute": {"mood": 2}}},
        "takeovers": {"total": 2, "by_previous_owner": {"withings": {"total": 1, "by_attribute": {"steps": 1}},
                                                        "exist_ios": {"total": 1, "by_attribute": {"mood": 1}}}},
        "failures": {"items": 0, "by_error_code": {}}}'
first='{"mode": "run", "check_mode": false, "title": "Exist fleet report",
        "users": {"total": 4, "converged": 3, "changed": 2, "unchanged": 1, "failed": 1,
                  "by_outcome": {"changed": ["alice", "bob"], "unchanged": ["dave"], "failed": ["carol"]}},
        "attributes": {"acquired": {"total": 4, "by_attribute": {"mood": 2, "steps": 2}},
                       "released": {"total": 0}, "created": {"total": 1, "by_attribute": {"mood": 1}}},
        "takeovers": {"total": 2, "by_previous_owner": {"withings": {"total": 1, "users": 1},
                                                        "exist_ios": {"total": 1, "users": 1}}},
        "failures": {"items": 1, "by_error_code": {"not_allowed": {"total": 1, "users": 1,
                                                                    "by_attribute": {"mood": 1}}}},
        "per_user": {"alice": {"acquired": ["mood", "steps"]}, "carol": {"acquired": ["steps"]},
                     "dave": {"outcome": "unchanged", "acquired": []}}}'
second='{"mode": "run", "users": {"total": 4, "converged": 3, "changed": 0, "unchanged": 3, "failed": 1},
         "attributes": {"acquired": {"total": 0}, "released": {"total": 0}, "created": {"total": 0}},
         "takeovers": {"total": 0}, "failures": {"by_error_code": {"not_allowed": {"total": 1}}}}'
owners='{"alice": {"steps": "fleet_service", "mood": "fleet_service", "sleep": "fleet_service"},
         "bob": {"steps": "fleet_service", "mood": "fleet_service"},
         "carol": {"steps": "fleet_service", "mood": "exist_ios"},
         "dave": {"steps": "fleet_service", "mood": "fleet_service"}}'

# Both paths: in the worker process, and through the module as on a remote host.
for in_worker in true false; do
    reports="$work/reports-worker-$in_worker"
    check reset "$url" seed.json
    check state "$url" >"$work/seed-state.json"
    playbook=(ansible-playbook converge.yml -e "@$config" -e "existio_exist_worker_process=$in_worker" -vvv)

    EXIST_FLEET_REPORT_DIR="$reports/check" run 0 "${playbook[@]}" -i "$work/fleet.exist_users.yml" --check
    check report "$reports/check" "$url" "$drift"
    check same-state "$url" "$work/seed-state.json"

    # carol's token lacks mood_write: her task fails, so the run ends with status 2.
    check clear "$url"
    EXIST_FLEET_REPORT_DIR="$reports/first" run 2 "${playbook[@]}" -i "$work/fleet.exist_users.yml"
    check report "$reports/first" "$url" "$first"
    check owners "$url" "$owners"

    # The second run reads the vault-encrypted store, the token through include_token=false's expression.
    check clear "$url"
    EXIST_FLEET_REPORT_DIR="$reports/second" run 2 "${playbook[@]}" -i "$work/vault.exist_users.yml" \
        --vault-password-file "$work/vault-pass"
    check report "$reports/second" "$url" "$second"
    check owners "$url" "$owners"
    echo "existio_exist_worker_process=$in_worker: drift report, first and second run as expected"
done

# -- modules of the playbook named like the collection's ------------------------
# library/values.py and library/attribute.py answer like the collection's modules; only
# existio.exist.attribute_info (one request per user) counts. --limit leaves dave out: not_run.
# The playbook runs from a directory outside the collection, as a user's does: inside it, ansible-core
# would resolve a short name to this collection first.
playbooks="$(mktemp -d "${TMPDIR:-/tmp}/fleet-local-modules.XXXXXX")"
trap 'rm -rf "$playbooks"' EXIT
cp -R local_modules.yml library "$playbooks/"
check reset "$url" seed.json
check clear "$url"
EXIST_FLEET_REPORT_DIR="$work/reports-local/run" run 0 ansible-playbook "$playbooks/local_modules.yml" \
    -e "@$(cd "$(dirname "$config")" && pwd)/$(basename "$config")" -i "$work/fleet.exist_users.yml" \
    --limit alice,bob,carol -vvv
local='{"users": {"total": 3, "ran": 3, "unchanged": 3, "changed": 0, "failed": 0, "outcome_unknown": 0,
                  "not_run": 0, "outside_limit": 1, "by_outcome": {"not_run": []}},
        "items": {"changed": 0, "failed": 0, "outcome_unknown": 0},
        "attributes": {"acquired": {"total": 0}}, "values": {"updated": {"total": 0}},
        "reauthorization_needed": []}'
check report "$work/reports-local/run" "$url" "$local" --playbook local_modules
"$py" -c 'import json, sys; assert "dave" not in json.load(open(sys.argv[1]))["per_user"]' \
    "$work/reports-local/run/exist-fleet-report-latest.json"
echo "modules of the playbook named values and attribute: not counted; dave (--limit) outside the limit"

# -- a run of no task of this collection writes no report ----------------------
# A ping and a debug on localhost, the users inventory loaded and the callback enabled, into a directory that
# holds a report and its latest links (a copy of the first run's): nothing is written, nothing replaced.
kept="$work/reports-ping"
mkdir -p "$kept"
cp -P "$work/reports-worker-true/first"/exist-fleet-report-* "$kept/"
snapshot() { (cd "$1" && ls -lA --time-style=full-iso && md5sum -- exist-fleet-report-*); }  # -A: no . or ..
snapshot "$kept" >"$work/ping-before.txt"
cat >"$playbooks/ping.yml" <<'EOF'
---
- name: Nothing of existio.exist
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
    - name: Say hello
      ansible.builtin.debug:
        msg: hello
EOF
EXIST_FLEET_REPORT_DIR="$kept" ansible-playbook "$playbooks/ping.yml" -i "$work/fleet.exist_users.yml" \
    -e "ansible_python_interpreter=$py" -vv >"$work/ping.out" 2>&1 || { cat "$work/ping.out"; exit 1; }
cat "$work/ping.out" >>"$log"
snapshot "$kept" >"$work/ping-after.txt"
diff "$work/ping-before.txt" "$work/ping-after.txt" || { echo "a ping run changed the reports" >&2; exit 1; }
grep -q 'existio.exist.fleet_report: no task of existio.exist ran: no report written' "$work/ping.out"
! grep -q 'fleet_report: Report:' "$work/ping.out" || { echo "a ping run named a report" >&2; exit 1; }
echo "a ping run with the callback: no report written, none replaced ($(wc -l <"$work/ping-after.txt") lines alike)"

# -- ansible-runner: each job's report in its artifacts, its summary in its artifact data ------------
# Two job slices (--limit halves) of the converge, as AWX runs them: output_dir unset, so the report goes to
# AWX_ISOLATED_DATA_DIR, which ansible-runner sets to <private_data_dir>/artifacts/<ident>. bob must
# re-authorise (marked in the store): his slice's report lists him, whether a task ran for him or not.
private="$work/runner"
mkdir -p "$private/project" "$private/inventory"
cp converge.yml "$private/project/"
check store seed.json "$private/inventory/tokens.yml" --mark-reauthorization bob
cp "$work/fleet.exist_users.yml" "$private/inventory/"
config_path="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
check reset "$url" seed.json
slice=0
for limit in alice,bob carol,dave; do
    slice=$((slice + 1))
    check clear "$url"
    # carol's token lacks mood_write: her slice's playbook fails (status 2), which ansible-runner passes on.
    status=0
    reauthorize='[]'
    if [ "$limit" = carol,dave ]; then status=2; else reauthorize='["bob"]'; fi
    run "$status" env -u EXIST_FLEET_REPORT_DIR "$py" -m ansible_runner run "$private" -p converge.yml \
        --ident "slice-$slice" --limit "$limit" --cmdline "-e @$config_path -e existio_exist_worker_process=true"
    artifacts="$private/artifacts/slice-$slice"
    check runner-job "$artifacts"
    check report "$artifacts" "$url" "{\"users\": {\"total\": 2, \"ran\": 2, \"not_run\": 0, \"outside_limit\": 2},
                                     \"reauthorization_needed\": $reauthorize}"
done
check slices seed.json "$private/artifacts/slice-1" "$private/artifacts/slice-2"
grep -q -F -- '## Users who must re-authorise' "$private/artifacts/slice-1/exist-fleet-report-latest.md"
echo "ansible-runner: two job slices, each report in its job's artifacts and its summary in the artifact data"

# -- no token anywhere -------------------------------------------------------
leaks=0
for token in $(grep -o '"fleet-[a-z]*-[A-Za-z0-9]*"' seed.json | tr -d '"'); do
    for file in "$log" "$work"/reports-*/*/exist-fleet-report-* "$private"/artifacts/*/exist-fleet-report-* \
        "$private"/artifacts/*/job_events/*.json; do
        if grep -q -F -- "$token" "$file"; then
            echo "a token appears in $file" >&2
            leaks=1
        fi
    done
done
lines=$(wc -l <"$log")
report_files=$(find "$work" -name 'exist-fleet-report-*' ! -name 'exist-fleet-report-latest.*' | wc -l)
echo "checked $lines lines of output (-vvv) and $report_files report files for 4 tokens"
# 7 runs of ansible-playbook, the copy in reports-ping, 2 jobs of ansible-runner: 10 reports of two files each.
[ "$report_files" -eq 20 ] || { echo "expected 20 report files, found $report_files" >&2; exit 1; }
[ "$lines" -gt 200 ] || { echo "the output is suspiciously short" >&2; exit 1; }
exit "$leaks"
