-- Accounts, numbers, their audit trail and the outbox of changes to push upstream.
-- Service columns use short names: oc (Teams Operator Connect), dr (Teams Direct Routing),
-- tpm (Teams Phone Mobile), zoom (Zoom Phone Cloud Peering), aocp (Azure Operator Call Protection).
-- A NULL `<service>_enabled` means the caller did not mention the service.

CREATE TABLE accounts (
    name                 TEXT PRIMARY KEY NOT NULL,
    correlation_id       TEXT,
    teams_tenant_id      TEXT,
    oc_enabled           BOOLEAN,
    oc_sync              BOOLEAN NOT NULL DEFAULT FALSE,
    oc_numbers           BIGINT NOT NULL DEFAULT 0,
    dr_enabled           BOOLEAN,
    dr_sync              BOOLEAN NOT NULL DEFAULT FALSE,
    dr_numbers           BIGINT NOT NULL DEFAULT 0,
    tpm_enabled          BOOLEAN,
    tpm_sync             BOOLEAN NOT NULL DEFAULT FALSE,
    tpm_numbers          BIGINT NOT NULL DEFAULT 0,
    zoom_enabled         BOOLEAN,
    zoom_sync            BOOLEAN NOT NULL DEFAULT FALSE,
    zoom_numbers         BIGINT NOT NULL DEFAULT 0,
    aocp_enabled         BOOLEAN,
    aocp_sync            BOOLEAN NOT NULL DEFAULT FALSE,
    aocp_numbers         BIGINT NOT NULL DEFAULT 0,
    dr_call_screening    BOOLEAN,
    dr_subdomain         TEXT,
    dr_region1_token     TEXT,
    dr_region2_token     TEXT,
    dr_subdomain_status  TEXT NOT NULL DEFAULT 'notProvisioned',
    provisioning_status  TEXT NOT NULL,
    provisioning_errors  TEXT NOT NULL DEFAULT '[]',
    version              BIGINT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE numbers (
    telephone_number     TEXT PRIMARY KEY NOT NULL,
    account_name         TEXT NOT NULL REFERENCES accounts (name),
    oc_enabled           BOOLEAN,
    dr_enabled           BOOLEAN,
    tpm_enabled          BOOLEAN,
    zoom_enabled         BOOLEAN,
    aocp_enabled         BOOLEAN,
    oc_detail            TEXT,
    tpm_detail           TEXT,
    custom_sip_header    TEXT,
    country              TEXT,
    line_type            TEXT NOT NULL,
    provisioning_status  TEXT NOT NULL,
    provisioning_errors  TEXT NOT NULL DEFAULT '[]',
    version              BIGINT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX numbers_by_account ON numbers (account_name, telephone_number);
-- "Which numbers failed to sync / are still pending?" stays fast among millions of synced ones.
CREATE INDEX numbers_by_status ON numbers (provisioning_status, telephone_number);

CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    role           TEXT NOT NULL,
    door           TEXT NOT NULL,
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_key   TEXT NOT NULL,
    version        BIGINT,
    before         TEXT,
    after          TEXT
);
CREATE INDEX audit_by_resource ON audit_events (resource_type, resource_key, id);

CREATE TABLE outbox_jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_key   TEXT NOT NULL,
    payload        TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT
);
CREATE INDEX outbox_by_state ON outbox_jobs (state, id);

CREATE TABLE requests_for_information (
    tenant_id             TEXT PRIMARY KEY NOT NULL,
    resource              TEXT NOT NULL,
    account_name          TEXT,
    status                TEXT NOT NULL,
    provisioning_status   TEXT NOT NULL,
    version               BIGINT NOT NULL,
    updated_at            TEXT NOT NULL
);

CREATE TABLE teams_civic_addresses (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    resource    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
