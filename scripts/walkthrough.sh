#!/usr/bin/env bash
# Every task of the two admin job aids roster comes from (Utility Bill
# Management's Non-SSO user management, and the Cloud Portal's user
# administration; docs/api.md, "Job-aid tasks", maps each to its endpoint),
# in order, as curl calls against a freshly started roster on SQLite with the
# log mailer. Fails on the first unexpected status, so the README walkthrough
# cannot rot.
#
#   scripts/walkthrough.sh            # builds (release) and runs
#   ROSTER_BIN=target/debug/roster scripts/walkthrough.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT="${WALKTHROUGH_PORT:-18765}"
BASE="http://127.0.0.1:${PORT}"
BIN="${ROSTER_BIN:-target/release/roster}"
[ -x "$BIN" ] || cargo build --release --quiet
WORK="$(mktemp -d)"
LOG="$WORK/roster.log"
ADMIN_EMAIL="admin@ubm.example"
ADMIN_PASSWORD="correct horse battery staple"
PASSWORD="violet tugboat arithmetic"

ROSTER_DATABASE_URL="$WORK/roster.db" ROSTER_BIND="127.0.0.1:${PORT}" ROSTER_APP_URL="https://ubm.example" \
ROSTER_PRODUCT_NAME="Utility Bill Management" ROSTER_MAIL_POLL_INTERVAL=100ms ROSTER_AUTH_RATE_LIMIT=0 ROSTER_RESET_EMAIL_COOLDOWN=0s \
ROSTER_BOOTSTRAP_ADMIN_EMAIL="$ADMIN_EMAIL" ROSTER_BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    "$BIN" serve >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

BODY="$WORK/body.json"
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*"; echo "--- response:"; cat "$BODY" 2>/dev/null; echo; echo "--- server log (tail):"; tail -20 "$LOG"; exit 1; }

# call EXPECTED METHOD PATH [JSON] [TOKEN|none] — prints the status, keeps the body in $BODY.
call() {
    local expected="$1" method="$2" path="$3" data="${4:-}" token="${5:-${TOKEN:-}}"
    local args=(-s -o "$BODY" -w '%{http_code}' -X "$method" "$BASE$path")
    [ -n "$token" ] && [ "$token" != none ] && args+=(-H "Authorization: Bearer $token")
    [ -n "$data" ] && args+=(-H 'Content-Type: application/json' -d "$data")
    local status
    status="$(curl "${args[@]}")"
    echo "$method $path -> $status"
    [ "$status" = "$expected" ] || fail "$method $path: expected $expected, got $status"
}

# sign_in EMAIL PASSWORD [EXPECTED] — prints the access token on success.
sign_in() {
    local status
    status="$(curl -s -o "$BODY" -w '%{http_code}' -X POST "$BASE/v1/auth/token" \
        -d grant_type=password --data-urlencode "username=$1" --data-urlencode "password=$2")"
    [ "$status" = "${3:-200}" ] || fail "sign-in of $1: expected ${3:-200}, got $status"
    [ "$status" = 200 ] && field access_token
    return 0
}

# field KEY... — a value from the last response body (numbers index lists).
field() {
    python3 - "$BODY" "$@" <<'PY'
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2:]:
    value = value[int(key)] if isinstance(value, list) else value[key]
print("" if value is None else value)
PY
}

# link_after LINE PAGE — the token of the newest emailed link to PAGE
# (activate or reset-password) logged after line LINE.
link_after() {
    local since="$1" page="$2" token=""
    for _ in $(seq 1 50); do
        token="$(tail -n +"$((since + 1))" "$LOG" | grep -o "/$page?token=rat_[A-Za-z0-9_-]*" | tail -1 | cut -d= -f2 || true)"
        [ -n "$token" ] && break
        sleep 0.1
    done
    [ -n "$token" ] || fail "no emailed $page link in the log"
    echo "$token"
}
mark() { wc -l <"$LOG"; }

step "Sign in as the platform admin"
TOKEN="$(sign_in "$ADMIN_EMAIL" "$ADMIN_PASSWORD")"
ADMIN="$TOKEN"

