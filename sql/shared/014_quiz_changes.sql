-- The change log workers keep their caches coherent by (worker/wk_coherence.h). Every statement
-- that changes a tenant's quizzes or users appends the ids of the rows it changed (a bulk one,
-- or a TRUNCATE: the whole tenant, row_id NULL) in its own transaction, stamped with that
-- transaction's id; a worker's validation round reads what transactions it may not have seen yet committed
-- (xid at or past the xmin of its last round's snapshot) before it answers reads from memory.
-- Kept a few minutes (workers prune it); a worker that has not looked for longer forgets its
-- cache instead.
CREATE TABLE quiz.quiz_changes (
    id bigserial PRIMARY KEY,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    tenant uuid NOT NULL,
    row_id uuid -- a quiz's or a user's id; NULL: every row of the tenant
);
CREATE INDEX quiz_changes_xid_idx ON quiz.quiz_changes (xid);

-- One validation round, in one snapshot: its xmin ('x', a), the log rows from `since` on ('c': id,
-- tenant, row_id or NULL), and for each role name given whether the caller (a shard's login) may
-- still enter it ('t': its place in roles from 1, oid or NULL when there is no such role,
-- 'true'/'false'). PL/pgSQL so that each server session plans it once: the round is the cache's
-- whole cost to the database.
CREATE FUNCTION quiz.cache_round(since xid8, roles text[])
RETURNS TABLE (kind text, a text, b text, c text) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
        SELECT 'x', pg_snapshot_xmin(pg_current_snapshot())::text, NULL, NULL
        UNION ALL
        SELECT 'c', q.id::text, q.tenant::text, q.row_id::text FROM quiz.quiz_changes q
         WHERE q.xid >= since
        UNION ALL
        SELECT 't', u.i::text, to_regrole(u.r)::oid::text,
               CASE WHEN to_regrole(u.r) IS NOT NULL THEN pg_has_role(u.r, 'MEMBER')::text END
          FROM unnest(roles) WITH ORDINALITY AS u(r, i);
END $$;

-- AFTER each statement on a tenant's quizzes or users (sql/tenant/006_quiz_changes.sql,
-- 007_user_changes.sql), with the rows it touched as the transition table `changed`. Runs as its owner so that tenant roles need no
-- right on the log; the tenant is the table's own schema's, which no caller chooses.
CREATE FUNCTION quiz.note_quiz_changes() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, quiz AS $$
DECLARE
    t uuid := substr(TG_TABLE_SCHEMA, 8)::uuid; -- tenant_<32 hex digits>
BEGIN
    IF TG_OP = 'TRUNCATE' OR (SELECT count(*) FROM changed) > 64 THEN
        INSERT INTO quiz.quiz_changes (tenant) VALUES (t);
    ELSE
        INSERT INTO quiz.quiz_changes (tenant, row_id) SELECT DISTINCT t, id FROM changed;
    END IF;
    RETURN NULL;
END $$;
