-- One tenant's schema. Runs with search_path set to the tenant's schema only, inside the
-- transaction that creates the tenant, so every name here is unqualified.

CREATE TABLE users (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email                 text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    username              text NOT NULL CHECK (char_length(username) BETWEEN 1 AND 100),
    role                  text NOT NULL CHECK (role IN ('admin', 'member')),
    password_hash         text NOT NULL,
    must_change_password  boolean NOT NULL DEFAULT false,
    disabled              boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique per tenant regardless of case.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_listing_idx ON users (created_at DESC, id DESC);

CREATE TABLE refresh_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family       uuid NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);

CREATE TABLE quizzes (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quizzes_listing_idx ON quizzes (created_at DESC, id DESC);
CREATE INDEX quizzes_author_idx ON quizzes (author_id, created_at DESC, id DESC);

CREATE TABLE questions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    quiz_id      uuid NOT NULL REFERENCES quizzes (id) ON DELETE CASCADE,
    kind         text NOT NULL
                 CHECK (kind IN ('single_choice', 'multiple_choice', 'true_false', 'short_answer')),
    prompt       text NOT NULL CHECK (char_length(prompt) BETWEEN 1 AND 2000),
    choices      jsonb NOT NULL DEFAULT '[]',
    correct      jsonb NOT NULL,
    explanation  text NOT NULL DEFAULT '',
    points       integer NOT NULL DEFAULT 1 CHECK (points BETWEEN 0 AND 1000),
    position     integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questions_quiz_idx ON questions (quiz_id, position);

-- No foreign key to quizzes: an attempt keeps its score after its quiz is deleted.
CREATE TABLE attempts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    quiz_id       uuid NOT NULL,
    user_id       uuid REFERENCES users (id) ON DELETE SET NULL,
    score         integer NOT NULL,
    max_score     integer NOT NULL,
    results       jsonb NOT NULL,
    submitted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempts_quiz_idx ON attempts (quiz_id, submitted_at DESC, id DESC);
CREATE INDEX attempts_user_idx ON attempts (user_id, submitted_at DESC);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid,
    action      text NOT NULL,
    target      text,
    client      text,
    request_id  text,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_listing_idx ON audit_log (at DESC, id DESC);
