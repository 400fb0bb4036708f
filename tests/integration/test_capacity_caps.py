"""A rule's daily shipment cap binds in the live service: counted from today's reservations and shipments."""

from __future__ import annotations

import time

from server.api.proto import orders_pb2_grpc, rules_pb2, rules_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.orders_helpers import allocate, load_network, order

CAP_NEAR_AT_ONE = "rules:\n  - {id: near-one-a-day, then: {limit: {node: {id: NEAR}, max_shipments_per_day: 1}}}\n"


def test_a_node_at_its_daily_cap_is_passed_over(api: Api) -> None:
    load_network(api.channel, [("NEAR", "A", 5), ("FAR", "A", 5)])
    rules = rules_pb2_grpc.RulesServiceStub(api.channel)
    rules.ActivateRules(
        rules_pb2.ActivateRulesRequest(
            files=[rules_pb2.RuleFile(name="cap.yaml", content=CAP_NEAR_AT_ONE)], activated_by="test"
        )
    )
    sourcing = sourcing_pb2_grpc.SourcingServiceStub(api.channel)
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)

    first = orders.Allocate(allocate(order("CAP-1", ("A", 1))))
    assert {a.node_id for a in first.decision.allocations} == {"NEAR"}
    time.sleep(1.1)  # today's counts are re-read at most once a second
    second = sourcing.Source(sourcing_pb2.SourceRequest(order=order("CAP-2", ("A", 1)))).decision
    assert {a.node_id for a in second.allocations} == {"FAR"}
    assert "near-one-a-day" in second.fired_rules
