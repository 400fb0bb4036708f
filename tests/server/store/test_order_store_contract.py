"""The order store contract: SQLite, PostgreSQL and the in-memory adapter, through the OrderStore
port alone, give the same answers (stock is set up and read beside the port, per adapter)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.decision import AllocationLine
from engine.orders import answers, changes
from engine.orders.lifecycle import Action, OrderState
from engine.orders.records import RELEASED, Carriage, NewOrder
from server.errors import IdempotencyKeyConflict, NotFoundError, OrderExistsError, ReservationConflict
from server.store import open_store
from server.store.base import OrderStore, RequestKey, order_store
from server.store.memory import MemoryOrderStore
from tests.server.store.test_contract import absolute, node

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOLD_MS = 600_000


@dataclass
class Adapter:
    store: OrderStore
    raw: Any

    def stock(self, sku: str, node_id: str, on_hand: int) -> None:
        if isinstance(self.raw, MemoryOrderStore):
            self.raw.set_stock(sku, node_id, on_hand)
        else:
            self.raw.update_inventory([absolute(node_id, sku, on_hand)])

    def position(self, sku: str, node_id: str) -> tuple[int, int]:
        """(on hand, reserved)."""
        if isinstance(self.raw, MemoryOrderStore):
            return self.raw.stock(sku, node_id)
        found = self.raw._read(
            lambda tx: tx.execute(
                "SELECT on_hand, reserved FROM inventory WHERE sku = ? AND node_id = ?", (sku, node_id)
            )
        )
        return (int(found[0][0]), int(found[0][1])) if found else (0, 0)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def adapter(request: pytest.FixtureRequest) -> Iterator[Adapter]:
    if request.param == "memory":
        memory = MemoryOrderStore()
        yield Adapter(order_store(memory), memory)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{request.getfixturevalue('tmp_path') / 'store.db'}"
    else:
        url = _postgres(request)
    opened = open_store(url)
    opened.migrate()
    opened.upsert_nodes([node("DC1"), node("DC2")])
    yield Adapter(order_store(opened), opened)
    opened.close()


def _postgres(request: pytest.FixtureRequest) -> str:
    databases = request.getfixturevalue("postgres_databases")
    url: str = databases.create()
    request.addfinalizer(lambda: databases.drop(url))
    return url


def _new(order_id: str, *lines: tuple[str, str, int]) -> NewOrder:
    return NewOrder(order_id, "{}", tuple(lines), HOLD_MS, "rs-1", "{}", f"d-{order_id}")


def _key(name: str, method: str = "Allocate", request_hash: str = "h") -> RequestKey:
    return RequestKey(name, method, request_hash)


def _allocate(a: Adapter, order_id: str, qty: int, node_id: str = "DC1", at: datetime = NOW) -> bytes:
    new = _new(order_id, ("L1", "A", qty))
    return a.store.allocate_order(_key(f"k-{order_id}"), new, [AllocationLine("L1", node_id, "A", qty)], at, b"dec")


def test_allocate_reserves_stores_and_replays_the_same_answer(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 5)
    first = _allocate(adapter, "O-1", 3)
    assert _allocate(adapter, "O-1", 3) == first and adapter.store.replay(_key("k-O-1")) == first
    answer = answers.unpack(first)
    assert answer is not None and answer.attachment == b"dec"
    assert answer.record.state is OrderState.ALLOCATED and answer.record.version == 1
    assert [(h.node_id, h.qty) for h in answer.record.reservations] == [("DC1", 3)]
    assert [e.type for e in answer.record.events] == ["ALLOCATED"]
    assert adapter.position("A", "DC1") == (5, 3)
    stored = adapter.store.get_order("O-1", NOW)
    assert (stored.state, stored.version, stored.lines) == (OrderState.ALLOCATED, 1, answer.record.lines)


def test_refusals_change_nothing(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 2)
    _allocate(adapter, "O-1", 1)
    with pytest.raises(IdempotencyKeyConflict):
        adapter.store.allocate_order(_key("k-O-1", request_hash="other"), _new("O-2", ("L1", "A", 1)), [], NOW, b"")
    with pytest.raises(OrderExistsError):
        adapter.store.allocate_order(_key("k-other"), _new("O-1", ("L1", "A", 1)), [], NOW, b"")
    with pytest.raises(ReservationConflict):
        _allocate(adapter, "O-3", 2)
    with pytest.raises(NotFoundError):
        adapter.store.get_order("O-3", NOW)
    assert adapter.store.replay(_key("k-O-3")) is None
    assert adapter.position("A", "DC1") == (2, 1)
    assert adapter.store.check_conservation()[0] == []


def test_a_short_position_reserves_nothing_of_the_others(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 5)
    adapter.stock("B", "DC1", 0)
    new = _new("O-1", ("L1", "A", 2), ("L2", "B", 1))
    wanted = [AllocationLine("L1", "DC1", "A", 2), AllocationLine("L2", "DC1", "B", 1)]
    with pytest.raises(ReservationConflict):
        adapter.store.allocate_order(_key("k-O-1"), new, wanted, NOW, b"dec")
    assert adapter.position("A", "DC1") == (5, 0)
    assert adapter.store.check_conservation()[0] == []


def test_a_cancel_gives_stock_back_and_replays_without_applying_twice(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 5)
    _allocate(adapter, "O-1", 3)
    plan = functools.partial(changes.cancel, targets=[("L1", 2)], reason="asked")
    stored, change = adapter.store.mutate_order(_key("c1", "Cancel"), "O-1", Action.CANCEL, NOW, plan)
    assert change is not None and change.freed_skus == frozenset({"A"})
    record = answers.unpack(stored)
    assert record is not None
    assert record.record.state is OrderState.ALLOCATED and record.record.version == 2
    assert [e.type for e in record.record.events] == ["ALLOCATED", "CANCELLED"]
    again, none = adapter.store.mutate_order(_key("c1", "Cancel"), "O-1", Action.CANCEL, NOW, plan)
    assert (again, none) == (stored, None)
    assert adapter.position("A", "DC1") == (5, 1)
    assert adapter.store.check_conservation()[0] == []


def test_ship_then_return_with_restock(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 5)
    _allocate(adapter, "O-1", 2)
    ship = functools.partial(changes.ship, node_id="DC1", targets=[], shipment_id="s-1")
    adapter.store.mutate_order(_key("s1", "Ship"), "O-1", Action.SHIP, NOW, ship)
    assert adapter.position("A", "DC1") == (3, 0)
    back = functools.partial(changes.return_units, targets=[("L1", 0)], restock=True, node_id="DC2")
    stored, _ = adapter.store.mutate_order(_key("r1", "Return"), "O-1", Action.RETURN, NOW, back)
    answer = answers.unpack(stored)
    assert answer is not None and answer.record.state is OrderState.RETURNED
    assert [(s.shipment_id, s.state) for s in answer.record.shipments] == [("s-1", "RETURNED")]
    assert adapter.position("A", "DC2") == (2, 0)
    assert adapter.store.check_conservation()[0] == []


def test_a_shipment_keeps_its_carriage(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 5)
    _allocate(adapter, "O-1", 2)
    carriage = Carriage("UPS", "GROUND", "1Z999", NOW - timedelta(hours=1))
    ship = functools.partial(changes.ship, node_id="DC1", targets=[], shipment_id="s-1", carriage=carriage)
    adapter.store.mutate_order(_key("s1", "Ship"), "O-1", Action.SHIP, NOW, ship)
    (shipment,) = adapter.store.get_order("O-1", NOW).shipments
    assert shipment.carriage == carriage
    event = adapter.store.get_order("O-1", NOW).events[-1]
    assert json.loads(event.payload)["tracking_number"] == "1Z999"


def test_a_version_mismatch_is_a_lost_race(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 5)
    _allocate(adapter, "O-1", 1)
    with pytest.raises(ReservationConflict):
        adapter.store.mutate_order(_key("x", "Release"), "O-1", Action.RELEASE, NOW, changes.release, b"", 7)
    assert adapter.store.get_order("O-1", NOW).version == 1


def test_expired_holds_stop_counting_and_the_sweep_frees_them(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 3)
    _allocate(adapter, "O-1", 3)
    later = NOW + timedelta(milliseconds=HOLD_MS + 1)
    assert adapter.store.get_order("O-1", later).state is OrderState.BACKORDERED
    assert adapter.store.backordered_orders(["A"], 10) == []  # not swept yet: still stored ALLOCATED
    _allocate(adapter, "O-2", 3, at=later)  # a short position frees expired holds first
    assert adapter.store.get_order("O-1", later).state is OrderState.BACKORDERED
    assert adapter.store.backordered_orders(["A"], 10) == ["O-1"]
    queued, more = adapter.store.list_exceptions([OrderState.BACKORDERED], "", 10, None)
    assert [r.order_id for r in queued] == ["O-1"] and more is None
    assert adapter.store.sweep_expired(later) == (0, [])
    assert adapter.store.sweep_expired(later + timedelta(milliseconds=HOLD_MS)) == (1, ["O-2"])
    assert adapter.position("A", "DC1") == (3, 0)
    assert adapter.store.check_conservation()[0] == []


def test_release_then_resource_hands_new_units_over(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 1)
    new = _new("O-1", ("L1", "A", 2))
    adapter.store.allocate_order(_key("k"), new, [AllocationLine("L1", "DC1", "A", 1)], NOW, b"")
    adapter.store.mutate_order(_key("rel", "Release"), "O-1", Action.RELEASE, NOW, changes.release)
    adapter.stock("A", "DC2", 1)
    sourced = changes.Sourced((AllocationLine("L1", "DC2", "A", 1),), HOLD_MS, "d2", "rs-1")
    plan = functools.partial(changes.resource, action=Action.RESOURCE, event="RESOURCED", details={}, sourced=sourced)
    stored, _ = adapter.store.mutate_order(_key("res", "Heal"), "O-1", Action.RESOURCE, NOW, plan, b"", 2)
    answer = answers.unpack(stored)
    assert answer is not None and answer.record.state is OrderState.RELEASED
    assert {(h.node_id, h.state) for h in answer.record.reservations} == {("DC1", RELEASED), ("DC2", RELEASED)}
    later = NOW + timedelta(days=1)  # released holds never expire
    assert adapter.store.sweep_expired(later) == (0, [])
    assert adapter.store.check_conservation()[0] == []


def test_the_event_feed_numbers_events_in_order(adapter: Adapter) -> None:
    adapter.stock("A", "DC1", 5)
    _allocate(adapter, "O-1", 1)
    _allocate(adapter, "O-2", 1)
    adapter.store.sequence_events()  # what committed unnumbered (none on SQLite: numbered at commit)
    feed = [e for e in adapter.store.events_after(0, 10) if e.order_id]
    assert [(e.order_id, e.type) for e in feed] == [("O-1", "ALLOCATED"), ("O-2", "ALLOCATED")]
    assert [e for e in adapter.store.events_after(feed[0].seq, 10) if e.order_id] == feed[1:]


# --- negative control: the contract must catch adapters that break what it promises ---------


class _Overselling(MemoryOrderStore):
    """Reserves whatever it is asked for, free or not (an oversell)."""

    def _reserve(self, wanted: Any, now: datetime) -> None:
        for position, qty in wanted:
            super()._reserve([(position, 0)], now)
            self._s.stock[position].reserved += qty


class _HalfApplying(MemoryOrderStore):
    """Keeps what a failed write did instead of rolling it back."""

    def _atomically(self, work: Any) -> Any:
        with self._lock:
            return work()


class _Forgetful(MemoryOrderStore):
    """Forgets request keys: a retried call applies again instead of replaying its answer."""

    def _stored(self, key: RequestKey) -> bytes | None:
        return None


CONTRACT = [value for name, value in sorted(globals().items()) if name.startswith("test_") and callable(value)]


@pytest.mark.parametrize("broken", [_Overselling, _HalfApplying, _Forgetful], ids=lambda b: b.__name__.strip("_"))
def test_the_contract_catches_a_broken_adapter(broken: type[MemoryOrderStore]) -> None:
    caught = []
    for contract_test in CONTRACT:
        memory = broken()
        try:
            contract_test(Adapter(order_store(memory), memory))
        except (Exception, pytest.fail.Exception) as failure:  # a broken adapter fails however it fails
            caught.append((contract_test.__name__, type(failure).__name__))
    assert caught, f"{broken.__name__} passed the whole order store contract"
