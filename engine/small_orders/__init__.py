"""Small orders in plain Python: availability, build, an exact decision and its cost, with notes.

A typical order (1-3 lines, a few dozen nodes holding its SKUs) spends most of the general path's
time in numpy's fixed cost per call, not in arithmetic: dozens of tiny arrays per decision. This
path does the same work over Python lists and dicts for orders small enough, and says so by
returning None for anything it does not handle, which then takes the general path
(``engine.sourcing.decide``). It follows the general path step for step (engine/problem.py's
build, engine/optimizer/search.py's fast paths, enumeration's order of subsets, engine/cost.py,
engine/explain.py's notes), so a decision it takes is the general path's: same plan cost, same
status and bound, same notes; ``tests/engine/test_small_orders.py`` pins the two together over
generated orders with every directive shape, and over the reference instances.

What it takes: at most ``SMALL_MAX_LINES`` lines and ``SMALL_MAX_NODES`` nodes holding an ordered
SKU, no why-not nodes. What it hands back (None): fewest-shipments orders no single node fills, and
orders a single node does not settle when a SKU is on two lines, a capacity could bind, or more
than ``SMALL_MAX_SUBSETS`` node subsets are left to try after pruning.

The package: ``views`` (what is kept per snapshot), ``problem`` (the order as lists), ``search``
(the exact decision), ``notes`` (explanations); here, the entry point and the cost of a plan.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.availability import StockLevels
from engine.decision import (
    AllocationLine,
    CostBreakdown,
    Decision,
    ShipmentCost,
    SolveStatus,
)
from engine.directives import Directives
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.small_orders.notes import _notes, _unfilled
from engine.small_orders.problem import SMALL_MAX_LINES, _Small
from engine.small_orders.search import _solve, _Solved
from engine.terms import Terms

SMALL_PATH = True  # a switch for measuring what this path buys (benchmarks/profile_source.py)


def decide_small(
    order: Order,
    snapshot: NetworkSnapshot,
    levels: StockLevels,
    directives: Directives,
    terms: Terms,
    *,
    why_not: Sequence[str] = (),
    explain: bool = True,
) -> Decision | None:
    """The general path's decision for a small order, or None when this path does not take it.

    ``terms``: ``engine.terms.resolve_terms(order, directives, snapshot)`` (its errors are the
    caller's to raise). Never out of time: what it takes is bounded by the constants above.
    """
    if not SMALL_PATH or len(order.lines) > SMALL_MAX_LINES or why_not:
        return None
    if any(p.units < 0 for p in directives.protections):  # rules never make one; its order would matter
        return None
    small = _Small(order, snapshot, levels, directives, terms)
    if small.too_large():
        return None
    small.build()
    if not small.linear:
        return None
    solved = _solve(small)
    if solved is None:
        return None
    return _assemble(small, solved, explain)


def _assemble(p: _Small, solved: _Solved, explain: bool) -> Decision:
    """engine.sourcing.assemble_decision."""
    plan = {c: take for c, take in sorted(solved.plan.items()) if any(take)}
    allocations = tuple(
        AllocationLine(line.line_id, p.node_ids[c], line.sku, plan[c][i])
        for i, line in enumerate(p.order.lines)
        for c in plan
        if plan[c][i] > 0
    )
    cost = _cost(p, plan)
    directives = p.directives
    return Decision(
        order_id=p.order.order_id,
        allocations=allocations,
        unfilled=_unfilled(p, plan),
        cost=cost,
        status=SolveStatus.OPTIMAL,
        path=solved.path,
        bound=min(solved.bound, cost.total),
        candidates=solved.candidates,
        node_notes=_notes(p, plan) if explain else (),
        rule_set_version=directives.rule_set_version,
        fired_rules=directives.fired_rules,
        holds=directives.holds,
    )


def _cost(p: _Small, plan: dict[int, list[int]]) -> CostBreakdown:
    """engine.cost.plan_cost (shipments in node id order, which is column order)."""
    terms = p.terms
    pickup = terms.pickup_node_id is not None
    promised = terms.promised
    lines = p.order.lines
    contents = []
    allocated = 0
    for c, take in plan.items():
        node = p.snapshot.nodes[p.nodes[c]]
        allocated += sum(take)
        weight = sum(lines[i].unit_weight_lb * q for i, q in enumerate(take) if q > 0)
        volume = sum(lines[i].unit_volume_in3 * q for i, q in enumerate(take) if q > 0) if promised else 0.0
        contents.append((node.id, p.distance[c], weight, volume))
    prices, late_days = ([(0, 0.0, 0.0, None)] * len(plan), 0) if pickup else terms.shipments(contents)
    shipments = []
    for (c, take), (node_id, distance, weight, _), (zone, base, carrier_weight, option) in zip(
        plan.items(), contents, prices, strict=True
    ):
        node = p.snapshot.nodes[p.nodes[c]]
        units = sum(take)
        rule_penalty = 0.0
        for penalty in terms.penalties:
            if node_id in penalty.node_ids:
                selected = sum(
                    q
                    for i, q in enumerate(take)
                    if q > 0 and (not penalty.line_ids or lines[i].line_id in penalty.line_ids)
                )
                rule_penalty += penalty.per_shipment + penalty.per_unit * selected
        shipments.append(
            ShipmentCost(
                node_id=node_id,
                zone=zone,
                distance_miles=distance,
                units=units,
                weight_lb=weight,
                pick_pack=node.pick_pack_cost,
                carrier_base=base,
                carrier_weight=carrier_weight,
                handling=node.unit_handling_cost * units,
                rule_penalty=rule_penalty,
                carrier_service=option.carrier_service if option is not None else "",
                ship_day=option.ship_day if option is not None else 0,
                delivery_day=option.delivery_day if option is not None else 0,
            )
        )
    backordered = p.total_qty - allocated
    return CostBreakdown(
        shipments=tuple(shipments),
        split_penalty=terms.split_penalty * max(0, len(shipments) - 1),
        backorder_penalty=terms.backorder_penalty * backordered,
        backordered_units=backordered,
        by_carrier_services=terms.promised and terms.pickup_node_id is None,
        late_days=late_days,
        late_penalty=terms.late_penalty_per_day * late_days,
    )
