-- Tenant stats without counting: each tenant's row_counts table (sql/tenant/008_row_counts.sql)
-- holds how many rows its users, quizzes, questions and attempts have, kept by these statement
-- triggers in the transaction of every insert, delete and truncate (a foreign key's cascade
-- included). So a count is exact and never stale, and reading it costs a few rows whatever the
-- tenant's size, where count(*) over attempts grew with them.
-- Each table's count is spread over 16 rows (slot: the backend's pid), so that two transactions
-- adding attempts to one tenant at the same time rarely wait for each other's row lock; a read
-- sums them. The table is the one of the changed table's own schema, whatever search_path the
-- caller has.
CREATE FUNCTION quiz.count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        EXECUTE format('DELETE FROM %I.row_counts WHERE tbl = $1', TG_TABLE_SCHEMA)
            USING TG_TABLE_NAME;
        RETURN NULL;
    END IF;
    SELECT count(*) INTO n FROM counted;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    EXECUTE format('INSERT INTO %I.row_counts AS c (tbl, slot, n) VALUES ($1, $2, $3)'
                   ' ON CONFLICT (tbl, slot) DO UPDATE SET n = c.n + excluded.n', TG_TABLE_SCHEMA)
        USING TG_TABLE_NAME, pg_backend_pid() % 16, CASE TG_OP WHEN 'DELETE' THEN -n ELSE n END;
    RETURN NULL;
END $$;

-- The counts of the schema on search_path (a tenant's): from row_counts, or counted where the
-- fleet migration has not brought that table yet.
CREATE FUNCTION quiz.tenant_counts(OUT users bigint, OUT quizzes bigint, OUT questions bigint,
                                   OUT attempts bigint) LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('row_counts') IS NULL THEN
        SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM quizzes),
               (SELECT count(*) FROM questions), (SELECT count(*) FROM attempts)
          INTO users, quizzes, questions, attempts;
    ELSE
        EXECUTE 'SELECT coalesce(sum(n) FILTER (WHERE tbl = ''users''), 0),'
                ' coalesce(sum(n) FILTER (WHERE tbl = ''quizzes''), 0),'
                ' coalesce(sum(n) FILTER (WHERE tbl = ''questions''), 0),'
                ' coalesce(sum(n) FILTER (WHERE tbl = ''attempts''), 0) FROM row_counts'
          INTO users, quizzes, questions, attempts;
    END IF;
END $$;
