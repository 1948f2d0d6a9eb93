-- Sessions, API keys, one-time tokens, the hour ledger and the audit log. SQLite has no
-- row-level security: the repositories' user filters are the whole of tenancy here.

CREATE TABLE sessions (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL UNIQUE,
    ip           TEXT,
    user_agent   TEXT,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    secret_hash  BLOB NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);

CREATE TABLE auth_tokens (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL
               CHECK (purpose IN ('verify_email', 'reset_password', 'magic_link', 'change_email')),
    token_hash BLOB NOT NULL UNIQUE,
    email      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);

CREATE TABLE hour_ledger (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB REFERENCES users (id) ON DELETE SET NULL,
    delta_micro   INTEGER NOT NULL,
    balance_micro INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    actor_id      BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX hour_ledger_user ON hour_ledger (user_id, created_at);

CREATE TABLE hour_balances (
    user_id       BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    balance_micro INTEGER NOT NULL CHECK (balance_micro >= 0),
    updated_at    TEXT NOT NULL
);

CREATE TABLE audit_log (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB REFERENCES users (id) ON DELETE SET NULL,
    actor_id   BLOB REFERENCES users (id) ON DELETE SET NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',
    ip         TEXT,
    user_agent TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX audit_log_user ON audit_log (user_id, created_at);
CREATE INDEX audit_log_created ON audit_log (created_at);

-- Append-only tables refuse deletes and any update other than clearing the ids of a deleted
-- account.
CREATE TRIGGER hour_ledger_no_delete BEFORE DELETE ON hour_ledger
BEGIN SELECT RAISE(ABORT, 'hour_ledger is append-only'); END;
CREATE TRIGGER hour_ledger_no_update BEFORE UPDATE ON hour_ledger
WHEN NOT ((NEW.user_id IS NULL OR NEW.user_id IS OLD.user_id)
      AND (NEW.actor_id IS NULL OR NEW.actor_id IS OLD.actor_id)
      AND NEW.delta_micro = OLD.delta_micro AND NEW.balance_micro = OLD.balance_micro
      AND NEW.reason = OLD.reason AND NEW.created_at = OLD.created_at)
BEGIN SELECT RAISE(ABORT, 'hour_ledger is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT ((NEW.user_id IS NULL OR NEW.user_id IS OLD.user_id)
      AND (NEW.actor_id IS NULL OR NEW.actor_id IS OLD.actor_id)
      AND NEW.action = OLD.action AND NEW.detail = OLD.detail
      AND NEW.created_at = OLD.created_at)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
