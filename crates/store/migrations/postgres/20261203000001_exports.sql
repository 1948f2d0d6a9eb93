-- Exports written by a job: a row per export asked for, recorded before its job is
-- submitted (status `pending`), then `ready` once its object exists, or `failed` with the
-- reason. The object's key is made from the export's id alone; the file name shown to the
-- person is kept here. Past `expires_at` the object is deleted and the row removed.
CREATE TABLE exports (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    dataset_id   UUID NOT NULL,
    job_id       UUID,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    file_name    TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    request      TEXT NOT NULL DEFAULT '{}',
    error        TEXT,
    bytes        BIGINT NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    created_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX exports_workspace ON exports (workspace_id, created_at);
CREATE INDEX exports_expiry ON exports (expires_at);

ALTER TABLE exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE exports FORCE ROW LEVEL SECURITY;
CREATE POLICY member_read ON exports FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON exports
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));
