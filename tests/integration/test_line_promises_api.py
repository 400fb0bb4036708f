"""A promise per line over real gRPC on both stores: a line's own promised date chooses the
service of the shipment carrying it, Allocate keeps it (the stored order shows it per line), a
line no node can bring in time waits LATE with the line named, bad line promises are refused
naming the line's field.

The network is test_promise_api.py's (NEAR: GROUND only, 2 days; FAR: GROUND 4 days, NEXT_DAY 1
day before its 12:00 cut-off; A at both, B at FAR only); the clock reads Tuesday 1 December 2026,
10:00 UTC.
"""

from __future__ import annotations

import grpc
import pytest

from server.api.proto import common_pb2, network_pb2, orders_pb2, orders_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import count, violations
from tests.integration.test_promise_api import HOME, checkout  # noqa: F401 (the network fixture)
from tests.integration.test_promise_sourcing_api import api, clock, shipments  # noqa: F401


def order(*lines: common_pb2.OrderLine, **fields: object) -> common_pb2.Order:
    return common_pb2.Order(order_id="O-1", ship_to=HOME, lines=lines, **fields)  # type: ignore[arg-type]


def line(line_id: str, sku: str, qty: int, **fields: str) -> common_pb2.OrderLine:
    return common_pb2.OrderLine(line_id=line_id, sku=sku, qty=qty, **fields)


def test_a_lines_own_date_chooses_the_service_and_allocate_keeps_it(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    # Promised Mon 7 Dec, the order goes from FAR by ground (A and B in one box).
    plain = order(line("L0", "A", 2), line("L1", "B", 1), promised_date="2026-12-07")
    decided = checkout.Source(sourcing_pb2.SourceRequest(order=plain)).decision
    assert shipments(decided) == [("FAR", "GROUND", "2026-12-01", "2026-12-07")]
    # L0 promised Wed 2 Dec: only FAR by NEXT_DAY keeps it, and keeps L1's Monday too.
    lined = order(line("L0", "A", 2, promised_date="2026-12-02"), line("L1", "B", 1), promised_date="2026-12-07")
    decided = checkout.Source(sourcing_pb2.SourceRequest(order=lined)).decision
    assert shipments(decided) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert sorted((a.line_id, a.node_id) for a in decided.allocations) == [("L0", "FAR"), ("L1", "FAR")]

    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    placed = orders.Allocate(orders_pb2.AllocateRequest(request_key="k-1", order=lined))
    assert shipments(placed.decision) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    view = orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert view.promised_date == "2026-12-07"
    assert [(x.line_id, x.promised_date) for x in view.lines] == [("L0", "2026-12-02"), ("L1", "")]


def test_a_line_no_node_brings_in_time_is_named_and_allocate_holds_the_order_late(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("FAR", "A", 0)]))
    lined = order(line("L0", "A", 1, promised_date="2026-12-02"), line("L1", "B", 1), promised_date="2026-12-07")
    decided = checkout.Source(sourcing_pb2.SourceRequest(order=lined)).decision
    assert [(a.line_id, a.node_id) for a in decided.allocations] == [("L1", "FAR")]
    (unfilled,) = decided.unfilled
    assert (unfilled.line_id, unfilled.reason) == (
        "L0",
        "NEAR would deliver Thu 3 Dec, after line L0's promised Wed 2 Dec",
    )

    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    placed = orders.Allocate(orders_pb2.AllocateRequest(request_key="k-1", order=lined))
    assert orders_pb2.OrderState.Name(placed.order.state) == "ORDER_STATE_HELD"
    (hold,) = placed.decision.holds
    assert hold.rule_id == "LATE" and hold.reason.startswith("cannot keep the promised Wed 2 Dec (2026-12-02)")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"promised_date": "2026-11-20"}, "order.lines[1].promised_date", "is in the past"),
        ({"promised_date": "2026-13-01"}, "order.lines[1].promised_date", "YYYY-MM-DD"),
        ({"carrier_service": "CARGO_SHIP"}, "order.lines[1].carrier_service", "unknown carrier service 'CARGO_SHIP'"),
    ],
)
def test_bad_line_promises_are_refused_naming_the_line(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
    fields: dict[str, str],
    field: str,
    words: str,
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        checkout.Source(sourcing_pb2.SourceRequest(order=order(line("L0", "A", 1), line("L1", "A", 1, **fields))))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert words in violations(caught.value)[field]
