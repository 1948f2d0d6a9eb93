-- Secrets the server generates for itself (the key that signs access tokens), shared by every
-- replica through the database. Not user data.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
