"""Greedy routers as order-management systems commonly ship them, to compare the optimizer against.

Both return engine ``AllocationLine`` rows, so they are costed by the same formula as a decision
(``engine.cost.plan_cost``; see ``baseline_cost``): comparisons are apples to apples.

Both use only nodes that are open and can ship (``Node.can_fulfil``) and still have capacity
(``max_shipments`` > 0, at most ``max_units`` units), as the engine does, and share a SKU's
availability across every line of that SKU. "Closest" is the great-circle distance to the
ship-to; ties go to the lowest node id (the snapshot's order), so results are deterministic.
They route ship orders only: a pickup order has a single node by definition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from engine.availability import Availability
from engine.cost import plan_cost
from engine.decision import AllocationLine
from engine.geo import haversine_miles
from engine.model import DeliveryMethod, Order
from engine.network import IntArray, NetworkSnapshot
from engine.terms import Terms

Router = Callable[[Order, NetworkSnapshot, Availability], tuple[AllocationLine, ...]]


class _Stock:
    """What one routing may still take: per-SKU availability and per-node unit capacity, plus node ranking."""

    def __init__(self, order: Order, snapshot: NetworkSnapshot, availability: Availability) -> None:
        if order.delivery_method is not DeliveryMethod.SHIP:
            raise ValueError("the baselines route ship orders only")
        self.snapshot = snapshot
        eligible = snapshot.can_fulfil & (snapshot.max_units > 0) & (snapshot.max_shipments > 0)
        distance = haversine_miles(order.ship_to.lat, order.ship_to.lon, snapshot.lat, snapshot.lon)
        by_distance = np.lexsort((np.arange(len(snapshot)), distance))  # closest first, ties by node id
        self.ranked: IntArray = by_distance[eligible[by_distance]].astype(np.int64)
        self.skus = tuple(dict.fromkeys(line.sku for line in order.lines))
        self.row = {sku: k for k, sku in enumerate(self.skus)}
        units = np.stack([availability.for_sku(sku) for sku in self.skus]).astype(np.int64, copy=True)
        units[:, ~eligible] = 0
        self.avail: IntArray = np.maximum(units, 0)  # [K, N], shared by all lines of a SKU
        self.capacity: IntArray = snapshot.max_units.astype(np.int64, copy=True)

    def take(self, sku: str, n: int, want: int) -> int:
        """Take up to ``want`` units of ``sku`` at node ``n``; returns how many were taken."""
        k = self.row[sku]
        got = int(min(want, self.avail[k, n], self.capacity[n]))
        if got > 0:
            self.avail[k, n] -= got
            self.capacity[n] -= got
        return got

    def node_id(self, n: int) -> str:
        return self.snapshot.nodes[n].id


def fewest_splits_then_closest(
    order: Order, snapshot: NetworkSnapshot, availability: Availability
) -> tuple[AllocationLine, ...]:
    """One node when any can ship everything (the closest such); else cover the most remaining units per box.

    Each round takes the node that covers the most of what is left (ties: the closest) and takes
    all it can there, until everything is placed or no node holds any of the rest. The first round
    is exactly the single-node rule: a node that can ship everything covers the most units.
    """
    stock = _Stock(order, snapshot, availability)
    remaining = [line.qty for line in order.lines]
    sku_rows = np.array([stock.row[line.sku] for line in order.lines], dtype=np.int64)
    rows: list[AllocationLine] = []
    ranked = stock.ranked
    while sum(remaining) > 0 and ranked.shape[0] > 0:
        need = np.zeros(len(stock.skus), dtype=np.int64)
        np.add.at(need, sku_rows, np.array(remaining, dtype=np.int64))
        per_sku = np.minimum(stock.avail[:, ranked], need[:, None]).sum(axis=0)
        cover = np.minimum(per_sku, stock.capacity[ranked])
        best = int(np.argmax(cover))  # the first maximum in closest-first order: ties go to the closest
        if cover[best] <= 0:
            break
        n = int(ranked[best])
        taken = 0
        for i, line in enumerate(order.lines):
            got = stock.take(line.sku, n, remaining[i]) if remaining[i] else 0
            if got:
                remaining[i] -= got
                taken += got
                rows.append(AllocationLine(line.line_id, stock.node_id(n), line.sku, got))
        if taken == 0:  # cannot happen while cover counts what take() can take; never loop on it
            break
    return tuple(rows)


def closest_node_per_line(
    order: Order, snapshot: NetworkSnapshot, availability: Availability
) -> tuple[AllocationLine, ...]:
    """Each line, in order, from the closest node holding its whole quantity; else from the closest with stock."""
    stock = _Stock(order, snapshot, availability)
    ranked = stock.ranked
    rows: list[AllocationLine] = []
    for line in order.lines:
        k = stock.row[line.sku]
        usable = np.minimum(stock.avail[k, ranked], stock.capacity[ranked])
        whole = usable >= line.qty
        if whole.any():
            n = int(ranked[int(np.argmax(whole))])
            stock.take(line.sku, n, line.qty)
            rows.append(AllocationLine(line.line_id, stock.node_id(n), line.sku, line.qty))
            continue
        left = line.qty
        for n in ranked[usable > 0].tolist():
            got = stock.take(line.sku, n, left)
            if got:
                rows.append(AllocationLine(line.line_id, stock.node_id(n), line.sku, got))
                left -= got
            if left == 0:
                break
    return tuple(rows)


BASELINES: Mapping[str, Router] = {
    "fewest_splits_then_closest": fewest_splits_then_closest,
    "closest_node_per_line": closest_node_per_line,
}


def baseline_cost(
    order: Order, allocations: Sequence[AllocationLine], snapshot: NetworkSnapshot, terms: Terms
) -> float:
    """The cost-model total of an allocation: the same function a decision's cost comes from."""
    return plan_cost(order, allocations, snapshot, terms).total


