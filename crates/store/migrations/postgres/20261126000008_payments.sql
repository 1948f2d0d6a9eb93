-- Hour packages bought through a payment provider. A row is made when checkout starts and
-- marked paid, once, by the provider's signed event; the hours are credited in the same
-- transaction. Rows outlive their account (user_id is cleared): they are the accounting
-- record.
CREATE TABLE payments (
    id           UUID PRIMARY KEY,
    user_id      UUID REFERENCES users (id) ON DELETE SET NULL,
    provider     TEXT NOT NULL,
    checkout_id  TEXT NOT NULL UNIQUE,
    event_id     TEXT UNIQUE,
    package      TEXT NOT NULL,
    hours_micro  BIGINT NOT NULL CHECK (hours_micro > 0),
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'paid')),
    created_at   TIMESTAMPTZ NOT NULL,
    paid_at      TIMESTAMPTZ
);
CREATE INDEX payments_user ON payments (user_id, created_at);

ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE payments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON payments
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());
