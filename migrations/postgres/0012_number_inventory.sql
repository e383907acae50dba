-- The operator's inventory: numbers that exist before and after they belong to an account.
-- A number is `assigned` while it has a row in `numbers` (what ACG calls a number); this table
-- holds it in any other state: `available`, `reserved` (held for `account_name` until
-- `until`) or `quarantined` (released by `account_name`, held back until `until`, or for good
-- when `until` is NULL). The core keeps a number in at most one of the two tables. Additive
-- only: a node of the version before ignores it (its deletes release numbers outright and its
-- writes do not see reservations, so every node is upgraded before holds are relied on).
CREATE TABLE number_inventory (
    telephone_number  TEXT PRIMARY KEY NOT NULL,
    state             TEXT NOT NULL,
    account_name      TEXT,
    until             TEXT,
    version           BIGINT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
-- Expiry finds the holds that ran out without reading the rest.
CREATE INDEX number_inventory_by_until ON number_inventory (state, until);
-- "What is reserved for / was released by this account?"
CREATE INDEX number_inventory_by_account ON number_inventory (account_name, telephone_number);
