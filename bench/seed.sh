# Seeding shared by bench/run.sh and bench/soak.sh (sourced, not run): 10
# customers and USERS users with memberships spread evenly, in a fresh
# PostgreSQL database (DB, DB_URL, PG_ADMIN) or a SQLite file, migrated with
# BIN. Needs psql, pgbench and python3.

seed_postgres() {
    say "== PostgreSQL database $DB with $USERS users in 10 customers"
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
UPDATE customers SET named_users = (SELECT count(*) FROM memberships m WHERE m.customer_id = customers.id);
SQL
    # As autovacuum would have by now: statistics, and a visibility map for index-only scans.
    psql -q "$DB_URL" -c "VACUUM ANALYZE"
    pgbench -i -q -s 10 "$DB_URL" >/dev/null 2>&1
}

# The same data in a SQLite file, written with Python's sqlite3 module.
seed_sqlite() {
    local file="$1"
    say "== SQLite database $file with $USERS users in 10 customers"
    ROSTER_DATABASE_URL="$file" "$BIN" migrate >/dev/null 2>&1
    python3 - "$file" "$USERS" <<'PY'
import sqlite3, sys, uuid, datetime
db, n = sys.argv[1], int(sys.argv[2])
conn = sqlite3.connect(db)
now = datetime.datetime.utcnow()
fmt = lambda t: t.strftime("%Y-%m-%d %H:%M:%S.%f")
customers = [str(uuid.uuid4()) for _ in range(10)]
conn.executemany(
    "INSERT INTO customers (id, name, name_lower, version, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)",
    [(c, f"Customer {i}", f"customer {i}", fmt(now), fmt(now)) for i, c in enumerate(customers)])
users, members = [], []
for g in range(1, n + 1):
    uid, created = str(uuid.uuid4()), fmt(now - datetime.timedelta(milliseconds=g))
    users.append((uid, f"user{g}@bench.test", f"user{g}@bench.test", f"First{g}", f"first{g}", f"Last{g}",
                  f"last{g}", fmt(now), created, fmt(now), fmt(now), fmt(now)))
    members.append((customers[g % 10], uid, created, created))
conn.executemany(
    """INSERT INTO users (id, email, email_lower, first_name, first_name_lower, last_name, last_name_lower,
       status, platform_role, session_version, failed_logins, status_changed_at, version, created_at,
       updated_at, invited_at, activated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'active', 'none', 0, 0, ?, 1, ?, ?, ?, ?)""", users)
conn.executemany(
    "INSERT INTO memberships (customer_id, user_id, role, settings, added_at, updated_at) VALUES (?, ?, 'full_access', '{}', ?, ?)",
    members)
# Every seeded user is active: each membership takes a seat.
conn.execute("UPDATE customers SET named_users = (SELECT count(*) FROM memberships m WHERE m.customer_id = customers.id)")
conn.commit()
conn.execute("ANALYZE")
conn.close()
PY
}

