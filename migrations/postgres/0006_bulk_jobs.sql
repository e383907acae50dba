-- Bulk jobs: imports (a dry run or an apply) and bulk actions on many numbers, one row each
-- with its progress and tallies. A job updates its row in the same transaction as each chunk
-- it writes, so after a crash the row says exactly how far it got.
CREATE TABLE bulk_jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    action       TEXT NOT NULL,
    source       TEXT NOT NULL,
    state        TEXT NOT NULL,
    actor        TEXT NOT NULL,
    door         TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    finished_at  TEXT,
    total_lines  BIGINT,
    rows_read    BIGINT NOT NULL DEFAULT 0,
    created      BIGINT NOT NULL DEFAULT 0,
    changed      BIGINT NOT NULL DEFAULT 0,
    unchanged    BIGINT NOT NULL DEFAULT 0,
    invalid      BIGINT NOT NULL DEFAULT 0,
    last_line    BIGINT NOT NULL DEFAULT 0,
    failure      TEXT,
    upload       TEXT,
    settings     TEXT
);
CREATE INDEX bulk_jobs_by_kind ON bulk_jobs (kind, id);

-- The rows a job could not take (the first 10,000; the tally counts them all).
CREATE TABLE bulk_job_errors (
    job_id   BIGINT NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
    line     BIGINT NOT NULL,
    key      TEXT,
    field    TEXT NOT NULL,
    code     TEXT NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX bulk_job_errors_by_job ON bulk_job_errors (job_id, line);
