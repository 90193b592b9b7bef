-- The quiz product: title search, and idempotency keys for retried POSTs.

-- GET /api/quizzes?q= matches words of the title.
CREATE INDEX quizzes_title_search_idx ON quizzes USING gin (to_tsvector('simple', title));

-- A POST retried with the same Idempotency-Key returns the first response without applying it
-- twice. Keys are per user and live 24 hours.
CREATE TABLE idempotency_keys (
    user_id       uuid NOT NULL,
    key           text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 256),
    request_hash  bytea NOT NULL,
    status        integer,          -- proto status of the stored response
    body          text,             -- stored response body
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
