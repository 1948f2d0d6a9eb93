-- Exports written by a job: a row per export asked for, recorded before its job is
-- submitted (status `pending`), then `ready` once its object exists, or `failed` with the
-- reason. The object's key is made from the export's id alone; the file name shown to the
-- person is kept here. Past `expires_at` the object is deleted and the row removed.
CREATE TABLE exports (
    id           BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    dataset_id   BLOB NOT NULL,
    job_id       BLOB,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    file_name    TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    request      TEXT NOT NULL DEFAULT '{}',
    error        TEXT,
    bytes        INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    created_at   TEXT NOT NULL,
    finished_at  TEXT,
    expires_at   TEXT NOT NULL
);
CREATE INDEX exports_workspace ON exports (workspace_id, created_at);
CREATE INDEX exports_expiry ON exports (expires_at);
