-- The tenant stats' counts of the schema on search_path (a tenant's): from its row_counts, kept
-- by its triggers (sql/tenant/008_row_counts.sql), or counted where the fleet migration has not
-- brought that table yet.
CREATE FUNCTION quiz.tenant_counts(OUT users bigint, OUT quizzes bigint, OUT questions bigint,
                                   OUT attempts bigint) LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('row_counts') IS NULL THEN
        SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM quizzes),
               (SELECT count(*) FROM questions), (SELECT count(*) FROM attempts)
          INTO users, quizzes, questions, attempts;
    ELSE
        SELECT coalesce(sum(n) FILTER (WHERE tbl = 'users'), 0),
               coalesce(sum(n) FILTER (WHERE tbl = 'quizzes'), 0),
               coalesce(sum(n) FILTER (WHERE tbl = 'questions'), 0),
               coalesce(sum(n) FILTER (WHERE tbl = 'attempts'), 0)
          INTO users, quizzes, questions, attempts FROM row_counts;
    END IF;
END $$;