step "Create the customer UBM Demo with 3 licensed seats"
call 201 POST /v1/customers '{"name": "UBM Demo", "licensed_seats": 3}'
CUSTOMER="$(field id)"
call 201 POST /v1/customers '{"name": "UBM Second Site"}'
SECOND="$(field id)"

step "The customer's user group tags: create the group East region"
call 201 POST "/v1/customers/$CUSTOMER/groups" '{"name": "East region", "description": "Sites east of the river"}'
EAST="$(field id)"

step "Add a new user (Customer Info -> Users -> Add User, with chat and user group tags); the activation email goes out"
M="$(mark)"
call 201 POST "/v1/customers/$CUSTOMER/users" \
    "{\"email\": \"user@email.com\", \"first_name\": \"Jane\", \"last_name\": \"Doe\", \"job_title\": \"Energy Manager\", \"role\": \"full_access\", \"settings\": {\"chat_tag\": true}, \"group_ids\": [\"$EAST\"], \"external_id\": \"E-1001\", \"requester_name\": \"Sam Admin\", \"confirmation_email\": \"sam@ubm.example\"}"
JANE="$(field id)"
[ "$(field groups 0 name)" = "East region" ] || fail "the user is not in the East region group"
call 200 GET "/v1/customers/$CUSTOMER/users"
[ "$(field items 0 id)" = "$JANE" ] || fail "the new user is not at the top of the list"

step "Read the activation link, open it (does not consume it), activate"
LINK="$(link_after "$M" activate)"
call 200 GET "/v1/auth/action-tokens/$LINK" "" none
call 200 POST /v1/auth/activate "{\"token\": \"$LINK\", \"password\": \"$PASSWORD\"}" none

step "Sign in as the user"
JANE_TOKEN="$(sign_in user@email.com "$PASSWORD")"
call 200 GET /v1/me "" "$JANE_TOKEN"

step "Inactivate the user (deactivation notice; sign-in refused with account_inactive)"
call 200 PUT "/v1/users/$JANE/status" '{"status": "inactive", "requester_name": "Sam Admin"}'
sign_in user@email.com "$PASSWORD" 400
[ "$(field code)" = account_inactive ] || fail "expected code account_inactive"

step "Reactivate the user (no email); they can sign in again"
call 200 PUT "/v1/users/$JANE/status" '{"status": "active"}'
sign_in user@email.com "$PASSWORD" >/dev/null

step "Resend the activation email to a user who has not activated yet"
call 201 POST "/v1/customers/$CUSTOMER/users" '{"email": "bob@email.com", "first_name": "Bob", "last_name": "Ray"}'
BOB="$(field id)"
call 202 POST "/v1/users/$BOB/activation-email"

step "Admin sends a reset-password email; the user resets (no auto-login)"
M="$(mark)"
call 202 POST "/v1/users/$JANE/password-reset-email"
LINK="$(link_after "$M" reset-password)"
call 204 POST /v1/auth/reset-password "{\"token\": \"$LINK\", \"password\": \"quartz lantern meadow\"}" none
sign_in user@email.com "quartz lantern meadow" >/dev/null

step "Forgot password from the login screen"
M="$(mark)"
call 202 POST /v1/auth/forgot-password '{"email": "user@email.com"}' none
LINK="$(link_after "$M" reset-password)"
call 204 POST /v1/auth/reset-password "{\"token\": \"$LINK\", \"password\": \"$PASSWORD\"}" none

step "A signed-in user changes their own password (stays signed in; confirmation email)"
JANE_TOKEN="$(sign_in user@email.com "$PASSWORD")"
call 200 POST /v1/me/password "{\"current_password\": \"$PASSWORD\", \"new_password\": \"amber kettle horizon\"}" "$JANE_TOKEN"
PASSWORD="amber kettle horizon"

step "Five wrong passwords lock the account; the admin unlocks it"
for _ in 1 2 3 4 5; do sign_in user@email.com "not the password" 400; done
sign_in user@email.com "$PASSWORD" 400
call 200 GET "/v1/users/$JANE"
[ "$(field locked)" = True ] || fail "the user should be locked"
call 204 DELETE "/v1/users/$JANE/lock?confirmation_email=sam@ubm.example"
sign_in user@email.com "$PASSWORD" >/dev/null

