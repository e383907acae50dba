-- Tags and notes: the operator's own labels on a number (in any state of the inventory) or an
-- account. `labels` holds each labelled resource's tags (a JSON array, to read them in one row),
-- its note and the labels' own version; `label_tags` holds one row per tag, so a list filtered
-- by a tag reads its index in number (or name) order instead of every row. The core writes both
-- in the same transaction. A number's labels are not part of ACG's number: writing them leaves
-- the number's version (its ETag) alone. Additive only.
CREATE TABLE labels (
    resource_type  TEXT NOT NULL,
    resource_key   TEXT NOT NULL,
    tags           TEXT NOT NULL DEFAULT '[]',
    note           TEXT,
    version        BIGINT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_key)
);
CREATE TABLE label_tags (
    resource_type  TEXT NOT NULL,
    tag            TEXT NOT NULL,
    resource_key   TEXT NOT NULL,
    PRIMARY KEY (resource_type, tag, resource_key)
);
-- A resource's own tag rows, to replace them when its labels change.
CREATE INDEX label_tags_by_resource ON label_tags (resource_type, resource_key);
