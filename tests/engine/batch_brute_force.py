"""An independent reference for batches: every combination of every order's integer plans, costed
with engine.cost.plan_cost, checked against the shared stock and node capacity from the raw inputs.

Protections are read as the one-by-one semantics they have for a single order: a combination is
feasible when some order of the orders lets each take what it takes from what the ones before it
left, above its own protection (all orders tried, not the engine's nested constraints).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence

from engine.availability import Availability
from engine.batch import BatchOrder
from engine.cost import plan_cost
from engine.decision import AllocationLine
from engine.directives import Directives
from engine.network import NetworkSnapshot
from engine.terms import resolve_terms
from tests.engine.brute_force import _forbidden_pairs, compositions, feasible

Allocations = tuple[AllocationLine, ...]
# An order's own pricing of a plan (a promise order's: tests/engine/test_promise_sourcing.py); inf: not a plan.
Price = Callable[[Allocations], float]


def protected(directives: Directives, sku: str, node_id: str) -> int:
    """Units this order's protections hold back at a position."""
    return sum(p.units for p in directives.protections if node_id in p.node_ids and (not p.skus or sku in p.skus))


def order_plans(
    item: BatchOrder,
    snapshot: NetworkSnapshot,
    availability: Availability,
    held: Allocations = (),
    price: Price | None = None,
) -> list[tuple[float, Allocations]]:
    """Every plan the order could have alone (its own protections applied), with its cost; with
    ``held`` (a re-plan's holds), only the plans giving no line fewer units than it holds; with
    ``price``, costed by it (plans it prices at inf left out), else by its level's rates."""
    order, directives = item.order, item.directives
    terms = resolve_terms(order, directives, snapshot)
    node_ids = [n.id for n in snapshot.nodes]
    skus = sorted({line.sku for line in order.lines})
    own = Availability(
        tuple(skus),
        availability.units[[availability.row[s] for s in skus]].copy(),
    )
    for k, sku in enumerate(skus):
        for n, node_id in enumerate(node_ids):
            own.units[k, n] = max(0, int(own.units[k, n]) - protected(directives, sku, node_id))
    excluded = {i for e in directives.exclusions if not e.line_ids for i in e.node_ids}
    forbidden = _forbidden_pairs(order, node_ids, directives)
    plans = []
    per_line = [list(compositions(line.qty, len(node_ids) + 1)) for line in order.lines]
    for choice in itertools.product(*per_line):
        allocations = tuple(
            AllocationLine(line.line_id, node_ids[n], line.sku, counts[n])
            for line, counts in zip(order.lines, choice, strict=True)
            for n in range(len(node_ids))
            if counts[n] > 0
        )
        if any((a.line_id, a.node_id) in forbidden for a in allocations):
            continue
        if not feasible(order, snapshot, own, allocations, excluded, terms.max_shipments, terms.all_or_nothing):
            continue
        if any(_units(allocations, line_id) < _units(held, line_id) for line_id in {a.line_id for a in held}):
            continue
        cost = plan_cost(order, allocations, snapshot, terms).total if price is None else price(allocations)
        if cost < float("inf"):
            plans.append((cost, allocations))
    return sorted(plans, key=lambda plan: plan[0])


def _units(allocations: Allocations, line_id: str) -> int:
    return sum(a.qty for a in allocations if a.line_id == line_id)


def fits_together(
    items: Sequence[BatchOrder], snapshot: NetworkSnapshot, availability: Availability, plans: Sequence[Allocations]
) -> bool:
    units: dict[str, int] = defaultdict(int)
    shipments: dict[str, int] = defaultdict(int)
    for allocations in plans:
        for a in allocations:
            units[a.node_id] += a.qty
        for node_id in {a.node_id for a in allocations}:
            shipments[node_id] += 1
    for node_id, count in units.items():
        node = snapshot.node(node_id)
        if node.max_units is not None and count > node.max_units:
            return False
        if node.max_shipments is not None and shipments[node_id] > node.max_shipments:
            return False
    return any(
        _takes_in_turn(items, snapshot, availability, plans, turn) for turn in itertools.permutations(range(len(items)))
    )


def _takes_in_turn(
    items: Sequence[BatchOrder],
    snapshot: NetworkSnapshot,
    availability: Availability,
    plans: Sequence[Allocations],
    turn: Sequence[int],
) -> bool:
    left: dict[tuple[str, str], int] = {}
    for o in turn:
        taken: dict[tuple[str, str], int] = defaultdict(int)
        for a in plans[o]:
            taken[a.sku, a.node_id] += a.qty
        for (sku, node_id), qty in taken.items():
            here = left.get((sku, node_id), int(availability.for_sku(sku)[snapshot.index[node_id]]))
            if qty > max(0, here - protected(items[o].directives, sku, node_id)):
                return False
            left[sku, node_id] = here - qty
    return True


def optimal_total(
    items: Sequence[BatchOrder],
    snapshot: NetworkSnapshot,
    availability: Availability,
    held: Sequence[Allocations] | None = None,
    prices: Sequence[Price | None] | None = None,
) -> float:
    """Depth first over the orders' plans (cheapest first), pruned by each order's cheapest plan;
    with ``held`` (one per order), over the plans that keep every line at its holds; ``prices``:
    each order's own pricing (``order_plans``)."""
    options = [
        order_plans(item, snapshot, availability, held[o] if held else (), prices[o] if prices else None)
        for o, item in enumerate(items)
    ]
    cheapest = [plans[0][0] for plans in options]
    best = float("inf")

    def visit(o: int, chosen: list[Allocations], cost: float) -> None:
        nonlocal best
        if cost + sum(cheapest[o:]) >= best - 1e-9:
            return
        if o == len(items):
            if fits_together(items, snapshot, availability, chosen):
                best = cost
            return
        for plan_cost_, allocations in options[o]:
            visit(o + 1, [*chosen, allocations], cost + plan_cost_)

    visit(0, [], 0.0)
    return best
