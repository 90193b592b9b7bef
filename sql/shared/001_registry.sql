-- Shared schema: the tenant registry and the platform audit log.
-- Applied once per database by `quiz-worker --migrate` (recorded in quiz.schema_migrations).

CREATE TABLE quiz.tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
    shard       integer NOT NULL CHECK (shard >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL))
);

-- Keyset pagination of GET /api/tenants/ walks this index newest first.
CREATE INDEX tenants_listing_idx ON quiz.tenants (created_at DESC, id DESC) WHERE status = 'active';

CREATE TABLE quiz.platform_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    action      text NOT NULL,
    tenant_id   uuid,
    request_id  text,
    client      text,
    detail      jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX platform_audit_tenant_idx ON quiz.platform_audit (tenant_id, at DESC);
