-- Seeds one tenant for benchmarks, as the database owner:
--   psql -v schema=tenant_<hex> -f bench/seed.sql
-- 10 members (the admin's password), 100 quizzes of 10 questions, some attempts. Quiz ids are
-- md5(schema || n) so the pgbench ceiling can name them without a lookup.
SET search_path TO :"schema";
INSERT INTO users (email, username, role, password_hash)
SELECT 'member' || g || '@bench.example', 'member' || g, 'member', a.password_hash
FROM generate_series(1, 10) g, users a WHERE a.role = 'admin';
INSERT INTO quizzes (id, author_id, title, description)
SELECT md5(:'schema' || g)::uuid, a.id, 'Bench quiz ' || g, 'Seeded for benchmarks'
FROM generate_series(1, 100) g, users a WHERE a.role = 'admin';
INSERT INTO questions (quiz_id, kind, prompt, choices, correct, explanation, points, position)
SELECT q.id, 'single_choice', 'Question ' || p || ' of ' || q.title,
       '["alpha", "bravo", "charlie", "delta"]', to_jsonb(p % 4), 'Because it is.', 1, p - 1
FROM quizzes q, generate_series(1, 10) p;
-- Questions written behind the API's back: bump the quizzes as the API does, which renders their
-- stored documents again (sql/shared/008_quiz_documents.sql).
UPDATE quizzes SET version = version + 1;
INSERT INTO attempts (quiz_id, user_id, score, max_score, results)
SELECT q.id, u.id, (random() * 10)::int, 10, '[]'
FROM (SELECT id FROM quizzes LIMIT 30) q, (SELECT id FROM users WHERE role = 'member') u;
ANALYZE;
SELECT string_agg(id::text, ',') FROM quizzes;
