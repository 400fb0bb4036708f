"""A small order's explanations, as engine/explain.py writes them: the nodes considered and why each
was or was not used, and why a line went unfilled."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.decision import (
    NodeNote,
    NodeVerdict,
    Unfilled,
)
from engine.directives import Protection
from engine.problem import Elimination
from engine.promise.shipping import many
from engine.small_orders.problem import _Small
from engine.small_orders.views import LATE, PROTECTED, _view

MAX_NODE_NOTES = 25  # engine.explain.MAX_NODE_NOTES


MAX_CAUSES = 4  # engine.explain.MAX_CAUSES


MAX_NAMED_NODES = 3  # engine.explain.MAX_NAMED_NODES


_VERDICT = {
    Elimination.CLOSED: NodeVerdict.CLOSED,
    Elimination.NO_CAPACITY: NodeVerdict.NO_CAPACITY,
    Elimination.EXCLUDED: NodeVerdict.EXCLUDED,
    Elimination.NOT_REQUIRED: NodeVerdict.NOT_REQUIRED,
    Elimination.NOT_PICKUP_NODE: NodeVerdict.NOT_REQUIRED,
    Elimination.PROTECTED: NodeVerdict.PROTECTED,
    Elimination.LATE: NodeVerdict.LATE,
}


def _nearest(distances: list[float], count: int) -> list[int]:
    """engine.explain._nearest (numpy's own selection, so ties at the cut fall the same way)."""
    if len(distances) <= count:
        return list(range(len(distances)))
    picked: list[int] = np.argpartition(np.array(distances, dtype=np.float64), count)[:count].tolist()
    return picked


def _notes(p: _Small, plan: dict[int, list[int]]) -> tuple[NodeNote, ...]:
    view = _view(p.snapshot, p.directives)
    shipped = [0] * p.n_nodes
    for c, take in plan.items():
        shipped[c] = sum(take)
    entries: list[tuple[bool, float, str, int, int]] = []
    wanted = {c for c in plan} | set(_nearest(p.distance, MAX_NODE_NOTES))
    for j in wanted:
        entries.append((shipped[j] <= 0, p.distance[j], p.node_ids[j], 0, j))
    gone_at = [q for q, reason in enumerate(p.elimination) if reason]
    if gone_at:
        ids = p.snapshot.ids
        for pick in _nearest([p.stocked_distance[q] for q in gone_at], MAX_NODE_NOTES):
            q = gone_at[pick]
            entries.append((True, p.stocked_distance[q], ids[p.stocked[q]], 1, q))
    entries.sort()  # by (not used, distance, node id): ids are unique, so the rest never decides
    chosen = entries[:MAX_NODE_NOTES]
    notes = []
    chosen_cost: float | None = None
    full: list[bool] | None = None
    for _, distance, node_id, kind, i in chosen:
        if kind == 0 and shipped[i] > 0:
            notes.append(NodeNote(node_id, NodeVerdict.USED, f"ships {shipped[i]} units, {distance:.0f} mi"))
        elif kind == 0:
            if full is None or chosen_cost is None:
                full, chosen_cost = p.full_fill(), p.objective(plan)
            zone = f"zone {p.zone[i]}, " if p.zone[i] else ""
            if full[i]:
                extra = p.full_cost(i) - chosen_cost
                detail = f"{zone}{distance:.0f} mi: shipping everything from here alone would cost {extra:.2f} more"
            else:
                serves = sum(1 for row in p.allowed if row[i])
                detail = f"{zone}{distance:.0f} mi: holds {serves} of {len(p.qty)} lines; the chosen plan costs less"
            notes.append(NodeNote(node_id, NodeVerdict.COSTLIER, detail))
        else:
            n = p.stocked[i]
            code = p.elimination[i]
            # The same words for the same node, reason and directives: kept with the directives'
            # view, except protections that depend on the order's SKUs and lateness (the order's dates).
            key = (n, code, p.terms.pickup_node_id)
            note = view.notes.get(key)
            if note is None:
                reason = Elimination(code)
                note = NodeNote(node_id, _VERDICT[reason], _elimination_detail(p, n, reason), _rule_ids(p, n, reason))
                if not (code == PROTECTED and view.sku_protections) and code != LATE:
                    view.notes[key] = note
            notes.append(note)
    return tuple(notes)


def _rule_ids(p: _Small, n: int, why: Elimination) -> tuple[str, ...]:
    """engine.problem.Problem.rule_ids."""
    node_id = p.snapshot.ids[n]
    if why is Elimination.PROTECTED:
        return tuple(dict.fromkeys(pr.rule_id for pr, members in p.protected_by if node_id in members))
    if why is Elimination.EXCLUDED:
        return (next(rule_id for rule_id, members in p.excluded_by if node_id in members),)
    if why is Elimination.NOT_REQUIRED:
        return (next(rule_id for rule_id, members in p.required_by if node_id not in members),)
    return ()


def _kept_units(p: _Small, sku: str, n: int) -> tuple[int, tuple[Protection, ...]]:
    node_id = p.snapshot.ids[n]
    keeping = tuple(pr for pr, members in p.protected_by if node_id in members and (not pr.skus or sku in pr.skus))
    return sum(pr.units for pr in keeping), keeping


@dataclass(frozen=True)
class _Cause:
    prefix: str
    verb_one: str
    verb_many: str
    note: str


def _elimination_detail(p: _Small, n: int, why: Elimination) -> str:
    if why is Elimination.PROTECTED:
        node_id = p.snapshot.ids[n]
        return _protected(tuple(pr for pr, members in p.protected_by if node_id in members)).note
    return _elimination_cause(p, n, why).note


def _elimination_cause(p: _Small, n: int, why: Elimination) -> _Cause:
    node = p.snapshot.nodes[n]
    if why is Elimination.CLOSED:
        if not node.is_open:
            return _Cause("", "is closed", "are closed", "node closed")
        if p.terms.pickup_node_id is not None:
            return _Cause("", "does not take pickups", "do not take pickups", "does not take pickups")
        return _Cause("", "does not ship orders", "do not ship orders", "does not ship orders")
    if why is Elimination.NO_CAPACITY:
        words = "no shipment or unit capacity left today"
        return _Cause("", f"has {words}", f"have {words}", words)
    if why is Elimination.EXCLUDED:
        exclusion = next(e for e in p.directives.exclusions if not e.line_ids and node.id in e.node_ids)
        words = f"excluded by rule {exclusion.rule_id}" + (f" ({exclusion.reason})" if exclusion.reason else "")
        return _Cause("", f"is {words}", f"are {words}", words)
    if why is Elimination.NOT_REQUIRED:
        (rule_id,) = _rule_ids(p, n, why)
        words = f"left out by rule {rule_id}, which requires other nodes for this order"
        return _Cause("", f"is {words}", f"are {words}", words)
    if why is Elimination.NOT_PICKUP_NODE:
        words = f"not the pickup node ({p.terms.pickup_node_id})"
        return _Cause("", f"is {words}", f"are {words}", words)
    if why is Elimination.LATE and p.terms.ship_options is not None:
        words = p.terms.ship_options.why_late(node.id, p.stocked_distance[p.stocked.index(n)])
        return _Cause("", words, many(words), words)
    raise AssertionError(f"no cause for {why!r}")


def _protected(protections: tuple[Protection, ...]) -> _Cause:
    kept = list(
        dict.fromkeys(f"{pr.rule_id} ({pr.units} unit{'' if pr.units == 1 else 's'} kept)" for pr in protections)
    )
    rules = f"rule {kept[0]}" if len(kept) == 1 else f"rules {', '.join(kept[:-1])} and {kept[-1]}"
    return _Cause("stock at ", f"is protected by {rules}", f"is protected by {rules}", f"stock protected by {rules}")


def _line_cause(p: _Small, i: int, n: int, why: Elimination, held: int) -> _Cause:
    if why not in (Elimination.CANDIDATE, Elimination.PROTECTED):
        return _elimination_cause(p, n, why)
    line = p.order.lines[i]
    kept, keeping = _kept_units(p, line.sku, n)
    if held <= kept:
        return _protected(keeping)
    node_id = p.snapshot.ids[n]
    for e in p.directives.exclusions:
        if line.line_id in e.line_ids and node_id in e.node_ids:
            words = f"excluded for this line by rule {e.rule_id}" + (f" ({e.reason})" if e.reason else "")
            return _Cause("", f"is {words}", f"are {words}", words)
    for r in p.directives.requirements:
        if line.line_id in r.line_ids and node_id not in r.node_ids:
            words = f"left out for this line by rule {r.rule_id}, which requires other nodes"
            return _Cause("", f"is {words}", f"are {words}", words)
    words = "taken by other orders decided with this one"
    return _Cause("the stock at ", f"is {words}", f"is {words}", words)


def _unfilled(p: _Small, plan: dict[int, list[int]]) -> tuple[Unfilled, ...]:
    """engine.explain.unfilled_lines."""
    n_lines = len(p.qty)
    taken = [sum(take[i] for take in plan.values()) for i in range(n_lines)]
    missing = [p.qty[i] - taken[i] for i in range(n_lines)]
    if not any(m > 0 for m in missing):
        return ()
    terms = p.terms
    lines = p.order.lines
    own = {i: _line_shortage(p, i, taken) for i in range(n_lines) if missing[i] > 0}
    result = []
    for i, cause in own.items():
        line = lines[i]
        if cause is not None:
            reason = cause
        elif terms.all_or_nothing:
            short = [lines[j].line_id for j, c in own.items() if c is not None]
            reason = (
                f"all-or-nothing: line{'s' if len(short) > 1 else ''} {', '.join(short)} cannot be filled"
                " completely, so nothing ships"
                if short
                else "all-or-nothing: the order cannot be filled completely within its limits"
            )
        elif terms.max_shipments is not None and len(plan) >= terms.max_shipments:
            reason = f"the remaining stock is at other nodes and shipments are limited to {terms.max_shipments}"
        elif (
            min((u for u, a in zip(p.unit[i], p.allowed[i], strict=True) if a), default=math.inf)
            > terms.backorder_penalty
        ):
            reason = "shipping costs more per unit than the backorder penalty"
        else:
            reason = "node capacity or a cheaper backorder than another shipment"
        result.append(Unfilled(line.line_id, line.sku, missing[i], reason))
    return tuple(result)


def _line_shortage(p: _Small, i: int, taken: list[int]) -> str | None:
    if not any(p.allowed[i]):
        return _blocked(p, i)
    k = p.sku_row[i]
    sku = p.order.lines[i].sku
    same = [j for j, row in enumerate(p.sku_row) if row == k]
    supply = sum(p.avail[k][c] for c, a in enumerate(p.allowed[i]) if a)
    needed = sum(p.qty[j] for j in same) if p.terms.all_or_nothing else sum(taken[j] for j in same) + 1
    if supply >= needed:
        return None
    reason = f"only {supply} units of {sku} can be promised at the nodes this line may ship from"
    held = p.held[k]
    protected, rules = 0, {}
    for q, n in enumerate(p.stocked):
        units = held.get(n, 0)
        if units > 0 and p.elimination[q] in (Elimination.CANDIDATE, Elimination.PROTECTED):
            kept, keeping = _kept_units(p, sku, n)
            protected += min(units, kept)
            rules.update(dict.fromkeys(pr.rule_id for pr in keeping))
    if protected:
        reason += f"; {protected} more are protected by rule {', '.join(rules)}"
    return reason


def _blocked(p: _Small, i: int) -> str:
    sku = p.order.lines[i].sku
    k = p.sku_row[i]
    held = p.held[k]
    pickup = p.terms.pickup_node_id
    ids = p.snapshot.ids
    positions = [q for q, n in enumerate(p.stocked) if held.get(n, 0) > 0]
    if pickup is not None:
        positions = [q for q in positions if ids[p.stocked[q]] == pickup]
        if not positions:
            return f"pickup node {pickup} has no {sku} available"
    if not positions:
        return f"no node has {sku} available"
    nearest = sorted(positions, key=lambda q: p.stocked_distance[q])  # stable: ties keep node order
    groups: dict[_Cause, list[str]] = {}
    for q in nearest:
        n = p.stocked[q]
        why = Elimination(p.elimination[q])
        cause = _line_cause(p, i, n, why, held.get(n, 0))
        groups.setdefault(cause, []).append(ids[n] if pickup is None else f"pickup node {pickup}")
    phrases = []
    for cause, node_ids in list(groups.items())[:MAX_CAUSES]:
        named = ", ".join(node_ids[:MAX_NAMED_NODES])
        if len(node_ids) > MAX_NAMED_NODES:
            named += f" and {len(node_ids) - MAX_NAMED_NODES} more"
        phrases.append(f"{cause.prefix}{named} {cause.verb_one if len(node_ids) == 1 else cause.verb_many}")
    left = sum(len(node_ids) for node_ids in list(groups.values())[MAX_CAUSES:])
    if left:
        phrases.append(f"{left} more nodes holding it cannot serve it either")
    return "; ".join(phrases)
