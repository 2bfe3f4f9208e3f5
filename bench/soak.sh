#!/usr/bin/env bash
# Soak: one roster under a mixed load for 10 minutes, sampled every 10 s,
# judged on whether it stays flat. See BENCHMARKS.md ("Soak").
#
#   bench/soak.sh                                   # release build, SQLite, 10 minutes
#   SOAK_DB=postgres bench/soak.sh                  # the same on PostgreSQL
#   SOAK_SMOKE=1 BENCH_PROFILE=dev bench/soak.sh    # CI: one minute, debug build
#   SOAK_PLOT=bench/soak.png SOAK_TSV=bench/soak.tsv bench/soak.sh   # keep the figures
#
# The load, all at once for the whole run: reads of one user, pages of a
# customer's list, correct sign-ins (a shed client waits out Retry-After),
# a flood of sign-ins that ignores Retry-After for 20 s of every minute,
# refresh-token rotations, and admin invitations (each queues an email that
# the delivery worker sends to examples/fake_provider.rs). Nothing scrapes
# /metrics: memory must stay bounded without it. The log level is `warn`, as
# an operator without an access log runs it.
#
# Every SOAK_INTERVAL seconds it records RSS (anonymous and file), threads,
# open descriptors, database connections, the outbox backlog, log bytes and
# the SQLite WAL's size, then draws them with gnuplot. It passes when, after
# the warm-up: RSS (mean over the last minute against the first) grows < 5 %;
# threads, descriptors, connections and the WAL reach no higher in the last
# three minutes than in the first three (give or take 5 % or 2, whichever is
# more); the log stays under 1 MB; and no
# answer is an error except the sign-ins' 429s. Smoke mode judges only the
# last two (one minute shows no trend).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SMOKE="${SOAK_SMOKE:-}"
DURATION="${SOAK_SECONDS:-600}"
WARMUP="${SOAK_WARMUP:-60}"
INTERVAL="${SOAK_INTERVAL:-10}"
USERS="${SOAK_USERS:-20000}"
if [ -n "$SMOKE" ]; then DURATION=60; WARMUP=20; INTERVAL=5; USERS=1000; fi
BACKEND="${SOAK_DB:-sqlite}"
PORT="${BENCH_PORT:-18787}"
PROVIDER_PORT="$((PORT + 1))"
BASE="http://127.0.0.1:$PORT"
PG_ADMIN="postgres://postgres@127.0.0.1:5432/postgres"
DB="roster_soak"
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
ADMIN_EMAIL="bench@roster.test"
ADMIN_PASSWORD="correct horse battery staple"
SIGN_IN_USERS=64
HASH_SLOTS=$(nproc)  # the default ROSTER_HASH_CONCURRENCY: every core
# Twice what fills every hashing slot and queue place (32 per slot).
FLOOD_CONNECTIONS=$(( HASH_SLOTS * 33 * 2 ))
LOG_LIMIT=$((1024 * 1024))
WORK="$(mktemp -d)"
PLOT="${SOAK_PLOT:-$WORK/soak.png}"
TSV="${SOAK_TSV:-$WORK/soak.tsv}"
SERVER=""
PROVIDER=""
LOADS=()

