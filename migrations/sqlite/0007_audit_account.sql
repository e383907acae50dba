-- The account each audit event concerns (an account's own changes, and its numbers'), so an
-- account's history, its numbers' included, is one indexed read.
ALTER TABLE audit_events ADD COLUMN account_name TEXT;
UPDATE audit_events SET account_name = resource_key WHERE resource_type = 'account';
UPDATE audit_events SET account_name = json_extract(COALESCE(after, before), '$.accountName')
    WHERE resource_type = 'number';
CREATE INDEX audit_by_account ON audit_events (account_name, id);
CREATE INDEX audit_by_actor ON audit_events (actor, id);
