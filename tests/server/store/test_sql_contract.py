"""The store contract for what only the SQL adapters have: migrations, the schema, constraints
as a backstop under the port, durability settings, and separate connections (other processes, to
the database). Run on SQLite and PostgreSQL; the port's own contract is test_contract.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from engine.model import Item, NodeType
from server.store import Store, StoreError, open_store
from server.store.migrate import load_migrations
from tests.server.store.test_contract import T0, absolute, delta, node, on_hand

RawSql = Callable[..., list[tuple[Any, ...]]]  # the raw_sql fixture (tests/conftest.py)


@pytest.fixture
def network(store: Store) -> Store:
    store.upsert_nodes([node("DC1"), node("DC2"), node("S1", NodeType.STORE)])
    return store


def test_migrate_twice_applies_nothing_new(store: Store, raw_sql: RawSql) -> None:
    versions = [m.version for m in load_migrations("sqlite")]  # numbers may have gaps (migrate.py)
    latest = versions[-1]
    assert latest >= 2
    assert store.migrate() == latest
    assert store.migrate() == latest
    assert raw_sql("SELECT version FROM schema_migrations ORDER BY version") == [(v,) for v in versions]


def test_concurrent_migrators_on_an_empty_database_agree(store_url: str) -> None:
    # Separate stores have separate connections: to the database they are separate processes.
    stores = [open_store(store_url) for _ in range(4)]
    versions: list[int] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def run(s: Store) -> None:
        barrier.wait()
        try:
            versions.append(s.migrate())
        except BaseException as error:  # reported below, with the others
            failures.append(error)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert failures == []
    assert versions == [load_migrations("sqlite")[-1].version] * len(stores)


def test_schema_has_the_order_tables(store: Store, raw_sql: RawSql) -> None:
    for table in ("orders", "order_lines", "reservations", "shipments", "events", "idempotency_keys"):
        assert raw_sql(f"SELECT COUNT(*) FROM {table}") == [(0,)]
    # events.id is generated and increasing.
    insert = "INSERT INTO events (order_id, type, created_at) VALUES ('o1', ?, '2025-03-01T12:00:00.000000Z')"
    raw_sql(insert, ("CREATED",))
    raw_sql(insert, ("ALLOCATED",))
    ids = [r[0] for r in raw_sql("SELECT id FROM events ORDER BY id")]
    assert len(ids) == 2 and ids[0] < ids[1]


def test_below_reserved_with_no_holds_behind_it_is_an_error_not_a_guess(network: Store, raw_sql: RawSql) -> None:
    # Below reserved, holds give way (tests/server/store/test_inventory_shortfall.py). A reserved count
    # that no hold backs is already broken (CheckConservation names it): nothing to take back.
    network.update_inventory([absolute("DC1", "A", 10)])
    raw_sql("UPDATE inventory SET reserved = 6 WHERE sku = 'A' AND node_id = 'DC1'")

    with pytest.raises(StoreError, match="not backed by holds"):
        network.update_inventory([absolute("DC1", "A", 5, T0 + timedelta(seconds=1))])
    assert on_hand(network, "A", "DC1") == 10

    [result] = network.update_inventory([delta("DC1", "A", -4)])
    assert (result.position.on_hand, result.position.reserved, result.shorted_units) == (6, 6, 0)


def test_availability_nets_out_reserved_and_protected(network: Store, raw_sql: RawSql) -> None:
    network.update_inventory(
        [absolute("S1", "B", 3), absolute("DC2", "A", 10), absolute("DC1", "A", 8), absolute("DC1", "C", 1)]
    )
    raw_sql("UPDATE inventory SET reserved = 3, protected = 2 WHERE sku = 'A' AND node_id = 'DC2'")
    raw_sql("UPDATE inventory SET protected = 5 WHERE sku = 'B'")

    positions = network.get_availability(["B", "A"])

    assert [(p.sku, p.node_id) for p in positions] == [("A", "DC1"), ("A", "DC2"), ("B", "S1")]
    by_key = {(p.sku, p.node_id): p for p in positions}
    dc2 = by_key[("A", "DC2")]
    assert (dc2.on_hand, dc2.reserved, dc2.protected, dc2.available) == (10, 3, 2, 5)
    assert by_key[("A", "DC1")].available == 8
    assert by_key[("B", "S1")].available == 0  # protected exceeds on hand: never negative

    only_dc2 = network.get_availability(["A", "B", "nope"], ["DC2", "S1"])
    assert [(p.sku, p.node_id) for p in only_dc2] == [("A", "DC2"), ("B", "S1")]


def test_check_constraints_are_the_backstop(network: Store, raw_sql: RawSql) -> None:
    network.update_inventory([absolute("DC1", "A", 5)])
    for bad in ("reserved = on_hand + 1", "on_hand = -1", "reserved = -1", "protected = -1"):
        with pytest.raises(Exception, match=r"(?i)check"):
            raw_sql(f"UPDATE inventory SET {bad} WHERE sku = 'A'")
    assert on_hand(network, "A", "DC1") == 5


def test_inventory_needs_a_known_node_even_in_raw_sql(network: Store, raw_sql: RawSql) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        raw_sql("INSERT INTO inventory (sku, node_id, updated_at) VALUES ('A', 'GHOST', '2025-03-01T12:00:00Z')")


def test_durability_settings_are_clean(store: Store) -> None:
    assert store.check_durability() == []


def test_concurrent_deltas_lose_nothing(network: Store, store_url: str) -> None:
    threads, rounds = 8, 25
    failures: list[BaseException] = []
    barrier = threading.Barrier(threads)
    # A second store on the same database stands in for a second server process.
    other = open_store(store_url)

    def work(worker: int) -> None:
        target = network if worker < threads // 2 else other
        # Half the workers name the rows in the opposite order: the store must not deadlock.
        keys = [("DC1", "A"), ("DC2", "A"), ("DC1", "B")]
        if worker % 2:
            keys.reverse()
        barrier.wait()
        try:
            for _ in range(rounds):
                target.update_inventory([delta(n, s, 1) for n, s in keys])
        except BaseException as error:
            failures.append(error)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    other.close()

    assert failures == []
    assert [(p.sku, p.node_id, p.on_hand) for p in network.get_availability(["A", "B"])] == [
        ("A", "DC1", threads * rounds),
        ("A", "DC2", threads * rounds),
        ("B", "DC1", threads * rounds),
    ]


def test_data_survives_close_and_reopen(store_url: str, store: Store) -> None:
    store.upsert_nodes([node("DC1", tags=["x"])])
    store.upsert_items([Item(sku="A", unit_weight_lb=2.0)])
    store.update_inventory([absolute("DC1", "A", 12)])
    store.close()

    reopened = open_store(store_url)
    try:
        assert reopened.migrate() == load_migrations("sqlite")[-1].version
        assert reopened.all_nodes() == [node("DC1", tags=["x"])]
        assert reopened.get_items(["A"]) == {"A": Item(sku="A", unit_weight_lb=2.0)}
        [position] = reopened.get_availability(["A"])
        assert (position.on_hand, position.as_of) == (12, T0)
    finally:
        reopened.close()
