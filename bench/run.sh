#!/usr/bin/env bash
# Benchmarks roster against the machine's own limits, as ratios measured in
# one run (the machine is shared and noisy: rounds interleave, medians win).
# See BENCHMARKS.md for the method and the numbers.
#
#   bench/run.sh                    # 100k users, 10 s per measurement, 3 rounds
#   BENCH_USERS=1000000 BENCH_SQLITE=0 bench/run.sh
#   BENCH_SMOKE=1 bench/run.sh      # tiny data, 1 s each: keeps the harness working
#   BENCH_SQLITE=0 / BENCH_OUTBOX=0 / BENCH_SCALE_OUT=0 / BENCH_IMPORT=0  # skip a part
#   BENCH_IMPORT_ROWS=100000        # rows of the bulk import/export phase (smoke: 2000)
#   BENCH_PROFILE=dev                # debug build (CI's smoke run: no release build)
#
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth), pgbench, python3, wrk and
# HAProxy (both installed from Debian's packages when missing). Prints one
# line per metric.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SMOKE="${BENCH_SMOKE:-}"
USERS="${BENCH_USERS:-100000}"
SECONDS_EACH="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
# Enough sign-ins at once to keep every hashing slot busy and the queue full
# (defaults: every core hashes, at nice 10; 32 places in the
# queue per hashing slot). R_login compares with raw argon2 on as many threads.
HASH_SLOTS=$(nproc)
FLOOD_CONNECTIONS="${BENCH_FLOOD_CONNECTIONS:-$(( HASH_SLOTS * 33 ))}"
SIGN_IN_USERS=64
EMAILS="${BENCH_EMAILS:-5000}"
MAIL_CONCURRENCY="${BENCH_MAIL_CONCURRENCY:-16}"
PROVIDER_LATENCY_MS="${BENCH_PROVIDER_LATENCY_MS:-20}"
IMPORT_ROWS="${BENCH_IMPORT_ROWS:-100000}"
if [ -n "$SMOKE" ]; then USERS=2000; SECONDS_EACH=1; ROUNDS=1; EMAILS=200; IMPORT_ROWS=2000; fi
PORT="${BENCH_PORT:-18777}"
PROVIDER_PORT="$((PORT + 1))"
BASE="http://127.0.0.1:$PORT"
PG_ADMIN="postgres://postgres@127.0.0.1:5432/postgres"
DB="roster_bench"
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
ADMIN_EMAIL="bench@roster.test"
ADMIN_PASSWORD="correct horse battery staple"
WORK="$(mktemp -d)"
THREADS="$(nproc)"
SERVER=""
PROVIDER=""
INSTANCES=()
BALANCER=""
IDLE_RSS_KB=0
IDLE_ANON_KB=0
PEAK_RSS_KB=0

