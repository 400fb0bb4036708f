"""stock_levels: what a decision reads, get_availability's available units as columns, on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.availability import StockLevels
from server.store import Store
from server.store.postgres import PostgresStore
from tests.conftest import PostgresDatabases
from tests.server.store.test_contract import T0, absolute, delta, node


def _as_dict(levels: StockLevels) -> dict[tuple[str, str], int]:
    return {
        (sku, node_id): units for sku, node_id, units in zip(levels.skus, levels.node_ids, levels.units, strict=True)
    }


def test_stock_levels_are_the_available_units_of_get_availability(store: Store) -> None:
    store.upsert_nodes([node("DC1"), node("DC2"), node("DC3")])
    store.update_inventory(
        [
            absolute("DC1", "A", 10),
            absolute("DC2", "A", 4),
            absolute("DC1", "B", 3),
            delta("DC2", "B", 2),
            absolute("DC3", "A", 0),
        ]
    )
    now = T0 + timedelta(hours=1)
    full = store.get_availability(["B", "A", "C"], now=now)
    expected = {(p.sku, p.node_id): p.available for p in full if p.available > 0}
    levels = store.stock_levels(["B", "A", "C"], now=now)
    assert _as_dict(levels) == expected
    assert len(levels.units) == len(expected), "nothing to promise, no row"
    assert all(type(u) is int for u in levels.units)
    assert store.stock_levels([]) == StockLevels((), (), ())
    assert store.stock_levels(["NOPE"]) == StockLevels((), (), ())


@pytest.mark.postgres
def test_postgres_plans_the_stock_read_once_per_connection(postgres_databases: PostgresDatabases) -> None:
    """With the default plan cache PostgreSQL re-plans this query on every call (its array
    parameters make the generic plan look dear); the stock read's own connections keep one."""
    url = postgres_databases.create()
    store = PostgresStore(url, max_size=1)
    try:
        store.migrate()
        store.upsert_nodes([node("DC1"), node("DC2")])
        store.update_inventory([absolute("DC1", "A", 5), absolute("DC2", "B", 2)])
        for skus in (["A"], ["A", "B"], ["B", "C", "D"]) * 5:
            store.stock_levels(skus, now=T0)
        plans = store._read_stock(
            lambda tx: tx.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE ?",
                ("%FROM inventory i%",),
            )
        )
        assert plans == [(10, 0)], "psycopg prepares on the 6th call; every later one reuses its generic plan"
        # Every other query keeps PostgreSQL's default.
        assert store._read(lambda tx: tx.execute("SHOW plan_cache_mode")) == [("auto",)]
    finally:
        store.close()
        postgres_databases.drop(url)


def test_stock_levels_count_holds_expired_by_the_current_instant(store: Store) -> None:
    """Without ``now`` the read judges holds at the current instant (formatted its own way on
    SQLite): one expired an hour ago gives its units back, a live one keeps them, swept or not."""
    from datetime import UTC, datetime

    from engine.decision import AllocationLine
    from engine.orders.records import NewOrder
    from server.store.base import RequestKey

    store.upsert_nodes([node("DC1")])
    store.update_inventory([absolute("DC1", "A", 10)])
    now = datetime.now(UTC)
    for order_id, qty, hold_ms, at in (
        ("O-EXPIRED", 3, 60_000, now - timedelta(hours=1)),
        ("O-LIVE", 2, 3_600_000, now),
    ):
        new = NewOrder(order_id, "{}", (("L1", "A", qty),), hold_ms, "rs", "{}", f"d-{order_id}")
        key = RequestKey(f"k-{order_id}", "Allocate", "h")
        store.allocate_order(key, new, [AllocationLine("L1", "DC1", "A", qty)], at, b"")  # type: ignore[attr-defined]
    assert _as_dict(store.stock_levels(["A"])) == {("A", "DC1"): 8}
    assert _as_dict(store.stock_levels(["A"], now=now - timedelta(hours=2))) == {("A", "DC1"): 5}
    assert _as_dict(store.stock_levels(["A", "A", "B"])) == {("A", "DC1"): 8}
