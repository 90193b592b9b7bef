-- The write freeze of a move between clusters: while the mover holds it, a statement trigger of
-- this function on each of the tenant's tables refuses writes with SQLSTATE 55006
-- (object_in_use), which workers answer 503 with Retry-After; reads go on.
CREATE FUNCTION quiz.refuse_write_while_moving() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tenant is moving' USING ERRCODE = '55006';
END $$;