need_package() {
    command -v "$1" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$1" >/dev/null ||
        { apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
}
need_package wrk wrk
[ -x /usr/bin/time ] || need_package time time
[ "${BENCH_SCALE_OUT:-1}" = 0 ] || need_package haproxy haproxy
HAPROXY="$(PATH="$PATH:/usr/sbin" command -v haproxy || true)"
PROFILE="${BENCH_PROFILE:-release}"
TARGET_DIR="target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
cargo build --profile "$PROFILE" --quiet --bin roster --example argon2_rate --example fake_provider
BIN="${ROSTER_BIN:-$TARGET_DIR/roster}"
EXAMPLES="$TARGET_DIR/examples"

say() { printf '%s\n' "$*" >&2; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s..%s", lo, hi}'; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.3f}')" "$1" "$2"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

stop_server() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=""; fi
}
report() {
    [ -s "$WORK/results" ] || return 0
    printf '\n%-18s %8s %-16s %s\n' metric median spread "raw (last round: measured / baseline)"
    for metric in R_get R_list get_cpu_ms_roster list_cpu_ms_roster S_depth R_login refresh_per_core isolation shed_ms get_p99_ms_at_half outbox \
        scale_out_2 scale_out_3 scale_out_emails sqlite_get_vs_pg sqlite_list_vs_pg sqlite_S_depth \
        import_pg import_sqlite reimport_pg reimport_sqlite export_pg export_sqlite import_rss_mb; do
        values="$(awk -v m="$metric" '$1 == m {print $2}' "$WORK/results")"
        [ -n "$values" ] || continue
        last="$(awk -v m="$metric" '$1 == m {print $3 " / " $4}' "$WORK/results" | tail -1)"
        printf '%-18s %8s %-16s %s\n' "$metric" "$(median <<<"$values")" "$(spread <<<"$values")" "$last"
    done
    printf '%-18s %8s\n' "RSS_idle" "$((IDLE_RSS_KB / 1024)) MB"
    printf '%-18s %8s\n' "RSS_idle_anon" "$((IDLE_ANON_KB / 1024)) MB"
    printf '%-18s %8s\n' "RSS_peak" "$((PEAK_RSS_KB / 1024)) MB"
    printf 'users=%s seconds_each=%s rounds=%s connections=%s flood=%s threads=%s emails=%s mail_concurrency=%s provider_latency_ms=%s\n' \
        "$USERS" "$SECONDS_EACH" "$ROUNDS" "$CONNECTIONS" "$FLOOD_CONNECTIONS" "$THREADS" "$EMAILS" "$MAIL_CONCURRENCY" "$PROVIDER_LATENCY_MS"
}
cleanup() {
    report || true
    stop_server
    stop_instances
    if [ -n "$PROVIDER" ]; then kill "$PROVIDER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_server DATABASE_URL [VAR=value…]: roster in the background, ready.
start_server() {
    local url="$1"; shift
    env ROSTER_DATABASE_URL="$url" ROSTER_BIND="127.0.0.1:$PORT" ROSTER_AUTH_RATE_LIMIT=0 \
        ROSTER_ACCESS_TOKEN_TTL=2h ROSTER_BOOTSTRAP_ADMIN_EMAIL="$ADMIN_EMAIL" \
        ROSTER_BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" RUST_LOG=warn \
        ROSTER_DATABASE_POOL_SIZE="${BENCH_POOL:-16}" "$@" "$BIN" serve >>"$WORK/roster.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 150); do curl -fs "$BASE/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    say "roster did not become ready:"; tail -20 "$WORK/roster.log" >&2; exit 1
}
rss_kb() { awk "/^$1:/ {print \$2}" "/proc/$SERVER/status"; }
sign_in() {
    curl -fs "$BASE/v1/auth/token" -d grant_type=password --data-urlencode "username=${1:-$ADMIN_EMAIL}" \
        --data-urlencode "password=$ADMIN_PASSWORD"
}
# The first SIGN_IN_USERS seeded users get the admin's password (its hash).
SIGN_IN_EMAILS="$(for g in $(seq 1 $SIGN_IN_USERS); do printf "'user%s@bench.test'," "$g"; done)"
SIGN_IN_EMAILS="${SIGN_IN_EMAILS%,}"
GIVE_PASSWORDS="UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email_lower = '$ADMIN_EMAIL')
    WHERE email_lower IN ($SIGN_IN_EMAILS)"

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
# Where a load's CPU went: user+system clock ticks of roster and of the bench
# database's PostgreSQL backends ("pid ticks" lines), before and after it.
cpu_snapshot() {
    local pid
    for pid in "$SERVER" $(pgrep -f "postgres: .* $DB " || true); do
        awk -v p="$pid" -v s="$SERVER" '{print (p == s ? "roster" : "pg"), p, $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true
    done
}
# cpu_split BEFORE AFTER REQUESTS → "roster_ms pg_ms": CPU per request of each
# (a backend that started during the load counts from zero).
cpu_split() {
    awk -v n="$3" -v hz="$(getconf CLK_TCK)" '
        FNR == NR {before[$2] = $3; next}
        {used[$1] += $3 - before[$2]}
        END {printf "%.3f %.3f\n", used["roster"] * 1000 / hz / n, used["pg"] * 1000 / hz / n}' "$1" "$2"
}
# wrk_rps_cpu URL → "requests/s roster_ms pg_ms", as wrk_rps, with the CPU
# each request cost roster and PostgreSQL.
wrk_rps_cpu() {
    local out requests
    cpu_snapshot >"$WORK/cpu.before"
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -H "Authorization: Bearer $TOKEN" "$1")"
    cpu_snapshot >"$WORK/cpu.after"
    if grep -q "Non-2xx" <<<"$out"; then say "$out"; say "non-2xx answers from $1"; exit 1; fi
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(cpu_split "$WORK/cpu.before" "$WORK/cpu.after" "$requests")"
}
pgbench_tps() {
    pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" -T "$SECONDS_EACH" "$@" "$DB_URL" 2>/dev/null |
        awk '/^tps/ {print $3; exit}'
}

