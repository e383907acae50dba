-- Webhook subscriptions and their delivery log (src/store/webhooks.rs). A subscription reads the
-- change feed from its own place (cursor_xid, cursor_id) and delivers one event at a time.
CREATE TABLE webhook_subscriptions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    url              TEXT NOT NULL,
    types            TEXT NOT NULL,
    account_name     TEXT,
    secret           TEXT NOT NULL,
    previous_secret  TEXT,
    previous_until   TEXT,
    state            TEXT NOT NULL DEFAULT 'active',
    paused_reason    TEXT,
    cursor_xid       BIGINT NOT NULL DEFAULT 0,
    cursor_id        BIGINT NOT NULL DEFAULT 0,
    failures         INTEGER NOT NULL DEFAULT 0,
    failing_since    TEXT,
    next_attempt_at  TEXT,
    lease_owner      TEXT,
    lease_until      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  BIGINT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    status           INTEGER,
    answer           TEXT,
    at               TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription_id, id);
