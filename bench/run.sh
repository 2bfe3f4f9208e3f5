#!/usr/bin/env bash
# Benchmarks roster against the machine's own limits, as ratios measured in
# one run (the machine is shared and noisy: rounds interleave, medians win).
#
#   bench/run.sh                    # 100k users, 10 s per measurement, 3 rounds
#   BENCH_USERS=1000000 bench/run.sh
#   BENCH_SMOKE=1 bench/run.sh      # tiny data, 1 s each: keeps the harness working
#
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth), pgbench, and wrk (installed
# from Debian's packages when missing). Prints one line per metric.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SMOKE="${BENCH_SMOKE:-}"
USERS="${BENCH_USERS:-100000}"
SECONDS_EACH="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
if [ -n "$SMOKE" ]; then USERS=2000; SECONDS_EACH=1; ROUNDS=1; fi
PORT="${BENCH_PORT:-18777}"
BASE="http://127.0.0.1:$PORT"
PG_ADMIN="postgres://postgres@127.0.0.1:5432/postgres"
DB="roster_bench"
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
ADMIN_EMAIL="bench@roster.test"
ADMIN_PASSWORD="correct horse battery staple"
WORK="$(mktemp -d)"
THREADS="$(nproc)"

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }; }
if [ -n "${ROSTER_BIN:-}" ]; then BIN="$ROSTER_BIN"; else cargo build --release --quiet; BIN=target/release/roster; fi
cargo build --release --quiet --example argon2_rate

say() { printf '%s\n' "$*" >&2; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s..%s", lo, hi}'; }

say "== database $DB with $USERS users in 10 customers"
psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
ROSTER_DATABASE_URL="$DB_URL" "$BIN" migrate >/dev/null 2>&1
psql -q "$DB_URL" -v n="$USERS" <<'SQL'
INSERT INTO customers (id, name, name_lower, version, created_at, updated_at)
SELECT gen_random_uuid()::text, 'Customer ' || g, 'customer ' || g, 1, now() - g * interval '1 second', now()
FROM generate_series(1, 10) g;
INSERT INTO users (id, email, email_lower, first_name, first_name_lower, last_name, last_name_lower,
                   status, platform_role, session_version, failed_logins, status_changed_at, version,
                   created_at, updated_at, invited_at, activated_at)
SELECT gen_random_uuid()::text, 'user' || g || '@bench.test', 'user' || g || '@bench.test',
       'First' || g, 'first' || g, 'Last' || g, 'last' || g, 'active', 'none', 0, 0, now(), 1,
       now() - g * interval '1 millisecond', now(), now(), now()
FROM generate_series(1, :n) g;
INSERT INTO memberships (customer_id, user_id, role, settings, added_at, updated_at)
SELECT c.id, u.id, 'full_access', '{}', u.created_at, u.created_at
FROM (SELECT id, created_at, row_number() OVER () AS rn FROM users) u
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx FROM customers) c ON c.idx = u.rn % 10;
ANALYZE;
SQL
pgbench -i -q -s 10 "$DB_URL" >/dev/null 2>&1

say "== roster (release) on PostgreSQL"
ROSTER_DATABASE_URL="$DB_URL" ROSTER_BIND="127.0.0.1:$PORT" ROSTER_AUTH_RATE_LIMIT=0 ROSTER_ACCESS_TOKEN_TTL=2h \
ROSTER_BOOTSTRAP_ADMIN_EMAIL="$ADMIN_EMAIL" ROSTER_BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" RUST_LOG=warn \
ROSTER_DATABASE_POOL_SIZE="${BENCH_POOL:-16}" "$BIN" serve >"$WORK/roster.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1
IDLE_RSS_KB="$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")"

TOKEN="$(curl -s "$BASE/v1/auth/token" -d grant_type=password --data-urlencode "username=$ADMIN_EMAIL" \
    --data-urlencode "password=$ADMIN_PASSWORD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
read -r USER_ID CUSTOMER_ID < <(psql -tA -F' ' "$DB_URL" -c \
    "SELECT user_id, customer_id FROM memberships ORDER BY added_at DESC LIMIT 1 OFFSET 7")
