"""Engine decisions to protobuf: money as integer micros, enums by name.

Built in place (``add`` on repeated fields, sub-messages filled where they sit): a message passed
to a constructor is copied, and a decision holds a dozen Money values and as many explanations.
"""

from __future__ import annotations

from datetime import date

from engine.decision import CostBreakdown, Decision, DecisionPath, NodeVerdict, SolveStatus
from server.api.convert import set_money
from server.api.proto import sourcing_pb2

# Engine enums map to proto enum values by name: <ENUM>_<engine value>.
_STATUS = {status: f"SOLVE_STATUS_{status.value}" for status in SolveStatus}
_PATH = {path: f"DECISION_PATH_{path.value}" for path in DecisionPath}
_VERDICT = {verdict: f"NODE_VERDICT_{verdict.value}" for verdict in NodeVerdict}


def _day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _fill_cost(into: sourcing_pb2.CostBreakdown, cost: CostBreakdown, currency: str) -> None:
    for s in cost.shipments:
        shipment = into.shipments.add(
            node_id=s.node_id, zone=s.zone, distance_miles=s.distance_miles, units=s.units, weight_lb=s.weight_lb
        )
        set_money(shipment.pick_pack, s.pick_pack, currency)
        set_money(shipment.carrier_base, s.carrier_base, currency)
        set_money(shipment.carrier_weight, s.carrier_weight, currency)
        set_money(shipment.handling, s.handling, currency)
        set_money(shipment.rule_penalty, s.rule_penalty, currency)
        set_money(shipment.total, s.total, currency)
        if s.carrier_service:
            shipment.carrier_service = s.carrier_service
            shipment.ship_date = _day(s.ship_day)
            shipment.delivery_date = _day(s.delivery_day)
    set_money(into.split_penalty, cost.split_penalty, currency)
    set_money(into.backorder_penalty, cost.backorder_penalty, currency)
    into.backordered_units = cost.backordered_units
    set_money(into.total, cost.total, currency)


# Said on every decision made without planner rules, so a store left without a rule set is noticed.
NO_ACTIVE_RULE_SET = (
    "no active rule set: no planner rule shaped this decision (activate one with `oms-sourcing rules activate`"
    " or the rules_path setting)"
)


def decision_to_proto(
    decision: Decision,
    *,
    decision_id: str,
    currency: str,
    network_version: str,
    solve_ms: float,
    total_ms: float,
) -> sourcing_pb2.Decision:
    out = sourcing_pb2.Decision(
        decision_id=decision_id,
        order_id=decision.order_id,
        status=_STATUS[decision.status],
        path=_PATH[decision.path],
        gap=decision.gap,
        candidate_nodes=decision.candidates,
        timings=sourcing_pb2.Timings(solve_ms=solve_ms, total_ms=total_ms),
        rule_set_version=decision.rule_set_version,
        network_version=network_version,
        fired_rules=decision.fired_rules,
    )
    for a in decision.allocations:
        out.allocations.add(line_id=a.line_id, node_id=a.node_id, sku=a.sku, qty=a.qty)
    _fill_cost(out.cost, decision.cost, currency)
    if decision.cost.delivery_day:
        out.ship_date = _day(decision.cost.ship_day)
        out.delivery_date = _day(decision.cost.delivery_day)
    for u in decision.unfilled:
        out.unfilled.add(line_id=u.line_id, sku=u.sku, qty=u.qty, reason=u.reason)
    set_money(out.bound, decision.bound, currency)
    for note in decision.node_notes:
        explanation = out.explanations.add(
            node_id=note.node_id, verdict=_VERDICT[note.verdict], detail=note.detail, rule_ids=note.rule_ids
        )
        if note.extra_cost is not None:
            set_money(explanation.extra_cost, max(0.0, note.extra_cost), currency)
    for h in decision.holds:
        out.holds.add(rule_id=h.rule_id, reason=h.reason)
    if not decision.rule_set_version:
        out.warnings.append(NO_ACTIVE_RULE_SET)
    return out