def check_allocations(
    order: Order, allocations: Sequence[AllocationLine], snapshot: NetworkSnapshot, availability: Availability
) -> list[str]:
    """Every way ``allocations`` breaks the order's or the network's limits (empty when it is a valid plan)."""
    problems: list[str] = []
    lines = {line.line_id: line for line in order.lines}
    per_line: dict[str, int] = defaultdict(int)
    per_sku_node: dict[tuple[str, str], int] = defaultdict(int)
    per_node: dict[str, int] = defaultdict(int)
    for a in allocations:
        line = lines.get(a.line_id)
        if line is None:
            problems.append(f"{a.line_id}: unknown line")
            continue
        if a.sku != line.sku:
            problems.append(f"{a.line_id}: sku {a.sku!r} but the line orders {line.sku!r}")
        if a.qty <= 0:
            problems.append(f"{a.line_id}@{a.node_id}: qty {a.qty} is not positive")
        if a.node_id not in snapshot.index:
            problems.append(f"{a.line_id}: unknown node {a.node_id!r}")
            continue
        node = snapshot.node(a.node_id)
        if not node.can_fulfil:
            problems.append(f"{a.line_id}@{a.node_id}: the node is closed or does not ship")
        per_line[a.line_id] += a.qty
        per_sku_node[line.sku, a.node_id] += a.qty
        per_node[a.node_id] += a.qty
    for line_id, qty in per_line.items():
        if qty > lines[line_id].qty:
            problems.append(f"{line_id}: {qty} units allocated, {lines[line_id].qty} ordered")
    for (sku, node_id), qty in per_sku_node.items():
        have = int(availability.for_sku(sku)[snapshot.index[node_id]])
        if qty > have:
            problems.append(f"{sku}@{node_id}: {qty} units taken, {have} available")
    for node_id, qty in per_node.items():
        n = snapshot.index[node_id]
        if qty > int(snapshot.max_units[n]):
            problems.append(f"{node_id}: {qty} units, capacity {int(snapshot.max_units[n])}")
        if int(snapshot.max_shipments[n]) <= 0:
            problems.append(f"{node_id}: no shipment capacity left")
    return problems
