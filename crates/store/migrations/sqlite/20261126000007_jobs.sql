-- Background jobs: a queue table that workers lease rows from, with progress, attempts, a
-- heartbeat-extended lease, an idempotency key per user, cancellation, and the hours
-- reserved at submission and charged at the end.
CREATE TABLE jobs (
    id                 BLOB PRIMARY KEY NOT NULL,
    user_id            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    payload            TEXT NOT NULL DEFAULT '{}',
    status             TEXT NOT NULL CHECK (status IN
                           ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress           REAL NOT NULL DEFAULT 0,
    message            TEXT NOT NULL DEFAULT '',
    attempts           INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_after          TEXT NOT NULL,
    lease_owner        TEXT,
    lease_until        TEXT,
    cancel_requested   INTEGER NOT NULL DEFAULT 0,
    idempotency_key    TEXT,
    reserved_micro     INTEGER NOT NULL DEFAULT 0 CHECK (reserved_micro >= 0),
    charged_micro      INTEGER,
    cpu_micros         INTEGER,
    result             TEXT,
    error              TEXT,
    created_at         TEXT NOT NULL,
    started_at         TEXT,
    finished_at        TEXT,
    updated_at         TEXT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX jobs_queue ON jobs (status, run_after);
CREATE INDEX jobs_user ON jobs (user_id, created_at);
CREATE INDEX jobs_lease ON jobs (status, lease_until);
