-- Bearer tokens for the Provisioning API. Only a SHA-256 of each token is kept.
CREATE TABLE api_tokens (
    name          TEXT PRIMARY KEY NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    roles         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);
