"""What an allocation stores as its answer: the decision's summary and the response bytes a replay returns."""

from __future__ import annotations

import json

from engine.orders import answers
from server.api.order_proto import order_view
from server.api.proto import orders_pb2, sourcing_pb2

MAX_HOLD_MS = 30 * 24 * 3600 * 1000  # a hold longer than 30 days is a mistake, not a reservation


def decision_summary(decision: sourcing_pb2.Decision) -> str:
    """What orders.decision keeps: the essentials, not the explanations (MessageToJson of a whole
    decision cost ~0.3 ms a call, a tenth of an Allocate's CPU)."""
    return json.dumps(
        {
            "decision_id": decision.decision_id,
            "status": sourcing_pb2.SolveStatus.Name(decision.status),
            "path": sourcing_pb2.DecisionPath.Name(decision.path),
            "total_micros": decision.cost.total.amount_micros,
            "allocations": [[a.line_id, a.node_id, a.sku, a.qty] for a in decision.allocations],
            "unfilled": [[u.line_id, u.sku, u.qty, u.reason] for u in decision.unfilled],
            "rule_set_version": decision.rule_set_version,
            "network_version": decision.network_version,
            # What `oms-sourcing report` counts (rules fired, held orders); not in the response bytes.
            "fired_rules": list(decision.fired_rules),
            "holds": [[h.rule_id, h.reason] for h in decision.holds],
        },
        sort_keys=True,
    )


def order_response(stored: bytes) -> orders_pb2.OrderResponse:
    """The OrderResponse of an answer the store kept (engine.orders.answers), first call or replay."""
    answer = answers.unpack(stored)
    if answer is None:  # stored whole by an earlier release
        return orders_pb2.OrderResponse.FromString(stored)
    return orders_pb2.OrderResponse(order=order_view(answer.record))


def allocate_response(stored: bytes) -> orders_pb2.AllocateResponse:
    """The AllocateResponse of an answer the store kept: the order, and the decision attached."""
    answer = answers.unpack(stored)
    if answer is None:  # stored whole by an earlier release
        return orders_pb2.AllocateResponse.FromString(stored)
    decision = sourcing_pb2.Decision.FromString(answer.attachment)
    return orders_pb2.AllocateResponse(order=order_view(answer.record), decision=decision)


def decision_bytes(decision: sourcing_pb2.Decision) -> bytes:
    """What an allocation attaches to its stored answer."""
    return decision.SerializeToString(deterministic=True)
