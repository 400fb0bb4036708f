"""Joint decisions keep promises, over real gRPC on both stores: AllocateBatch and
ReoptimizePending never make an order carrying a promised date late to save cost.

The network is test_promise_api.py's (NEAR: GROUND only, 2 days, the cheaper; FAR: GROUND 4 days,
NEXT_DAY 1 day before its 12:00 cut-off); the server's clock reads Tuesday 1 December 2026,
10:00 UTC, so only FAR by NEXT_DAY delivers by Wednesday 2 December.
"""

from __future__ import annotations

import pytest

from server.api.proto import common_pb2, network_pb2, orders_pb2, orders_pb2_grpc, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import count
from tests.integration.test_promise_api import HOME, checkout  # noqa: F401 (the network fixture)
from tests.integration.test_promise_sourcing_api import api, clock, shipments  # noqa: F401


def allocate(order_id: str, promised_date: str = "") -> orders_pb2.AllocateRequest:
    lines = [common_pb2.OrderLine(line_id="L0", sku="A", qty=2)]
    order = common_pb2.Order(order_id=order_id, ship_to=HOME, lines=lines, promised_date=promised_date)
    return orders_pb2.AllocateRequest(request_key=f"k-{order_id}", order=order)


def holds(orders: orders_pb2_grpc.OrderServiceStub, order_id: str) -> list[tuple[str, int]]:
    view = orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id)).order
    return sorted((r.node_id, r.qty) for r in view.reservations)


def test_allocate_batch_keeps_a_promise_order_on_time(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    batch = orders.AllocateBatch(orders_pb2.AllocateBatchRequest(orders=[allocate("P", "2026-12-02"), allocate("W")]))
    by_order = {r.response.order.order_id: r.response.decision for r in batch.results}
    assert shipments(by_order["P"]) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert by_order["P"].delivery_date == "2026-12-02"
    assert [s.node_id for s in by_order["W"].cost.shipments] == ["NEAR"]


def test_reoptimize_pending_moves_no_promise_order_to_a_node_that_would_be_late(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    # NEAR has no A while W (no promise) and P (promised Wed 2 Dec) are allocated: both hold FAR's.
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 0)]))
    orders.Allocate(allocate("W"))
    placed = orders.Allocate(allocate("P", "2026-12-02"))
    assert shipments(placed.decision) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert holds(orders, "W") == holds(orders, "P") == [("FAR", 2)]

    # NEAR is restocked: ground from it is cheaper for both, but delivers Thursday, after P's promise.
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 5)]))
    response = orders.ReoptimizePending(orders_pb2.ReoptimizePendingRequest(request_key="re-1"))
    assert [c.order_id for c in response.changed] == ["W"]
    assert [(a.node_id, a.qty) for a in response.changed[0].after] == [("NEAR", 2)]
    assert holds(orders, "W") == [("NEAR", 2)]
    assert holds(orders, "P") == [("FAR", 2)], "P keeps the only node delivering by its promise"


def test_reoptimize_pending_keeps_each_lines_own_promise(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    """L0 promised Wed 2 Dec (FAR by air only), L1 Mon 7 Dec: NEAR keeps L1's promise, not L0's,
    so the re-plan may not move L0 there, however cheaper one box from NEAR would be."""
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 0)]))
    lines = [
        common_pb2.OrderLine(line_id="L0", sku="A", qty=2, promised_date="2026-12-02"),
        common_pb2.OrderLine(line_id="L1", sku="A", qty=1, promised_date="2026-12-07"),
    ]
    order = common_pb2.Order(order_id="P", ship_to=HOME, lines=lines)
    placed = orders.Allocate(orders_pb2.AllocateRequest(request_key="k-P", order=order))
    assert shipments(placed.decision) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 5)]))
    response = orders.ReoptimizePending(orders_pb2.ReoptimizePendingRequest(request_key="re-1"))
    assert not response.changed
    assert holds(orders, "P") == [("FAR", 1), ("FAR", 2)]  # L1 and L0 still at FAR


def test_allocate_batch_decides_a_promise_order_jointly_at_its_true_price(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    """NEAR holds 2 A, enough for one order. By level rates alone P (listed first) would take them
    and W go to FAR; priced as Allocate prices it, P can only go FAR by NEXT_DAY, so the joint
    decision leaves NEAR to W, and the batch's total is what its orders' decisions cost."""
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 2)]))
    batch = orders.AllocateBatch(orders_pb2.AllocateBatchRequest(orders=[allocate("P", "2026-12-02"), allocate("W")]))
    by_order = {r.response.order.order_id: r.response.decision for r in batch.results}
    assert shipments(by_order["P"]) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert [s.node_id for s in by_order["W"].cost.shipments] == ["NEAR"]
    assert holds(orders, "W") == [("NEAR", 2)]
    costs = sum(d.cost.total.amount_micros for d in by_order.values())
    assert batch.total_cost.amount_micros == costs
    assert batch.bound.amount_micros <= costs


@pytest.mark.parametrize("promised_date", ["", "2026-12-07"])
def test_allocate_batch_decides_an_earliest_delivery_order_jointly_its_day_first(
    api: Api,  # noqa: F811
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
    promised_date: str,
) -> None:
    """E wants its earliest delivery: FAR by NEXT_DAY, Wed 2 Dec (NEAR by ground is Thu 3 Dec). In the
    joint decision its day comes first, then the batch's cost: W (no promise) takes NEAR's 2 A by
    ground, which E leaves, rather than FAR's, and the batch's total is what its decisions cost.
    (Before: without a promise E was decided by cost, with one alone after the batch had placed W.)"""
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 2)]))
    earliest = allocate("E", promised_date)
    earliest.order.objective = common_pb2.OBJECTIVE_MODE_EARLIEST_DELIVERY
    batch = orders.AllocateBatch(orders_pb2.AllocateBatchRequest(orders=[earliest, allocate("W")]))
    by_order = {r.response.order.order_id: r.response.decision for r in batch.results}
    assert shipments(by_order["E"]) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert by_order["E"].delivery_date == "2026-12-02"
    assert [s.node_id for s in by_order["W"].cost.shipments] == ["NEAR"]
    assert holds(orders, "E") == [("FAR", 2)] and holds(orders, "W") == [("NEAR", 2)]
    costs = sum(d.cost.total.amount_micros for d in by_order.values())
    assert batch.total_cost.amount_micros == costs
    assert batch.bound.amount_micros <= costs
