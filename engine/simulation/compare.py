"""Two sides side by side: orders whose decision changed, and a legacy system's decisions.

A legacy file (docs/order-history.md) gives another system's allocation per order; it is
costed with the same cost model (``engine.cost.plan_cost`` under the order's own terms, no rule
penalties) and compared allocation by allocation with a simulated side. Every difference is a
divergence; none is dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.cost import plan_cost
from engine.decision import AllocationLine
from engine.directives import NO_DIRECTIVES
from engine.errors import SourcingError
from engine.network import NetworkSnapshot
from engine.rules.model import Rule, RuleSet
from engine.simulation.history import HistoryError, HistoryOrder
from engine.simulation.replay import Outcome, OutcomeStatus, Shipment
from engine.terms import resolve_terms


@dataclass(frozen=True, slots=True)
class Change:
    """One order both sides decided differently."""

    order_id: str
    base: Outcome
    other: Outcome

    @property
    def rules_only_base(self) -> tuple[str, ...]:
        return tuple(r for r in self.base.fired_rules if r not in self.other.fired_rules)

    @property
    def rules_only_other(self) -> tuple[str, ...]:
        return tuple(r for r in self.other.fired_rules if r not in self.base.fired_rules)


def changed_decisions(base: Sequence[Outcome], other: Sequence[Outcome]) -> list[Change]:
    """Orders (in the base side's order) whose status or allocation differs between the sides."""
    by_id = {o.order_id: o for o in other}
    changes = []
    for b in base:
        o = by_id.get(b.order_id)
        if o is not None and (b.status != o.status or b.plan_key() != o.plan_key()):
            changes.append(Change(b.order_id, b, o))
    return changes


def describe_plan(outcome: Outcome) -> str:
    """``DC-01: L1x2, L2x1 | ST-004: L3x1`` (or HELD / FAILED / nothing allocated)."""
    if outcome.status is not OutcomeStatus.DECIDED:
        return f"{outcome.status.value}: {outcome.detail}" if outcome.detail else outcome.status.value
    by_node: dict[str, list[str]] = {}
    for a in outcome.allocations:
        by_node.setdefault(a.node_id, []).append(f"{a.line_id}x{a.qty}")
    text = " | ".join(f"{node}: {', '.join(parts)}" for node, parts in sorted(by_node.items()))
    if outcome.backordered:
        text = f"{text} | backorder {outcome.backordered}" if text else f"backorder {outcome.backordered}"
    return text or "nothing allocated"


# --- legacy ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegacyDecision:
    order_id: str
    allocations: tuple[AllocationLine, ...]


def legacy_from_record(record: Mapping[str, Any]) -> LegacyDecision:
    """``{"order_id": ..., "allocations": [{"line_id", "node_id", "qty", "sku"?}]}``."""
    if not isinstance(record, Mapping) or not isinstance(record.get("order_id"), str):
        raise HistoryError("order_id: is required")
    raw = record.get("allocations", [])
    if not isinstance(raw, list):
        raise HistoryError(f"order {record['order_id']}: allocations: must be a list")
    rows = []
    for i, a in enumerate(raw):
        if not isinstance(a, Mapping) or not isinstance(a.get("node_id"), str) or not isinstance(a.get("qty"), int):
            raise HistoryError(f"order {record['order_id']}: allocations[{i}]: needs node_id, line_id and qty")
        rows.append(AllocationLine(str(a.get("line_id", "")), a["node_id"], str(a.get("sku", "")), int(a["qty"])))
    return LegacyDecision(record["order_id"], tuple(rows))


@dataclass(frozen=True, slots=True)
class Divergence:
    order_id: str
    kind: str  # missing-in-legacy | not-in-history | invalid | different-allocation | different-status
    detail: str


def legacy_outcomes(
    history: Sequence[HistoryOrder], legacy: Sequence[LegacyDecision], snapshot: NetworkSnapshot
) -> tuple[list[Outcome], list[Divergence]]:
    """Legacy decisions costed as outcomes (history order), and the records that cannot be costed."""
    by_id = {d.order_id: d for d in legacy}
    known = {h.order.order_id for h in history}
    problems = [
        Divergence(d.order_id, "not-in-history", "the legacy file decides an order the history does not have")
        for d in legacy
        if d.order_id not in known
    ]
    outcomes = []
    for h in sorted(history, key=lambda h: (h.created_at, h.order.order_id)):
        order = h.order
        decision = by_id.get(order.order_id)
        if decision is None:
            continue
        base = Outcome(
            order.order_id, h.created_at, order.ship_to.lat, order.ship_to.lon, order.units, OutcomeStatus.FAILED
        )
        invalid = _invalid(h, decision, snapshot)
        if invalid:
            problems.append(Divergence(order.order_id, "invalid", invalid))
            outcomes.append(_with(base, detail=invalid))
            continue
        skus = {line.line_id: line.sku for line in order.lines}
        allocations = tuple(
            AllocationLine(a.line_id, a.node_id, a.sku or skus[a.line_id], a.qty) for a in decision.allocations if a.qty
        )
        try:
            cost = plan_cost(order, allocations, snapshot, resolve_terms(order, NO_DIRECTIVES, snapshot))
        except SourcingError as error:
            problems.append(Divergence(order.order_id, "invalid", str(error)))
            outcomes.append(_with(base, detail=str(error)))
            continue
        shipments = tuple(
            Shipment(
                s.node_id,
                s.zone,
                round(s.distance_miles, 1),
                s.units,
                s.pick_pack + s.carrier_base + s.carrier_weight + s.handling,
            )
            for s in cost.shipments
        )
        outcomes.append(
            _with(
                base,
                status=OutcomeStatus.DECIDED,
                allocations=allocations,
                shipments=shipments,
                backordered=cost.backordered_units,
                objective=cost.total,
            )
        )
    return outcomes, problems


def _with(base: Outcome, **changes: Any) -> Outcome:
    return dataclasses.replace(base, **changes)


def _invalid(h: HistoryOrder, decision: LegacyDecision, snapshot: NetworkSnapshot) -> str:
    qty = {line.line_id: line.qty for line in h.order.lines}
    taken: dict[str, int] = {}
    for a in decision.allocations:
        if a.line_id not in qty:
            return f"unknown line {a.line_id!r}"
        if a.node_id not in snapshot.index:
            return f"unknown node {a.node_id!r}"
        if a.qty < 0:
            return f"negative quantity on line {a.line_id}"
        taken[a.line_id] = taken.get(a.line_id, 0) + a.qty
    over = [line_id for line_id, n in taken.items() if n > qty[line_id]]
    return f"allocates more than ordered on line {over[0]}" if over else ""


def divergences(side: Sequence[Outcome], legacy: Sequence[Outcome], problems: Sequence[Divergence]) -> list[Divergence]:
    """Every order where ``side`` and the legacy system differ, plus the legacy records that could not be read."""
    by_id = {o.order_id: o for o in legacy}
    found = list(problems)
    flagged = {d.order_id for d in problems}
    for s in side:
        lg = by_id.get(s.order_id)
        if lg is None:
            found.append(Divergence(s.order_id, "missing-in-legacy", "the legacy file has no decision for this order"))
        elif s.order_id in flagged:
            continue
        elif s.status is not OutcomeStatus.DECIDED:
            found.append(
                Divergence(s.order_id, "different-status", f"simulated {describe_plan(s)}; legacy {describe_plan(lg)}")
            )
        elif s.plan_key() != lg.plan_key():
            found.append(
                Divergence(
                    s.order_id, "different-allocation", f"simulated {describe_plan(s)}; legacy {describe_plan(lg)}"
                )
            )
    return found


def edited_rules(base: RuleSet | None, other: RuleSet | None) -> dict[str, str]:
    """Rule id -> ``added`` / ``removed`` / ``changed`` (conditions, directives or priority) from base to other."""

    def key(rule: Rule) -> tuple[object, ...]:
        return (rule.conditions, rule.then, rule.priority)

    before = {r.id: r for r in (base.rules if base else ())}
    after = {r.id: r for r in (other.rules if other else ())}
    edits = {rule_id: "removed" for rule_id in before.keys() - after.keys()}
    edits.update({rule_id: "added" for rule_id in after.keys() - before.keys()})
    edits.update({i: "changed" for i in before.keys() & after.keys() if key(before[i]) != key(after[i])})
    return dict(sorted(edits.items()))


def rules_behind(change: Change, edits: Mapping[str, str]) -> tuple[str, ...]:
    """The edited rules that fired on either side of a changed decision: what most likely changed it."""
    fired = dict.fromkeys((*change.base.fired_rules, *change.other.fired_rules))
    return tuple(r for r in fired if r in edits)
