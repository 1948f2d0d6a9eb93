-- Workspaces own the data: datasets and their versions, uploads and their chunks, jobs,
-- forecasts, and the hour balance with its ledger. Every account gets a personal workspace
-- with its own id, in which it is the admin; existing rows move into it unchanged (their
-- workspace is their account's). The `user_id` columns stay: they say which person made a
-- row, while `workspace_id` says whose it is. SQLite adds a referencing column only as
-- nullable, so triggers refuse a row without a workspace; the repositories' workspace
-- filters are the whole of tenancy here.

CREATE TABLE workspaces (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    personal_of BLOB UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

INSERT INTO workspaces (id, name, personal_of, created_at)
    SELECT id, 'Personal', id, created_at FROM users;
INSERT INTO workspace_members (workspace_id, user_id, role, created_at)
    SELECT id, id, 'admin', created_at FROM users;

ALTER TABLE datasets ADD COLUMN workspace_id BLOB REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE datasets SET workspace_id = user_id;
CREATE TRIGGER datasets_workspace_required BEFORE INSERT ON datasets WHEN NEW.workspace_id IS NULL
BEGIN SELECT RAISE(ABORT, 'datasets.workspace_id is required'); END;
CREATE TRIGGER datasets_workspace_kept BEFORE UPDATE OF workspace_id ON datasets
WHEN NEW.workspace_id IS NOT OLD.workspace_id
BEGIN SELECT RAISE(ABORT, 'datasets.workspace_id cannot change'); END;

ALTER TABLE dataset_versions ADD COLUMN workspace_id BLOB REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE dataset_versions SET workspace_id = user_id;
CREATE TRIGGER dataset_versions_workspace_required BEFORE INSERT ON dataset_versions WHEN NEW.workspace_id IS NULL
BEGIN SELECT RAISE(ABORT, 'dataset_versions.workspace_id is required'); END;
CREATE TRIGGER dataset_versions_workspace_kept BEFORE UPDATE OF workspace_id ON dataset_versions
WHEN NEW.workspace_id IS NOT OLD.workspace_id
BEGIN SELECT RAISE(ABORT, 'dataset_versions.workspace_id cannot change'); END;

ALTER TABLE uploads ADD COLUMN workspace_id BLOB REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE uploads SET workspace_id = user_id;
CREATE TRIGGER uploads_workspace_required BEFORE INSERT ON uploads WHEN NEW.workspace_id IS NULL
BEGIN SELECT RAISE(ABORT, 'uploads.workspace_id is required'); END;
CREATE TRIGGER uploads_workspace_kept BEFORE UPDATE OF workspace_id ON uploads
WHEN NEW.workspace_id IS NOT OLD.workspace_id
BEGIN SELECT RAISE(ABORT, 'uploads.workspace_id cannot change'); END;

ALTER TABLE upload_chunks ADD COLUMN workspace_id BLOB REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE upload_chunks SET workspace_id = user_id;
CREATE TRIGGER upload_chunks_workspace_required BEFORE INSERT ON upload_chunks WHEN NEW.workspace_id IS NULL
BEGIN SELECT RAISE(ABORT, 'upload_chunks.workspace_id is required'); END;
CREATE TRIGGER upload_chunks_workspace_kept BEFORE UPDATE OF workspace_id ON upload_chunks
WHEN NEW.workspace_id IS NOT OLD.workspace_id
BEGIN SELECT RAISE(ABORT, 'upload_chunks.workspace_id cannot change'); END;

ALTER TABLE jobs ADD COLUMN workspace_id BLOB REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE jobs SET workspace_id = user_id;
CREATE TRIGGER jobs_workspace_required BEFORE INSERT ON jobs WHEN NEW.workspace_id IS NULL
BEGIN SELECT RAISE(ABORT, 'jobs.workspace_id is required'); END;
CREATE TRIGGER jobs_workspace_kept BEFORE UPDATE OF workspace_id ON jobs
WHEN NEW.workspace_id IS NOT OLD.workspace_id
BEGIN SELECT RAISE(ABORT, 'jobs.workspace_id cannot change'); END;

ALTER TABLE forecasts ADD COLUMN workspace_id BLOB REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE forecasts SET workspace_id = user_id;
CREATE TRIGGER forecasts_workspace_required BEFORE INSERT ON forecasts WHEN NEW.workspace_id IS NULL
BEGIN SELECT RAISE(ABORT, 'forecasts.workspace_id is required'); END;
CREATE TRIGGER forecasts_workspace_kept BEFORE UPDATE OF workspace_id ON forecasts
WHEN NEW.workspace_id IS NOT OLD.workspace_id
BEGIN SELECT RAISE(ABORT, 'forecasts.workspace_id cannot change'); END;

CREATE INDEX datasets_workspace ON datasets (workspace_id, updated_at);
CREATE INDEX uploads_workspace ON uploads (workspace_id, expires_at);
CREATE INDEX jobs_workspace ON jobs (workspace_id, created_at);
CREATE INDEX forecasts_workspace ON forecasts (workspace_id, dataset_id, created_at);

-- The balance is the workspace's. A personal workspace shares its account's id, so the rows
-- keep their key. Nothing references the balance table, so it is rebuilt with its new key.
CREATE TABLE hour_balances_by_workspace (
    workspace_id  BLOB PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    balance_micro INTEGER NOT NULL CHECK (balance_micro >= 0),
    updated_at    TEXT NOT NULL
);
INSERT INTO hour_balances_by_workspace (workspace_id, balance_micro, updated_at)
    SELECT user_id, balance_micro, updated_at FROM hour_balances;
DROP TABLE hour_balances;
ALTER TABLE hour_balances_by_workspace RENAME TO hour_balances;

-- Ledger rows name the workspace whose balance moved and the person the change concerns.
-- Like the person, the workspace is cleared, not deleted, when it goes.
ALTER TABLE hour_ledger ADD COLUMN workspace_id BLOB REFERENCES workspaces (id) ON DELETE SET NULL;
UPDATE hour_ledger SET workspace_id = user_id WHERE user_id IS NOT NULL;
CREATE INDEX hour_ledger_workspace ON hour_ledger (workspace_id, created_at);
DROP TRIGGER hour_ledger_no_update;
CREATE TRIGGER hour_ledger_no_update BEFORE UPDATE ON hour_ledger
WHEN NOT ((NEW.user_id IS NULL OR NEW.user_id IS OLD.user_id)
      AND (NEW.actor_id IS NULL OR NEW.actor_id IS OLD.actor_id)
      AND (NEW.workspace_id IS NULL OR NEW.workspace_id IS OLD.workspace_id)
      AND NEW.delta_micro = OLD.delta_micro AND NEW.balance_micro = OLD.balance_micro
      AND NEW.reason = OLD.reason AND NEW.created_at = OLD.created_at)
BEGIN SELECT RAISE(ABORT, 'hour_ledger is append-only'); END;
