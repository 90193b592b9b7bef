-- A quiz is read far more often than it changes, so its JSON is rendered when it changes, not
-- when it is read: this trigger function (BEFORE INSERT OR UPDATE on each tenant's quizzes, see
-- sql/tenant/004_quiz_documents.sql) stores the author's view (with answers) and the member's
-- view (without `correct` and `explanation`) in the row. Every change to a question bumps its
-- quiz's version (worker/wk_quiz.c wk_quiz_touch), which renders the quiz again in the same
-- transaction; so does ON DELETE SET NULL of its author. A read is then one indexed lookup of
-- stored text, and never older than the last committed change.
-- The questions are those of the row's own schema (TG_TABLE_SCHEMA), whatever search_path the
-- caller has; timestamps render in UTC as the worker's reads always have.
CREATE FUNCTION quiz.render_quiz_documents() RETURNS trigger LANGUAGE plpgsql
SET TimeZone = 'UTC' AS $$
DECLARE
    questions jsonb;
    head jsonb;
BEGIN
    EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_object(''id'', id, ''kind'', kind,'
                   ' ''prompt'', prompt, ''choices'', choices, ''correct'', correct,'
                   ' ''explanation'', explanation, ''points'', points, ''position'', position)'
                   ' ORDER BY position), ''[]''::jsonb) FROM %I.questions WHERE quiz_id = $1',
                   TG_TABLE_SCHEMA)
        INTO questions USING NEW.id;
    head := jsonb_build_object('id', NEW.id, 'title', NEW.title, 'description', NEW.description,
                               'author_id', NEW.author_id, 'version', NEW.version,
                               'created_at', NEW.created_at, 'updated_at', NEW.updated_at);
    NEW.doc_full := (head || jsonb_build_object('questions', questions))::text;
    NEW.doc_member := (head || jsonb_build_object('questions',
        (SELECT coalesce(jsonb_agg(q - 'correct' - 'explanation' ORDER BY n), '[]'::jsonb)
         FROM jsonb_array_elements(questions) WITH ORDINALITY AS e(q, n))))::text;
    RETURN NEW;
END $$;
