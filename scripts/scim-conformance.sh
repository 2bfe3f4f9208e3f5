#!/usr/bin/env bash
# SCIM 2.0 conformance: scim2-tester (python-scim, from PyPI) runs every check
# it has against the real binary's /scim/v2, on a fresh SQLite database and
# then on a fresh PostgreSQL database. For each, an admin is bootstrapped, a
# customer and a SCIM token are made over HTTP, and the tester runs with that
# token. Any check that is not a SUCCESS (SKIPPED included) fails the script.
#
#   scripts/scim-conformance.sh               # uses target/debug/roster
#   ROSTER_BIN=target/release/roster scripts/scim-conformance.sh
#
# Knobs: ROSTER_BIN, ROSTER_SCIM_VENV (default target/scim-venv; reused),
# ROSTER_SCIM_PG (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Pinned: bump deliberately, together with a green run.
SCIM2_TESTER_VERSION=0.5.2

BIN="${ROSTER_BIN:-target/debug/roster}"
VENV="${ROSTER_SCIM_VENV:-target/scim-venv}"
PG_BASE="${ROSTER_SCIM_PG:-postgres://postgres@127.0.0.1:5432}"

section() { printf '\n==== [%s] %s ====\n' "$(date -u +%H:%M:%S)" "$*"; }

section "tools: scim2-tester ${SCIM2_TESTER_VERSION}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# `pip show` fails when nothing is installed yet (a fresh clone): that is "none".
installed="$("$VENV/bin/python" -m pip show scim2-tester 2>/dev/null | awk '$1 == "Version:" {print $2}' || true)"
if [ "$installed" != "$SCIM2_TESTER_VERSION" ] || ! "$VENV/bin/python" -c 'import httpx2' 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "scim2-tester[httpx2]==${SCIM2_TESTER_VERSION}"
fi

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

json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

# Serves roster on `database_url`, makes a customer and a SCIM token, and
# runs the tester against it.
run_against() {
    local database_url="$1"
    local port base email password access customer token
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    base="http://127.0.0.1:${port}"
    email="admin@scim-conformance.example"
    # A throwaway password for a throwaway database.
    password="scim conformance $(python3 -c 'import secrets; print(secrets.token_hex(8))')"
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

    access="$(curl -fsS -X POST "$base/v1/auth/token" -d grant_type=password \
        --data-urlencode "username=$email" --data-urlencode "password=$password" | json_field access_token)"
    customer="$(curl -fsS -X POST "$base/v1/customers" -H "Authorization: Bearer $access" \
        -H 'Content-Type: application/json' -d '{"name": "SCIM conformance"}' | json_field id)"
    token="$(curl -fsS -X POST "$base/v1/customers/$customer/scim-tokens" -H "Authorization: Bearer $access" \
        -H 'Content-Type: application/json' -d '{"description": "scim2-tester"}' | json_field token)"

    "$VENV/bin/python" scripts/scim_conformance.py "$base/scim/v2" "$token"

    if grep -E -q 'request failed|panicked' "$WORK/server.log"; then
        echo "the server logged internal errors during the run:" >&2
        grep -E 'request failed|panicked' "$WORK/server.log" | tail -n 20 >&2
        return 1
    fi
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
}

section "scim2-tester against roster on SQLite"
run_against "$WORK/roster.db"

section "scim2-tester against roster on PostgreSQL"
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    PG_DB="roster_scim_$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
    createdb -h 127.0.0.1 -U postgres "$PG_DB"
    run_against "${PG_BASE}/${PG_DB}"
elif [ "${CI:-}" = "true" ]; then
    echo "ERROR: PostgreSQL is not reachable: the SCIM conformance run on PostgreSQL was skipped" >&2
    exit 1
else
    echo "WARNING: PostgreSQL is not reachable: the SCIM conformance run on PostgreSQL was skipped" >&2
fi
echo "SCIM conformance passed"