step "Edit the user with a requester name and a confirmation email (If-Match)"
ETAG="$(curl -s -D - -o /dev/null -H "Authorization: Bearer $ADMIN" "$BASE/v1/users/$JANE" | tr -d '\r' | awk 'tolower($1)=="etag:"{print $2}')"
status="$(curl -s -o "$BODY" -w '%{http_code}' -X PATCH "$BASE/v1/users/$JANE" -H "Authorization: Bearer $ADMIN" \
    -H "If-Match: $ETAG" -H 'Content-Type: application/json' \
    -d '{"job_title": "Head of Energy", "requester_name": "Sam Admin", "confirmation_email": "sam@ubm.example"}')"
echo "PATCH /v1/users/$JANE -> $status"
[ "$status" = 200 ] || fail "edit user"

step "Add a user by copying another user's defaults (Copy User)"
call 201 POST "/v1/customers/$CUSTOMER/users" \
    "{\"email\": \"carol@email.com\", \"first_name\": \"Carol\", \"last_name\": \"Kim\", \"copy_from_user_id\": \"$JANE\"}"
CAROL="$(field id)"
[ "$(field settings chat_tag)" = True ] || fail "settings were not copied"
[ "$(field groups 0 name)" = "East region" ] || fail "groups were not copied"

step "The customer is now full: a fourth user is refused"
call 409 POST "/v1/customers/$CUSTOMER/users" '{"email": "dave@email.com", "first_name": "Dave", "last_name": "Li"}'

step "Drop (retire) a user with requester and confirmation; the seat is freed"
call 200 PUT "/v1/users/$CAROL/status" '{"status": "retired", "requester_name": "Sam Admin", "confirmation_email": "sam@ubm.example"}'
[ -n "$(field retired_at)" ] || fail "retired_at is not set"
call 200 GET "/v1/customers/$CUSTOMER/users?status=retired"
call 200 GET "/v1/customers/$CUSTOMER"
[ "$(field named_users)" = 2 ] || fail "named users should be 2"

step "Reinstate the dropped user"
call 200 PUT "/v1/users/$CAROL/status" '{"status": "active", "requester_name": "Sam Admin"}'

step "Remove a user from one customer only (with a notification); other memberships stay"
call 201 POST "/v1/customers/$SECOND/users" '{"email": "user@email.com"}'
call 204 DELETE "/v1/customers/$CUSTOMER/users/$JANE?notify=true&requester_name=Sam%20Admin"
call 200 GET "/v1/users/$JANE"
[ "$(field memberships 0 customer_id)" = "$SECOND" ] || fail "the other membership should remain"

step "Delete a user from the platform"
call 204 DELETE "/v1/users/$BOB?requester_name=Sam%20Admin"
call 404 GET "/v1/users/$BOB"

step "Read the audit log"
call 200 GET "/v1/audit-events?limit=200"
python3 -c "import json; n=len(json.load(open('$BODY'))['items']); print(f'{n} audit events'); assert n >= 20"
call 200 GET "/v1/audit-events?user_id=$BOB"

step "Metrics moved during the walkthrough"
curl -s "$BASE/metrics" >"$BODY"
for metric in roster_http_requests_total roster_sign_ins_total roster_lockouts_total roster_emails_total; do
    grep -q "^$metric" "$BODY" || fail "/metrics lacks $metric"
done
echo "ok: $(grep -c '^roster_' "$BODY") roster series"

step "The log never shows a password, an access or refresh token, or a client secret"
call 201 POST /v1/api-clients '{"name": "walkthrough"}'
SECRET="$(field client_secret)"
curl -s -o /dev/null -X POST "$BASE/v1/auth/token" -d grant_type=client_credentials \
    --data-urlencode "client_id=$(field id)" --data-urlencode "client_secret=$SECRET"
for secret in "$ADMIN_PASSWORD" "$PASSWORD" "violet tugboat" "quartz lantern" "$SECRET" "$ADMIN"; do
    if grep -qF -- "$secret" "$LOG"; then fail "the log contains a secret (${secret:0:12}…)"; fi
done
if grep -qE 'rrt_|rcs_|eyJ[A-Za-z0-9_-]{10,}' "$LOG"; then fail "the log contains a token"; fi
echo "ok: no secrets in $(wc -l <"$LOG") log lines"

printf '\nwalkthrough: all job-aid tasks passed\n'
