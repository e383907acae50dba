-- Billable users, counted once a day: how many of each account's numbers each service bills for
-- on that day (ACG's rules: Direct Routing and Zoom, every number with the service on; Operator
-- Connect and Teams Phone Mobile, those on and synced to Operator Connect; Call Protection,
-- every number with it on). `billing_days` marks a day taken, so two nodes take it once; the
-- rows are never changed afterwards, so later changes (a deleted account included) leave past
-- days as they were. Observations, not changes: no audit events. Additive only.
CREATE TABLE billing_days (
    day       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    taken_at  TEXT NOT NULL,
    node      TEXT NOT NULL
);
CREATE TABLE billing_snapshots (
    day           TEXT COLLATE "C" NOT NULL,
    service       TEXT NOT NULL,
    account_name  TEXT COLLATE "C" NOT NULL,
    users         BIGINT NOT NULL,
    PRIMARY KEY (day, service, account_name)
);
