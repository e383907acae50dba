-- Flow-through sync. Each outbox job now concerns one resource (a number, an account, a
-- consent) and says what to do upstream; a worker takes jobs of one kind and tenant together as
-- a batch, sent upstream as one order under the batch's idempotency key. A job waits while an
-- earlier job for the same resource is unfinished, so one number's changes reach the upstream in
-- the order they were made. A batch is leased: when its worker dies, another takes it over once
-- the lease runs out and sends it again under the same key.
ALTER TABLE outbox_jobs ADD COLUMN batch_group TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox_jobs ADD COLUMN batch_id BIGINT;
ALTER TABLE outbox_jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_jobs ADD COLUMN finished_at TEXT;
CREATE INDEX outbox_by_key ON outbox_jobs (resource_key, id);
CREATE INDEX outbox_by_batch ON outbox_jobs (batch_id);

-- Jobs written before jobs were per resource (many numbers in one payload, no job for a
-- resource's later state) were never run by any worker. They are set aside; what they named stays
-- pending: numbers and accounts until they are retried (retrySync), a consent until its next
-- relationship update.
UPDATE outbox_jobs SET state = 'superseded'
 WHERE state = 'pending' AND kind IN ('numbers.upsert', 'numbers.release', 'account.upsert', 'account.delete',
                 'consent.relationship');

CREATE TABLE sync_batches (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL,
    batch_group      TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    upstream_order   TEXT,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_until      TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    finished_at      TEXT
);
CREATE INDEX sync_batches_by_lease ON sync_batches (state, lease_until);

-- A consent whose relationship update the upstream refused says why, like numbers and accounts.
ALTER TABLE requests_for_information ADD COLUMN provisioning_errors TEXT NOT NULL DEFAULT '[]';
