"""Ship-tos outside the served area over real gRPC: new orders refused naming the field, stored
orders decided, returned and re-planned as they were accepted."""

from __future__ import annotations

import grpc
import pytest

from server.api.proto import common_pb2, network_pb2, orders_pb2, sourcing_pb2, sourcing_pb2_grpc
from server.store.base import Store
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import delta, violations
from tests.integration.orders_helpers import allocate, order, serve_orders, state

HONOLULU = common_pb2.GeoPoint(lat=21.31, lon=-157.86)
LONDON = common_pb2.GeoPoint(lat=51.51, lon=-0.13)
ANCHORAGE_ZIP = common_pb2.PostalAddress(country_code="US", postal_code="99501")


def _away(order_id: str, qty: int = 1, **where: object) -> common_pb2.Order:
    msg = order(order_id, ("A", qty))
    msg.ClearField("ship_to")
    for name, value in where.items():
        getattr(msg, name).CopyFrom(value)
    return msg


def _refused(call: object) -> dict[str, str]:
    with pytest.raises(grpc.RpcError) as error:
        call()  # type: ignore[operator]
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    return violations(error.value)


def test_a_ship_to_outside_the_served_area_is_refused_naming_the_field(
    start_server: ServerFactory, store: Store
) -> None:
    client = serve_orders(start_server, store, [("NEAR", "A", 5)])
    source = sourcing_pb2_grpc.SourcingServiceStub(client.channel).Source
    for where, field in (
        ({"ship_to": HONOLULU}, "order.ship_to"),
        ({"ship_to": LONDON}, "order.ship_to"),
        ({"ship_to_address": ANCHORAGE_ZIP}, "order.ship_to_address.postal_code"),
    ):
        request = sourcing_pb2.SourceRequest(order=_away("W-1", **where))
        assert "outside the area this service ships to (US-CONTIGUOUS" in _refused(lambda r=request: source(r))[field]  # type: ignore[misc]
        placed = allocate(_away("W-1", **where))
        assert field in _refused(lambda r=placed: client.orders.Allocate(r))  # type: ignore[misc]
    missing = orders_pb2.GetOrderRequest(order_id="W-1")
    with pytest.raises(grpc.RpcError) as error:
        client.orders.GetOrder(missing)
    assert error.value.code() is grpc.StatusCode.NOT_FOUND  # nothing was stored
    batch = client.orders.AllocateBatch(
        orders_pb2.AllocateBatchRequest(
            orders=[allocate(order("W-2", ("A", 1))), allocate(_away("W-3", ship_to=HONOLULU))]
        )
    )
    assert state(batch.results[0].response.order) == "ALLOCATED"
    assert [v.field for v in batch.results[1].error.field_violations] == ["orders[1].order.ship_to"]
    client.channel.close()


def test_a_retailer_that_serves_alaska_opts_in(start_server: ServerFactory, store: Store) -> None:
    client = serve_orders(start_server, store, [("NEAR", "A", 5)], served_regions="US-CONTIGUOUS,US-AK")
    stub = sourcing_pb2_grpc.SourcingServiceStub(client.channel)
    decision = stub.Source(sourcing_pb2.SourceRequest(order=_away("W-1", ship_to_address=ANCHORAGE_ZIP))).decision
    assert decision.cost.shipments[0].zone == 8  # costed by distance, as the setting's documentation warns
    request = sourcing_pb2.SourceRequest(order=_away("W-2", ship_to=HONOLULU))
    assert "US-AK, US-CONTIGUOUS" in _refused(lambda: stub.Source(request))["order.ship_to"]
    client.channel.close()


def test_an_order_accepted_before_the_area_shrank_is_still_healed_replanned_and_returned(
    start_server: ServerFactory, store: Store
) -> None:
    before = serve_orders(start_server, store, [("NEAR", "A", 2)], served_regions="ANY")
    placed = before.orders.Allocate(allocate(_away("W-1", qty=3, ship_to=HONOLULU)))
    assert state(placed.order) == "PARTIALLY_ALLOCATED"
    before.channel.close()

    client = serve_orders(start_server, store, None)  # the default area, on the same store
    healed = client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("NEAR", "A", 5)]))
    assert healed.results
    view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="W-1")).order
    assert state(view) == "ALLOCATED" and view.events[-1].type == "RESOURCED"
    dry = client.orders.ReoptimizePending(orders_pb2.ReoptimizePendingRequest(dry_run=True))
    assert dry.orders_considered == 1 and not dry.skipped
    client.orders.ConfirmShipment(orders_pb2.ConfirmShipmentRequest(request_key="s", order_id="W-1", node_id="NEAR"))
    back = orders_pb2.ReturnRequest(
        request_key="r", order_id="W-1", lines=[orders_pb2.LineUnits(line_id="L0", qty=1)],
        disposition=orders_pb2.DISPOSITION_RESTOCK,
    )  # fmt: skip
    assert client.orders.Return(back).order.events[-1].type == "RETURNED"
    client.channel.close()
