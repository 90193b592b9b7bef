-- Tenant lifecycle. A suspended tenant keeps everything but its users get 403; a deleted one is
-- 404 to them at once and keeps its schema and role until purge_after (the grace period of the
-- worker that deleted it), when a worker of its shard drops them and this row. In both states
-- the tenant's role is granted to no shard login, so PostgreSQL itself refuses its requests.
-- Rows of tenants deleted before this (schemas already dropped) are history in platform_audit.
DELETE FROM quiz.tenants WHERE status = 'deleted';
ALTER TABLE quiz.tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE quiz.tenants ADD CONSTRAINT tenants_status_check
    CHECK (status IN ('active', 'suspended', 'deleted'));
ALTER TABLE quiz.tenants ADD COLUMN purge_after timestamptz;
ALTER TABLE quiz.tenants ADD CONSTRAINT tenants_purge_check
    CHECK ((status = 'deleted') = (purge_after IS NOT NULL));

-- Suspended tenants are listed and counted where they live, as active ones are.
DROP INDEX quiz.tenants_listing_idx;
CREATE INDEX tenants_listing_idx ON quiz.tenants (created_at DESC, id DESC)
    WHERE status <> 'deleted';
DROP INDEX quiz.tenants_shard_idx;
CREATE INDEX tenants_shard_idx ON quiz.tenants (shard) WHERE status <> 'deleted';
-- The purger's question: this shard's tenants past their grace period.
CREATE INDEX tenants_purge_idx ON quiz.tenants (shard, purge_after) WHERE status = 'deleted';
