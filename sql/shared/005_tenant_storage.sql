-- Each tenant's storage as last sampled by a worker of its shard (about once a minute): what
-- GET /api/shards sums and a rebalance by storage weighs, without a pass over every cluster's
-- catalog at each request.
ALTER TABLE quiz.tenants ADD COLUMN storage_bytes bigint, ADD COLUMN storage_sampled_at timestamptz;
