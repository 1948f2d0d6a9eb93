-- Identities at external issuers (OIDC providers, Supabase Auth, GitHub) linked to accounts.
CREATE TABLE external_identities (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    email      TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX external_identities_user ON external_identities (user_id);
