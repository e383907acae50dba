-- People who sign in to the portal. Local users have an argon2 hash of their password; users
-- who come through single sign-on have the issuer's subject instead (and may have both).
CREATE TABLE portal_users (
    name                  TEXT PRIMARY KEY NOT NULL,
    password_hash         TEXT,
    must_change_password  BOOLEAN NOT NULL DEFAULT FALSE,
    roles                 TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    last_sign_in_at       TEXT
);

-- Portal sessions (tower-sessions records), shared by every node on the same database.
CREATE TABLE portal_sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    data        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX portal_sessions_by_expiry ON portal_sessions (expires_at);
