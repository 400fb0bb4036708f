-- The order lifecycle, continued.
--
-- orders.released_at: when Release handed the order to fulfillment; NULL before. Everything
-- reserved for a released order is handed over (reservations.state RELEASED, never expires),
-- including units sourced for it later (Reallocate away from a node, a healed backorder).
-- Backfilled from the first RELEASED event. Holds such an order took after its release were
-- written HELD by earlier code and would expire under the warehouse: they are handed over
-- now, and an order left ALLOCATED by them is RELEASED again (version bumped: it changed).
--
-- order_lines.excluded_nodes: the nodes that rejected or short-picked units of the line
-- (Reallocate naming a node), as a sorted JSON list of ids; '' when none. The line is never
-- sourced from them again. Backfilled from the REALLOCATED events ("excluded_node", "moved").
--
-- shipments.state: RETURNED once every unit of each line it carried came back; backfilled.

ALTER TABLE orders ADD COLUMN released_at TEXT;
ALTER TABLE order_lines ADD COLUMN excluded_nodes TEXT NOT NULL DEFAULT '';

UPDATE orders SET released_at = (
    SELECT MIN(e.created_at) FROM events e WHERE e.order_id = orders.order_id AND e.type = 'RELEASED'
) WHERE order_id IN (SELECT order_id FROM events WHERE type = 'RELEASED');

UPDATE reservations SET state = 'RELEASED'
WHERE state = 'HELD' AND order_id IN (SELECT order_id FROM orders WHERE released_at IS NOT NULL);

UPDATE orders SET state = 'RELEASED', version = version + 1
WHERE state = 'ALLOCATED' AND released_at IS NOT NULL;

UPDATE order_lines SET excluded_nodes = (
    SELECT json_group_array(node) FROM (
        SELECT DISTINCT json_extract(e.payload, '$.excluded_node') AS node
        FROM events e, json_each(e.payload, '$.moved') m
        WHERE e.order_id = order_lines.order_id AND e.type = 'REALLOCATED'
          AND json_extract(m.value, '$[0]') = order_lines.line_id
        ORDER BY node
    )
) WHERE EXISTS (
    SELECT 1 FROM events e, json_each(e.payload, '$.moved') m
    WHERE e.order_id = order_lines.order_id AND e.type = 'REALLOCATED'
      AND json_extract(m.value, '$[0]') = order_lines.line_id
);

UPDATE shipments SET state = 'RETURNED'
WHERE state = 'SHIPPED' AND NOT EXISTS (
    SELECT 1 FROM json_each(shipments.payload) j
    JOIN order_lines l ON l.order_id = shipments.order_id AND l.line_id = json_extract(j.value, '$[0]')
    WHERE l.shipped_qty = 0 OR l.returned_qty < l.shipped_qty
) AND json_array_length(shipments.payload) > 0;
