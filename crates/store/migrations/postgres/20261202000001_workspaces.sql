-- Workspaces own the data: datasets and their versions, uploads and their chunks, jobs,
-- forecasts, and the hour balance with its ledger. Every account gets a personal workspace
-- with its own id, in which it is the admin; existing rows move into it unchanged (their
-- workspace is their account's). The `user_id` columns stay: they say which person made a
-- row (who imported, who ran the job, whose charge), while `workspace_id` says whose it is.
--
-- The migration runs with system access so that the backfill sees every row.
SELECT set_config('app.system', 'on', true);

CREATE TABLE workspaces (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    personal_of UUID UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members (user_id);

INSERT INTO workspaces (id, name, personal_of, created_at)
    SELECT id, 'Personal', id, created_at FROM users;
INSERT INTO workspace_members (workspace_id, user_id, role, created_at)
    SELECT id, id, 'admin', created_at FROM users;

ALTER TABLE datasets ADD COLUMN workspace_id UUID REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE datasets SET workspace_id = user_id;
ALTER TABLE datasets ALTER COLUMN workspace_id SET NOT NULL;

ALTER TABLE dataset_versions ADD COLUMN workspace_id UUID REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE dataset_versions SET workspace_id = user_id;
ALTER TABLE dataset_versions ALTER COLUMN workspace_id SET NOT NULL;

ALTER TABLE uploads ADD COLUMN workspace_id UUID REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE uploads SET workspace_id = user_id;
ALTER TABLE uploads ALTER COLUMN workspace_id SET NOT NULL;

ALTER TABLE upload_chunks ADD COLUMN workspace_id UUID REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE upload_chunks SET workspace_id = user_id;
ALTER TABLE upload_chunks ALTER COLUMN workspace_id SET NOT NULL;

ALTER TABLE jobs ADD COLUMN workspace_id UUID REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE jobs SET workspace_id = user_id;
ALTER TABLE jobs ALTER COLUMN workspace_id SET NOT NULL;

ALTER TABLE forecasts ADD COLUMN workspace_id UUID REFERENCES workspaces (id) ON DELETE CASCADE;
UPDATE forecasts SET workspace_id = user_id;
ALTER TABLE forecasts ALTER COLUMN workspace_id SET NOT NULL;

CREATE INDEX datasets_workspace ON datasets (workspace_id, updated_at);
CREATE INDEX uploads_workspace ON uploads (workspace_id, expires_at);
CREATE INDEX jobs_workspace ON jobs (workspace_id, created_at);
CREATE INDEX forecasts_workspace ON forecasts (workspace_id, dataset_id, created_at);

-- The balance is the workspace's. A personal workspace shares its account's id, so the rows
-- keep their key.
ALTER TABLE hour_balances RENAME COLUMN user_id TO workspace_id;
ALTER TABLE hour_balances DROP CONSTRAINT hour_balances_user_id_fkey;
ALTER TABLE hour_balances ADD CONSTRAINT hour_balances_workspace_id_fkey
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;

-- Ledger rows name the workspace whose balance moved and the person the change concerns
-- (who ran the job, who bought). Like the person, the workspace is cleared, not deleted,
-- when it goes: the ledger outlives both.
ALTER TABLE hour_ledger ADD COLUMN workspace_id UUID REFERENCES workspaces (id) ON DELETE SET NULL;
UPDATE hour_ledger SET workspace_id = user_id WHERE user_id IS NOT NULL;
CREATE INDEX hour_ledger_workspace ON hour_ledger (workspace_id, created_at);

CREATE OR REPLACE FUNCTION refuse_ledger_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.user_id IS NULL OR NEW.user_id IS NOT DISTINCT FROM OLD.user_id)
       AND (NEW.actor_id IS NULL OR NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id)
       AND (NEW.workspace_id IS NULL OR NEW.workspace_id IS NOT DISTINCT FROM OLD.workspace_id)
       AND NEW.id = OLD.id AND NEW.delta_micro = OLD.delta_micro
       AND NEW.balance_micro = OLD.balance_micro AND NEW.reason = OLD.reason
       AND NEW.created_at = OLD.created_at THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'hour_ledger is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Row-level security by membership: a person sees the rows of the workspaces they belong
-- to, and changes them only as an editor or admin. The membership is read from the table
-- itself, not from a setting the application could get wrong; the repositories narrow
-- further to the one workspace a request acts in.
CREATE FUNCTION app_member_role(ws UUID) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT role FROM workspace_members WHERE workspace_id = ws AND user_id = app_user_id()
$$;
CREATE FUNCTION app_can_read(ws UUID) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT app_is_system() OR app_member_role(ws) IS NOT NULL
$$;
CREATE FUNCTION app_can_write(ws UUID) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT app_is_system() OR coalesce(app_member_role(ws) IN ('editor', 'admin'), false)
$$;

ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY member_read ON workspaces FOR SELECT USING (app_can_read(id));
CREATE POLICY system_write ON workspaces USING (app_is_system()) WITH CHECK (app_is_system());

ALTER TABLE workspace_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_members FORCE ROW LEVEL SECURITY;
CREATE POLICY own_read ON workspace_members FOR SELECT
    USING (app_is_system() OR user_id = app_user_id());
CREATE POLICY system_write ON workspace_members
    USING (app_is_system()) WITH CHECK (app_is_system());


DROP POLICY tenant ON datasets;
CREATE POLICY member_read ON datasets FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON datasets
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));

DROP POLICY tenant ON dataset_versions;
CREATE POLICY member_read ON dataset_versions FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON dataset_versions
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));

DROP POLICY tenant ON uploads;
CREATE POLICY member_read ON uploads FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON uploads
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));

DROP POLICY tenant ON upload_chunks;
CREATE POLICY member_read ON upload_chunks FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON upload_chunks
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));

DROP POLICY tenant ON jobs;
CREATE POLICY member_read ON jobs FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON jobs
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));

DROP POLICY tenant ON forecasts;
CREATE POLICY member_read ON forecasts FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON forecasts
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));

DROP POLICY tenant ON hour_balances;
CREATE POLICY member_read ON hour_balances FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON hour_balances
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));

DROP POLICY tenant ON hour_ledger;
CREATE POLICY member_read ON hour_ledger FOR SELECT USING (app_can_read(workspace_id));
CREATE POLICY member_write ON hour_ledger
    USING (app_can_write(workspace_id)) WITH CHECK (app_can_write(workspace_id));
