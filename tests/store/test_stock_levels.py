"""stock_levels: what a decision reads, the same numbers as get_availability without the timestamps."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from server.store import Store
from tests.store.test_contract import T0, absolute, delta, node


def test_stock_levels_are_get_availability_without_as_of(store: Store) -> None:
    store.upsert_nodes([node("DC1"), node("DC2")])
    store.update_inventory(
        [absolute("DC1", "A", 10), absolute("DC2", "A", 4), absolute("DC1", "B", 3), delta("DC2", "B", 2)]
    )
    now = T0 + timedelta(hours=1)
    full = store.get_availability(["B", "A", "C"], now=now)
    assert any(p.as_of is not None for p in full)
    assert store.stock_levels(["B", "A", "C"], now=now) == [replace(p, as_of=None) for p in full]
    assert store.stock_levels([]) == []