say() { printf '%s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }; }; }
need wrk wrk
need gnuplot gnuplot-nox
PROFILE="${BENCH_PROFILE:-release}"
TARGET_DIR="target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
cargo build --profile "$PROFILE" --quiet --bin roster --example fake_provider
BIN="${ROSTER_BIN:-$TARGET_DIR/roster}"

cleanup() {
    for pid in "${LOADS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    if [ -n "$PROVIDER" ]; then kill "$PROVIDER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/seed.sh
source bench/seed.sh
SIGN_IN_EMAILS="$(for g in $(seq 1 $SIGN_IN_USERS); do printf "'user%s@bench.test'," "$g"; done)"
GIVE_PASSWORDS="UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email_lower = '$ADMIN_EMAIL')
    WHERE email_lower IN (${SIGN_IN_EMAILS%,})"
if [ "$BACKEND" = postgres ]; then
    URL="$DB_URL"
    seed_postgres
    query() { psql -tA "$DB_URL" -c "$1"; }
    # Connections of this database other than the one asking.
    db_connections() { query "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()"; }
    wal_bytes() { echo 0; }
else
    URL="$WORK/soak.db"
    seed_sqlite "$URL"
    query() {
        python3 -c "import sqlite3,sys; c = sqlite3.connect(sys.argv[1], timeout=30); r = c.execute(sys.argv[2]).fetchone(); c.commit(); print(r[0] if r else '')" "$URL" "$1"
    }
    # Descriptors of the process open on the database file itself.
    db_connections() { find "/proc/$SERVER/fd" -lname "$URL" 2>/dev/null | wc -l; }
    wal_bytes() { stat -c %s "$URL-wal" 2>/dev/null || echo 0; }
fi

"$TARGET_DIR/examples/fake_provider" --port "$PROVIDER_PORT" --latency-ms 20 &
PROVIDER=$!
env ROSTER_DATABASE_URL="$URL" ROSTER_BIND="127.0.0.1:$PORT" ROSTER_AUTH_RATE_LIMIT=0 \
    ROSTER_ACCESS_TOKEN_TTL=2h ROSTER_BOOTSTRAP_ADMIN_EMAIL="$ADMIN_EMAIL" \
    ROSTER_BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" ROSTER_DATABASE_POOL_SIZE=16 \
    ROSTER_MAIL_PROVIDER=postmark ROSTER_MAIL_API_KEY=soak ROSTER_MAIL_API_URL="http://127.0.0.1:$PROVIDER_PORT" \
    ROSTER_MAIL_CONCURRENCY=16 ROSTER_MAIL_POLL_INTERVAL=200ms RUST_LOG=warn \
    "$BIN" serve >"$WORK/roster.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do curl -fs "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$BASE/readyz" >/dev/null || { say "roster did not become ready:"; tail -20 "$WORK/roster.log" >&2; exit 1; }
query "$GIVE_PASSWORDS" >/dev/null

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
sign_in() {
    curl -fs "$BASE/v1/auth/token" -d grant_type=password --data-urlencode "username=$1" \
        --data-urlencode "password=$ADMIN_PASSWORD"
}
TOKEN="$(sign_in "$ADMIN_EMAIL" | json_field access_token)"
read -r USER_ID CUSTOMER_ID < <(query "SELECT user_id || ' ' || customer_id FROM memberships ORDER BY added_at DESC LIMIT 1 OFFSET 7")
: >"$WORK/refresh_tokens"
for g in $(seq 1 16); do sign_in "user$g@bench.test" | json_field refresh_token >>"$WORK/refresh_tokens"; done

# --- wrk scripts: each counts its answers (2xx/3xx, 429, anything else) ---------
cat >"$WORK/count.lua" <<'LUA'
local threads = {}
local created = 0
setup = function(thread)
  thread:set("id", created)
  created = created + 1
  table.insert(threads, thread)
end
ok, shed, bad = 0, 0, 0
tally = function(status)
  if status < 400 then ok = ok + 1 elseif status == 429 then shed = shed + 1 else bad = bad + 1 end
end
response = function(status, headers, body) tally(status) end
done = function(summary, latency, requests)
  local o, s, b = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); s = s + t:get("shed"); b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("answers ok=%d shed=%d bad=%d socket_errors=%d (connect %d, read %d, write %d, timeout %d)\n",
    o, s, b, e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout))
end
LUA
# Correct sign-ins over the users with a password; a shed one waits 1 s.
cat "$WORK/count.lua" - >"$WORK/login.lua" <<LUA
local n = 0
local wait = false
response = function(status, headers, body)
  tally(status)
  wait = (status == 429)
end
delay = function()
  if wait then wait = false; return 1000 end
  return 0
end
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=password&username=user" .. (n % $SIGN_IN_USERS + 1) .. "%40bench.test&password=correct+horse+battery+staple")
end
LUA
# The flood: the same sign-ins, never waiting.
cat "$WORK/count.lua" - >"$WORK/flood.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=password&username=user" .. (n % $SIGN_IN_USERS + 1) .. "%40bench.test&password=correct+horse+battery+staple")
end
LUA
# Refresh rotations: each thread presents the tokens it was last given.
cat "$WORK/count.lua" - >"$WORK/refresh.lua" <<'LUA'
init = function(args)
  tokens = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % tonumber(args[2]) == id then table.insert(tokens, line) end
    i = i + 1
  end