# A cursor 99% of the way down the customer's list (keyset: no OFFSET in roster).
DEEP_CURSOR="$(psql -tA "$DB_URL" -c "
    SELECT (extract(epoch FROM added_at) * 1000000)::bigint || '|' || user_id FROM memberships
    WHERE customer_id = '$CUSTOMER_ID' ORDER BY added_at DESC, user_id DESC
    OFFSET (SELECT (count(*) * 0.99)::int FROM memberships WHERE customer_id = '$CUSTOMER_ID') LIMIT 1" |
    python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.read().strip().encode()).decode().rstrip("="))')"

cat >"$WORK/list.sql" <<SQL
SELECT memberships.customer_id, memberships.user_id, memberships.role, memberships.settings, memberships.added_at,
       memberships.updated_at, users.*
FROM memberships INNER JOIN users ON users.id = memberships.user_id
WHERE memberships.customer_id = '$CUSTOMER_ID'
ORDER BY memberships.added_at DESC, memberships.user_id DESC LIMIT 51;
SQL
cat >"$WORK/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&username=$ADMIN_EMAIL&password=correct+horse+battery+staple"
LUA

# wrk_rps URL [extra wrk args…] → requests/s; fails on any non-2xx answer.
wrk_rps() {
    local url="$1"; shift
    local out
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -H "Authorization: Bearer $TOKEN" "$@" "$url")"
    if grep -q "Non-2xx" <<<"$out"; then say "$out"; say "non-2xx answers from $url"; exit 1; fi
    awk '/Requests\/sec/ {print $2}' <<<"$out"
}
# wrk_latency_ms URL → mean latency on one connection, in ms.
wrk_latency_ms() {
    wrk -t1 -c1 -d"${SECONDS_EACH}s" -H "Authorization: Bearer $TOKEN" "$1" |
        awk '/Latency/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else {sub(/s/,"",v); v*=1000}; print v}'
}
pgbench_tps() {
    pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$SECONDS_EACH" "$@" "$DB_URL" 2>/dev/null |
        awk '/^tps/ {print $3; exit}'
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.3f}')" "$1" "$2"; }

: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    say "== round $round of $ROUNDS"
    get="$(wrk_rps "$BASE/v1/users/$USER_ID")"
    select_tps="$(pgbench_tps -S)"
    list="$(wrk_rps "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50")"
    list_tps="$(pgbench_tps -f "$WORK/list.sql")"
    first_ms="$(wrk_latency_ms "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50")"
    deep_ms="$(wrk_latency_ms "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50&cursor=$DEEP_CURSOR")"
    login="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -s "$WORK/login.lua" "$BASE/v1/auth/token" | awk '/Requests\/sec/ {print $2}')"
    argon="$(target/release/examples/argon2_rate --threads "$THREADS" --seconds "$SECONDS_EACH")"
    {
        echo "R_get $(ratio "$get" "$select_tps") $get $select_tps"
        echo "R_list $(ratio "$list" "$list_tps") $list $list_tps"
        echo "S_depth $(ratio "$deep_ms" "$first_ms") $deep_ms $first_ms"
        echo "R_login $(ratio "$login" "$argon") $login $argon"
    } >>"$WORK/results"
done
PEAK_RSS_KB="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")"

printf '\n%-8s %8s %-14s %s\n' metric median spread "raw (last round)"
for metric in R_get R_list S_depth R_login; do
    values="$(awk -v m="$metric" '$1 == m {print $2}' "$WORK/results")"
    last="$(awk -v m="$metric" '$1 == m {print $3 " / " $4}' "$WORK/results" | tail -1)"
    printf '%-8s %8s %-14s %s\n' "$metric" "$(median <<<"$values")" "$(spread <<<"$values")" "$last"
done
printf '%-8s %8s\n' "RSS_idle" "$((IDLE_RSS_KB / 1024)) MB"
printf '%-8s %8s\n' "RSS_peak" "$((PEAK_RSS_KB / 1024)) MB"
printf 'users=%s seconds_each=%s rounds=%s connections=%s threads=%s\n' "$USERS" "$SECONDS_EACH" "$ROUNDS" "$CONNECTIONS" "$THREADS"
