-- Accounts. Timestamps are written by the application (RFC 3339 text in SQLite) so that both
-- backends store the same instants.
CREATE TABLE users (
    id                BLOB PRIMARY KEY NOT NULL,
    email             TEXT NOT NULL UNIQUE,
    password_hash     TEXT,
    role              TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    email_verified_at TEXT,
    disabled_at       TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE INDEX users_created_at ON users (created_at, id);
