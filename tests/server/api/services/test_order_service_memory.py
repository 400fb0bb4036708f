"""OrderService's transitions on the in-memory order store: handler logic with no database and
no server (what the gRPC layer checks, what it hands the store, what a replay answers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.decision import AllocationLine
from engine.errors import InvalidInputError
from engine.orders.lifecycle import OrderState, TransitionError
from engine.orders.records import NewOrder
from server.api.proto import orders_pb2
from server.api.services.deps import ServiceDeps
from server.api.services.orders import OrderService
from server.config import Config
from server.store.base import RequestKey
from server.store.memory import MemoryOrderStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def memory() -> MemoryOrderStore:
    store = MemoryOrderStore()
    store.set_stock("A", "DC1", 5)
    store.set_stock("B", "DC2", 5)
    new = NewOrder("O-1", "{}", (("L1", "A", 3), ("L2", "B", 1)), 600_000, "rs", "{}", "d-1")
    held = [AllocationLine("L1", "DC1", "A", 3), AllocationLine("L2", "DC2", "B", 1)]
    store.allocate_order(RequestKey("k", "Allocate", "h"), new, held, NOW, b"")
    return store


@pytest.fixture
def service(memory: MemoryOrderStore) -> Iterator[OrderService]:
    # Only what the transitions read: no network, rules or decider (no order waits for stock here).
    nothing: Any = None
    stopping = threading.Event()
    deps = ServiceDeps(
        config=Config(sweep_interval_seconds=0),
        store=memory,  # type: ignore[arg-type]
        network=nothing,
        decider=nothing,
        rules=nothing,
        items=nothing,
        clock=lambda: NOW,
        stopping=stopping,
    )
    yield OrderService(deps)
    stopping.set()


def test_cancel_gives_units_back_and_a_replay_answers_the_same(service: OrderService, memory: MemoryOrderStore) -> None:
    request = orders_pb2.CancelRequest(
        request_key="c1", order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L1", qty=2)]
    )
    first = service.Cancel(request, None)  # type: ignore[arg-type]
    assert first.order.lines[0].cancelled == 2 and first.order.lines[0].reserved == 1
    assert memory.stock("A", "DC1") == (5, 1)
    again = service.Cancel(request, None)  # type: ignore[arg-type]
    assert again.SerializeToString(deterministic=True) == first.SerializeToString(deterministic=True)
    assert memory.stock("A", "DC1") == (5, 1)


def test_bad_fields_are_named_and_change_nothing(service: OrderService, memory: MemoryOrderStore) -> None:
    with pytest.raises(InvalidInputError) as caught:
        service.ConfirmShipment(
            orders_pb2.ConfirmShipmentRequest(
                request_key="s1", order_id="O-1", node_id="DC1", lines=[orders_pb2.LineUnits(line_id="L1", qty=4)]
            ),
            None,  # type: ignore[arg-type]
        )
    assert [v.field for v in caught.value.violations] == ["lines[0].qty"]
    assert memory.stock("A", "DC1") == (5, 3) and memory.replay(RequestKey("s1", "ConfirmShipment", "x")) is None


def test_release_ship_and_a_forbidden_cancel(service: OrderService, memory: MemoryOrderStore) -> None:
    released = service.Release(orders_pb2.ReleaseRequest(request_key="r1", order_id="O-1"), None)  # type: ignore[arg-type]
    assert released.order.HasField("released_at")
    shipped = service.ConfirmShipment(
        orders_pb2.ConfirmShipmentRequest(request_key="s1", order_id="O-1", node_id="DC1"),
        None,  # type: ignore[arg-type]
    )
    assert [(s.node_id, [(x.line_id, x.qty) for x in s.lines]) for s in shipped.order.shipments] == [
        ("DC1", [("L1", 3)])
    ]
    assert memory.stock("A", "DC1") == (2, 0)
    # Once part of a released order shipped, the rest may be cancelled (engine/orders/lifecycle.py).
    service.Cancel(
        orders_pb2.CancelRequest(request_key="c2", order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L2")]),
        None,  # type: ignore[arg-type]
    )
    assert memory.get_order("O-1", NOW).state is OrderState.SHIPPED
    assert memory.stock("B", "DC2") == (5, 0)
    with pytest.raises(TransitionError):
        service.Cancel(orders_pb2.CancelRequest(request_key="c3", order_id="O-1"), None)  # type: ignore[arg-type]
    assert memory.check_conservation()[0] == []


def test_a_released_order_that_shipped_nothing_keeps_its_held_units(
    service: OrderService, memory: MemoryOrderStore
) -> None:
    service.Release(orders_pb2.ReleaseRequest(request_key="r1", order_id="O-1"), None)  # type: ignore[arg-type]
    with pytest.raises(TransitionError):  # RELEASED, everything held: the warehouse's
        service.Cancel(
            orders_pb2.CancelRequest(request_key="c1", order_id="O-1", lines=[orders_pb2.LineUnits(line_id="L2")]),
            None,  # type: ignore[arg-type]
        )
    assert memory.stock("B", "DC2") == (5, 1)
