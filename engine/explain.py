"""Why a decision is what it is: per node and per unfilled unit, in words a planner can check."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.decision import NodeNote, NodeVerdict, Unfilled
from engine.geo import FloatArray
from engine.network import IntArray, NetworkSnapshot
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
    """Notes on used nodes, unused candidates and eliminated stock holders, nearest first.

    Which nodes get a note depends only on (used first, distance, node id): those keys are
    ranked first and the words are written for the nodes that make the cut alone.
    """
    shipped = plan.x.sum(axis=0)
    # (not used, distance, node id, kind, index): kind 0 a candidate, 1 a stocked position, 2 no stock.
    entries: list[tuple[bool, float, str, int, int]] = []
    # Only nodes that can make the cut are ranked: used ones, why-not ones and the nearest others.
    wanted = set(np.flatnonzero(shipped > 0).tolist()) | set(_nearest(problem.distance, MAX_NODE_NOTES).tolist())
    wanted |= {j for j, node_id in enumerate(problem.node_ids) if node_id in extra_costs}
    shipped_list: list[int] = shipped.tolist()
    distance_list: list[float] = problem.distance.tolist()
    for j in wanted:
        entries.append((shipped_list[j] <= 0, distance_list[j], problem.node_ids[j], 0, j))
    gone_at = np.flatnonzero(problem.elimination != Elimination.CANDIDATE)
    if gone_at.shape[0]:
        nearest = gone_at[_nearest(problem.stocked_distance[gone_at], MAX_NODE_NOTES)]
        for n, at, distance in zip(
            problem.stocked[nearest].tolist(), nearest.tolist(), problem.stocked_distance[nearest].tolist(), strict=True
        ):
            entries.append((True, distance, snapshot.ids[n], 1, at))
    noted = {entry[2] for entry in entries}
    entries += [(True, 0.0, node_id, 2, 0) for node_id in extra_costs if node_id not in noted]
    entries.sort(key=lambda entry: entry[:3])
    chosen = entries[:MAX_NODE_NOTES] + [e for e in entries[MAX_NODE_NOTES:] if e[2] in extra_costs]
    columns: _Columns | None = None
    notes = []
    for _, distance, node_id, kind, i in chosen:
        if kind == 0 and shipped_list[i] > 0:
            note = NodeNote(node_id, NodeVerdict.USED, f"ships {shipped_list[i]} units, {distance:.0f} mi")
        elif kind == 0:
            if columns is None:
                columns = _Columns.of(problem, plan, shipped)
            detail = _costlier_detail(problem, columns, i)
            note = NodeNote(node_id, NodeVerdict.COSTLIER, detail, extra_cost=extra_costs.get(node_id))
        elif kind == 1:
            reason = Elimination(int(problem.elimination[i]))
            verdict, detail = _ELIMINATION_VERDICT[reason]
            note = NodeNote(node_id, verdict, detail, rule_ids=problem.rule_ids(int(problem.stocked[i]), reason))
        else:
            extra = extra_costs[node_id]
            note = NodeNote(node_id, NodeVerdict.NO_STOCK, "holds none of the ordered SKUs", extra_cost=extra)
        notes.append(note)
    return tuple(notes)


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
    chosen: float  # the plan's objective

    @classmethod
    def of(cls, problem: Problem, plan: Plan, shipped: IntArray) -> _Columns:
        return cls(
            distance=problem.distance.tolist(),
            zone=problem.zone.tolist(),
            shipped=shipped.tolist(),
            serves=problem.allowed.sum(axis=0).tolist(),
            full=full_fill_nodes(problem).tolist(),
            full_cost=full_fill_costs(problem).tolist(),
            chosen=plan.objective(problem),
        )


def _costlier_detail(problem: Problem, columns: _Columns, j: int) -> str:
    """Why an unused candidate lost, in numbers a planner can check against the cost model."""
    zone = f"zone {columns.zone[j]}, " if columns.zone[j] else ""
    distance = columns.distance[j]
    if columns.full[j]:
        extra = columns.full_cost[j] - columns.chosen
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
