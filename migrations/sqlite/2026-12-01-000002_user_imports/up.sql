-- Bulk user imports (docs/api.md, "Bulk import and export"): the job, and
-- the rows of its file as parsed and checked at upload. A job is worked
-- through in batches by the outbox's request lane; `last_row` is committed
-- with each batch, so an interrupted job resumes after it.
CREATE TABLE user_imports (
    id             TEXT PRIMARY KEY NOT NULL,
    customer_id    TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status         TEXT NOT NULL,
    dry_run        BOOLEAN NOT NULL,
    send_invites   BOOLEAN NOT NULL,
    total_rows     INTEGER NOT NULL,
    processed_rows INTEGER NOT NULL DEFAULT 0,
    -- The number of the last row processed (the header is row 1).
    last_row       INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL DEFAULT 0,
    updated        INTEGER NOT NULL DEFAULT 0,
    unchanged      INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    -- A dry run's seats taken by the rows it would have added so far.
    seats_planned  INTEGER NOT NULL DEFAULT 0,
    -- Who started it (the actor and the audit context, as JSON).
    started_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP
);
CREATE INDEX user_imports_customer_idx ON user_imports (customer_id, created_at);

CREATE TABLE user_import_rows (
    import_id     TEXT NOT NULL REFERENCES user_imports (id) ON DELETE CASCADE,
    row_number    INTEGER NOT NULL,
    email         TEXT,
    -- The row's fields as JSON; empty when the row could not be read.
    data          TEXT NOT NULL,
    error_field   TEXT,
    error_code    TEXT,
    error_message TEXT,
    PRIMARY KEY (import_id, row_number)
);
