"""StockView (checkout's in-process view of available stock) on both stores: it answers what the
store would, keeps its answer while nothing is written, and never answers stale after a commit
made by another connection or another process, nor after a hold's expiry passes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.decision import AllocationLine
from engine.orders.records import NewOrder
from server.api.stock_view import StockView
from server.store import Store, open_store
from server.store.base import RequestKey
from server.store.memory_store import MemoryStore
from tests.conftest import RawSql
from tests.server.store.test_contract import absolute, node

NOW = datetime.now(UTC)
INDEX = {"DC1": 0, "DC2": 1}


class _Counting:
    """The store, counting its stock reads."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stock_levels(self, skus: Sequence[str], now: datetime | None = None) -> Any:
        self.reads += 1
        return self.inner.stock_levels(skus, now=now)


@pytest.fixture
def stocked(store: Store) -> Store:
    store.upsert_nodes([node("DC1"), node("DC2")])
    store.update_inventory([absolute("DC1", "A", 10), absolute("DC2", "A", 4), absolute("DC1", "B", 3)])
    return store


@pytest.fixture
def other(store_url: str, stocked: Store) -> Iterator[Store]:
    """The same database through a store of its own: other connections, as another process has."""
    opened = open_store(store_url)
    yield opened
    opened.close()


def _hold(store: Store, order_id: str, sku: str, node_id: str, qty: int, at: datetime, hold_ms: int) -> None:
    new = NewOrder(order_id, "{}", (("L1", sku, qty),), hold_ms, "rs", "{}", f"d-{order_id}")
    key = RequestKey(f"k-{order_id}", "Allocate", "h")
    store.allocate_order(key, new, [AllocationLine("L1", node_id, sku, qty)], at, b"")  # type: ignore[attr-defined]


def test_the_view_answers_as_the_store_and_reads_only_when_asked_something_new(stocked: Store) -> None:
    counting = _Counting(stocked)
    view = StockView(counting)  # type: ignore[arg-type]
    assert view.available(INDEX, ["A", "B", "C"], NOW) == {"A": {0: 10, 1: 4}, "B": {0: 3}}
    assert counting.reads == 1
    assert view.available(INDEX, ["B", "A"], NOW + timedelta(seconds=1)) == {"A": {0: 10, 1: 4}, "B": {0: 3}}
    assert view.available(INDEX, ["C"], NOW) == {}
    assert counting.reads == 1, "nothing written: kept, the SKU with no stock too"
    assert view.available(INDEX, ["D"], NOW) == {}
    assert counting.reads == 2
    assert view.available({"DC2": 0}, ["A"], NOW) == {"A": {0: 4}}, "another network: read again"
    assert counting.reads == 3


def test_a_write_by_another_connection_is_seen_at_once(stocked: Store, other: Store) -> None:
    view = StockView(stocked)
    assert view.available(INDEX, ["A"], NOW) == {"A": {0: 10, 1: 4}}
    other.update_inventory([absolute("DC1", "A", 0, as_of=NOW)])
    assert view.available(INDEX, ["A"], NOW) == {"A": {1: 4}}
    _hold(other, "O-1", "A", "DC2", 3, NOW, 3_600_000)
    assert view.available(INDEX, ["A"], NOW) == {"A": {1: 1}}, "net of the other connection's hold"
    other.update_inventory([absolute("DC1", "B", 7, as_of=NOW)])
    assert view.available(INDEX, ["A", "B"], NOW) == {"A": {1: 1}, "B": {0: 7}}


def test_a_write_by_this_stores_own_connections_is_seen_at_once(stocked: Store) -> None:
    view = StockView(stocked)
    assert view.available(INDEX, ["A"], NOW) == {"A": {0: 10, 1: 4}}
    stocked.update_inventory([absolute("DC2", "A", 9, as_of=NOW)])
    assert view.available(INDEX, ["A"], NOW) == {"A": {0: 10, 1: 9}}
    _hold(stocked, "O-2", "A", "DC1", 10, NOW, 3_600_000)
    assert view.available(INDEX, ["A"], NOW) == {"A": {1: 9}}


def test_a_write_in_sql_outside_the_service_is_seen_at_once(stocked: Store, raw_sql: RawSql) -> None:
    view = StockView(stocked)
    assert view.available(INDEX, ["B"], NOW) == {"B": {0: 3}}
    raw_sql("UPDATE inventory SET on_hand = 1 WHERE sku = 'B' AND node_id = 'DC1'")
    assert view.available(INDEX, ["B"], NOW) == {"B": {0: 1}}
    raw_sql("DELETE FROM inventory WHERE sku = 'B'")
    assert view.available(INDEX, ["B"], NOW) == {}


_WRITER = """
import sys
from datetime import UTC, datetime
from server.store import open_store
from server.store.base import InventoryUpdate, UpdateKind

store = open_store(sys.argv[1])
store.update_inventory([InventoryUpdate("DC2", "A", UpdateKind.ABSOLUTE, int(sys.argv[2]), datetime.now(UTC))])
store.close()
"""


def test_a_write_by_another_process_is_seen_at_once(stocked: Store, store_url: str) -> None:
    view = StockView(stocked)
    assert view.available(INDEX, ["A"], NOW) == {"A": {0: 10, 1: 4}}
    for units in (6, 0, 2):
        subprocess.run([sys.executable, "-c", _WRITER, store_url, str(units)], check=True, timeout=120)
        expected = {0: 10, 1: units} if units else {0: 10}
        assert view.available(INDEX, ["A"], datetime.now(UTC)) == {"A": expected}


def test_a_hold_passing_its_expiry_gives_its_units_back_with_no_write(stocked: Store) -> None:
    counting = _Counting(stocked)
    view = StockView(counting)  # type: ignore[arg-type]
    _hold(stocked, "O-3", "A", "DC1", 6, NOW, 60_000)  # expires a minute after NOW
    assert view.available(INDEX, ["A"], NOW) == {"A": {0: 4, 1: 4}}
    assert view.available(INDEX, ["A"], NOW + timedelta(seconds=59)) == {"A": {0: 4, 1: 4}}
    assert view.available(INDEX, ["A"], NOW + timedelta(seconds=61)) == {"A": {0: 10, 1: 4}}
    # An instant before the last read is read again, not answered from a later one.
    assert view.available(INDEX, ["A"], NOW) == {"A": {0: 4, 1: 4}}
    assert counting.reads == 3


def test_the_in_process_store_is_read_every_time() -> None:
    memory = MemoryStore()
    memory.upsert_nodes([node("DC1"), node("DC2")])
    memory.update_inventory([absolute("DC1", "A", 10)])
    view = StockView(memory)
    assert view.available(INDEX, ["A"], NOW) == {"A": {0: 10}}
    memory.update_inventory([absolute("DC1", "A", 2, as_of=NOW)])
    assert view.available(INDEX, ["A"], NOW) == {"A": {0: 2}}
