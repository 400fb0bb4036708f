"""Rules about time over real gRPC, on both stores, one rule of each kind: a channel requiring a
carrier service, a node closed for a date range, a peak-day cut-off; and a rule naming a service
the network lacks refused at activation.

The network is test_promise_api.py's (NEAR: GROUND only, 2 days; FAR: GROUND 4 days, NEXT_DAY 1
day before its 12:00 cut-off); the clock reads Tuesday 1 December 2026, 10:00 UTC.
"""

from __future__ import annotations

import grpc
import pytest

from server.api.proto import common_pb2, orders_pb2, orders_pb2_grpc, rules_pb2, rules_pb2_grpc, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.test_promise_api import HOME, checkout  # noqa: F401 (the network fixture)
from tests.integration.test_promise_sourcing_api import api, clock, note, shipments, source  # noqa: F401

RULES = """rules:
  - id: marketplace-next-day
    when: {order: {channel: MARKETPLACE}}
    then: {ship_by: {carrier_service: NEXT_DAY}}
  - id: near-remodel
    when: {order: {attributes: {test: remodel}}}
    then: {close: {node: {id: NEAR}, from: 2026-11-30, to: 2026-12-02, reason: remodel}}
  - id: peak-cutoff
    when: {order: {attributes: {test: peak}}}
    then: {cutoff: {node: {id: FAR}, carrier_service: NEXT_DAY, from: 2026-12-01, to: 2026-12-01, time: "09:00"}}
"""


def activate(client: Api, text: str) -> None:
    rules = rules_pb2_grpc.RulesServiceStub(client.channel)
    rules.ActivateRules(
        rules_pb2.ActivateRulesRequest(files=[rules_pb2.RuleFile(name="time.yaml", content=text)], activated_by="ann")
    )


def test_one_rule_of_each_kind_shapes_the_decision(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    activate(api, RULES)
    plain = source(checkout)
    assert shipments(plain) == [("NEAR", "GROUND", "2026-12-01", "2026-12-03")] and not plain.fired_rules

    marketplace = source(checkout, channel="MARKETPLACE")
    assert shipments(marketplace) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert note(marketplace, "NEAR") == ("NODE_VERDICT_LATE", "does not ship by NEXT_DAY (rule marketplace-next-day)")
    assert list(marketplace.fired_rules) == ["marketplace-next-day"]

    remodel = source(checkout, attributes={"test": "remodel"})
    assert shipments(remodel) == [("FAR", "GROUND", "2026-12-01", "2026-12-07")]
    assert note(remodel, "NEAR") == (
        "NODE_VERDICT_LATE",
        "is closed Mon 30 Nov-Wed 2 Dec (remodel; rule near-remodel)",
    )

    on_time = source(checkout, promised_date="2026-12-02")
    assert shipments(on_time) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    peak = source(checkout, promised_date="2026-12-02", attributes={"test": "peak"})  # 09:00 passed at 10:00
    assert not peak.allocations
    assert peak.unfilled[0].reason == "NEAR, FAR would deliver Thu 3 Dec, after the promised Wed 2 Dec"


def test_a_rule_naming_a_service_the_network_lacks_is_refused(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        activate(api, "rules:\n  - {id: boat, then: {ship_by: {carrier_service: CARGO_SHIP}}}\n")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown carrier service 'CARGO_SHIP'" in (caught.value.details() or "") + str(
        caught.value.trailing_metadata()
    )
    assert shipments(source(checkout)) == [("NEAR", "GROUND", "2026-12-01", "2026-12-03")]


def test_allocate_batch_decides_an_order_rules_about_time_fire_on_alone(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    """A joint batch decision has no instant: the marketplace order is decided alone, by NEXT_DAY."""
    activate(api, RULES)
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)

    def allocate(order_id: str, channel: str) -> orders_pb2.AllocateRequest:
        lines = [common_pb2.OrderLine(line_id="L0", sku="A", qty=1)]
        order = common_pb2.Order(order_id=order_id, ship_to=HOME, lines=lines, channel=channel)
        return orders_pb2.AllocateRequest(request_key=f"k-{order_id}", order=order)

    batch = orders.AllocateBatch(
        orders_pb2.AllocateBatchRequest(orders=[allocate("M", "MARKETPLACE"), allocate("W", "WEB")])
    )
    by_order = {r.response.order.order_id: r.response.decision for r in batch.results}
    assert shipments(by_order["M"]) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert [s.node_id for s in by_order["W"].cost.shipments] == ["NEAR"]
