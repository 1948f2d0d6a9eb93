-- A sign-up waits for its address to be confirmed: the account is made when the link
-- mailed to it is opened, with the password chosen at sign-up (kept hashed until then).
ALTER TABLE auth_tokens DROP CONSTRAINT auth_tokens_purpose_check;
ALTER TABLE auth_tokens ADD CONSTRAINT auth_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'magic_link', 'change_email', 'sign_up'));
ALTER TABLE auth_tokens ADD COLUMN password_hash TEXT;
