"""Why a decision is what it is: per node and per unfilled unit, in words a planner can check."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import note_text as words
from engine.decision import CostBreakdown, NodeNote, NodeVerdict, Unfilled
from engine.directives import Directives, Exclusion
from engine.geo import FloatArray
from engine.network import IntArray, NetworkSnapshot
from engine.note_text import ELIMINATION_VERDICT, MAX_NODE_NOTES, Cause
from engine.optimizer.plan import Plan
from engine.optimizer.single_node import full_fill_costs, full_fill_nodes
from engine.problem import Elimination, Problem
from engine.promise.time_rules import day_words
from engine.terms import Terms

__all__ = ["MAX_NODE_NOTES", "elimination_detail", "late_cause", "node_notes", "unfilled_lines"]


def node_notes(
    problem: Problem,
    plan: Plan,
    snapshot: NetworkSnapshot,
    extra_costs: dict[str, float],
    cost: CostBreakdown | None = None,
) -> tuple[NodeNote, ...]:
    """Notes on used nodes, unused candidates and eliminated stock holders, nearest first; a used
    node whose shipment makes the order late (``cost``'s late days) says what that costs.

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
    latest: set[str] = set()
    if cost is not None and cost.late_days > 0:
        latest = {s.node_id for s in cost.shipments if s.delivery_day == cost.delivery_day}
    for _, distance, node_id, kind, i in chosen:
        if kind == 0 and shipped_list[i] > 0:
            detail = words.used_detail(shipped_list[i], distance)
            if node_id in latest:
                assert cost is not None
                per_day = problem.terms.late_penalty_per_day
                detail += "; " + words.late_detail(day_words(cost.delivery_day), cost.late_days, per_day)
            note = NodeNote(node_id, NodeVerdict.USED, detail)
        elif kind == 0:
            if columns is None:
                columns = _Columns.of(problem, plan, shipped)
            detail = _costlier_detail(problem, columns, i)
            note = NodeNote(node_id, NodeVerdict.COSTLIER, detail, extra_cost=extra_costs.get(node_id))
        elif kind == 1:
            reason = Elimination(int(problem.elimination[i]))
            n = int(problem.stocked[i])
            rules = problem.rule_ids(n, reason)
            detail = elimination_detail(problem, snapshot, n, reason)
            note = NodeNote(node_id, ELIMINATION_VERDICT[reason], detail, rule_ids=rules)
        else:
            extra = extra_costs[node_id]
            note = NodeNote(node_id, NodeVerdict.NO_STOCK, words.NO_STOCK_DETAIL, extra_cost=extra)
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
    if columns.full[j]:
        return words.costlier_full_detail(columns.zone[j], columns.distance[j], columns.full_cost[j] - columns.chosen)
    return words.costlier_partial_detail(columns.zone[j], columns.distance[j], columns.serves[j], problem.n_lines)


def _nearest(distances: FloatArray, count: int) -> IntArray:
    """Indices of the ``count`` smallest distances (all when there are fewer)."""
    if distances.shape[0] <= count:
        return np.arange(distances.shape[0])
    return np.argpartition(distances, count)[:count]


def unfilled_lines(problem: Problem, plan: Plan, snapshot: NetworkSnapshot) -> tuple[Unfilled, ...]:
    """Each line left short, with the cause: the line's own when it has one (no stock, stock only
    where the line may not take it, too little stock), else the order's terms that left it short."""
    taken = plan.x.sum(axis=1)
    missing = problem.qty - taken
    if not (missing > 0).any():
        return ()
    terms = problem.terms
    lines = problem.order.lines
    # A node's own cause is the same for every line it blocks: worked out once (200 blocked lines
    # over the nodes late for a promise wrote the same dates 100,000 times).
    causes = _Causes(problem.directives)
    own = {i: _line_shortage(problem, snapshot, i, taken, causes) for i in range(problem.n_lines) if missing[i] > 0}
    result = []
    for i, cause in own.items():
        line = lines[i]
        if cause is not None:
            reason = cause
        elif terms.all_or_nothing:
            reason = words.all_or_nothing_reason([lines[j].line_id for j, c in own.items() if c is not None])
        elif terms.max_shipments is not None and len(plan.used()) >= terms.max_shipments:
            reason = words.shipments_limit_reason(terms.max_shipments)
        elif float(np.min(np.where(problem.allowed[i], _unit_floor(problem, i), np.inf))) > terms.backorder_penalty:
            reason = words.BACKORDER_CHEAPER
        else:
            reason = words.CAPACITY_OR_BACKORDER
        result.append(Unfilled(line.line_id, line.sku, int(missing[i]), reason))
    return tuple(result)


def elimination_detail(problem: Problem, snapshot: NetworkSnapshot, n: int, why: Elimination) -> str:
    """A node note's words for snapshot node ``n``, eliminated for ``why``."""
    if why is Elimination.PROTECTED:
        return words.protected_cause(p for p, members in problem.protected_by if members[n]).note
    return _elimination_cause(problem, snapshot, n, why).note


def _elimination_cause(problem: Problem, snapshot: NetworkSnapshot, n: int, why: Elimination) -> Cause:
    node = snapshot.nodes[n]
    if why is Elimination.CLOSED:
        return words.closed_cause(node.is_open, problem.terms.pickup_node_id is not None)
    if why is Elimination.NO_CAPACITY:
        return words.no_capacity_cause()
    if why is Elimination.EXCLUDED:
        exclusion = next(e for e in problem.directives.exclusions if not e.line_ids and node.id in e.node_ids)
        return words.excluded_cause(exclusion.rule_id, exclusion.reason)
    if why is Elimination.NOT_REQUIRED:
        (rule_id,) = problem.rule_ids(n, why)
        return words.not_required_cause(rule_id)
    if why is Elimination.NOT_PICKUP_NODE:
        return words.not_pickup_cause(problem.terms.pickup_node_id)
    if why is Elimination.LATE:
        return late_cause(problem.terms, node.id, _stocked_distance(problem, n))
    raise AssertionError(f"no cause for {why!r}")  # PROTECTED is per SKU: _line_cause


def late_cause(terms: Terms, node_id: str, distance_miles: float) -> Cause:
    """'would deliver Wed 9 Dec, after the promised Tue 8 Dec' (the small-order path's words too)."""
    options = terms.ship_options
    assert options is not None
    return words.late_words_cause(options.why_late(node_id, distance_miles))


def _stocked_distance(problem: Problem, n: int) -> float:
    at = int(np.searchsorted(problem.stocked, n))
    return float(problem.stocked_distance[at])


def _line_cause(
    problem: Problem,
    snapshot: NetworkSnapshot,
    i: int,
    n: int,
    why: Elimination,
    held: int,
    causes: _Causes,
) -> Cause:
    """Why line ``i`` takes none of the ``held`` units of its SKU at snapshot node ``n`` (``causes``:
    the nodes' own causes found so far)."""
    if why not in (Elimination.CANDIDATE, Elimination.PROTECTED):
        cause = causes.by_node.get((n, why))
        if cause is None:
            cause = causes.by_node[(n, why)] = _elimination_cause(problem, snapshot, n, why)
        return cause
    line = problem.order.lines[i]
    kept, keeping = problem.kept_units(line.sku, n)
    if held <= kept:
        return words.protected_cause(keeping)
    node_id = snapshot.ids[n]
    e = causes.excluding(line.line_id, node_id)
    if e is not None:
        return words.excluded_cause(e.rule_id, e.reason, for_line=True)
    for r in problem.directives.requirements:
        if line.line_id in r.line_ids and node_id not in r.node_ids:
            return words.not_required_cause(r.rule_id, for_line=True)
    return words.TAKEN_BY_OTHERS


class _Causes:
    """What the reasons of one decision's unfilled lines read again and again: each node's own cause
    (``by_node``), and the first exclusion keeping a line from a node (``excluding``: a 200-line order
    promised line by line carries some 70,000, scanned once instead of once per line and node)."""

    __slots__ = ("_directives", "_excluding", "by_node")

    def __init__(self, directives: Directives) -> None:
        self.by_node: dict[tuple[int, Elimination], Cause] = {}
        self._directives = directives
        self._excluding: dict[tuple[str, str], Exclusion] | None = None

    def excluding(self, line_id: str, node_id: str) -> Exclusion | None:
        if self._excluding is None:
            self._excluding = {}
            for e in self._directives.exclusions:
                for excluded_line in e.line_ids:
                    for excluded_node in e.node_ids:
                        self._excluding.setdefault((excluded_line, excluded_node), e)
        return self._excluding.get((line_id, node_id))


def _line_shortage(problem: Problem, snapshot: NetworkSnapshot, i: int, taken: IntArray, causes: _Causes) -> str | None:
    """The line's own cause of being short (None when stock it may take was there, so the order's
    terms or costs left it short)."""
    if not problem.allowed[i].any():
        return _blocked(problem, snapshot, i, causes)
    k = int(problem.sku_row[i])
    sku = problem.order.lines[i].sku
    same = problem.sku_row == k
    supply = int(problem.avail[k][problem.allowed[i]].sum())
    # All-or-nothing takes nothing: short when the supply cannot meet the demand. Otherwise short
    # when every unit it could promise was taken.
    needed = int(problem.qty[same].sum()) if problem.terms.all_or_nothing else int(taken[same].sum()) + 1
    if supply >= needed:
        return None
    held = problem.availability.for_sku(sku)
    protected, rules = 0, {}
    for position in np.flatnonzero(held[problem.stocked] > 0).tolist():
        if int(problem.elimination[position]) in (Elimination.CANDIDATE, Elimination.PROTECTED):
            n = int(problem.stocked[position])
            kept, keeping = problem.kept_units(sku, n)
            protected += min(int(held[n]), kept)
            rules.update(dict.fromkeys(p.rule_id for p in keeping))
    return words.shortage_reason(supply, sku, protected, rules)


def _blocked(problem: Problem, snapshot: NetworkSnapshot, i: int, causes: _Causes) -> str:
    """Why line ``i`` can take no unit from any node: every node holding its SKU, nearest first,
    grouped by cause."""
    sku = problem.order.lines[i].sku
    held = problem.availability.for_sku(sku)
    pickup = problem.terms.pickup_node_id
    positions = np.flatnonzero(held[problem.stocked] > 0)
    if pickup is not None:  # only the pickup node may serve: the others are beside the point
        positions = positions[problem.stocked[positions] == snapshot.index[pickup]]
        if not positions.shape[0]:
            return words.no_stock_reason(sku, pickup)
    if not positions.shape[0]:
        return words.no_stock_reason(sku, None)
    nearest = positions[np.argsort(problem.stocked_distance[positions], kind="stable")]
    groups: dict[Cause, list[str]] = {}
    for position in nearest.tolist():
        n = int(problem.stocked[position])
        why = Elimination(int(problem.elimination[position]))
        cause = _line_cause(problem, snapshot, i, n, why, int(held[n]), causes)
        groups.setdefault(cause, []).append(snapshot.ids[n] if pickup is None else f"pickup node {pickup}")
    return words.blocked_reason(groups)


def _unit_floor(problem: Problem, i: int) -> FloatArray:
    """[N] the least a unit of line ``i`` adds at each candidate: its per-unit cost, and with
    ``pricing`` (carrier charges not linear) at least the cheapest option's rate on its pounds."""
    unit: FloatArray = problem.unit[i]
    if problem.pricing is None:
        return unit
    weight = float(problem.weight[i])
    carrier: FloatArray = np.array([min(r.per_lb for r in rates) * weight for rates in problem.pricing])
    return unit + carrier
