-- Each quiz's entry in lists (its fields and question_count), rendered with its other documents
-- (sql/shared/009_quiz_summary.sql), so a list page is an index scan of stored text.
ALTER TABLE quizzes ADD COLUMN doc_summary text;
UPDATE quizzes SET version = version; -- renders the quizzes there are
ALTER TABLE quizzes ALTER COLUMN doc_summary SET NOT NULL;
