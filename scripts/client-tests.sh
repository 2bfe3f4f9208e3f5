#!/usr/bin/env bash
# The TypeScript client (clients/typescript) against the real binary:
#
#   1. install its pinned packages (npm ci);
#   2. regenerate its types from openapi/openapi.json and fail if the
#      committed src/generated/schema.ts differs (no hand edits, no drift);
#   3. compile everything with `tsc --strict` (no skipLibCheck), so a contract
#      change that breaks the typed layer or its tests fails here;
#   4. run its tests against roster on a fresh SQLite database, then on a
#      fresh PostgreSQL database (skipped only when PostgreSQL is unreachable
#      and CI is not "true").
#
#   scripts/client-tests.sh                   # uses target/debug/roster
#   ROSTER_BIN=target/release/roster scripts/client-tests.sh
#
# Knobs: ROSTER_BIN, ROSTER_CLIENT_PG (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN="${ROSTER_BIN:-target/debug/roster}"
PG_BASE="${ROSTER_CLIENT_PG:-postgres://postgres@127.0.0.1:5432}"
CLIENT=clients/typescript

section() { printf '\n==== [%s] %s ====\n' "$(date -u +%H:%M:%S)" "$*"; }

section "npm ci (${CLIENT})"
(cd "$CLIENT" && npm ci --no-audit --no-fund)

section "generated types match openapi/openapi.json"
(cd "$CLIENT" && npm run --silent check:generated) || {
    echo "clients/typescript/src/generated/schema.ts is stale: run \`npm run generate\` in ${CLIENT}" >&2
    exit 1
}

section "tsc --strict (no skipLibCheck)"
(cd "$CLIENT" && npx tsc -p tsconfig.json)

[ -x "$BIN" ] || cargo build --quiet

SERVER=""
WORK="$(mktemp -d)"
PG_DB=""
cleanup() {
    local rc=$?
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    if [ -n "$PG_DB" ]; then
        dropdb --if-exists -h 127.0.0.1 -U postgres "$PG_DB" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -f "$WORK/server.log" ]; then
        echo "---- server log (last 40 lines) ----"
        tail -n 40 "$WORK/server.log" || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

# Runs the client's tests against a server on the given database URL.
run_against() {
    local database_url="$1"
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    local base="http://127.0.0.1:${port}"
    local email="admin@client-tests.example"
    # A throwaway password for a throwaway database.
    local password
    password="client tests $(python3 -c 'import secrets; print(secrets.token_hex(8))')"
    : >"$WORK/server.log"
    NO_COLOR=1 ROSTER_DATABASE_URL="$database_url" ROSTER_BIND="127.0.0.1:${port}" ROSTER_APP_URL="$base" \
        ROSTER_MAIL_PROVIDER=log ROSTER_AUTH_RATE_LIMIT=0 \
        ROSTER_BOOTSTRAP_ADMIN_EMAIL="$email" ROSTER_BOOTSTRAP_ADMIN_PASSWORD="$password" \
        "$BIN" serve >>"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do
        curl -fs "$base/readyz" >/dev/null 2>&1 && break
        kill -0 "$SERVER" 2>/dev/null || { echo "roster exited during start-up" >&2; return 1; }
        sleep 0.1
    done
    curl -fs "$base/readyz" >/dev/null || { echo "roster is not ready on $base" >&2; return 1; }
    (cd "$CLIENT" && ROSTER_URL="$base" ROSTER_ADMIN_EMAIL="$email" ROSTER_ADMIN_PASSWORD="$password" \
        node --test --test-concurrency=1 dist/test/)
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
}

section "client tests against roster on SQLite"
run_against "$WORK/roster.db"

section "client tests against roster on PostgreSQL"
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    PG_DB="roster_client_$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
    createdb -h 127.0.0.1 -U postgres "$PG_DB"
    run_against "${PG_BASE}/${PG_DB}"
elif [ "${CI:-}" = "true" ]; then
    echo "ERROR: PostgreSQL is not reachable: the client tests on PostgreSQL were skipped" >&2
    exit 1
else
    echo "WARNING: PostgreSQL is not reachable: the client tests on PostgreSQL were skipped" >&2
fi
echo "client tests passed"
