-- Resumable uploads: a file sent in chunks, each stored as an object and recorded here in
-- the same transaction that advances the upload's offset, so a chunk is either counted and
-- findable or not there at all. An upload becomes a dataset when it is completed.
CREATE TABLE uploads (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name     TEXT NOT NULL,
    size          BIGINT NOT NULL CHECK (size > 0),
    received      BIGINT NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= size),
    claimed_until TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX uploads_user ON uploads (user_id, expires_at);

CREATE TABLE upload_chunks (
    upload_id  UUID NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    start      BIGINT NOT NULL CHECK (start >= 0),
    length     BIGINT NOT NULL CHECK (length > 0),
    object_key TEXT NOT NULL,
    PRIMARY KEY (upload_id, start)
);

ALTER TABLE uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE uploads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON uploads
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());

ALTER TABLE upload_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE upload_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON upload_chunks
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());