# --- data ---------------------------------------------------------------------
# shellcheck source=bench/seed.sh
source bench/seed.sh

# USER_ID CUSTOMER_ID of one member, and a cursor 99% down that customer's list.
pick_targets() {
    local query="$1"
    read -r USER_ID CUSTOMER_ID < <($query "SELECT user_id || ' ' || customer_id FROM memberships ORDER BY added_at DESC LIMIT 1 OFFSET 7")
    local count
    count="$($query "SELECT count(*) FROM memberships WHERE customer_id = '$CUSTOMER_ID'")"
    # Walk the API's own pages (cursors are opaque) to the last full page of 50.
    local target=$((count - 100)) seen=0 cursor="" page
    while [ "$seen" -lt "$target" ]; do
        page="$(curl -fs -H "Authorization: Bearer $TOKEN" "$BASE/v1/customers/$CUSTOMER_ID/users?limit=100${cursor:+&cursor=$cursor}")"
        cursor="$(json_field next_cursor <<<"$page")"
        seen=$((seen + 100))
    done
    DEEP_CURSOR="$cursor"
}
pg_query() { psql -tA "$DB_URL" -c "$1"; }

# --- scripts for wrk ---------------------------------------------------------------
# Sign-ins rotate over the users that have a password. Like a real client,
# a connection told 429 waits out its Retry-After (1 s) before trying again.
cat >"$WORK/login.lua" <<LUA
local n = 0
local shed = false
response = function(status, headers, body)
  shed = (status == 429)
end
delay = function()
  if shed then
    shed = false
    return 1000
  end
  return 0
end
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=password&username=user" .. (n % $SIGN_IN_USERS + 1) .. "%40bench.test&password=correct+horse+battery+staple")
end
LUA
# Each connection rotates its own refresh token: every answer carries the next one.
cat >"$WORK/refresh.lua" <<'LUA'
local counter = 0
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
init = function(args)
  tokens = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % tonumber(args[2]) == id then table.insert(tokens, line) end
    i = i + 1
  end
