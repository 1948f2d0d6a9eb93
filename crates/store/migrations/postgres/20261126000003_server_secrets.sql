-- Secrets the server generates for itself (the key that signs access tokens), shared by every
-- replica through the database. Not user data, so no row-level security.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
