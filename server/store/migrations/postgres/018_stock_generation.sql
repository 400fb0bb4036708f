-- A generation number of available stock: bumped by every transaction that writes inventory or
-- reservations (what "available" is computed from), as part of that transaction, so a process
-- that reads the same number as when it last read the stock knows nothing it read has changed
-- (server/store/stock_view.py: checkout's in-process view of available stock).
--
-- The triggers are deferred constraint triggers: they fire at commit, after the transaction's own
-- row locks are all taken, so the one row's lock is held only while committing and cannot close
-- a deadlock cycle with them. A transaction bumps it once, however many rows it writes.
CREATE TABLE stock_generation (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO stock_generation (id, n) VALUES (1, 0);

CREATE FUNCTION bump_stock_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('oms.stock_generation_bumped', true) IS DISTINCT FROM 'on' THEN
        UPDATE stock_generation SET n = n + 1 WHERE id = 1;
        PERFORM set_config('oms.stock_generation_bumped', 'on', true);
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER inventory_bumps_stock_generation
    AFTER INSERT OR UPDATE OR DELETE ON inventory
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_stock_generation();
CREATE CONSTRAINT TRIGGER reservations_bump_stock_generation
    AFTER INSERT OR UPDATE OR DELETE ON reservations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_stock_generation();
-- TRUNCATE fires no row trigger (nothing in the service truncates these tables; a repair might).
CREATE TRIGGER inventory_truncate_bumps_stock_generation
    AFTER TRUNCATE ON inventory FOR EACH STATEMENT EXECUTE FUNCTION bump_stock_generation();
CREATE TRIGGER reservations_truncate_bumps_stock_generation
    AFTER TRUNCATE ON reservations FOR EACH STATEMENT EXECUTE FUNCTION bump_stock_generation();