end
request = function()
  local token = table.remove(tokens)
  return wrk.format("POST", "/v1/auth/token", {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=refresh_token&refresh_token=" .. token)
end
response = function(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then table.insert(tokens, token) end
end
LUA

refresh_rps() {
    : >"$WORK/refresh_tokens"
    for g in $(seq 1 $((CONNECTIONS * 2))); do
        sign_in "user$((g % SIGN_IN_USERS + 1))@bench.test" | json_field refresh_token >>"$WORK/refresh_tokens"
    done
    local out
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -s "$WORK/refresh.lua" "$BASE/v1/auth/token" \
        -- "$WORK/refresh_tokens" "$THREADS")"
    if grep -q "Non-2xx" <<<"$out"; then say "$out"; say "non-2xx answers to refresh grants"; exit 1; fi
    awk '/Requests\/sec/ {print $2}' <<<"$out"
}

# GET requests/s while FLOOD_CONNECTIONS sign in as fast as they are let
# (a shed one waits out Retry-After, like a real client).
isolation() {
    wrk -t1 -c"$FLOOD_CONNECTIONS" -d"$((SECONDS_EACH + 2))s" -s "$WORK/login.lua" "$BASE/v1/auth/token" >"$WORK/flood.out" &
    local flood=$!
    sleep 1
    wrk_rps "$BASE/v1/users/$USER_ID"
    wait "$flood"
}

# How quickly a sign-in beyond capacity is refused: twice the capacity of
# connections that ignore Retry-After keep the queue full, while 20 probes
# time their answers (median ms of the 429s, and how many of 20 were shed).
shedding() {
    sed '/^response = /,/^end$/d; /^delay = /,/^end$/d' "$WORK/login.lua" >"$WORK/hammer.lua"
    wrk -t1 -c"$((FLOOD_CONNECTIONS * 2))" -d3s -s "$WORK/hammer.lua" "$BASE/v1/auth/token" >/dev/null &
    local flood=$!
    sleep 1
    : >"$WORK/shed"
    for _ in $(seq 1 20); do
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$BASE/v1/auth/token" -d grant_type=password \
            --data-urlencode "username=$ADMIN_EMAIL" --data-urlencode "password=$ADMIN_PASSWORD" >>"$WORK/shed"
    done
    wait "$flood"
    local shed_ms
    shed_ms="$(awk '$1 == 429 {print $2 * 1000}' "$WORK/shed" | median)"
    echo "${shed_ms:-none} $(awk '$1 == 429' "$WORK/shed" | wc -l)"
}

# p99 (ms) of GET /v1/users/{id} at about half of PEAK req/s, and the rate
# offered: each connection waits between requests (wrk's delay, whole ms) so
# that together they ask for half the peak.
p99_at_half() {
    local peak="$1" delay_ms out
    delay_ms="$(python3 -c "import sys; print(max(1, round(int(sys.argv[2]) * 1000 / (float(sys.argv[1]) / 2)) - 1))" "$peak" "$CONNECTIONS")"
    printf 'delay = function() return %s end\n' "$delay_ms" >"$WORK/paced.lua"
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -s "$WORK/paced.lua" \
        -H "Authorization: Bearer $TOKEN" "$BASE/v1/users/$USER_ID")"
    if grep -q "Non-2xx" <<<"$out"; then say "$out"; say "non-2xx answers while pacing"; exit 1; fi
    local p99 rate
    p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")"
    rate="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    echo "$p99 $rate"
}

# --- PostgreSQL rounds ------------------------------------------------------------
: >"$WORK/results"
seed_postgres
say "== roster ($PROFILE) on PostgreSQL"
start_server "$DB_URL"
pg_query "$GIVE_PASSWORDS" >/dev/null
# Idle is measured after a restart: the first start also checked the bootstrap
# password, which loads the common-password dictionaries.
stop_server
start_server "$DB_URL"
sleep 1
IDLE_RSS_KB="$(rss_kb VmRSS)"
IDLE_ANON_KB="$(rss_kb RssAnon)"
TOKEN="$(sign_in | json_field access_token)"
pick_targets pg_query
# The statements the list handler runs for its data: the customer (with its
# seats in use, a kept counter), the page, and the groups of the page's
# members (roster reads its caller in the customer's statement).
FIRST_PAGE_IDS="$(psql -Atq "$DB_URL" -c "SELECT string_agg(quote_literal(user_id), ',') FROM (
    SELECT user_id FROM memberships WHERE customer_id = '$CUSTOMER_ID'
    ORDER BY added_at DESC, user_id DESC LIMIT 51) page")"
cat >"$WORK/list.sql" <<SQL
SELECT * FROM customers WHERE id = '$CUSTOMER_ID';
SELECT memberships.customer_id, memberships.user_id, memberships.role, memberships.settings, memberships.added_at,
       memberships.updated_at, memberships.external_id, users.*
FROM memberships INNER JOIN users ON users.id = memberships.user_id
WHERE memberships.customer_id = '$CUSTOMER_ID'
ORDER BY memberships.added_at DESC, memberships.user_id DESC LIMIT 51;
SELECT group_members.user_id, customer_groups.id, customer_groups.name
FROM group_members INNER JOIN customer_groups ON customer_groups.id = group_members.group_id
WHERE group_members.customer_id = '$CUSTOMER_ID' AND group_members.user_id IN ($FIRST_PAGE_IDS)
ORDER BY customer_groups.name_key;
SQL

for round in $(seq 1 "$ROUNDS"); do
    say "== PostgreSQL round $round of $ROUNDS"
    read -r get get_roster_ms get_pg_ms < <(wrk_rps_cpu "$BASE/v1/users/$USER_ID")
    select_tps="$(pgbench_tps -S)"
    read -r list list_roster_ms list_pg_ms < <(wrk_rps_cpu "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50")
    list_tps="$(pgbench_tps -f "$WORK/list.sql")"
    first_ms="$(wrk_latency_ms "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50")"
    deep_ms="$(wrk_latency_ms "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50&cursor=$DEEP_CURSOR")"
    login="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -s "$WORK/login.lua" "$BASE/v1/auth/token" | awk '/Requests\/sec/ {print $2}')"
    argon="$("$EXAMPLES"/argon2_rate --threads "$HASH_SLOTS" --seconds "$SECONDS_EACH")"
    refresh="$(refresh_rps)"
    flooded_get="$(isolation)"
    read -r shed_ms shed_count < <(shedding)
    {
        echo "R_get $(ratio "$get" "$select_tps") $get $select_tps"
        echo "R_list $(ratio "$list" "$list_tps") $list $list_tps"
        echo "get_cpu_ms_roster $get_roster_ms $get_roster_ms ${get_pg_ms}_in_PostgreSQL"
        echo "list_cpu_ms_roster $list_roster_ms $list_roster_ms ${list_pg_ms}_in_PostgreSQL"
        echo "S_depth $(ratio "$deep_ms" "$first_ms") $deep_ms $first_ms"
        echo "R_login $(ratio "$login" "$argon") $login $argon"
        echo "refresh_per_core $(ratio "$refresh" "$THREADS") $refresh $THREADS"
        echo "isolation $(ratio "$flooded_get" "$get") $flooded_get $get"
        [ "$shed_ms" = none ] || echo "shed_ms $shed_ms $shed_ms ${shed_count}_of_20"
    } >>"$WORK/results"
    read -r p99_ms offered < <(p99_at_half "$get")
    echo "get_p99_ms_at_half $p99_ms ${offered}_req/s ${get}_peak" >>"$WORK/results"
done
PEAK_RSS_KB="$(rss_kb VmHWM)"
stop_server
# The seat counters the load's writes kept must still match a recount.
ROSTER_DATABASE_URL="$DB_URL" RUST_LOG=warn "$BIN" check >&2

# --- outbox: delivered/s ÷ the fake provider's own capacity ---------------------------
if [ "${BENCH_OUTBOX:-1}" != 0 ]; then
    say "== outbox: $EMAILS emails, provider latency ${PROVIDER_LATENCY_MS} ms, $MAIL_CONCURRENCY at once"
    "$EXAMPLES"/fake_provider --port "$PROVIDER_PORT" --latency-ms "$PROVIDER_LATENCY_MS" &
    PROVIDER=$!
    for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PROVIDER_PORT/count" >/dev/null 2>&1 && break; sleep 0.1; done
    capacity="$(wrk -t1 -c"$MAIL_CONCURRENCY" -d"${SECONDS_EACH}s" -s "$WORK/login.lua" "http://127.0.0.1:$PROVIDER_PORT/email" | awk '/Requests\/sec/ {print $2}')"
    start_server "$DB_URL" ROSTER_MAIL_PROVIDER=postmark ROSTER_MAIL_API_KEY=bench \
        ROSTER_MAIL_API_URL="http://127.0.0.1:$PROVIDER_PORT" ROSTER_MAIL_CONCURRENCY="$MAIL_CONCURRENCY" \
        ROSTER_MAIL_POLL_INTERVAL=50ms
    for round in $(seq 1 "$ROUNDS"); do
        pg_query "DELETE FROM email_outbox" >/dev/null
        sent_before="$(curl -fs "http://127.0.0.1:$PROVIDER_PORT/count")"
        started="$(date +%s.%N)"
        psql -q "$DB_URL" -v n="$EMAILS" <<'SQL'
INSERT INTO email_outbox (id, kind, recipient, subject, text_body, html_body, status, attempts,
                          next_attempt_at, created_at, updated_at)
SELECT gen_random_uuid()::text, 'password_reset', 'user' || g || '@bench.test', 'Reset your password',
       'Open https://app.example/reset?token=x to choose a new password.', '<p>Reset</p>', 'pending', 0,
       now() - interval '1 minute', now(), now()
FROM generate_series(1, :n) g;
SQL
        while [ "$(pg_query "SELECT count(*) FROM email_outbox WHERE status = 'pending'")" != 0 ]; do sleep 0.05; done
        elapsed="$(python3 -c "import sys,time; print(time.time() - float(sys.argv[1]))" "$started")"
        sent="$(pg_query "SELECT count(*) FROM email_outbox WHERE status = 'sent'")"
        received="$(( $(curl -fs "http://127.0.0.1:$PROVIDER_PORT/count") - sent_before ))"
        if [ "$sent" != "$EMAILS" ] || [ "$received" != "$EMAILS" ]; then
            say "outbox: $EMAILS queued, $sent marked sent, $received received by the provider"; exit 1
        fi
        delivered="$(python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$sent" "$elapsed")"
        echo "outbox $(ratio "$delivered" "$capacity") $delivered $capacity" >>"$WORK/results"
    done
    stop_server
