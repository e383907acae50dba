-- Each subscription's attempts by outcome (src/store/webhooks.rs), kept as they are recorded so
-- `/metrics` reads them without counting the delivery log; the log so far counted once here.
ALTER TABLE webhook_subscriptions ADD COLUMN delivered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_subscriptions ADD COLUMN failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_subscriptions ADD COLUMN parked BIGINT NOT NULL DEFAULT 0;
UPDATE webhook_subscriptions SET
    delivered = (SELECT COUNT(*) FROM webhook_deliveries d
                 WHERE d.subscription_id = webhook_subscriptions.id AND d.outcome = 'delivered'),
    failed = (SELECT COUNT(*) FROM webhook_deliveries d
              WHERE d.subscription_id = webhook_subscriptions.id AND d.outcome = 'failed'),
    parked = (SELECT COUNT(*) FROM webhook_deliveries d
              WHERE d.subscription_id = webhook_subscriptions.id AND d.outcome = 'parked');
-- Who asked for a delivery out of turn (a redelivery of one event); none for the deliverer's own.
ALTER TABLE webhook_deliveries ADD COLUMN requested_by TEXT;
-- The log keeps 30 days of attempts; older ones are forgotten by time.
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (at);
