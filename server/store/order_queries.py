"""Reading orders in bulk: listings, the exception queue, backorders to heal, and the
conservation check (stock counters against holds and order lines)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.orders.lifecycle import OrderState
from engine.orders.records import (
    HEALABLE_STATES,
    HELD,
    OrderRecord,
)
from server.store.base import OrderFilter, OrderSummaryRow
from server.store.order_rows import OrderRowsMixin

if TYPE_CHECKING:
    from server.store.sql import Key, Tx

# An order (aliased o) has a line with units neither shipped, cancelled nor held: they wait for stock.
_WAITING_LINE = (
    "EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id"
    " AND l.qty - l.shipped_qty - l.cancelled_qty > COALESCE((SELECT SUM(r.qty) FROM reservations r"
    " WHERE r.order_id = l.order_id AND r.line_id = l.line_id), 0))"
)


class OrderQueriesMixin(OrderRowsMixin):
    def list_orders(self, wanted: OrderFilter, page_size: int, after: str) -> list[OrderSummaryRow]:
        """Orders by id after ``after``, at most ``page_size``, that pass every part of ``wanted``."""
        sql = "SELECT o.order_id, o.state, o.created_at, o.updated_at FROM orders o WHERE o.order_id > ?"
        params: list[Any] = [after]
        if wanted.states:
            predicate, values = self._in_list("o.state", [s.value for s in wanted.states])
            sql += f" AND {predicate}"
            params += values
        if wanted.node_ids:
            # Per order, by its id: both tables are indexed on it, and the page walks orders by
            # id. A page costs in proportion to the orders it passes over; an index on the node
            # would cost every reservation written, on Allocate's hot path, to speed up this one.
            held, held_params = self._in_list("r.node_id", wanted.node_ids)
            shipped, shipped_params = self._in_list("s.node_id", wanted.node_ids)
            sql += (
                f" AND (EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o.order_id AND {held})"
                f" OR EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.order_id AND {shipped}))"
            )
            params += [*held_params, *shipped_params]
        for column, window in (("o.created_at", wanted.created), ("o.updated_at", wanted.updated)):
            if window.start is not None:
                sql += f" AND {column} >= ?"
                params.append(self._ts_in(window.start))
            if window.end is not None:
                sql += f" AND {column} < ?"
                params.append(self._ts_in(window.end))
        sql += " ORDER BY o.order_id LIMIT ?"
        params.append(page_size)
        found = self._read(lambda tx: tx.execute(sql, params))
        return [
            OrderSummaryRow(r[0], OrderState(r[1]), self._ts_required(r[2]), self._ts_required(r[3])) for r in found
        ]

    def list_exceptions(
        self, states: Sequence[OrderState], rule_id: str, page_size: int, after: tuple[str, str] | None
    ) -> tuple[list[OrderRecord], tuple[str, str] | None]:
        """Queued orders oldest first (created_at, order_id) after the ``after`` position, and the
        position to continue from (None on the last page)."""
        predicate, params = self._in_list("state", [s.value for s in states])
        sql = f"SELECT order_id, created_at FROM orders o WHERE {predicate}"
        if OrderState.PARTIALLY_SHIPPED in states:  # queued only while some of it waits for stock
            sql += f" AND (state <> ? OR {_WAITING_LINE})"
            params.append(OrderState.PARTIALLY_SHIPPED.value)
        if after is not None:
            stamp = self._ts_in(datetime.fromisoformat(after[0]))
            sql += " AND (created_at > ? OR (created_at = ? AND order_id > ?))"
            params += [stamp, stamp, after[1]]
        if rule_id:  # a substring prefilter; the exact match is checked on the decoded holds
            sql += " AND holds LIKE ?"
            params.append(f"%{json.dumps(rule_id)}%")
        sql += " ORDER BY created_at, order_id LIMIT ?"
        params.append(page_size + 1)

        def work(tx: Tx) -> tuple[list[OrderRecord], tuple[str, str] | None]:
            rows = tx.execute(sql, params)
            page = [self._load(tx, r[0], events=False) for r in rows[:page_size]]
            last = page[-1] if page and len(rows) > page_size else None
            kept = [r for r in page if not rule_id or any(h[0] == rule_id for h in r.holds)]
            return kept, None if last is None else (last.created_at.isoformat(), last.order_id)

        return self._read(work)

    def backordered_orders(self, skus: Sequence[str], limit: int) -> list[str]:
        """Orders waiting for any of ``skus``, highest priority first, then oldest: the ones stock
        arriving may heal."""
        if not skus:
            return []
        sku_predicate, sku_params = self._in_list("l.sku", sorted(set(skus)))
        sql = (
            "SELECT o.order_id, o.created_at FROM orders o WHERE o.state IN (?, ?, ?) AND "
            + _WAITING_LINE.replace("l.order_id = o.order_id", f"l.order_id = o.order_id AND {sku_predicate}")
            + " ORDER BY o.priority DESC, o.created_at, o.order_id LIMIT ?"
        )
        params = [*(s.value for s in HEALABLE_STATES), *sku_params, limit]
        return [r[0] for r in self._read(lambda tx: tx.execute(sql, params))]

    def check_conservation(self) -> tuple[list[str], int]:
        """Differences between stock counters, holds and orders; (problems, positions checked)."""
        return self._read(_conservation)


def _conservation(tx: Tx) -> tuple[list[str], int]:
    problems: list[str] = []
    holds: dict[Key, int] = defaultdict(int)
    for sku, node_id, qty in tx.execute("SELECT sku, node_id, SUM(qty) FROM reservations GROUP BY sku, node_id"):
        holds[(sku, node_id)] = int(qty)
    positions = tx.execute("SELECT sku, node_id, on_hand, reserved, protected FROM inventory ORDER BY sku, node_id")
    seen: set[Key] = set()
    for sku, node_id, on_hand, reserved, protected in positions:
        key = (sku, node_id)
        seen.add(key)
        if int(reserved) != holds.get(key, 0):
            problems.append(f"{sku}@{node_id}: reserved {reserved} but holds sum to {holds.get(key, 0)}")
        if not 0 <= int(reserved) <= int(on_hand):
            problems.append(f"{sku}@{node_id}: reserved {reserved} outside 0..on_hand {on_hand}")
        if int(protected) < 0:
            problems.append(f"{sku}@{node_id}: protected {protected} is negative")
    for key in sorted(set(holds) - seen):
        problems.append(f"{key[0]}@{key[1]}: holds of {holds[key]} units on no inventory row")
    lines = tx.execute(
        "SELECT l.order_id, l.line_id, l.sku, l.qty, l.shipped_qty, l.cancelled_qty, l.returned_qty,"
        " COALESCE((SELECT SUM(r.qty) FROM reservations r WHERE r.order_id = l.order_id AND r.line_id = l.line_id), 0),"
        " o.state FROM order_lines l JOIN orders o ON o.order_id = l.order_id ORDER BY l.order_id, l.line_id"
    )
    for order_id, line_id, _sku, qty, shipped, cancelled, returned, held, state in lines:
        if int(held) + int(shipped) + int(cancelled) > int(qty):
            problems.append(f"order {order_id} line {line_id}: held+shipped+cancelled exceeds qty {qty}")
        if int(returned) > int(shipped):
            problems.append(f"order {order_id} line {line_id}: returned {returned} exceeds shipped {shipped}")
        if int(held) > 0 and state in (OrderState.CANCELLED, OrderState.SHIPPED, OrderState.RETURNED):
            problems.append(f"order {order_id} is {state} but still holds {held} units of line {line_id}")
    mismatched = tx.execute(
        "SELECT r.order_id, r.line_id FROM reservations r JOIN order_lines l"
        " ON l.order_id = r.order_id AND l.line_id = r.line_id WHERE l.sku <> r.sku"
    )
    problems.extend(f"order {o} line {line}: a hold's SKU differs from the line's" for o, line in mismatched)
    expiring = tx.execute(
        "SELECT r.order_id, r.line_id, r.node_id FROM reservations r JOIN orders o ON o.order_id = r.order_id"
        " WHERE o.released_at IS NOT NULL AND r.state = ? ORDER BY r.order_id, r.line_id, r.node_id",
        (HELD,),
    )
    problems.extend(
        f"order {o} line {line}: released, but its hold at {node_id} can still expire" for o, line, node_id in expiring
    )
    return problems, len(positions)
