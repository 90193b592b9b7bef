-- Placement is data. quiz.tenants.shard is where each tenant lives; quiz.shards maps each shard
-- to its database cluster and says whether it is dedicated (only tenants moved onto it, never
-- placed there by the hash). Every change of either bumps quiz.placement.epoch, which workers
-- quote when they redirect a request, so gateways can tell newer news from older.

CREATE TABLE quiz.shards (
    shard      integer PRIMARY KEY CHECK (shard >= 0),
    cluster    integer NOT NULL DEFAULT 0 CHECK (cluster >= 0),
    dedicated  boolean NOT NULL DEFAULT false
);

-- Shards that already hold tenants exist, whatever --shards said before.
INSERT INTO quiz.shards (shard) SELECT DISTINCT shard FROM quiz.tenants;
ALTER TABLE quiz.tenants ADD FOREIGN KEY (shard) REFERENCES quiz.shards (shard);
CREATE INDEX tenants_shard_idx ON quiz.tenants (shard) WHERE status = 'active';

CREATE TABLE quiz.placement (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch      bigint NOT NULL DEFAULT 1
);
INSERT INTO quiz.placement DEFAULT VALUES;

-- Runs as its owner (the migrating login): movers need not be granted UPDATE on the epoch.
CREATE FUNCTION quiz.bump_placement_epoch() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    UPDATE quiz.placement SET epoch = epoch + 1;
    RETURN NULL;
END $$;

-- Per row, so that a statement changing nothing (a re-run of --migrate) changes no epoch.
CREATE TRIGGER tenants_moved AFTER UPDATE OF shard ON quiz.tenants
    FOR EACH ROW WHEN (OLD.shard IS DISTINCT FROM NEW.shard)
    EXECUTE FUNCTION quiz.bump_placement_epoch();
CREATE TRIGGER shards_changed AFTER INSERT OR UPDATE OR DELETE ON quiz.shards
    FOR EACH ROW EXECUTE FUNCTION quiz.bump_placement_epoch();
