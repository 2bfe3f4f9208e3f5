#!/usr/bin/env bash
# Contract checks, runnable in CI:
#
#   1. lint the committed openapi/openapi.json with openapi-spec-validator,
#      Redocly (rules in redocly.yaml) and Spectral (spectral:oas and the OWASP
#      ruleset; what is turned off, and why, is in .spectral.yaml);
#   2. start roster from a built binary on a fresh SQLite database and fuzz it
#      with schemathesis against its own /openapi.json: every check, positive
#      and negative data, examples, coverage, fuzzing and the stateful phase,
#      signed in as a platform admin.
#
# Any lint error or schemathesis failure fails the script.
#
#   scripts/contract.sh                          # uses target/debug/roster
#   ROSTER_BIN=target/release/roster scripts/contract.sh
#
# Knobs (environment):
#   ROSTER_BIN                    binary to serve (default target/debug/roster; built if missing)
#   ROSTER_CONTRACT_VENV          Python virtualenv (default target/contract-venv; reused)
#   ROSTER_CONTRACT_MAX_EXAMPLES  examples per operation and phase (default 40)
#   ROSTER_CONTRACT_WORKERS       schemathesis workers (default 2)
#   ROSTER_CONTRACT_SEED          hypothesis seed (default 1; `random` for a fresh one)
#   ROSTER_CONTRACT_REPORT_DIR    JUnit report and server log (default target/contract-report)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Pinned tool versions: bump deliberately, together with a green run.
SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.9.0
REDOCLY_VERSION=2.77.0
SPECTRAL_VERSION=6.16.3
SPECTRAL_OWASP_VERSION=2.0.1

VENV="${ROSTER_CONTRACT_VENV:-target/contract-venv}"
BIN="${ROSTER_BIN:-target/debug/roster}"
MAX_EXAMPLES="${ROSTER_CONTRACT_MAX_EXAMPLES:-40}"
WORKERS="${ROSTER_CONTRACT_WORKERS:-2}"
SEED="${ROSTER_CONTRACT_SEED:-1}"
REPORT_DIR="${ROSTER_CONTRACT_REPORT_DIR:-target/contract-report}"
SPEC=openapi/openapi.json

section() { printf '\n==== [%s] %s ====\n' "$(date -u +%H:%M:%S)" "$*"; }

