-- Answers to requests that carried Repeatability-Request-ID, so a retry is answered as the
-- first request was, without doing the work twice.
CREATE TABLE api_repeatability (
    request_id   TEXT PRIMARY KEY NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    first_sent   TEXT NOT NULL,
    status       INTEGER NOT NULL,
    etag         TEXT,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
