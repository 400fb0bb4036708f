-- The order lifecycle: units cancelled, shipped and returned per line, and the hold time of
-- an order's reservations. Reservation rows exist only while they hold stock (HELD or
-- RELEASED); inventory.reserved always equals their sum, so an expired hold is found by one
-- indexed range read per (sku, node) until the sweeper deletes it.

ALTER TABLE order_lines ADD COLUMN cancelled_qty BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN shipped_qty BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN returned_qty BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN hold_ms BIGINT NOT NULL DEFAULT 0;

CREATE INDEX reservations_expiry ON reservations (sku, node_id, state, expires_at);
