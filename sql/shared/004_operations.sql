-- Placement operations (tenant moves, rebalances), run by the workers' movers and watched
-- through GET /api/operations/{id}. A mover holds an operation through a lease it renews, not a
-- lock or a session: a mover that dies leaves a lease that runs out, and another resumes it,
-- behind a transaction-mode pooler too.
CREATE TABLE quiz.operations (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('move', 'rebalance')),
    tenant_id    uuid,
    from_shard   integer,
    to_shard     integer,
    by           text CHECK (by IN ('tenants', 'storage')),
    parent_id    uuid REFERENCES quiz.operations (id),
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'copying', 'catching_up', 'cutover', 'done', 'failed')),
    progress     real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    error        text,
    freeze_ms    integer,
    lease_until  timestamptz,
    CHECK ((kind = 'move') = (tenant_id IS NOT NULL AND to_shard IS NOT NULL))
);

-- One move of a tenant at a time, and one rebalance: a second is a 409.
CREATE UNIQUE INDEX operations_one_move_per_tenant ON quiz.operations (tenant_id)
    WHERE kind = 'move' AND state NOT IN ('done', 'failed');
CREATE UNIQUE INDEX operations_one_rebalance ON quiz.operations ((true))
    WHERE kind = 'rebalance' AND state NOT IN ('done', 'failed');
CREATE INDEX operations_listing_idx ON quiz.operations (started_at DESC, id DESC);
CREATE INDEX operations_pending_idx ON quiz.operations (started_at)
    WHERE state NOT IN ('done', 'failed');
