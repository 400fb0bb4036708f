"""Engine decisions to protobuf: money as integer micros, enums by number.

Built in one constructor call from plain dicts and lists: protobuf's C code makes every
sub-message and repeated entry from them at once, where filling fields one ``add`` or attribute
at a time costs a Python call each (a decision holds a dozen Money values and up to 25
explanations). Enum values are looked up once, by name (<ENUM>_<engine value>).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.decision import CostBreakdown, Decision, DecisionPath, NodeVerdict, SolveStatus
from server.api.proto import sourcing_pb2

# (Any: the stubs type an enum's number as its wrapper class, which ``Value`` does not return.)
_STATUS: dict[SolveStatus, Any] = {s: sourcing_pb2.SolveStatus.Value(f"SOLVE_STATUS_{s.value}") for s in SolveStatus}
_PATH: dict[DecisionPath, Any] = {p: sourcing_pb2.DecisionPath.Value(f"DECISION_PATH_{p.value}") for p in DecisionPath}
_VERDICT: dict[NodeVerdict, Any] = {v: sourcing_pb2.NodeVerdict.Value(f"NODE_VERDICT_{v.value}") for v in NodeVerdict}


_DAYS: dict[int, str] = {}  # ISO dates by day ordinal: a decision writes two per shipment, of a few days in all


def _day(ordinal: int) -> str:
    found = _DAYS.get(ordinal)
    if found is None:
        if len(_DAYS) >= 4096:  # a bound; dates in use are a few weeks' worth
            _DAYS.clear()
        found = _DAYS[ordinal] = date.fromordinal(ordinal).isoformat()
    return found


def _money(value: float, currency: str) -> dict[str, Any]:
    """A Money message's fields (convert.set_money's): both set, so the field is present even at zero."""
    return {"currency_code": currency, "amount_micros": round(value * 1_000_000)}  # convert.units_to_micros


def _cost(cost: CostBreakdown, currency: str) -> dict[str, Any]:
    shipments = []
    for s in cost.shipments:
        shipment = {
            "node_id": s.node_id,
            "zone": s.zone,
            "distance_miles": s.distance_miles,
            "units": s.units,
            "weight_lb": s.weight_lb,
            "pick_pack": _money(s.pick_pack, currency),
            "carrier_base": _money(s.carrier_base, currency),
            "carrier_weight": _money(s.carrier_weight, currency),
            "handling": _money(s.handling, currency),
            "rule_penalty": _money(s.rule_penalty, currency),
            "total": _money(s.total, currency),
        }
        if s.carrier_service:
            shipment["carrier_service"] = s.carrier_service
            shipment["ship_date"] = _day(s.ship_day)
            shipment["delivery_date"] = _day(s.delivery_day)
        shipments.append(shipment)
    return {
        "shipments": shipments,
        "split_penalty": _money(cost.split_penalty, currency),
        "backorder_penalty": _money(cost.backorder_penalty, currency),
        "backordered_units": cost.backordered_units,
        "total": _money(cost.total, currency),
        "late_days": cost.late_days,
        "late_penalty": _money(cost.late_penalty, currency),
    }


# Said on every decision made without planner rules, so a store left without a rule set is noticed.
NO_ACTIVE_RULE_SET = (
    "no active rule set: no planner rule shaped this decision (activate one with `oms-sourcing rules activate`"
    " or the rules_path setting)"
)


def decision_fields(
    decision: Decision,
    *,
    decision_id: str,
    currency: str,
    network_version: str,
    solve_ms: float,
    total_ms: float,
) -> dict[str, Any]:
    """A Decision message's fields as plain values: a response holding the decision is built from
    them in one constructor call (``SourceResponse(decision=fields)``), where passing a built
    Decision message copies it whole (5 µs for 25 explanations)."""
    explanations = []
    for note in decision.node_notes:
        explanation: dict[str, Any] = {
            "node_id": note.node_id,
            "verdict": _VERDICT[note.verdict],
            "detail": note.detail,
            "rule_ids": note.rule_ids,
        }
        if note.extra_cost is not None:
            explanation["extra_cost"] = _money(max(0.0, note.extra_cost), currency)
        explanations.append(explanation)
    cost = decision.cost
    fields: dict[str, Any] = {}
    if cost.delivery_day:
        fields["ship_date"] = _day(cost.ship_day)
        fields["delivery_date"] = _day(cost.delivery_day)
    if not decision.rule_set_version:
        fields["warnings"] = [NO_ACTIVE_RULE_SET]
    return dict(
        decision_id=decision_id,
        order_id=decision.order_id,
        allocations=[
            {"line_id": a.line_id, "node_id": a.node_id, "sku": a.sku, "qty": a.qty} for a in decision.allocations
        ],
        cost=_cost(cost, currency),
        unfilled=[{"line_id": u.line_id, "sku": u.sku, "qty": u.qty, "reason": u.reason} for u in decision.unfilled],
        status=_STATUS[decision.status],
        path=_PATH[decision.path],
        bound=_money(decision.bound, currency),
        gap=decision.gap,
        candidate_nodes=decision.candidates,
        timings={"solve_ms": solve_ms, "total_ms": total_ms},
        explanations=explanations,
        rule_set_version=decision.rule_set_version,
        network_version=network_version,
        fired_rules=decision.fired_rules,
        holds=[{"rule_id": h.rule_id, "reason": h.reason} for h in decision.holds],
        **fields,
    )
