-- The change feed's order (src/store/feed.rs): each audit event keeps the id of the transaction
-- that wrote it, so the feed hands out only events of transactions that have ended, in the order
-- (transaction, event). Events written before this migration take the migration's own
-- transaction id, so they come first, in the order of their ids.
ALTER TABLE audit_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX audit_by_commit ON audit_events ((COALESCE(xid, '0'::xid8)), id);
