-- Datasets and their immutable versions. A version row is written only after all of its
-- objects exist, in the same transaction that makes it the dataset's current version.
CREATE TABLE datasets (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '[]',
    current_version INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX datasets_user ON datasets (user_id, updated_at);

CREATE TABLE dataset_versions (
    dataset_id     UUID NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    version        INTEGER NOT NULL CHECK (version >= 1),
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_version INTEGER,
    operation      TEXT NOT NULL,
    parts          INTEGER NOT NULL CHECK (parts >= 0),
    row_count      BIGINT NOT NULL CHECK (row_count >= 0),
    bytes          BIGINT NOT NULL CHECK (bytes >= 0),
    time_from      TIMESTAMPTZ,
    time_to        TIMESTAMPTZ,
    series         TEXT NOT NULL DEFAULT '[]',
    profile        TEXT NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (dataset_id, version)
);

ALTER TABLE datasets ENABLE ROW LEVEL SECURITY;
ALTER TABLE datasets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON datasets
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());

ALTER TABLE dataset_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE dataset_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON dataset_versions
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());
