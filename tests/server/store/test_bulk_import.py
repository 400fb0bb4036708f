"""The bulk import port (``ImportStore``) on both stores: one transaction for all batches, rows
already holding the values not written again, stale counts ignored, counts below what is
reserved going UpdateInventory's way (holds give way), an exception rolling everything back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest

from server.errors import RowsRejected, UnknownNodeError
from server.store.base import ImportedCounts, InventoryUpdate, Store, import_store
from tests.server.store.test_contract import T0, RawSql, absolute, network, node  # noqa: F401 - network is a fixture
from tests.server.store.test_inventory_shortfall import NOW, _allocate, _conserved, _held


def _batches(*batches: Sequence[InventoryUpdate]) -> object:
    return lambda: iter(batches)


def _positions(raw_sql: RawSql) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in raw_sql("SELECT sku, node_id, on_hand, version, as_of, updated_at FROM inventory ORDER BY 1, 2")
    ]


def test_counts_in_batches_are_written_once_and_a_rerun_changes_nothing(network: Store, raw_sql: RawSql) -> None:  # noqa: F811
    bulk = import_store(network)
    first = [absolute("DC1", "A", 5), absolute("DC2", "A", 0)]
    second = [absolute("DC1", "B", 7)]
    assert bulk.import_counts(_batches(first, second), NOW) == ImportedCounts(written=3)  # type: ignore[arg-type]
    before = _positions(raw_sql)
    assert [(r[0], r[1], r[2]) for r in before] == [("A", "DC1", 5), ("A", "DC2", 0), ("B", "DC1", 7)]
    assert bulk.import_counts(_batches(first, second), NOW + timedelta(hours=1)) == ImportedCounts(unchanged=3)  # type: ignore[arg-type]
    assert _positions(raw_sql) == before
    older = [absolute("DC1", "A", 99, T0 - timedelta(days=1))]
    assert bulk.import_counts(_batches(older), NOW) == ImportedCounts(stale=1)  # type: ignore[arg-type]
    newer = [absolute("DC1", "A", 6, T0 + timedelta(days=1))]
    assert bulk.import_counts(_batches(newer), NOW) == ImportedCounts(written=1)  # type: ignore[arg-type]
    assert network.get_availability(["A"], ["DC1"])[0].on_hand == 6


def test_an_exception_from_the_batches_rolls_every_batch_back(network: Store, raw_sql: RawSql) -> None:  # noqa: F811
    def batches() -> Iterator[Sequence[InventoryUpdate]]:
        yield [absolute("DC1", "A", 5)]
        yield [absolute("DC2", "A", 5)]
        raise RowsRejected(1)

    with pytest.raises(RowsRejected):
        import_store(network).import_counts(batches, NOW)
    assert _positions(raw_sql) == []
    with pytest.raises(UnknownNodeError):
        import_store(network).import_counts(_batches([absolute("DC1", "A", 5)], [absolute("NOPE", "A", 1)]), NOW)  # type: ignore[arg-type]
    assert _positions(raw_sql) == []


def test_a_count_below_what_is_reserved_makes_holds_give_way(network: Store) -> None:  # noqa: F811
    network.update_inventory([absolute("DC1", "A", 10, T0 - timedelta(days=1))], now=NOW)
    _allocate(network, "O-1", 3, at=NOW - timedelta(minutes=2))
    _allocate(network, "O-2", 3, at=NOW - timedelta(minutes=1))
    written = import_store(network).import_counts(_batches([absolute("DC1", "A", 4), absolute("DC2", "A", 2)]), NOW)  # type: ignore[arg-type]
    assert written == ImportedCounts(written=2)
    [position] = network.get_availability(["A"], ["DC1"], now=NOW)
    assert (position.on_hand, position.reserved) == (4, 4)
    assert (_held(network, "O-1"), _held(network, "O-2")) == (3, 1)  # the newest hold gave way
    assert _conserved(network) == []


def test_nodes_and_items_rerun_leaves_rows_and_versions_alone(store: Store, raw_sql: RawSql) -> None:
    bulk = import_store(store)
    nodes = [node("DC1"), node("DC2", tags=("x",))]
    assert bulk.import_nodes(lambda: iter([nodes])) == ImportedCounts(written=2)
    snapshot = (raw_sql("SELECT * FROM nodes ORDER BY id"), raw_sql("SELECT version FROM network_version"))
    assert bulk.import_nodes(lambda: iter([nodes])) == ImportedCounts(unchanged=2)
    assert (raw_sql("SELECT * FROM nodes ORDER BY id"), raw_sql("SELECT version FROM network_version")) == snapshot
    assert bulk.known_ids("nodes", ["DC1", "DC9"]) == {"DC1"}


@pytest.mark.postgres
def test_postgres_leaves_a_position_reserved_since_it_was_read_to_the_locked_path(
    network: Store,  # noqa: F811
    raw_sql: RawSql,
) -> None:
    """PostgreSQL reads positions without locking them: a count written over a position reserved
    above it meanwhile is refused by the write's guard and named, for the caller to judge again."""
    if network.dialect != "postgresql":
        pytest.skip("SQLite's import holds the only write lock from its first read")
    network.update_inventory([absolute("DC1", "A", 10)], now=NOW)
    _allocate(network, "O-1", 6)
    stamp = T0 + timedelta(days=1)
    missed = network._write(lambda tx: network._write_counts(tx, [("A", "DC1", 2, stamp), ("B", "DC1", 3, stamp)], NOW))  # type: ignore[attr-defined]
    assert missed == {("A", "DC1")}
    assert [tuple(r) for r in raw_sql("SELECT sku, on_hand, reserved FROM inventory ORDER BY sku")] == [
        ("A", 10, 6),
        ("B", 3, 0),
    ]