fi

# --- scale-out: 1, 2 and 3 instances on the one PostgreSQL behind HAProxy ---------------
# start_instance PORT: one more roster on the bench database, with the email
# worker on (sending to the fake provider), ready. Instances behind one
# balancer share one public URL, hence one token issuer: the first
# instance's, which signed the bench's token.
start_instance() {
    local port="$1"
    env ROSTER_DATABASE_URL="$DB_URL" ROSTER_BIND="127.0.0.1:$port" ROSTER_AUTH_RATE_LIMIT=0 \
        ROSTER_PUBLIC_URL="http://127.0.0.1:$PORT" \
        ROSTER_ACCESS_TOKEN_TTL=2h RUST_LOG=warn ROSTER_DATABASE_POOL_SIZE="${BENCH_POOL:-16}" \
        ROSTER_MAIL_PROVIDER=postmark ROSTER_MAIL_API_KEY=bench ROSTER_MAIL_API_URL="http://127.0.0.1:$PROVIDER_PORT" \
        ROSTER_MAIL_CONCURRENCY="$MAIL_CONCURRENCY" ROSTER_MAIL_POLL_INTERVAL=50ms \
        "$BIN" serve >>"$WORK/roster.log" 2>&1 &
    INSTANCES+=("$!")
    for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    say "roster on port $port did not become ready:"; tail -20 "$WORK/roster.log" >&2; exit 1
}
stop_instances() {
    if [ -n "$BALANCER" ]; then kill "$BALANCER" 2>/dev/null || true; wait "$BALANCER" 2>/dev/null || true; BALANCER=""; fi
    for pid in "${INSTANCES[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    INSTANCES=()
}
# scale_out N: N instances behind HAProxy (round robin, kept-alive server
# connections) on port LB_PORT; SCALE_RPS is the GET mix's requests/s through
# it. (Not run in $(…): the instances it starts must stay this shell's.)
scale_out() {
    local n="$1" servers="" port
    for i in $(seq 1 "$n"); do
        port=$((PORT + 10 + i))
        start_instance "$port"
        servers+="    server roster$i 127.0.0.1:$port"$'\n'
    done
    cat >"$WORK/haproxy.cfg" <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend bench
    bind 127.0.0.1:$LB_PORT
    default_backend roster
backend roster
    balance roundrobin
    http-reuse always
$servers
CFG
    "$HAPROXY" -f "$WORK/haproxy.cfg" -db >>"$WORK/haproxy.log" 2>&1 &
    BALANCER=$!
    for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$LB_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    SCALE_RPS="$(wrk_rps "http://127.0.0.1:$LB_PORT/v1/users/$USER_ID")"
}
# Emails queued while N instances run their workers: each is sent once.
emails_once() {
    local queued="$1" before received sent
    pg_query "DELETE FROM email_outbox" >/dev/null
    before="$(curl -fs "http://127.0.0.1:$PROVIDER_PORT/count")"
    psql -q "$DB_URL" -v n="$queued" <<'SQL'
INSERT INTO email_outbox (id, kind, recipient, subject, text_body, html_body, status, attempts,
                          next_attempt_at, created_at, updated_at)
SELECT gen_random_uuid()::text, 'password_reset', 'user' || g || '@bench.test', 'Reset your password',
       'Open https://app.example/reset?token=x to choose a new password.', '<p>Reset</p>', 'pending', 0,
       now() - interval '1 minute', now(), now()
FROM generate_series(1, :n) g;
SQL
    while [ "$(pg_query "SELECT count(*) FROM email_outbox WHERE status = 'pending'")" != 0 ]; do sleep 0.05; done
    sleep 1
    received="$(( $(curl -fs "http://127.0.0.1:$PROVIDER_PORT/count") - before ))"
    sent="$(pg_query "SELECT count(*) FROM email_outbox WHERE status = 'sent'")"
    if [ "$sent" != "$queued" ] || [ "$received" != "$queued" ]; then
        say "scale-out: $queued emails queued, $sent marked sent, $received received"; exit 1
    fi
    echo "$received"
}
if [ "${BENCH_SCALE_OUT:-1}" != 0 ]; then
    LB_PORT=$((PORT + 2))
    if [ -z "$PROVIDER" ]; then
        "$EXAMPLES"/fake_provider --port "$PROVIDER_PORT" --latency-ms "$PROVIDER_LATENCY_MS" &
        PROVIDER=$!
        for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PROVIDER_PORT/count" >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    SCALE_EMAILS=$(( EMAILS < 1000 ? EMAILS : 1000 ))
    for round in $(seq 1 "$ROUNDS"); do
        say "== scale-out round $round of $ROUNDS: 1, 2 and 3 instances behind HAProxy"
        scale_out 1; one="$SCALE_RPS"; stop_instances
        scale_out 2; two="$SCALE_RPS"; stop_instances
        scale_out 3; three="$SCALE_RPS"
        received="$(emails_once "$SCALE_EMAILS")"
        stop_instances
        {
            echo "scale_out_2 $(ratio "$two" "$one") $two $one"
            echo "scale_out_3 $(ratio "$three" "$one") $three $one"
            echo "scale_out_emails $(ratio "$received" "$SCALE_EMAILS") ${received}_sent_once $SCALE_EMAILS"
        } >>"$WORK/results"
    done
