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

ALTER TABLE orders ADD COLUMN released_at TIMESTAMPTZ;
ALTER TABLE order_lines ADD COLUMN excluded_nodes TEXT NOT NULL DEFAULT '';

UPDATE orders o SET released_at = r.first
FROM (SELECT order_id, MIN(created_at) AS first FROM events WHERE type = 'RELEASED' GROUP BY order_id) r
WHERE r.order_id = o.order_id;

UPDATE reservations SET state = 'RELEASED'
WHERE state = 'HELD' AND order_id IN (SELECT order_id FROM orders WHERE released_at IS NOT NULL);

UPDATE orders SET state = 'RELEASED', version = version + 1
WHERE state = 'ALLOCATED' AND released_at IS NOT NULL;

UPDATE order_lines l SET excluded_nodes = x.nodes
FROM (
    SELECT e.order_id, m.value ->> 0 AS line_id,
           json_agg(DISTINCT e.payload::jsonb ->> 'excluded_node' ORDER BY e.payload::jsonb ->> 'excluded_node')::text
               AS nodes
    FROM events e CROSS JOIN LATERAL jsonb_array_elements(e.payload::jsonb -> 'moved') m
    WHERE e.type = 'REALLOCATED'
    GROUP BY e.order_id, m.value ->> 0
) x
WHERE x.order_id = l.order_id AND x.line_id = l.line_id;

UPDATE shipments s SET state = 'RETURNED'
WHERE s.state = 'SHIPPED' AND jsonb_array_length(s.payload::jsonb) > 0 AND NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements(s.payload::jsonb) j
    JOIN order_lines l ON l.order_id = s.order_id AND l.line_id = j.value ->> 0
    WHERE l.shipped_qty = 0 OR l.returned_qty < l.shipped_qty
);
