"""Pickup (BOPIS) over real gRPC: no ship-to needed, the pickup node checked, its outcomes explained."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from server.api.proto import common_pb2, network_pb2, orders_pb2, sourcing_pb2, sourcing_pb2_grpc
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import count, node, violations
from tests.integration.orders_helpers import Client, allocate, serve_orders, state

SHOP = common_pb2.GeoPoint(lat=41.88, lon=-87.63)


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = serve_orders(start_server, store, [("NEAR", "A", 5)])
    store_type = common_pb2.NODE_TYPE_STORE
    client.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node("SHOP", type=store_type, location=SHOP, can_pickup=True),
                node("SHUT", type=store_type, location=SHOP, can_pickup=True, is_open=False),
            ]
        )
    )
    client.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(updates=[count("SHOP", "A", 3), count("SHUT", "A", 3)])
    )
    yield client
    client.channel.close()


def _pickup(order_id: str, at: str, qty: int = 1, sku: str = "A") -> common_pb2.Order:
    """A pickup order as a storefront sends it: the store, no ship-to."""
    return common_pb2.Order(
        order_id=order_id,
        delivery_method=common_pb2.DELIVERY_METHOD_PICKUP,
        pickup_node_id=at,
        lines=[common_pb2.OrderLine(line_id="L0", sku=sku, qty=qty)],
    )


def _source(client: Client, order: common_pb2.Order) -> sourcing_pb2.Decision:
    stub = sourcing_pb2_grpc.SourcingServiceStub(client.channel)
    return stub.Source(sourcing_pb2.SourceRequest(order=order)).decision


def _refused(call: object) -> dict[str, str]:
    with pytest.raises(grpc.RpcError) as error:
        call()  # type: ignore[operator]
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    return violations(error.value)


def test_a_pickup_order_needs_no_ship_to_and_is_served_from_its_node(client: Client) -> None:
    decision = _source(client, _pickup("P-1", "SHOP", qty=2))
    assert [(a.node_id, a.qty) for a in decision.allocations] == [("SHOP", 2)]
    (shipment,) = decision.cost.shipments
    assert (shipment.zone, shipment.distance_miles) == (0, 0.0)

    # Allocated, shipped and returned: the stored order is read back without a ship-to each time,
    # and the return comes back from where it was collected.
    placed = client.orders.Allocate(allocate(_pickup("P-1", "SHOP", qty=2)))
    assert state(placed.order) == "ALLOCATED" and [r.node_id for r in placed.order.reservations] == ["SHOP"]
    ship = orders_pb2.ConfirmShipmentRequest(request_key="s", order_id="P-1", node_id="SHOP")
    client.orders.ConfirmShipment(ship)
    back = orders_pb2.ReturnRequest(
        request_key="r", order_id="P-1", lines=[orders_pb2.LineUnits(line_id="L0", qty=1)],
        disposition=orders_pb2.DISPOSITION_RESTOCK,
    )  # fmt: skip
    assert client.orders.Return(back).order.events[-1].type == "RETURNED"


def test_a_pickup_node_that_is_unknown_or_takes_no_pickups_is_a_bad_field(client: Client) -> None:
    stub = sourcing_pb2_grpc.SourcingServiceStub(client.channel)
    for at, why in (("NEAR", "does not take pickups"), ("NOPE", "unknown node")):
        source = sourcing_pb2.SourceRequest(order=_pickup("P-1", at))
        assert why in _refused(lambda r=source: stub.Source(r))["order.pickup_node_id"]  # type: ignore[misc]
        request = allocate(_pickup("P-1", at))
        assert why in _refused(lambda r=request: client.orders.Allocate(r))["order.pickup_node_id"]  # type: ignore[misc]
    assert client.available("A", "NEAR") == 5  # nothing reserved, nothing stored
    batch = client.orders.AllocateBatch(
        orders_pb2.AllocateBatchRequest(orders=[allocate(_pickup("P-2", "SHOP")), allocate(_pickup("P-3", "NEAR"))])
    )
    assert state(batch.results[0].response.order) == "ALLOCATED"
    error = batch.results[1].error
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert [v.field for v in error.field_violations] == ["orders[1].order.pickup_node_id"]


def test_a_closed_pickup_node_is_a_decision_with_its_reason(client: Client) -> None:
    decision = _source(client, _pickup("P-1", "SHUT"))
    assert not decision.allocations
    assert [(u.line_id, u.reason) for u in decision.unfilled] == [("L0", "pickup node SHUT is closed")]
    empty = _source(client, _pickup("P-2", "SHOP", sku="B"))
    assert [u.reason for u in empty.unfilled] == ["pickup node SHOP has no B available"]
