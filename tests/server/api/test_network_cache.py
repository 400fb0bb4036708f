"""Every worker sees another worker's node and rate-table changes: the cache re-checks the store's network version."""

from __future__ import annotations

from pathlib import Path

from engine.model import GeoPoint, Node, NodeType
from engine.rates import DEFAULT_RATE_TABLES, RateTable
from server.api.network_cache import NetworkCache
from tests.conftest import make_sqlite_store


def test_a_second_process_view_picks_up_node_changes(tmp_path: Path) -> None:
    writer = make_sqlite_store(tmp_path / "shared.db")
    reader = make_sqlite_store(tmp_path / "shared.db")  # another worker: its own connection
    cache = NetworkCache(reader, "USD", refresh_seconds=0.0)
    writer.upsert_nodes([Node("A", NodeType.DC, GeoPoint(40.0, -95.0), 1.0, 0.2)])
    first = cache.get()
    assert [n.id for n in first.nodes] == ["A"]
    assert cache.get() is first  # unchanged store: the same snapshot, not a rebuild
    writer.upsert_nodes([Node("B", NodeType.STORE, GeoPoint(41.0, -95.0), 4.0, 0.8)])
    second = cache.get()
    assert [n.id for n in second.nodes] == ["A", "B"] and second.version != first.version


def test_a_second_process_view_picks_up_rate_table_changes(tmp_path: Path) -> None:
    writer = make_sqlite_store(tmp_path / "shared.db")
    reader = make_sqlite_store(tmp_path / "shared.db")
    cache = NetworkCache(reader, "USD", refresh_seconds=0.0)
    writer.upsert_nodes([Node("A", NodeType.DC, GeoPoint(40.0, -95.0), 1.0, 0.2)])
    first = cache.get()
    assert first.rate_tables == DEFAULT_RATE_TABLES
    carrier = RateTable("STANDARD", (200.0,), (4.0, 8.0), (0.3, 0.9))
    two_day = RateTable("TWO_DAY", (), (15.0,), (1.0,))
    writer.upsert_rate_tables([carrier, two_day])
    second = cache.get()
    # The stored tables replace the defaults whole, and a new rate card is a new network version.
    assert second.rate_tables == {"STANDARD": carrier, "TWO_DAY": two_day}
    assert second.version != first.version
