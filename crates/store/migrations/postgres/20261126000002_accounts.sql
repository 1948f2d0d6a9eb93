-- Sessions, API keys, one-time tokens, the hour ledger and the audit log, with row-level
-- security on every table that holds a user's data.

CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL UNIQUE,
    ip           TEXT,
    user_agent   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    secret_hash  BYTEA NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

CREATE TABLE auth_tokens (
    id         UUID PRIMARY KEY,
    user_id    UUID REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL
               CHECK (purpose IN ('verify_email', 'reset_password', 'magic_link', 'change_email')),
    token_hash BYTEA NOT NULL UNIQUE,
    email      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);

-- Append-only: one row per change of a balance. Rows outlive their account (user_id is
-- cleared), because they are the accounting record.
CREATE TABLE hour_ledger (
    id            UUID PRIMARY KEY,
    user_id       UUID REFERENCES users (id) ON DELETE SET NULL,
    delta_micro   BIGINT NOT NULL,
    balance_micro BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    actor_id      UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX hour_ledger_user ON hour_ledger (user_id, created_at);

-- The balance derived from the ledger, kept in the same transaction as each ledger row so
-- that a check and a charge are one atomic step; it can never go below zero.
CREATE TABLE hour_balances (
    user_id       UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    balance_micro BIGINT NOT NULL CHECK (balance_micro >= 0),
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Append-only, written by the server. Rows outlive their account, anonymised.
CREATE TABLE audit_log (
    id         UUID PRIMARY KEY,
    user_id    UUID REFERENCES users (id) ON DELETE SET NULL,
    actor_id   UUID REFERENCES users (id) ON DELETE SET NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',
    ip         TEXT,
    user_agent TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_user ON audit_log (user_id, created_at);
CREATE INDEX audit_log_created ON audit_log (created_at);

-- Append-only tables refuse updates and deletes, except the anonymisation that clearing a
-- deleted account's ids performs. One function per table: PL/pgSQL caches each expression's
-- plan for the row type it first saw.
CREATE FUNCTION refuse_ledger_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.user_id IS NULL OR NEW.user_id IS NOT DISTINCT FROM OLD.user_id)
       AND (NEW.actor_id IS NULL OR NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id)
       AND NEW.id = OLD.id AND NEW.delta_micro = OLD.delta_micro
       AND NEW.balance_micro = OLD.balance_micro AND NEW.reason = OLD.reason
       AND NEW.created_at = OLD.created_at THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'hour_ledger is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER hour_ledger_append_only BEFORE UPDATE OR DELETE ON hour_ledger
    FOR EACH ROW EXECUTE FUNCTION refuse_ledger_rewrite();

CREATE FUNCTION refuse_audit_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.user_id IS NULL OR NEW.user_id IS NOT DISTINCT FROM OLD.user_id)
       AND (NEW.actor_id IS NULL OR NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id)
       AND NEW.id = OLD.id AND NEW.action = OLD.action AND NEW.detail = OLD.detail
       AND NEW.ip IS NOT DISTINCT FROM OLD.ip
       AND NEW.user_agent IS NOT DISTINCT FROM OLD.user_agent
       AND NEW.created_at = OLD.created_at THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_rewrite();

-- Row-level security. The application sets, per transaction, either app.user_id (the acting
-- user: only their rows are visible or writable) or app.system = 'on' (sign-in look-ups,
-- admin and worker work). With neither, nothing is visible. FORCE applies the policies to the
-- tables' owner too, which is the role the application connects as.
CREATE FUNCTION app_user_id() RETURNS UUID LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('app.user_id', true), '')::uuid
$$;
CREATE FUNCTION app_is_system() RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('app.system', true), '') = 'on'
$$;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON users
    USING (app_is_system() OR id = app_user_id())
    WITH CHECK (app_is_system() OR id = app_user_id());

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON sessions
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON api_keys
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());

ALTER TABLE auth_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON auth_tokens
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());

ALTER TABLE hour_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE hour_ledger FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON hour_ledger
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());

ALTER TABLE hour_balances ENABLE ROW LEVEL SECURITY;
ALTER TABLE hour_balances FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON hour_balances
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_log
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());
