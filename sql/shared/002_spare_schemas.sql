-- Spare tenant schemas, built ahead of time by the workers so that creating a tenant does not
-- wait for its DDL. A spare's id becomes the tenant's id (schema and role tenant_<hex> exist
-- already); it was drawn to hash to `shard` among `shards`, and the schema carries the tenant
-- migrations up to `version`. Taking one is a DELETE in the creating transaction.
CREATE TABLE quiz.spare_schemas (
    id          uuid PRIMARY KEY,
    shard       integer NOT NULL CHECK (shard >= 0),
    shards      integer NOT NULL CHECK (shards > shard),
    version     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX spare_schemas_take_idx ON quiz.spare_schemas (shard, shards, version, created_at);
