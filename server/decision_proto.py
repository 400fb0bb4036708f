"""Engine decisions to protobuf: money as integer micros, enums by name."""

from __future__ import annotations

from engine.decision import CostBreakdown, Decision, DecisionPath, NodeVerdict, ShipmentCost, SolveStatus
from server.convert import money_to_proto
from server.proto import sourcing_pb2

# Engine enums map to proto enum values by name: <ENUM>_<engine value>.
_STATUS = {status: f"SOLVE_STATUS_{status.value}" for status in SolveStatus}
_PATH = {path: f"DECISION_PATH_{path.value}" for path in DecisionPath}
_VERDICT = {verdict: f"NODE_VERDICT_{verdict.value}" for verdict in NodeVerdict}


def shipment_to_proto(s: ShipmentCost, currency: str) -> sourcing_pb2.Shipment:
    return sourcing_pb2.Shipment(
        node_id=s.node_id,
        zone=s.zone,
        distance_miles=s.distance_miles,
        units=s.units,
        weight_lb=s.weight_lb,
        pick_pack=money_to_proto(s.pick_pack, currency),
        carrier_base=money_to_proto(s.carrier_base, currency),
        carrier_weight=money_to_proto(s.carrier_weight, currency),
        handling=money_to_proto(s.handling, currency),
        rule_penalty=money_to_proto(s.rule_penalty, currency),
        total=money_to_proto(s.total, currency),
    )


def cost_to_proto(cost: CostBreakdown, currency: str) -> sourcing_pb2.CostBreakdown:
    return sourcing_pb2.CostBreakdown(
        shipments=[shipment_to_proto(s, currency) for s in cost.shipments],
        split_penalty=money_to_proto(cost.split_penalty, currency),
        backorder_penalty=money_to_proto(cost.backorder_penalty, currency),
        backordered_units=cost.backordered_units,
        total=money_to_proto(cost.total, currency),
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
    explanations = []
    for note in decision.node_notes:
        message = sourcing_pb2.NodeExplanation(
            node_id=note.node_id, verdict=_VERDICT[note.verdict], detail=note.detail, rule_ids=list(note.rule_ids)
        )
        if note.extra_cost is not None:
            message.extra_cost.CopyFrom(money_to_proto(max(0.0, note.extra_cost), currency))
        explanations.append(message)
    return sourcing_pb2.Decision(
        decision_id=decision_id,
        order_id=decision.order_id,
        allocations=[
            sourcing_pb2.Allocation(line_id=a.line_id, node_id=a.node_id, sku=a.sku, qty=a.qty)
            for a in decision.allocations
        ],
        cost=cost_to_proto(decision.cost, currency),
        unfilled=[
            sourcing_pb2.UnfilledLine(line_id=u.line_id, sku=u.sku, qty=u.qty, reason=u.reason)
            for u in decision.unfilled
        ],
        status=_STATUS[decision.status],
        path=_PATH[decision.path],
        bound=money_to_proto(decision.bound, currency),
        gap=decision.gap,
        candidate_nodes=decision.candidates,
        timings=sourcing_pb2.Timings(solve_ms=solve_ms, total_ms=total_ms),
        explanations=explanations,
        rule_set_version=decision.rule_set_version,
        network_version=network_version,
        fired_rules=list(decision.fired_rules),
        holds=[sourcing_pb2.RuleHold(rule_id=h.rule_id, reason=h.reason) for h in decision.holds],
    )