end
request = function()
  return wrk.format("POST", "/v1/auth/token", {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=refresh_token&refresh_token=" .. table.remove(tokens))
end
response = function(status, headers, body)
  tally(status)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then table.insert(tokens, token) end
end
LUA
# Admin invitations, 50 a second at most: each sends an activation email.
cat "$WORK/count.lua" - >"$WORK/invite.lua" <<'LUA'
local n = 0
init = function(args) token, run = args[1], args[2] end
delay = function() return 20 end
request = function()
  n = n + 1
  local body = string.format('{"email":"soak-%s-%d-%d@bench.test","first_name":"Soak","last_name":"Load"}', run, id, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
LUA

# --- the load -------------------------------------------------------------------
say "== soak: $DURATION s on $BACKEND ($PROFILE build), sampled every $INTERVAL s, warm-up $WARMUP s"
load() {
    local name="$1"; shift
    wrk --timeout 10s -d"${DURATION}s" "$@" >"$WORK/wrk-$name.out" 2>&1 &
    LOADS+=($!)
}
load get -t1 -c4 -s "$WORK/count.lua" -H "Authorization: Bearer $TOKEN" "$BASE/v1/users/$USER_ID"
load list -t1 -c2 -s "$WORK/count.lua" -H "Authorization: Bearer $TOKEN" "$BASE/v1/customers/$CUSTOMER_ID/users?limit=50"
load login -t1 -c4 -s "$WORK/login.lua" "$BASE/v1/auth/token"
load refresh -t2 -c2 -s "$WORK/refresh.lua" "$BASE/v1/auth/token" -- "$WORK/refresh_tokens" 2
load invite -t1 -c1 -s "$WORK/invite.lua" "$BASE/v1/customers/$CUSTOMER_ID/users" -- "$TOKEN" "$(date +%s)"
# The flood: 20 s of every minute (once, 10 s, in smoke mode).
(
    started=$SECONDS round=0
    while [ $((SECONDS - started + 20)) -le "$DURATION" ]; do
        round=$((round + 1))
        wrk --timeout 10s -t1 -c"$FLOOD_CONNECTIONS" -d"$([ -n "$SMOKE" ] && echo 10 || echo 20)s" \
            -s "$WORK/flood.lua" "$BASE/v1/auth/token" >"$WORK/wrk-flood-$round.out" 2>&1
        [ -z "$SMOKE" ] || break
        sleep $((60 - (SECONDS - started) % 60))
    done
) &
LOADS+=($!)

# --- sampling -------------------------------------------------------------------
printf 't\trss_anon_kb\trss_file_kb\tthreads\tfds\tdb_connections\toutbox_pending\tlog_bytes\twal_bytes\n' >"$TSV"
status_kb() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$SERVER/status"; }
started=$SECONDS
while :; do
    t=$((SECONDS - started))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$(status_kb RssAnon)" "$(status_kb RssFile)" \
        "$(status_kb Threads)" "$(find "/proc/$SERVER/fd" -mindepth 1 | wc -l)" "$(db_connections)" \
        "$(query "SELECT count(*) FROM email_outbox WHERE status = 'pending'")" \
        "$(stat -c %s "$WORK/roster.log")" "$(wal_bytes)" >>"$TSV"
    [ "$t" -lt "$DURATION" ] || break
    sleep $((INTERVAL - (SECONDS - started) % INTERVAL))
done
for pid in "${LOADS[@]}"; do wait "$pid" || true; done
LOADS=()
kill -0 "$SERVER" || { say "roster died:"; tail -20 "$WORK/roster.log" >&2; exit 1; }
sent="$(curl -fs "http://127.0.0.1:$PROVIDER_PORT/count")"

# --- the plot -------------------------------------------------------------------
gnuplot <<GP
set terminal pngcairo size 1000,1100 font ",10"
set output "$PLOT"
set datafile separator "\t"
set key autotitle columnhead outside right top
set grid
set xlabel "seconds"
set arrow from $WARMUP, graph 0 to $WARMUP, graph 1 nohead dashtype 2 lc rgb "gray40"
set multiplot layout 4,1 title "roster soak: $BACKEND, $PROFILE build, $DURATION s (dashed: end of warm-up; floods at 0-20 s of each minute)"
set ylabel "MB"
plot "$TSV" using 1:(\$2/1024) with lines lw 2 title "RSS anonymous", \
     "" using 1:(\$3/1024) with lines lw 2 title "RSS file", \
     "" using 1:((\$2+\$3)/1024) with lines lw 2 title "RSS total"
set ylabel "count"
plot "$TSV" using 1:4 with lines lw 2 title "threads", "" using 1:5 with lines lw 2 title "open fds", \
     "" using 1:6 with lines lw 2 title "DB connections"
set ylabel "emails"
plot "$TSV" using 1:7 with lines lw 2 title "outbox backlog"
set ylabel "WAL MB"
set y2label "log KB"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot "$TSV" using 1:(\$9/1048576) axes x1y1 with lines lw 2 title "SQLite WAL (MB)", \
     "" using 1:(\$8/1024) axes x1y2 with lines lw 2 title "log written (KB)"
unset multiplot
GP

# --- the verdict ----------------------------------------------------------------
cat "$WORK"/wrk-*.out >"$WORK/answers"
python3 - "$TSV" "$WARMUP" "$LOG_LIMIT" "${SMOKE:-0}" "$WORK" "$sent" <<'PY'
import csv, glob, os, re, statistics, sys
tsv, warmup, log_limit, smoke, work, sent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] != "0", sys.argv[5], sys.argv[6]
rows = [{k: int(v) for k, v in row.items()} for row in csv.DictReader(open(tsv), delimiter="\t")]
after = [r for r in rows if r["t"] >= warmup]
span = after[-1]["t"] - after[0]["t"]
minute = 60 if span >= 360 else max(span // 4, 1)
third = 180 if span >= 360 else max(span // 3, 1)
def window(rows, seconds, last):
    edge = rows[-1]["t"] - seconds if last else rows[0]["t"] + seconds
    return [r for r in rows if (r["t"] >= edge if last else r["t"] <= edge)]
rss = lambda r: r["rss_anon_kb"] + r["rss_file_kb"]
first_min, last_min = window(after, minute, False), window(after, minute, True)
rss_first, rss_last = statistics.mean(map(rss, first_min)), statistics.mean(map(rss, last_min))
growth = rss_last / rss_first - 1
checks = []  # (name, passed, figure, judged in smoke mode)
checks.append(("RSS growth after warm-up < 5 %", growth < 0.05,
               f"{rss_first/1024:.1f} -> {rss_last/1024:.1f} MB ({growth*100:+.2f} %; anonymous "
               f"{statistics.mean(r['rss_anon_kb'] for r in first_min)/1024:.1f} -> "
               f"{statistics.mean(r['rss_anon_kb'] for r in last_min)/1024:.1f} MB)", False))
head, tail = window(after, third, False), window(after, third, True)
for field, name in [("threads", "threads"), ("fds", "open descriptors"), ("db_connections", "DB connections"),
                    ("wal_bytes", "SQLite WAL bytes")]:
    a, b = max(r[field] for r in head), max(r[field] for r in tail)
    checks.append((f"{name} flat (max of the last {third} s within 5 % or 2 of the first's)", b <= max(a * 1.05, a + 2),
                   f"{a} -> {b} (range {min(r[field] for r in after)}..{max(r[field] for r in after)})", False))
log_bytes = rows[-1]["log_bytes"]
checks.append(("log < 1 MB", log_bytes < log_limit, f"{log_bytes} bytes", True))
answers = {}
for path in sorted(glob.glob(os.path.join(work, "wrk-*.out"))):
    name = re.sub(r"-\d+$", "", os.path.basename(path)[4:-4])
    text = open(path).read()
    m = re.search(r"answers ok=(\d+) shed=(\d+) bad=(\d+) socket_errors=(\d+) \(connect (\d+), read (\d+), "
                  r"write (\d+), timeout (\d+)\)", text)
    if not m:
        checks.append((f"{name}: wrk finished", False, text.strip()[-300:], True))
        continue
    total = answers.setdefault(name, [0] * 8)
    for i, v in enumerate(m.groups()):
        total[i] += int(v)
for name, (ok, shed, bad, socket_errors, connect, read, write, timeout) in answers.items():
    allowed_shed = name in ("login", "flood")
    passed = bad == 0 and socket_errors == 0 and (allowed_shed or shed == 0) and ok > 0
    checks.append((f"{name}: no error but the sign-ins' 429s", passed,
                   f"{ok} ok, {shed} shed (429), {bad} other errors, {socket_errors} socket errors "
                   f"(connect {connect}, read {read}, write {write}, timeout {timeout})", True))
outbox = [r["outbox_pending"] for r in after]
print(f"\nsoak over {rows[-1]['t']} s, {len(rows)} samples; emails received by the fake provider: {sent}")
print(f"outbox backlog after warm-up: {min(outbox)}..{max(outbox)}, last {outbox[-1]}")
print(f"peak: RSS {max(map(rss, rows))/1024:.1f} MB, threads {max(r['threads'] for r in rows)}, "
      f"fds {max(r['fds'] for r in rows)}, WAL {max(r['wal_bytes'] for r in rows)/1024/1024:.1f} MB")
failed = False
for name, passed, figure, in_smoke in checks:
    judged = in_smoke or not smoke
    mark = ("pass" if passed else "FAIL") if judged else ("(pass)" if passed else "(fail)")
    print(f"{mark:6} {name}: {figure}")
    failed |= judged and not passed
if smoke:
    print("(smoke mode: figures in parentheses are not judged; one minute shows no trend)")
sys.exit(1 if failed else 0)
PY
say "plot: $PLOT; samples: $TSV"
