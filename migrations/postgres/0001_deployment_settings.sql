-- Settings that hold for the whole deployment (custom SIP header name, base domain, ...).
CREATE TABLE deployment_settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
