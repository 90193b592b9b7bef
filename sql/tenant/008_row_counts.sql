-- How many rows the counted tables have, kept by quiz.count_rows (sql/shared/015_row_counts.sql):
-- the tenant stats read it instead of counting. A count is the sum of its table's slots. Not
-- exported (the import's loads count themselves); a move copies it with the rest.
CREATE TABLE row_counts (
    tbl   text NOT NULL,
    slot  smallint NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (tbl, slot)
);
CREATE TRIGGER users_counted_insert AFTER INSERT ON users REFERENCING NEW TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER users_counted_delete AFTER DELETE ON users REFERENCING OLD TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER users_counted_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER quizzes_counted_insert AFTER INSERT ON quizzes REFERENCING NEW TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER quizzes_counted_delete AFTER DELETE ON quizzes REFERENCING OLD TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER quizzes_counted_truncate AFTER TRUNCATE ON quizzes
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER questions_counted_insert AFTER INSERT ON questions REFERENCING NEW TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER questions_counted_delete AFTER DELETE ON questions REFERENCING OLD TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER questions_counted_truncate AFTER TRUNCATE ON questions
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER attempts_counted_insert AFTER INSERT ON attempts REFERENCING NEW TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER attempts_counted_delete AFTER DELETE ON attempts REFERENCING OLD TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
CREATE TRIGGER attempts_counted_truncate AFTER TRUNCATE ON attempts
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.count_rows();
-- What a schema migrated in place already has. The triggers above lock each table against
-- writes until this transaction ends, so no row is counted twice or missed.
INSERT INTO row_counts (tbl, slot, n)
    SELECT t, 0, n FROM (VALUES ('users', (SELECT count(*) FROM users)),
                                ('quizzes', (SELECT count(*) FROM quizzes)),
                                ('questions', (SELECT count(*) FROM questions)),
                                ('attempts', (SELECT count(*) FROM attempts))) AS c(t, n)
     WHERE n > 0;
