"""Catalogue items by SKU, held in memory for a second: every decision reads its order's items.

Reading and decoding them per call (JSON tags and attributes per row) was ~7% of a Source call
(docs/profiling.md). The contract is the network cache's: a change made through this process is
seen at once (``invalidate``), one made elsewhere (another worker, a replica, ``oms-sourcing
load``) within ``ttl_seconds``. A SKU the cache does not know is always asked of the store, so a
new item is never refused as unknown because of the cache.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from engine.model import Item
from server.store.base import Store

DEFAULT_TTL_SECONDS = 1.0
# A bound on memory for very large catalogues: past it the cache starts over (a miss is cheap).
MAX_ENTRIES = 200_000


class ItemCache:
    def __init__(self, store: Store, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._store = store
        self._ttl = ttl_seconds
        # Replaced, never mutated in place by invalidate(): readers on other threads keep a
        # consistent dict. Single-key writes are atomic under the GIL.
        self._entries: dict[str, tuple[float, Item]] = {}

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]:
        """Like ``Store.get_items``: the known ones of ``skus``, by SKU."""
        now = time.monotonic()
        entries = self._entries
        found: dict[str, Item] = {}
        missing: list[str] = []
        for sku in skus:
            entry = entries.get(sku)
            if entry is not None and now - entry[0] < self._ttl:
                found[sku] = entry[1]
            else:
                missing.append(sku)
        if missing:
            fetched = self._store.get_items(missing)
            if len(entries) + len(fetched) > MAX_ENTRIES:
                entries = self._entries = {}
            for sku, item in fetched.items():
                entries[sku] = (now, item)
            found.update(fetched)
        return found

    def invalidate(self) -> None:
        """Called after this process changed items (or loaded a network): the next read asks the store."""
        self._entries = {}
