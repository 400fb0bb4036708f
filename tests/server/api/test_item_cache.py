"""The catalogue cache: hits while the catalogue is unchanged, forgets when its counter moves (checked
once per TTL) or on invalidate, and always asks for unknown SKUs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.model import Item
from server.api.item_cache import ItemCache


class _Catalogue:
    def __init__(self) -> None:
        self.items = {"A": Item(sku="A", unit_weight_lb=1.0)}
        self.asked: list[list[str]] = []
        self.version = 0
        self.version_reads = 0

    def items_version(self) -> int:
        self.version_reads += 1
        return self.version

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]:
        self.asked.append(list(skus))
        return {s: self.items[s] for s in skus if s in self.items}


def test_hits_within_the_ttl_and_asks_again_after_invalidate() -> None:
    store = _Catalogue()
    cache = ItemCache(store, ttl_seconds=60)  # type: ignore[arg-type]
    assert cache.get_items(["A"])["A"].unit_weight_lb == 1.0
    store.items["A"] = Item(sku="A", unit_weight_lb=2.0)
    assert cache.get_items(["A"])["A"].unit_weight_lb == 1.0  # cached
    cache.invalidate()
    assert cache.get_items(["A"])["A"].unit_weight_lb == 2.0
    assert store.asked == [["A"], ["A"]]


def test_an_unknown_sku_is_asked_every_time_so_a_new_item_is_seen_at_once() -> None:
    store: Any = _Catalogue()
    cache = ItemCache(store, ttl_seconds=60)
    assert cache.get_items(["A", "B"]).keys() == {"A"}
    store.items["B"] = Item(sku="B", unit_weight_lb=3.0)
    assert cache.get_items(["A", "B"]).keys() == {"A", "B"}
    assert store.asked == [["A", "B"], ["B"]]


def test_entries_live_while_the_catalogue_counter_stands_still() -> None:
    store: Any = _Catalogue()
    cache = ItemCache(store, ttl_seconds=0)  # checks the counter on every read
    for _ in range(3):
        assert cache.get_items(["A"])["A"].unit_weight_lb == 1.0
    assert store.asked == [["A"]]
    assert store.version_reads == 3


def test_a_change_elsewhere_is_seen_at_the_next_check() -> None:
    store: Any = _Catalogue()
    cache = ItemCache(store, ttl_seconds=0)
    cache.get_items(["A"])
    store.items["A"] = Item(sku="A", unit_weight_lb=2.0)  # another process's upsert
    store.version += 1
    assert cache.get_items(["A"])["A"].unit_weight_lb == 2.0
    assert store.asked == [["A"], ["A"]]


def test_the_counter_is_read_at_most_once_per_ttl() -> None:
    store: Any = _Catalogue()
    cache = ItemCache(store, ttl_seconds=60)
    for _ in range(5):
        cache.get_items(["A"])
    store.items["A"] = Item(sku="A", unit_weight_lb=2.0)
    store.version += 1
    assert cache.get_items(["A"])["A"].unit_weight_lb == 1.0  # within the TTL: stale by contract
    assert store.version_reads == 1
