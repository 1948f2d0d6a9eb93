-- A sign-up waits for its address to be confirmed: the account is made when the link
-- mailed to it is opened, with the password chosen at sign-up (kept hashed until then).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE auth_tokens_next (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL
                  CHECK (purpose IN ('verify_email', 'reset_password', 'magic_link',
                                     'change_email', 'sign_up')),
    token_hash    BLOB NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    password_hash TEXT
);
INSERT INTO auth_tokens_next (id, user_id, purpose, token_hash, email, created_at, expires_at, used_at)
    SELECT id, user_id, purpose, token_hash, email, created_at, expires_at, used_at FROM auth_tokens;
DROP TABLE auth_tokens;
ALTER TABLE auth_tokens_next RENAME TO auth_tokens;
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);
