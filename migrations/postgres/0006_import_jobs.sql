-- Bulk imports: one row per run (a dry run or an apply), its progress and tallies. An apply
-- updates its row in the same transaction as each chunk it writes, so after a crash the row
-- says exactly how far the import got.
CREATE TABLE import_jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       TEXT NOT NULL,
    mode         TEXT NOT NULL,
    state        TEXT NOT NULL,
    actor        TEXT NOT NULL,
    door         TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    finished_at  TEXT,
    rows_read    BIGINT NOT NULL DEFAULT 0,
    created      BIGINT NOT NULL DEFAULT 0,
    changed      BIGINT NOT NULL DEFAULT 0,
    unchanged    BIGINT NOT NULL DEFAULT 0,
    invalid      BIGINT NOT NULL DEFAULT 0,
    last_line    BIGINT NOT NULL DEFAULT 0,
    failure      TEXT
);

-- The invalid rows of an import (the first 10,000; the tally counts them all).
CREATE TABLE import_row_errors (
    job_id   BIGINT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line     BIGINT NOT NULL,
    field    TEXT NOT NULL,
    code     TEXT NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX import_row_errors_by_job ON import_row_errors (job_id, line);
