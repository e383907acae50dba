-- The change feed (src/store/feed.rs) needs nothing new on SQLite: one transaction writes at a
-- time, so audit events' ids are committed in order and the feed reads them by id. This keeps the
-- two databases' schema versions in step.
SELECT 1;
