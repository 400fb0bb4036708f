"""Every worker sees another worker's node changes: the cache re-checks the store's nodes version."""

from __future__ import annotations

from pathlib import Path

from engine.model import GeoPoint, Node, NodeType
from server.network_cache import NetworkCache
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
