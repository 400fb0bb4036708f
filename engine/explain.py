"""Why a decision is what it is: per node and per unfilled unit, in words a planner can check."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.decision import NodeNote, NodeVerdict, Unfilled
from engine.geo import FloatArray, haversine_miles
from engine.network import BoolArray, IntArray, NetworkSnapshot
from engine.optimizer.plan import Plan
from engine.optimizer.single_node import full_fill_costs, full_fill_nodes
from engine.problem import Elimination, Problem

MAX_NODE_NOTES = 25  # nearest nodes first; a decision over 2,000 nodes should not explain all of them

_ELIMINATION_VERDICT = {
    Elimination.CLOSED: (NodeVerdict.CLOSED, "closed, paused, or does not offer this delivery method"),
    Elimination.NO_CAPACITY: (NodeVerdict.NO_CAPACITY, "no shipment or unit capacity left today"),
    Elimination.EXCLUDED: (NodeVerdict.EXCLUDED, "excluded by rule"),
    Elimination.NOT_REQUIRED: (NodeVerdict.NOT_REQUIRED, "a rule requires other nodes for this order"),
    Elimination.NOT_PICKUP_NODE: (NodeVerdict.NOT_REQUIRED, "not the pickup node"),
}


def node_notes(
    problem: Problem, plan: Plan, snapshot: NetworkSnapshot, extra_costs: dict[str, float]
) -> tuple[NodeNote, ...]:
    """Notes on used nodes, unused candidates and eliminated stock holders, nearest first."""
    notes: list[tuple[float, NodeNote]] = []
    shipped = plan.x.sum(axis=0)
    full, full_costs, chosen = full_fill_nodes(problem), full_fill_costs(problem), plan.objective(problem)
    # Build notes only for the nodes that can make the cut: used ones, why-not ones and the nearest others.
    wanted = set(np.nonzero(shipped > 0)[0].tolist()) | set(_nearest(problem.distance, MAX_NODE_NOTES).tolist())
    wanted |= {j for j, node_id in enumerate(problem.node_ids) if node_id in extra_costs}
    columns = _Columns.of(problem, shipped, full, full_costs)
    for j in sorted(wanted):
        node_id = problem.node_ids[j]
        distance = columns.distance[j]
        if columns.shipped[j] > 0:
            note = NodeNote(node_id, NodeVerdict.USED, f"ships {columns.shipped[j]} units, {distance:.0f} mi")
        else:
            detail = _costlier_detail(problem, columns, j, chosen)
            note = NodeNote(node_id, NodeVerdict.COSTLIER, detail, extra_cost=extra_costs.get(node_id))
        notes.append((distance, note))
    lat, lon = problem.order.ship_to.lat, problem.order.ship_to.lon
    gone = problem.stocked[problem.elimination != Elimination.CANDIDATE]
    reasons = problem.elimination[problem.elimination != Elimination.CANDIDATE]
    if gone.shape[0]:
        distances = haversine_miles(lat, lon, snapshot.lat[gone], snapshot.lon[gone])
        nearest = _nearest(distances, MAX_NODE_NOTES)
        for n, why, distance in zip(
            gone[nearest].tolist(), reasons[nearest].tolist(), distances[nearest].tolist(), strict=True
        ):
            verdict, detail = _ELIMINATION_VERDICT[Elimination(why)]
            rules = problem.rule_ids.get(n, ())
            notes.append((distance, NodeNote(snapshot.nodes[n].id, verdict, detail, rule_ids=rules)))
    for node_id, extra in extra_costs.items():
        if not any(note.node_id == node_id for _, note in notes):
            notes.append(
                (0.0, NodeNote(node_id, NodeVerdict.NO_STOCK, "holds none of the ordered SKUs", extra_cost=extra))
            )
    notes.sort(key=lambda pair: (pair[1].verdict is not NodeVerdict.USED, pair[0], pair[1].node_id))
    keep = [note for _, note in notes[:MAX_NODE_NOTES]]
    keep += [note for _, note in notes[MAX_NODE_NOTES:] if note.node_id in extra_costs]
    return tuple(keep)


@dataclass(frozen=True)
class _Columns:
    """Per-candidate numbers as Python lists: a note reads a dozen of them, and numpy scalar
    indexing costs more than the arithmetic."""

    distance: list[float]
    zone: list[int]
    shipped: list[int]
    serves: list[int]
    full: list[bool]
    full_cost: list[float]

    @classmethod
    def of(cls, problem: Problem, shipped: IntArray, full: BoolArray, full_costs: FloatArray) -> _Columns:
        return cls(
            distance=problem.distance.tolist(),
            zone=problem.zone.tolist(),
            shipped=shipped.tolist(),
            serves=problem.allowed.sum(axis=0).tolist(),
            full=full.tolist(),
            full_cost=full_costs.tolist(),
        )


def _costlier_detail(problem: Problem, columns: _Columns, j: int, chosen: float) -> str:
    """Why an unused candidate lost, in numbers a planner can check against the cost model."""
    zone = f"zone {columns.zone[j]}, " if columns.zone[j] else ""
    distance = columns.distance[j]
    if columns.full[j]:
        extra = columns.full_cost[j] - chosen
        return f"{zone}{distance:.0f} mi: shipping everything from here alone would cost {extra:.2f} more"
    return f"{zone}{distance:.0f} mi: holds {columns.serves[j]} of {problem.n_lines} lines; the chosen plan costs less"


def _nearest(distances: FloatArray, count: int) -> IntArray:
    """Indices of the ``count`` smallest distances (all when there are fewer)."""
    if distances.shape[0] <= count:
        return np.arange(distances.shape[0])
    return np.argpartition(distances, count)[:count]


def unfilled_lines(problem: Problem, plan: Plan) -> tuple[Unfilled, ...]:
    result = []
    terms = problem.terms
    taken = plan.x.sum(axis=1)
    used = len(plan.used())
    for line_index, line in enumerate(problem.order.lines):
        missing = int(problem.qty[line_index] - taken[line_index])
        if missing <= 0:
            continue
        k = int(problem.sku_row[line_index])
        if not problem.allowed[line_index].any():
            reason = (
                "stock exists only at nodes that are closed, excluded or out of capacity"
                if _stocked_anywhere(problem, line.sku)
                else f"no node has {line.sku} available"
            )
        elif terms.all_or_nothing:
            reason = "all-or-nothing: the order cannot be filled completely"
        elif int(problem.avail[k][problem.allowed[line_index]].sum()) <= int(taken[problem.sku_row == k].sum()):
            reason = f"all available {line.sku} at eligible nodes is allocated"
        elif terms.max_shipments is not None and used >= terms.max_shipments:
            reason = f"the remaining stock is at other nodes and shipments are limited to {terms.max_shipments}"
        elif float(np.min(np.where(problem.allowed[line_index], problem.unit[line_index], np.inf))) > (
            terms.backorder_penalty
        ):
            reason = "shipping costs more per unit than the backorder penalty"
        else:
            reason = "node capacity or a cheaper backorder than another shipment"
        result.append(Unfilled(line.line_id, line.sku, missing, reason))
    return tuple(result)


def _stocked_anywhere(problem: Problem, sku: str) -> bool:
    return problem.stocked.shape[0] > 0 and sku in problem.skus
