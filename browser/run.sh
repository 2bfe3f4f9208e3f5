#!/usr/bin/env bash
# The account pages in a real browser, on both backends: Debian's Chromium,
# headless, driven by playwright-core (pinned to the release built for the
# same Chromium major; see package.json), against the real binary.
#
#   browser/run.sh                               # target/debug/roster, SQLite and PostgreSQL
#   ROSTER_BROWSER_SCREENSHOTS=docs/screenshots browser/run.sh   # refresh the screenshots
#
# Knobs (environment):
#   ROSTER_BIN               the binary (default target/debug/roster; built if missing)
#   ROSTER_BROWSER_PG_URL    PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres);
#                            a database `roster_browser` is made afresh there. Unreachable: skipped
#                            with a warning, or an error with CI=true
#   ROSTER_BROWSER_SCREENSHOTS  folder for the screenshots of the SQLite run (default: none)
#   CHROMIUM                 the browser (default /usr/bin/chromium; apt package `chromium`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN="${ROSTER_BIN:-target/debug/roster}"
PG_URL="${ROSTER_BROWSER_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

section() { printf '\n==== [%s] %s ====\n' "$(date -u +%H:%M:%S)" "$*"; }

section "tools: chromium (apt), playwright-core (npm)"
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
"$CHROMIUM" --version
(cd browser && npm ci --no-audit --no-fund --silent)
node -e "console.log('playwright-core', require('./browser/node_modules/playwright-core/package.json').version)"

if [ ! -x "$BIN" ]; then
    cargo build --quiet
fi
BIN="$(realpath "$BIN")"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# What a person sees at start, written to a file (not a terminal): plain text,
# and a first link on the port really listened on.
section "start-up output: no colour escapes off a terminal; the link names the real port"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
ROSTER_DATABASE_URL="$WORK/startup.db" ROSTER_BIND="127.0.0.1:${port}" \
    timeout --signal=TERM 5 "$BIN" >"$WORK/startup.log" 2>&1 </dev/null || true
if grep -q $'\e\[' "$WORK/startup.log"; then
    echo "the start-up output holds colour escape codes:" >&2
    cat -v "$WORK/startup.log" >&2
    exit 1
fi
if ! grep -q "http://127.0.0.1:${port}/activate?token=rat_" "$WORK/startup.log"; then
    echo "the start-up output has no activation link on port ${port}:" >&2
    cat "$WORK/startup.log" >&2
    exit 1
fi
echo "plain text, and the link is http://127.0.0.1:${port}/activate?token=rat_…"

run_suite() {
    local backend="$1" url="$2" shots="${3:-}"
    section "browser suite on ${backend}"
    (cd browser && ROSTER_BIN="$BIN" ROSTER_BROWSER_DATABASE_URL="$url" \
        ROSTER_BROWSER_SCREENSHOTS="$shots" \
        timeout --kill-after=10 600 node --test --test-concurrency=1 --test-reporter=spec suite.test.mjs)
}

shots="${ROSTER_BROWSER_SCREENSHOTS:-}"
if [ -n "$shots" ]; then
    shots="$(realpath -m "$shots")"
fi
run_suite SQLite "$WORK/roster.db" "$shots"

browser_db="${PG_URL%/*}/roster_browser"
if psql "$PG_URL" -q -c 'SELECT 1' >/dev/null 2>&1; then
    psql "$PG_URL" -q -c 'DROP DATABASE IF EXISTS roster_browser' -c 'CREATE DATABASE roster_browser'
    run_suite PostgreSQL "$browser_db"
    psql "$PG_URL" -q -c 'DROP DATABASE IF EXISTS roster_browser'
elif [ "${CI:-}" = "true" ]; then
    echo "ERROR: PostgreSQL is not reachable at ${PG_URL}: the browser suite did not run on it" >&2
    exit 1
else
    echo "WARNING: PostgreSQL is not reachable at ${PG_URL}: the browser suite ran on SQLite only" >&2
fi
