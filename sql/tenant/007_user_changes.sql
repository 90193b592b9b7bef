-- Every change to the tenant's users goes to the change log too (sql/shared/014_quiz_changes.sql),
-- so that GET /api/users/me may come from a worker's memory (worker/wk_user.c checks for this
-- trigger before it keeps a user).
CREATE TRIGGER users_changed_insert AFTER INSERT ON users REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.note_quiz_changes();
CREATE TRIGGER users_changed_update AFTER UPDATE ON users REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.note_quiz_changes();
CREATE TRIGGER users_changed_delete AFTER DELETE ON users REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.note_quiz_changes();
CREATE TRIGGER users_changed_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION quiz.note_quiz_changes();
