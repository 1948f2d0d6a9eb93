-- Hour packages bought through a payment provider. A row is made when checkout starts and
-- marked paid, once, by the provider's signed event; the hours are credited in the same
-- transaction. Rows outlive their account (user_id is cleared): they are the accounting
-- record.
CREATE TABLE payments (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB REFERENCES users (id) ON DELETE SET NULL,
    provider     TEXT NOT NULL,
    checkout_id  TEXT NOT NULL UNIQUE,
    event_id     TEXT UNIQUE,
    package      TEXT NOT NULL,
    hours_micro  INTEGER NOT NULL CHECK (hours_micro > 0),
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'paid')),
    created_at   TEXT NOT NULL,
    paid_at      TEXT
);
CREATE INDEX payments_user ON payments (user_id, created_at);
