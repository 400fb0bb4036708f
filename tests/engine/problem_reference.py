"""The problem build and node notes as first written: a plain, one-numpy-call-per-step oracle.

engine/problem.py and engine/explain.py now spend fewer numpy calls (cached per-snapshot masks
and reasons, one distance computation, rule ids found only for the nodes a decision explains);
tests/engine/test_problem_build.py pins them equal to this on generated instances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.availability import Availability
from engine.decision import NodeNote, NodeVerdict
from engine.directives import Directives
from engine.explain import MAX_NODE_NOTES
from engine.geo import FloatArray, haversine_miles
from engine.model import Order
from engine.network import BoolArray, IntArray, NetworkSnapshot
from engine.optimizer.plan import Plan
from engine.optimizer.single_node import full_fill_costs, full_fill_nodes
from engine.problem import Elimination, Problem
from engine.terms import Terms

_ELIMINATION_VERDICT = {
    Elimination.CLOSED: NodeVerdict.CLOSED,
    Elimination.NO_CAPACITY: NodeVerdict.NO_CAPACITY,
    Elimination.EXCLUDED: NodeVerdict.EXCLUDED,
    Elimination.NOT_REQUIRED: NodeVerdict.NOT_REQUIRED,
    Elimination.NOT_PICKUP_NODE: NodeVerdict.NOT_REQUIRED,
    Elimination.PROTECTED: NodeVerdict.PROTECTED,
}


@dataclass(frozen=True)
class ReferenceProblem:
    order: Order
    terms: Terms
    skus: tuple[str, ...]
    sku_row: IntArray
    qty: IntArray
    weight: FloatArray
    nodes: IntArray
    node_ids: tuple[str, ...]
    distance: FloatArray
    zone: IntArray
    fixed: FloatArray
    unit: FloatArray
    allowed: BoolArray
    avail: IntArray
    max_units: IntArray
    stocked: IntArray
    elimination: IntArray
    rule_ids: dict[int, tuple[str, ...]]


def reference_build(
    order: Order, snapshot: NetworkSnapshot, availability: Availability, directives: Directives, terms: Terms
) -> ReferenceProblem:
    skus = tuple(dict.fromkeys(line.sku for line in order.lines))
    sku_pos = {sku: k for k, sku in enumerate(skus)}
    sku_row = np.array([sku_pos[line.sku] for line in order.lines], dtype=np.int64)
    line_pos = {line.line_id: i for i, line in enumerate(order.lines)}
    avail_all = np.stack([availability.for_sku(sku) for sku in skus]).astype(np.int64, copy=True)
    stocked = np.nonzero((avail_all > 0).any(axis=0))[0].astype(np.int64)  # before protections

    rule_ids: dict[int, list[str]] = {}
    protecting: dict[int, list[str]] = {}
    for protection in directives.protections:
        cols = np.flatnonzero(snapshot.membership(protection.node_ids))
        if not len(cols):
            continue
        if protection.skus:
            rows = np.array([sku_pos[s] for s in skus if s in protection.skus], dtype=np.int64)
            if not len(rows):
                continue
            avail_all[np.ix_(rows, cols)] = np.maximum(0, avail_all[np.ix_(rows, cols)] - protection.units)
        else:  # every SKU: plain column slicing, no index grid
            avail_all[:, cols] = np.maximum(0, avail_all[:, cols] - protection.units)
        for c in cols.tolist():
            protecting.setdefault(c, []).append(protection.rule_id)

    elimination = np.zeros(stocked.shape[0], dtype=np.int64)

    def in_set(node_ids: frozenset[str]) -> BoolArray:
        return snapshot.membership(node_ids)[stocked]

    def eliminate(mask: BoolArray, why: Elimination, rule_id: str = "") -> None:
        """The first reason a node is eliminated is the one reported."""
        hit = mask & (elimination == Elimination.CANDIDATE)
        elimination[hit] = why
        if rule_id:
            for n in stocked[hit].tolist():
                rule_ids.setdefault(n, []).append(rule_id)

    if terms.pickup_node_id is not None:
        eliminate(~in_set(frozenset({terms.pickup_node_id})), Elimination.NOT_PICKUP_NODE)
        eliminate(~snapshot.can_pickup[stocked], Elimination.CLOSED)
    else:
        eliminate(~snapshot.can_fulfil[stocked], Elimination.CLOSED)
    eliminate((snapshot.max_units[stocked] <= 0) | (snapshot.max_shipments[stocked] <= 0), Elimination.NO_CAPACITY)
    for exclusion in directives.exclusions:
        if not exclusion.line_ids:
            eliminate(in_set(exclusion.node_ids), Elimination.EXCLUDED, exclusion.rule_id)
    for requirement in directives.requirements:
        if not requirement.line_ids:
            eliminate(~in_set(requirement.node_ids), Elimination.NOT_REQUIRED, requirement.rule_id)
    eliminate(~(avail_all[:, stocked] > 0).any(axis=0), Elimination.PROTECTED)
    for n in stocked[elimination == Elimination.PROTECTED].tolist():
        rule_ids[n] = protecting[n]

    live = stocked[elimination == Elimination.CANDIDATE]
    avail = avail_all[:, live]
    allowed: BoolArray = avail[sku_row] > 0
    for exclusion in directives.exclusions:
        if exclusion.line_ids:
            rows = _line_rows(line_pos, exclusion.line_ids)
            allowed[np.ix_(rows, snapshot.membership(exclusion.node_ids)[live])] = False
    for requirement in directives.requirements:
        if requirement.line_ids:
            rows = _line_rows(line_pos, requirement.line_ids)
            allowed[np.ix_(rows, ~snapshot.membership(requirement.node_ids)[live])] = False

    keep = allowed.any(axis=0)
    nodes: IntArray = live[keep]
    allowed = allowed[:, keep]
    avail = avail[:, keep]

    lat, lon = order.ship_to.lat, order.ship_to.lon
    distance = haversine_miles(lat, lon, snapshot.lat[nodes], snapshot.lon[nodes])
    weight = np.array([line.unit_weight_lb for line in order.lines], dtype=np.float64)
    if terms.pickup_node_id is not None:
        zone = np.zeros(nodes.shape[0], dtype=np.int64)
        fixed = snapshot.pick_pack[nodes].copy()
        unit = np.broadcast_to(snapshot.handling[nodes], (len(order.lines), nodes.shape[0])).copy()
    else:
        table = terms.rate_table
        zone = table.zones(distance)
        fixed = snapshot.pick_pack[nodes] + table.base_for(zone)
        unit = snapshot.handling[nodes][None, :] + weight[:, None] * table.per_lb_for(zone)[None, :]
    for penalty in terms.penalties:
        hit = snapshot.membership(penalty.node_ids)[nodes]
        if not hit.any():
            continue
        fixed[hit] += penalty.per_shipment
        if penalty.line_ids:
            unit[np.ix_(_line_rows(line_pos, penalty.line_ids), hit)] += penalty.per_unit
        else:
            unit[:, hit] += penalty.per_unit

    return ReferenceProblem(
        order=order,
        terms=terms,
        skus=skus,
        sku_row=sku_row,
        qty=np.array([line.qty for line in order.lines], dtype=np.int64),
        weight=weight,
        nodes=nodes,
        node_ids=tuple(snapshot.nodes[i].id for i in nodes.tolist()),
        distance=distance,
        zone=zone,
        fixed=fixed,
        unit=unit,
        allowed=allowed,
        avail=avail,
        max_units=snapshot.max_units[nodes],
        stocked=stocked,
        elimination=elimination,
        rule_ids={n: tuple(dict.fromkeys(r)) for n, r in rule_ids.items()},
    )


def _line_rows(line_pos: dict[str, int], line_ids: frozenset[str]) -> IntArray:
    return np.array(sorted(line_pos[i] for i in line_ids if i in line_pos), dtype=np.int64)


def reference_notes(
    problem: Problem, reference: ReferenceProblem, plan: Plan, snapshot: NetworkSnapshot, extra_costs: dict[str, float]
) -> tuple[NodeNote, ...]:
    """Every note built, then sorted and cut (``problem`` supplies the arrays, equal to ``reference``'s)."""
    notes: list[tuple[float, NodeNote]] = []
    shipped = plan.x.sum(axis=0)
    full, full_costs, chosen = full_fill_nodes(problem), full_fill_costs(problem), plan.objective(problem)
    serves = problem.allowed.sum(axis=0)
    # Notes for the nodes that can make the cut: used ones, why-not ones and the nearest others.
    wanted = set(np.nonzero(shipped > 0)[0].tolist()) | set(_nearest(problem.distance).tolist())
    wanted |= {j for j, node_id in enumerate(problem.node_ids) if node_id in extra_costs}
    for j in sorted(wanted):
        node_id = problem.node_ids[j]
        distance = float(problem.distance[j])
        if shipped[j] > 0:
            note = NodeNote(node_id, NodeVerdict.USED, f"ships {int(shipped[j])} units, {distance:.0f} mi")
        else:
            zone = f"zone {int(problem.zone[j])}, " if problem.zone[j] else ""
            if full[j]:
                extra = float(full_costs[j]) - chosen
                detail = f"{zone}{distance:.0f} mi: shipping everything from here alone would cost {extra:.2f} more"
            else:
                detail = (
                    f"{zone}{distance:.0f} mi: holds {int(serves[j])} of {problem.n_lines} lines; "
                    "the chosen plan costs less"
                )
            note = NodeNote(node_id, NodeVerdict.COSTLIER, detail, extra_cost=extra_costs.get(node_id))
        notes.append((distance, note))
    lat, lon = problem.order.ship_to.lat, problem.order.ship_to.lon
    gone = reference.stocked[reference.elimination != Elimination.CANDIDATE]
    reasons = reference.elimination[reference.elimination != Elimination.CANDIDATE]
    distances = haversine_miles(lat, lon, snapshot.lat[gone], snapshot.lon[gone])
    nearest = _nearest(distances)
    for n, why, distance in zip(
        gone[nearest].tolist(), reasons[nearest].tolist(), distances[nearest].tolist(), strict=True
    ):
        rules = reference.rule_ids.get(n, ())
        detail = _detail(problem, snapshot, n, Elimination(why), rules)
        notes.append((distance, NodeNote(snapshot.nodes[n].id, _ELIMINATION_VERDICT[Elimination(why)], detail, rules)))
    for node_id, extra in extra_costs.items():
        if not any(note.node_id == node_id for _, note in notes):
            notes.append(
                (0.0, NodeNote(node_id, NodeVerdict.NO_STOCK, "holds none of the ordered SKUs", extra_cost=extra))
            )
    notes.sort(key=lambda pair: (pair[1].verdict is not NodeVerdict.USED, pair[0], pair[1].node_id))
    keep = [note for _, note in notes[:MAX_NODE_NOTES]]
    keep += [note for _, note in notes[MAX_NODE_NOTES:] if note.node_id in extra_costs]
    return tuple(keep)


def _detail(problem: Problem, snapshot: NetworkSnapshot, n: int, why: Elimination, rules: tuple[str, ...]) -> str:
    node = snapshot.nodes[n]
    if why is Elimination.CLOSED:
        if not node.is_open:
            return "node closed"
        return "does not take pickups" if problem.terms.pickup_node_id else "does not ship orders"
    if why is Elimination.NO_CAPACITY:
        return "no shipment or unit capacity left today"
    if why is Elimination.EXCLUDED:
        e = next(e for e in problem.directives.exclusions if not e.line_ids and node.id in e.node_ids)
        return f"excluded by rule {e.rule_id}" + (f" ({e.reason})" if e.reason else "")
    if why is Elimination.NOT_REQUIRED:
        return f"left out by rule {rules[0]}, which requires other nodes for this order"
    if why is Elimination.NOT_PICKUP_NODE:
        return f"not the pickup node ({problem.terms.pickup_node_id})"
    skus = set(problem.skus)
    kept = [
        f"{p.rule_id} ({p.units} unit{'s' if p.units != 1 else ''} kept)"
        for p in problem.directives.protections
        if node.id in p.node_ids and (not p.skus or p.skus & skus)
    ]
    kept = list(dict.fromkeys(kept))
    return (
        f"stock protected by rule {kept[0]}"
        if len(kept) == 1
        else f"stock protected by rules {', '.join(kept[:-1])} and {kept[-1]}"
    )


def _nearest(distances: FloatArray) -> IntArray:
    """Only the nearest MAX_NODE_NOTES candidates, and eliminated nodes, are noted."""
    if distances.shape[0] <= MAX_NODE_NOTES:
        return np.arange(distances.shape[0])
    return np.argpartition(distances, MAX_NODE_NOTES)[:MAX_NODE_NOTES]
