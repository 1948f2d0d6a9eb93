-- Background jobs: a queue table that workers lease rows from (FOR UPDATE SKIP LOCKED),
-- with progress, attempts, a heartbeat-extended lease, an idempotency key per user,
-- cancellation, and the hours reserved at submission and charged at the end.
CREATE TABLE jobs (
    id                 UUID PRIMARY KEY,
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    payload            TEXT NOT NULL DEFAULT '{}',
    status             TEXT NOT NULL CHECK (status IN
                           ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress           DOUBLE PRECISION NOT NULL DEFAULT 0,
    message            TEXT NOT NULL DEFAULT '',
    attempts           INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_after          TIMESTAMPTZ NOT NULL,
    lease_owner        TEXT,
    lease_until        TIMESTAMPTZ,
    cancel_requested   BOOLEAN NOT NULL DEFAULT FALSE,
    idempotency_key    TEXT,
    reserved_micro     BIGINT NOT NULL DEFAULT 0 CHECK (reserved_micro >= 0),
    charged_micro      BIGINT,
    cpu_micros         BIGINT,
    result             TEXT,
    error              TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    started_at         TIMESTAMPTZ,
    finished_at        TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX jobs_queue ON jobs (status, run_after);
CREATE INDEX jobs_user ON jobs (user_id, created_at);
CREATE INDEX jobs_lease ON jobs (status, lease_until);

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON jobs
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());
