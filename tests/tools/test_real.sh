#!/usr/bin/env bash
# `make test-real`: the opt-in integration target attribute_real against the
# real Exist service (or EXIST_TEST_API_URL). Needs EXIST_TEST_TOKEN, an OAuth2
# access token of a test account; EXIST_TEST_TEMPLATE picks the one attribute
# it may acquire and release (see the target's tasks/main.yml for what it
# touches). Never part of `make test`.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ -n "${EXIST_TEST_TOKEN:-}" ]] || die "set EXIST_TEST_TOKEN to an OAuth2 access token of a test account"
core="${REAL_CORE:-2.19}"
bash "$ROOT/tests/tools/venv.sh" "$core"
bash "$ROOT/tests/tools/layout.sh"
config="$COPY/tests/integration/integration_config.yml"
# ansible-test does not pass the environment on to the target: hand the values
# over in its config file, readable only by this user, and remove it after.
trap 'rm -f "$config"' EXIT
(
    umask 077
    "$(venv_dir "$core")/bin/python" - "$config" <<'PY'
import json, os, sys
values = {'exist_test_token': os.environ['EXIST_TEST_TOKEN'],
          'exist_test_api_url': os.environ.get('EXIST_TEST_API_URL', ''),
          'exist_test_template': os.environ.get('EXIST_TEST_TEMPLATE', '')}
with open(sys.argv[1], 'w') as handle:
    json.dump(values, handle)  # JSON is YAML
PY
)
cd "$COPY"
PATH="$(venv_path "$core")" ansible-test integration attribute_real --allow-unsupported --local \
    --python "${PY_FOR_CORE[$core]}" --color no
