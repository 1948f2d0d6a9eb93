-- Forecasts: a row per finished forecast, written after its Parquet object (the forecast
-- points) exists. The report holds the summary and the backtests; the points stay in the
-- object.
CREATE TABLE forecasts (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    dataset_id      UUID NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    dataset_version INTEGER NOT NULL CHECK (dataset_version >= 1),
    job_id          UUID,
    series          TEXT NOT NULL,
    column_name     TEXT NOT NULL,
    horizon         INTEGER NOT NULL CHECK (horizon > 0),
    levels          TEXT NOT NULL DEFAULT '[]',
    models          TEXT NOT NULL DEFAULT '[]',
    best            TEXT,
    report          TEXT NOT NULL DEFAULT '{}',
    bytes           BIGINT NOT NULL CHECK (bytes >= 0),
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX forecasts_user ON forecasts (user_id, dataset_id, created_at);

ALTER TABLE forecasts ENABLE ROW LEVEL SECURITY;
ALTER TABLE forecasts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON forecasts
    USING (app_is_system() OR user_id = app_user_id())
    WITH CHECK (app_is_system() OR user_id = app_user_id());
