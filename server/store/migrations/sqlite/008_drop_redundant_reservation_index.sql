-- reservations_sku_node (sku, node_id, state) is a prefix of reservations_expiry (sku, node_id,
-- state, expires_at), which serves every query it served. Each hold written updated both: on
-- SQLite that was about 6 of an Allocate's ~71 write calls (WAL frames and checkpoint).

DROP INDEX IF EXISTS reservations_sku_node;
