"""The pilot scope over real gRPC (both stores): orders and carts outside the configured channels or
SKUs are refused with FAILED_PRECONDITION naming each one, nothing reserved; inside, decided as ever."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2

from server.api.proto import (
    common_pb2,
    network_pb2,
    network_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    sourcing_pb2,
    sourcing_pb2_grpc,
)
from server.store import Store
from tests.integration.conftest import ServerFactory, make_config
from tests.integration.helpers import count, detail_of, item, node

HOME = common_pb2.GeoPoint(lat=35.2, lon=-90.1)


class Pilot:
    def __init__(self, channel: grpc.Channel) -> None:
        self.network = network_pb2_grpc.NetworkServiceStub(channel)
        self.orders = orders_pb2_grpc.OrderServiceStub(channel)
        self.sourcing = sourcing_pb2_grpc.SourcingServiceStub(channel)


@pytest.fixture
def pilot(start_server: ServerFactory, store: Store) -> Iterator[Pilot]:
    config = make_config(pilot_channels="web, app", pilot_skus="GIFT-1", pilot_sku_prefixes="HOM-,ACC-")
    running = start_server(store, config)
    with grpc.insecure_channel(running.target) as channel:
        client = Pilot(channel)
        client.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("DC-1")]))
        skus = ["HOM-1", "ACC-1", "GIFT-1", "ELC-1"]
        client.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item(s) for s in skus]))
        client.network.UpsertSkuAliases(
            network_pb2.UpsertSkuAliasesRequest(
                aliases=[network_pb2.SkuAlias(kind=network_pb2.SKU_ALIAS_KIND_CHANNEL, alias="AMZ-ELC", sku="ELC-1")]
            )
        )
        client.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("DC-1", s, 10) for s in skus]))
        yield client


def order(channel: str, *skus: str, order_id: str = "O-1") -> common_pb2.Order:
    return common_pb2.Order(
        order_id=order_id,
        channel=channel,
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id=f"L{i}", sku=sku, qty=1) for i, sku in enumerate(skus)],
    )


def refused(error: grpc.RpcError) -> dict[str, str]:
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    failure = detail_of(error, error_details_pb2.PreconditionFailure)
    assert {v.type for v in failure.violations} == {"PILOT_SCOPE"}
    return {v.subject: v.description for v in failure.violations}


def test_inside_the_pilot_orders_are_decided(pilot: Pilot) -> None:
    decision = pilot.sourcing.Source(sourcing_pb2.SourceRequest(order=order("web", "HOM-1", "GIFT-1"))).decision
    assert [a.sku for a in decision.allocations] == ["HOM-1", "GIFT-1"]
    allocated = pilot.orders.Allocate(orders_pb2.AllocateRequest(request_key="k", order=order("app", "ACC-1")))
    assert [a.qty for a in allocated.decision.allocations] == [1]


def test_source_outside_the_pilot_names_the_channel_and_each_sku(pilot: Pilot) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        pilot.sourcing.Source(sourcing_pb2.SourceRequest(order=order("marketplace", "HOM-1", "ELC-1", "AMZ-ELC")))
    found = refused(caught.value)
    assert set(found) == {"order.channel", "order.lines[1].sku", "order.lines[2].sku"}
    assert "'marketplace'" in found["order.channel"] and "app, web" in found["order.channel"]
    assert "'ELC-1'" in found["order.lines[2].sku"]  # an alias is judged by the SKU it names
    assert "marketplace" in caught.value.details() and "ELC-1" in caught.value.details()


def test_allocate_outside_the_pilot_reserves_nothing(pilot: Pilot) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        pilot.orders.Allocate(orders_pb2.AllocateRequest(request_key="k-1", order=order("web", "ELC-1")))
    assert set(refused(caught.value)) == {"order.lines[0].sku"}
    (position,) = pilot.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["ELC-1"])).positions
    assert position.reserved == 0
    with pytest.raises(grpc.RpcError) as caught:
        pilot.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_allocate_batch_refuses_only_the_orders_outside(pilot: Pilot) -> None:
    batch = pilot.orders.AllocateBatch(
        orders_pb2.AllocateBatchRequest(
            orders=[
                orders_pb2.AllocateRequest(request_key="b-1", order=order("web", "HOM-1", order_id="O-1")),
                orders_pb2.AllocateRequest(request_key="b-2", order=order("", "HOM-1", order_id="O-2")),
            ]
        )
    )
    first, second = batch.results
    assert [a.sku for a in first.response.decision.allocations] == ["HOM-1"]
    assert second.error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert second.error.message == "outside the pilot scope: ''"  # the order names no channel


def test_promise_judges_the_cart_skus(pilot: Pilot) -> None:
    cart = [
        sourcing_pb2.CartLine(line_id="1", sku="HOM-1", qty=1),
        sourcing_pb2.CartLine(line_id="2", sku="ELC-1", qty=1),
    ]
    with pytest.raises(grpc.RpcError) as caught:
        pilot.sourcing.Promise(sourcing_pb2.PromiseRequest(lines=cart, ship_to=HOME))
    assert set(refused(caught.value)) == {"lines[1].sku"}
    assert pilot.sourcing.Promise(sourcing_pb2.PromiseRequest(lines=cart[:1], ship_to=HOME)).options
    with pytest.raises(grpc.RpcError) as caught:
        pilot.sourcing.PromiseProducts(sourcing_pb2.PromiseProductsRequest(skus=["ACC-1", "ELC-1"], ship_to=HOME))
    assert set(refused(caught.value)) == {"skus[1]"}


def test_a_malformed_pilot_setting_is_refused_at_start() -> None:
    with pytest.raises(Exception, match="pilot_skus"):
        make_config(pilot_skus="A,\x00B")
