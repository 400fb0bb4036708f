"""Shared by the order tests: a settable clock, a small network, requests and checks."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import grpc
from google.protobuf import json_format

from server.api.app import RunningServer
from server.api.proto import common_pb2, network_pb2, network_pb2_grpc, orders_pb2, orders_pb2_grpc
from server.api.services import ServiceDeps
from server.store.base import Store
from tests.integration.conftest import ServerFactory, make_config
from tests.integration.helpers import T0, count, item, node

HOME = common_pb2.GeoPoint(lat=40.0, lon=-95.0)


class FakeClock:
    """The services' clock in tests: moves only when told."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


def load_network(channel: grpc.Channel, stock: Iterable[tuple[str, str, int]]) -> None:
    """Nodes NEAR (closest to HOME), MID and FAR; items A, B, C; the counts given."""
    network = network_pb2_grpc.NetworkServiceStub(channel)
    network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node("NEAR", location=common_pb2.GeoPoint(lat=40.1, lon=-95.0)),
                node("MID", location=common_pb2.GeoPoint(lat=36.0, lon=-95.0)),
                node("FAR", location=common_pb2.GeoPoint(lat=30.0, lon=-95.0)),
            ]
        )
    )
    network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("A"), item("B"), item("C")]))
    network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count(n, s, q) for n, s, q in stock]))


def order(order_id: str, *lines: tuple[str, int], **fields: Any) -> common_pb2.Order:
    return common_pb2.Order(
        order_id=order_id,
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id=f"L{i}", sku=sku, qty=qty) for i, (sku, qty) in enumerate(lines)],
        **fields,
    )


def allocate(order_msg: common_pb2.Order, key: str = "", hold_ms: int = 0) -> orders_pb2.AllocateRequest:
    return orders_pb2.AllocateRequest(request_key=key or f"k-{order_msg.order_id}", order=order_msg, hold_ms=hold_ms)


@dataclass
class Client:
    running: RunningServer
    channel: grpc.Channel
    orders: orders_pb2_grpc.OrderServiceStub
    network: network_pb2_grpc.NetworkServiceStub
    clock: FakeClock

    def available(self, sku: str, node_id: str) -> int:
        response = self.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=[sku], node_ids=[node_id]))
        return sum(p.available for p in response.positions)

    def conservation(self) -> list[str]:
        result = self.orders.CheckConservation(orders_pb2.CheckConservationRequest())
        assert result.ok == (not result.problems)
        return list(result.problems)


def payload_of(event: orders_pb2.OrderEvent) -> dict[str, Any]:
    """An event's payload as a dict (numbers come back as floats: 2.0 == 2)."""
    return json_format.MessageToDict(event.payload)


def state(view: orders_pb2.OrderView) -> str:
    return orders_pb2.OrderState.Name(view.state).removeprefix("ORDER_STATE_")


def serve_orders(
    start_server: ServerFactory,
    store: Store,
    stock: Iterable[tuple[str, str, int]] | None,
    clock: FakeClock | None = None,
    **config: Any,
) -> Client:
    """A server on ``store`` with the small network and ``stock`` (None: the store's as it is), on
    a clock the test moves."""
    clock = clock or FakeClock()
    settings = make_config(**config)
    running = start_server(store, settings, deps=ServiceDeps.build(settings, store, clock=clock))
    channel = grpc.insecure_channel(running.target)
    if stock is not None:
        load_network(channel, stock)
    return Client(
        running,
        channel,
        orders_pb2_grpc.OrderServiceStub(channel),  # type: ignore[no-untyped-call]
        network_pb2_grpc.NetworkServiceStub(channel),  # type: ignore[no-untyped-call]
        clock,
    )
