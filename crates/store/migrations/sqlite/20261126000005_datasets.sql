-- Datasets and their immutable versions. A version row is written only after all of its
-- objects exist, in the same transaction that makes it the dataset's current version.
CREATE TABLE datasets (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '[]',
    current_version INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX datasets_user ON datasets (user_id, updated_at);

CREATE TABLE dataset_versions (
    dataset_id     BLOB NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    version        INTEGER NOT NULL CHECK (version >= 1),
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_version INTEGER,
    operation      TEXT NOT NULL,
    parts          INTEGER NOT NULL CHECK (parts >= 0),
    row_count      INTEGER NOT NULL CHECK (row_count >= 0),
    bytes          INTEGER NOT NULL CHECK (bytes >= 0),
    time_from      TEXT,
    time_to        TEXT,
    series         TEXT NOT NULL DEFAULT '[]',
    profile        TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL,
    PRIMARY KEY (dataset_id, version)
);