fi

# --- Bulk import and export (`roster users import/export`, the API's job in-process) ------
# IMPORT_ROWS new people (invites off) into an empty customer, the same file
# again (every row unchanged), then the export: rows/s and peak RSS, on each
# backend. The CLI runs the same batches the outbox worker does.
# import_once URL LABEL: one round on a fresh database.
import_once() {
    local url="$1" label="$2" cid file out secs rss rate
    cid="$(python3 -c 'import uuid; print(uuid.uuid4())')"
    file="$WORK/import.csv"; out="$WORK/export.csv"
    ROSTER_DATABASE_URL="$url" RUST_LOG=warn "$BIN" migrate >/dev/null 2>&1
    local insert="INSERT INTO customers (id, name, name_lower, created_at, updated_at)
        VALUES ('$cid', 'Import Bench', 'import bench', '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
    if [ "$label" = pg ]; then psql -q "$url" -c "$insert"; else
        python3 -c "import sqlite3,sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()" "$url" "$insert"; fi
    python3 - "$file" "$IMPORT_ROWS" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("email,first_name,last_name,job_title,role,external_id,groups\n")
    for i in range(int(sys.argv[2])):
        f.write(f"person{i}@import.bench.test,First{i},Last{i},Title {i % 50},standard_user,HR-{i},\n")
PY
    # timed ROWS ARGS…: runs the CLI, appends "rows/s rss_kb" to $WORK/timed.
    timed() {
        local rows="$1" start end; shift
        start="$(date +%s.%N)"
        ROSTER_DATABASE_URL="$url" RUST_LOG=warn /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" users "$@" >"$WORK/cli.out" 2>/dev/null
        end="$(date +%s.%N)"
        python3 -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.0f}', open(sys.argv[4]).read().strip())" \
            "$rows" "$start" "$end" "$WORK/rss"
    }
    read -r rate rss < <(timed "$IMPORT_ROWS" import --customer "$cid" "$file" --no-invites)
    grep -q "$IMPORT_ROWS created, 0 updated, 0 unchanged, 0 failed" "$WORK/cli.out" || { say "import: $(tail -1 "$WORK/cli.out")"; exit 1; }
    echo "import_$label $rate rows_per_s $IMPORT_ROWS" >>"$WORK/results"
    echo "import_rss_mb $((rss / 1024)) ${label}_import_peak_MB $IMPORT_ROWS" >>"$WORK/results"
    read -r rate rss < <(timed "$IMPORT_ROWS" import --customer "$cid" "$file" --no-invites)
    grep -q "0 created, 0 updated, $IMPORT_ROWS unchanged, 0 failed" "$WORK/cli.out" || { say "re-import: $(tail -1 "$WORK/cli.out")"; exit 1; }
    echo "reimport_$label $rate rows_per_s $IMPORT_ROWS" >>"$WORK/results"
    read -r rate rss < <(timed "$IMPORT_ROWS" export --customer "$cid" --output "$out")
    [ "$(($(wc -l <"$out") - 1))" = "$IMPORT_ROWS" ] || { say "export: $(wc -l <"$out") lines"; exit 1; }
    echo "export_$label $rate rows_per_s ${rss}_kB_peak" >>"$WORK/results"
}
if [ "${BENCH_IMPORT:-1}" != 0 ]; then
    for round in $(seq 1 "$ROUNDS"); do
        say "== bulk import and export round $round of $ROUNDS: $IMPORT_ROWS rows"
        psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS ${DB}_import" -c "CREATE DATABASE ${DB}_import"
        import_once "postgres://postgres@127.0.0.1:5432/${DB}_import" pg
        psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS ${DB}_import"
        rm -f "$WORK/import.db"*
        import_once "$WORK/import.db" sqlite
    done
