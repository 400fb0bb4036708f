"""What an allocation stores as its answer: the decision's summary and the response bytes a replay returns."""

from __future__ import annotations

import json
from collections.abc import Callable

from engine.orders.records import OrderRecord
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


def order_response(record: OrderRecord) -> bytes:
    return orders_pb2.OrderResponse(order=order_view(record)).SerializeToString(deterministic=True)


class AllocateResponder:
    """``allocate_response`` that keeps the message it built: the handler returns it as is
    instead of parsing the stored bytes back (a replay still parses what was stored)."""

    def __init__(self, decision: sourcing_pb2.Decision) -> None:
        self._decision = decision
        self._built: tuple[bytes, orders_pb2.AllocateResponse] | None = None

    def __call__(self, record: OrderRecord) -> bytes:
        message = orders_pb2.AllocateResponse(order=order_view(record), decision=self._decision)
        stored = message.SerializeToString(deterministic=True)
        self._built = (stored, message)
        return stored

    def message_for(self, stored: bytes) -> orders_pb2.AllocateResponse:
        if self._built is not None and self._built[0] is stored:
            return self._built[1]
        return orders_pb2.AllocateResponse.FromString(stored)


def allocate_response(decision: sourcing_pb2.Decision) -> Callable[[OrderRecord], bytes]:
    def respond(record: OrderRecord) -> bytes:
        response = orders_pb2.AllocateResponse(order=order_view(record), decision=decision)
        return response.SerializeToString(deterministic=True)

    return respond
