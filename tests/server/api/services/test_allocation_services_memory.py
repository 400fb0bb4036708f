"""Allocate, Reallocate, ConfirmShipment and Return as handler logic on the memory store: the real
services, decider, network cache and rules wiring (ServiceDeps.build), no database and no socket.
Over real gRPC and both databases, the same behaviour is proven in tests/integration/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from engine.errors import InvalidInputError
from engine.orders.lifecycle import OrderState
from server.api.proto import common_pb2, network_pb2, orders_pb2
from server.api.services.deps import ServiceDeps
from server.api.services.network import NetworkService
from server.api.services.orders import OrderService
from server.config import Config
from server.store.memory_store import MemoryStore
from tests.integration.helpers import T0, count, item, node

NOW = T0 + timedelta(hours=1)  # after the counts of tests.integration.helpers (stamped T0)
HOME = common_pb2.GeoPoint(lat=40.0, lon=-95.0)


class _NoDeadline:
    """What the handlers read of a gRPC context here: the caller set no deadline."""

    def time_remaining(self) -> float | None:
        return None


CONTEXT: Any = _NoDeadline()


@pytest.fixture
def memory() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def deps(memory: MemoryStore) -> Iterator[ServiceDeps]:
    built = ServiceDeps.build(Config(sweep_interval_seconds=0), memory, clock=lambda: NOW)
    yield built
    built.stopping.set()


@pytest.fixture
def orders(deps: ServiceDeps) -> OrderService:
    network = NetworkService(deps)
    network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node("NEAR", location=common_pb2.GeoPoint(lat=40.1, lon=-95.0)),
                node("FAR", location=common_pb2.GeoPoint(lat=30.0, lon=-95.0)),
            ]
        ),
        CONTEXT,
    )
    network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("A"), item("B")]), CONTEXT)
    stock = [("NEAR", "A", 5), ("FAR", "A", 5), ("NEAR", "B", 1)]
    network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count(n, s, q) for n, s, q in stock]), CONTEXT)
    return OrderService(deps)


def _allocate(orders: OrderService, order_id: str, *lines: tuple[str, int]) -> orders_pb2.AllocateResponse:
    order = common_pb2.Order(
        order_id=order_id,
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id=f"L{i}", sku=sku, qty=qty) for i, (sku, qty) in enumerate(lines)],
    )
    request = orders_pb2.AllocateRequest(request_key=f"k-{order_id}", order=order)
    response: orders_pb2.AllocateResponse = orders.Allocate(request, CONTEXT)
    return response


def _placed(response: Any) -> list[tuple[str, str, int]]:
    return sorted((a.line_id, a.node_id, a.qty) for a in response.order.reservations)


def test_allocate_reserves_at_the_nearest_node_and_a_replay_answers_the_same(
    orders: OrderService, memory: MemoryStore
) -> None:
    first = _allocate(orders, "O-1", ("A", 3), ("B", 1))
    assert _placed(first) == [("L0", "NEAR", 3), ("L1", "NEAR", 1)]
    assert memory.stock("A", "NEAR") == (5, 3)
    again = _allocate(orders, "O-1", ("A", 3), ("B", 1))
    assert again.SerializeToString(deterministic=True) == first.SerializeToString(deterministic=True)
    assert memory.stock("A", "NEAR") == (5, 3)
    assert memory.check_conservation()[0] == []


def test_allocate_with_a_bad_line_names_the_field_and_reserves_nothing(
    orders: OrderService, memory: MemoryStore
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _allocate(orders, "O-1", ("A", 0))
    assert [v.field for v in caught.value.violations] == ["order.lines[0].qty"]
    assert memory.stock("A", "NEAR") == (5, 0)


def test_reallocate_moves_the_units_a_node_rejects_and_keeps_it_away(orders: OrderService, memory: MemoryStore) -> None:
    _allocate(orders, "O-1", ("A", 2))
    moved = orders.Reallocate(
        orders_pb2.ReallocateRequest(request_key="r-1", order_id="O-1", node_id="NEAR", reason="store rejected"),
        CONTEXT,
    )
    assert _placed(moved) == [("L0", "FAR", 2)]
    assert memory.stock("A", "NEAR") == (5, 0) and memory.stock("A", "FAR") == (5, 2)
    assert memory.check_conservation()[0] == []


def test_ship_then_return_restocks_at_the_node_named(orders: OrderService, memory: MemoryStore) -> None:
    _allocate(orders, "O-1", ("A", 2))
    orders.ConfirmShipment(
        orders_pb2.ConfirmShipmentRequest(
            request_key="s-1", order_id="O-1", node_id="NEAR", lines=[orders_pb2.LineUnits(line_id="L0", qty=2)]
        ),
        CONTEXT,
    )
    assert memory.stock("A", "NEAR") == (3, 0)
    returned = orders.Return(
        orders_pb2.ReturnRequest(
            request_key="ret-1",
            order_id="O-1",
            lines=[orders_pb2.LineUnits(line_id="L0", qty=1)],
            node_id="FAR",
            disposition=orders_pb2.DISPOSITION_RESTOCK,
        ),
        CONTEXT,
    )
    assert returned.order.lines[0].returned == 1
    assert memory.stock("A", "FAR") == (6, 0) and memory.stock("A", "NEAR") == (3, 0)
    assert memory.check_conservation()[0] == []


def test_a_count_below_reserved_shorts_the_order_and_leaves_it_backordered(
    orders: OrderService, deps: ServiceDeps, memory: MemoryStore
) -> None:
    _allocate(orders, "O-1", ("B", 1))
    network = NetworkService(deps)
    network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "B", 0)]), CONTEXT)
    record = memory.get_order("O-1", NOW)
    assert [e.type for e in record.events] == ["ALLOCATED", "SHORTED"]
    assert record.state is OrderState.BACKORDERED and record.lines[0].reserved == 0
    assert memory.stock("B", "NEAR") == (0, 0) and memory.check_conservation()[0] == []