fi

# --- SQLite: the same reads, against the PostgreSQL numbers of this run -----------------
if [ "${BENCH_SQLITE:-1}" != 0 ]; then
    LITE="$WORK/bench.db"
    seed_sqlite "$LITE"
    start_server "$LITE"
    python3 -c "import sqlite3,sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()" "$LITE" "$GIVE_PASSWORDS"
    TOKEN="$(sign_in | json_field access_token)"
    lite_query() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$LITE" "$1"; }
    pick_targets lite_query
    for round in $(seq 1 "$ROUNDS"); do
        say "== SQLite round $round of $ROUNDS"
        get="$(wrk_rps "$BASE/v1/users/$USER_ID")"
        list="$(wrk_rps "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50")"
        first_ms="$(wrk_latency_ms "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50")"
        deep_ms="$(wrk_latency_ms "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50&cursor=$DEEP_CURSOR")"
        pg_get="$(awk '$1 == "R_get" {print $3}' "$WORK/results" | median)"
        pg_list="$(awk '$1 == "R_list" {print $3}' "$WORK/results" | median)"
        {
            echo "sqlite_get_vs_pg $(ratio "$get" "$pg_get") $get $pg_get"
            echo "sqlite_list_vs_pg $(ratio "$list" "$pg_list") $list $pg_list"
            echo "sqlite_S_depth $(ratio "$deep_ms" "$first_ms") $deep_ms $first_ms"
        } >>"$WORK/results"
    done
    stop_server
fi

