-- Forecasts: a row per finished forecast, written after its Parquet object (the forecast
-- points) exists. The report holds the summary and the backtests; the points stay in the
-- object.
CREATE TABLE forecasts (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    dataset_id      BLOB NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    dataset_version INTEGER NOT NULL CHECK (dataset_version >= 1),
    job_id          BLOB,
    series          TEXT NOT NULL,
    column_name     TEXT NOT NULL,
    horizon         INTEGER NOT NULL CHECK (horizon > 0),
    levels          TEXT NOT NULL DEFAULT '[]',
    models          TEXT NOT NULL DEFAULT '[]',
    best            TEXT,
    report          TEXT NOT NULL DEFAULT '{}',
    bytes           INTEGER NOT NULL CHECK (bytes >= 0),
    created_at      TEXT NOT NULL
);
CREATE INDEX forecasts_user ON forecasts (user_id, dataset_id, created_at);
