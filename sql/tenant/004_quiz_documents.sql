-- Each quiz's rendered documents (sql/shared/008_quiz_documents.sql): the author's view and the
-- member's view, kept current by a trigger in the transaction of every change.
ALTER TABLE quizzes ADD COLUMN doc_full text, ADD COLUMN doc_member text;
CREATE TRIGGER quizzes_render BEFORE INSERT OR UPDATE ON quizzes
    FOR EACH ROW EXECUTE FUNCTION quiz.render_quiz_documents();
UPDATE quizzes SET version = version; -- renders the quizzes there are
ALTER TABLE quizzes ALTER COLUMN doc_full SET NOT NULL, ALTER COLUMN doc_member SET NOT NULL;
