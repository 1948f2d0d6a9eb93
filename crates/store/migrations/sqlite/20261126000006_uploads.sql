-- Resumable uploads: a file sent in chunks, each stored as an object and recorded here in
-- the same transaction that advances the upload's offset, so a chunk is either counted and
-- findable or not there at all. An upload becomes a dataset when it is completed.
CREATE TABLE uploads (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name     TEXT NOT NULL,
    size          INTEGER NOT NULL CHECK (size > 0),
    received      INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= size),
    claimed_until TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX uploads_user ON uploads (user_id, expires_at);

CREATE TABLE upload_chunks (
    upload_id  BLOB NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    start      INTEGER NOT NULL CHECK (start >= 0),
    length     INTEGER NOT NULL CHECK (length > 0),
    object_key TEXT NOT NULL,
    PRIMARY KEY (upload_id, start)
);
