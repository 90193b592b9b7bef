-- Every change to the tenant's quizzes (and so to their questions, which bump their quiz) goes to
-- the shared change log the workers' caches follow (sql/shared/014_quiz_changes.sql). A cache
-- serves a tenant's quizzes only once this trigger exists (worker/wk_quiz.c checks).
CREATE TRIGGER quizzes_changed_insert AFTER INSERT ON quizzes REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.note_quiz_changes();
CREATE TRIGGER quizzes_changed_update AFTER UPDATE ON quizzes REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.note_quiz_changes();
CREATE TRIGGER quizzes_changed_delete AFTER DELETE ON quizzes REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.note_quiz_changes();
CREATE TRIGGER quizzes_changed_truncate AFTER TRUNCATE ON quizzes
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.note_quiz_changes();
