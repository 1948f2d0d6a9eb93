-- Identities at external issuers (OIDC providers, Supabase Auth, GitHub) linked to accounts.
CREATE TABLE external_identities (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    email      TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX external_identities_user ON external_identities (user_id);

ALTER TABLE external_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE external_identities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON external_identities
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());
