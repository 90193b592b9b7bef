-- Which mover holds an operation ("host:pid"), for operators watching a long move.
ALTER TABLE quiz.operations ADD COLUMN claimed_by text;
