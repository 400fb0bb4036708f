"""A stand-in legacy system for parallel-run demos: the decisions a common greedy OMS router would make.

Replays a history in time order with its own stock (engine.simulation.stock), routing ship orders
with ``fewest_splits_then_closest`` (benchmarks/baselines.py) and pickup orders from the chosen
store as far as its stock goes. The output is the legacy format of docs/order-history.md, so
``oms-sourcing simulate run --legacy`` can compare it with a simulated side.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from benchmarks.baselines import fewest_splits_then_closest
from engine.decision import AllocationLine
from engine.model import DeliveryMethod
from engine.network import NetworkSnapshot
from engine.simulation.history import HistoryOrder
from engine.simulation.stock import Stock


def legacy_decisions(
    history: Sequence[HistoryOrder], snapshot: NetworkSnapshot, stock: Stock, restock_every_days: int | None = None
) -> list[dict[str, Any]]:
    """Restocks like the simulator (back to the starting counts every N days from the first order's midnight)."""
    out = []
    ordered = sorted(history, key=lambda h: (h.created_at, h.order.order_id))
    next_restock = None
    if ordered and restock_every_days:
        midnight = ordered[0].created_at.replace(hour=0, minute=0, second=0, microsecond=0)
        next_restock = midnight + timedelta(days=restock_every_days)
    for entry in ordered:
        while next_restock is not None and restock_every_days and entry.created_at >= next_restock:
            stock.restock()
            next_restock += timedelta(days=restock_every_days)
        order = entry.order
        availability = stock.availability(line.sku for line in order.lines)
        rows: tuple[AllocationLine, ...]
        if order.delivery_method is DeliveryMethod.PICKUP:
            n = snapshot.index.get(order.pickup_node_id)
            taken: dict[str, int] = {}
            picked = []
            for line in order.lines:
                have = 0 if n is None else int(availability.for_sku(line.sku)[n]) - taken.get(line.sku, 0)
                qty = max(0, min(line.qty, have))
                if qty:
                    taken[line.sku] = taken.get(line.sku, 0) + qty
                    picked.append(AllocationLine(line.line_id, order.pickup_node_id, line.sku, qty))
            rows = tuple(picked)
        else:
            rows = fewest_splits_then_closest(order, snapshot, availability)
        stock.consume(rows)
        out.append(
            {
                "order_id": order.order_id,
                "allocations": [{"line_id": a.line_id, "sku": a.sku, "node_id": a.node_id, "qty": a.qty} for a in rows],
            }
        )
    return out
