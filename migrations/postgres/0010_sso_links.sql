-- Single sign-on identities linked to local portal users, by the issuer and the subject it
-- gives (`oid` for Entra ID, else `sub`): claims a person cannot change. A link is made by an
-- admin (portal or command line), never by a matching name or email.
CREATE TABLE portal_sso_links (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    linked_at  TEXT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX portal_sso_links_by_user ON portal_sso_links (user_name);
