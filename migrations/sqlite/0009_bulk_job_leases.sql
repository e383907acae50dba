-- Bulk jobs survive their process, and an uploaded file waits in the database rather than on
-- the disk of the node that took it. Additive only: a node of the version before ignores the
-- new columns and tables.
--
-- A running job is held under a lease its worker renews (a heartbeat) and checks each time it
-- commits a chunk; a job whose lease ran out is marked `interrupted` and can be resumed by any
-- node, which takes the lease over. `last_key` is the last number a chunk of a bulk action on
-- a filter's matches did (the action goes on after it).
ALTER TABLE bulk_jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE bulk_jobs ADD COLUMN lease_until TEXT;
ALTER TABLE bulk_jobs ADD COLUMN last_key TEXT;
CREATE INDEX bulk_jobs_by_lease ON bulk_jobs (state, lease_until);

-- Files uploaded for import, kept until applied (or a day has passed), in parts of at most
-- 1 MiB so neither side holds a whole file in memory. `complete` once every part is in.
CREATE TABLE bulk_uploads (
    id          TEXT PRIMARY KEY,
    kept_since  TEXT NOT NULL,
    bytes       BIGINT NOT NULL DEFAULT 0,
    complete    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX bulk_uploads_by_age ON bulk_uploads (kept_since);

CREATE TABLE bulk_upload_parts (
    upload  TEXT NOT NULL REFERENCES bulk_uploads (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (upload, seq)
);
