-- Failed logins per email, for the per-tenant+email login limit. Rows older than an hour are
-- pruned by the login path itself, so sprayed unknown emails cannot grow this without bound.
CREATE TABLE login_throttle (
    email_key     text PRIMARY KEY,          -- lower(email)
    failures      integer NOT NULL,
    window_start  timestamptz NOT NULL
);
CREATE INDEX login_throttle_window_idx ON login_throttle (window_start);