# --- tools ----------------------------------------------------------------------
section "tools: schemathesis ${SCHEMATHESIS_VERSION}, openapi-spec-validator ${SPEC_VALIDATOR_VERSION}, @redocly/cli ${REDOCLY_VERSION}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
installed() { "$VENV/bin/python" -m pip show "$1" 2>/dev/null | awk '$1 == "Version:" {print $2}'; }
if [ "$(installed schemathesis)" != "$SCHEMATHESIS_VERSION" ] ||
    [ "$(installed openapi-spec-validator)" != "$SPEC_VALIDATOR_VERSION" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==${SCHEMATHESIS_VERSION}" "openapi-spec-validator==${SPEC_VALIDATOR_VERSION}"
fi
"$VENV/bin/schemathesis" --version

# --- lint -----------------------------------------------------------------------
section "lint: openapi-spec-validator ${SPEC}"
"$VENV/bin/openapi-spec-validator" "$SPEC"

section "lint: redocly lint ${SPEC} (redocly.yaml)"
# NO_UPDATE_NOTIFIER/REDOCLY_TELEMETRY: no calls home from CI.
NO_UPDATE_NOTIFIER=1 REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    npx --yes "@redocly/cli@${REDOCLY_VERSION}" lint --config redocly.yaml --max-problems 200 "$SPEC"

section "lint: spectral lint ${SPEC} (.spectral.yaml: spectral:oas + OWASP)"
# Installed under target/ so that .spectral.yaml's `extends` resolves the
# OWASP ruleset package (NODE_PATH); reused while the versions match.
SPECTRAL_DIR=target/spectral
if [ "$(cat "$SPECTRAL_DIR/.versions" 2>/dev/null)" != "${SPECTRAL_VERSION} ${SPECTRAL_OWASP_VERSION}" ]; then
    rm -rf "$SPECTRAL_DIR"
    mkdir -p "$SPECTRAL_DIR"
    npm install --prefix "$SPECTRAL_DIR" --no-audit --no-fund --silent \
        "@stoplight/spectral-cli@${SPECTRAL_VERSION}" "@stoplight/spectral-owasp-ruleset@${SPECTRAL_OWASP_VERSION}"
    echo "${SPECTRAL_VERSION} ${SPECTRAL_OWASP_VERSION}" >"$SPECTRAL_DIR/.versions"
fi
NODE_PATH="$SPECTRAL_DIR/node_modules" "$SPECTRAL_DIR/node_modules/.bin/spectral" lint \
    --ruleset .spectral.yaml --fail-severity=warn "$SPEC"

# --- server -----------------------------------------------------------------------
section "server: ${BIN} on a fresh SQLite database"
[ -x "$BIN" ] || cargo build --quiet
WORK="$(mktemp -d)"
mkdir -p "$REPORT_DIR"
LOG="$REPORT_DIR/server.log"
: >"$LOG"
SERVER=""
cleanup() {
    local rc=$?
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ]; then
        echo
        echo "---- server log (last 60 lines of $LOG) ----"
        tail -n 60 "$LOG" || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:${PORT}"
BOOTSTRAP_EMAIL="admin@contract.test"
FUZZER_EMAIL="fuzzer@contract.test"
# Throwaway credentials of a throwaway database.
BOOTSTRAP_PASSWORD="contract bootstrap $(python3 -c 'import secrets; print(secrets.token_hex(8))')"
FUZZER_PASSWORD="contract fuzzer $(python3 -c 'import secrets; print(secrets.token_hex(8))')"

export NO_COLOR=1
export ROSTER_DATABASE_URL="$WORK/roster.db"
export ROSTER_BIND="127.0.0.1:${PORT}"
export ROSTER_APP_URL="$BASE"
export ROSTER_MAIL_PROVIDER=log
export ROSTER_MAIL_POLL_INTERVAL=200ms
export ROSTER_AUTH_RATE_LIMIT=0
export ROSTER_ACCESS_TOKEN_TTL=1h
# POST /v1/me/password with a wrong current password counts as a failed
# sign-in, and the fuzzer cannot know its password: at the default of 5 it
# would lock (and so sign out) itself within seconds. 1000 is the highest
# threshold allowed; lockout itself is covered by the Rust tests.
export ROSTER_LOCKOUT_THRESHOLD=1000
# The fuzzer is one caller asking for confirmation emails at random: at the
# default of 100 an hour it would spend most of the run on 429s. The cap is
# covered by the Rust tests.
export ROSTER_CONFIRMATION_EMAILS_PER_HOUR=10000
export ROSTER_BOOTSTRAP_ADMIN_EMAIL="$BOOTSTRAP_EMAIL"
export ROSTER_BOOTSTRAP_ADMIN_PASSWORD="$BOOTSTRAP_PASSWORD"

# The fuzzer signs in as a second platform admin of its own. The server refuses
# to let an admin inactivate, retire or delete themselves, so nothing the fuzzer
# sends can take its own identity away; the bootstrap admin stays a target like
# any other user (it may well be inactivated or deleted during the run).
printf '%s\n' "$FUZZER_PASSWORD" |
    "$BIN" admin create --email "$FUZZER_EMAIL" --password-stdin >>"$LOG" 2>&1

"$BIN" serve >>"$LOG" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
    curl -fs "$BASE/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || { echo "roster exited during start-up" >&2; exit 1; }
    sleep 0.1
done
curl -fs "$BASE/readyz" >/dev/null || { echo "roster is not ready on $BASE" >&2; exit 1; }
echo "roster is ready on $BASE"

TOKEN="$(curl -fs -X POST "$BASE/v1/auth/token" \
    -d grant_type=password --data-urlencode "username=$FUZZER_EMAIL" \
    --data-urlencode "password=$FUZZER_PASSWORD" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
[ -n "$TOKEN" ] || { echo "could not sign in as $FUZZER_EMAIL" >&2; exit 1; }
echo "signed in as the platform admin $FUZZER_EMAIL"

# /scim/v2 takes SCIM tokens only (scripts/schemathesis.toml sends this one
# there): a customer of its own for the fuzzer's SCIM requests.
SCIM_CUSTOMER="$(curl -fs -X POST "$BASE/v1/customers" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"name": "SCIM contract"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
ROSTER_CONTRACT_SCIM_TOKEN="$(curl -fs -X POST "$BASE/v1/customers/$SCIM_CUSTOMER/scim-tokens" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
export ROSTER_CONTRACT_SCIM_TOKEN
[ -n "$ROSTER_CONTRACT_SCIM_TOKEN" ] || { echo "could not make a SCIM token" >&2; exit 1; }

# --- fuzz ---------------------------------------------------------------------------
section "schemathesis run ${BASE}/openapi.json (all checks, all modes, all phases)"
seed_args=()
[ "$SEED" != random ] && seed_args=(--seed "$SEED")
# scripts/contract_hooks.py drops ST202 only for answers that depend on state
# no schema can express (see there); every other failure fails the run.
PYTHONPATH="scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=contract_hooks \
    "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$BASE/openapi.json" \
    --checks all \
    --mode all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" \
    --workers "$WORKERS" \
    "${seed_args[@]}" \
    --header "Authorization: Bearer $TOKEN" \
    --request-timeout 10 \
    --generation-database none \
    --report junit --report-junit-path "$REPORT_DIR/junit.xml" \
    --no-color

kill -0 "$SERVER" 2>/dev/null || { echo "roster died during the run" >&2; exit 1; }
# A run whose identity was signed out half-way only tested 401s: refuse it.
curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/v1/me" ||
    { echo "the fuzzer's own session did not survive the run" >&2; exit 1; }
# A 500 logs "request failed" (src/error.rs); a panic logs "panicked". (actix's
# own "request parse error" for bytes that are not HTTP is a 400, not ours.)
if grep -E -q 'request failed|panicked' "$LOG"; then
    echo "the server logged internal errors during the run:" >&2
    grep -E 'request failed|panicked' "$LOG" | tail -n 20 >&2
    exit 1
fi
echo "contract checks passed"
