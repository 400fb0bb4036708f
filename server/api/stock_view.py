"""Checkout's in-process view of available stock: per SKU, the units available at each node
(on hand less live holds and protections), kept for as long as the store says nothing changed.

Reading the stock was a fifth of a served Promise and over a third of a product page's call
(docs/promise.md, "Speed"). Checkout asks about the same SKUs again and again between writes, so
the view keeps what it read and asks the store, per call, only for its stock generation
(``Store.stock_generation``: SQLite's ``PRAGMA data_version``, or PostgreSQL's row bumped by every
transaction writing inventory or holds). Never stale after a commit, whichever process made it:

- the generation is read before the stock, so a write committed in between makes the next call
  see a new generation and read again (at worst one read too many, never one too few);
- an answer read under an older generation is never stored (two threads, one behind the other);
- holds passing their expiry change availability with no write: each SKU is kept only until the
  earliest expiry of a live hold on it (``Store.next_hold_expiry``), and only for instants from
  its read on (an instant asked about before it reads again);
- a store without a generation (the in-process store) is read every time.

Entries are keyed by the network's node index, so a new network version starts the view over.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from server.store.base import Store

# A bound on memory: past it the view starts over (a miss is one query).
MAX_SKUS = 100_000


@dataclass(frozen=True, slots=True)
class _Entry:
    units: dict[int, int]  # node index -> units available (> 0)
    read_at: datetime
    until: datetime | None  # the next expiry of a live hold on the SKU (None: no live hold)


class StockView:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._index: Mapping[str, int] | None = None
        self._entries: dict[str, _Entry] = {}

    def available(self, index: Mapping[str, int], skus: Sequence[str], now: datetime) -> dict[str, dict[int, int]]:
        """Per SKU, units available per node index at ``now`` (nodes outside ``index`` and SKUs
        with none left out). The dicts returned are shared: callers must not change them."""
        generation = self._store.stock_generation()
        if generation is None:
            return self._read(index, skus, now)
        with self._lock:
            if generation != self._generation or index is not self._index or len(self._entries) > MAX_SKUS:
                self._entries, self._generation, self._index = {}, generation, index
            entries = self._entries
        out: dict[str, dict[int, int]] = {}
        missing: list[str] = []
        for sku in skus:
            entry = entries.get(sku)
            if entry is None or now < entry.read_at or (entry.until is not None and now >= entry.until):
                missing.append(sku)
            elif entry.units:
                out[sku] = entry.units
        if not missing:
            return out
        read = self._read(index, missing, now)
        until = self._store.next_hold_expiry(missing, now)
        with self._lock:
            keep = generation == self._generation and index is self._index
            for sku in missing:
                units = read.get(sku)
                if units is not None:
                    out[sku] = units
                if keep:
                    self._entries[sku] = _Entry(units or {}, now, until)
        return out

    def _read(self, index: Mapping[str, int], skus: Sequence[str], now: datetime) -> dict[str, dict[int, int]]:
        levels = self._store.stock_levels(skus, now=now)
        out: dict[str, dict[int, int]] = {}
        for sku, node_id, units in zip(levels.skus, levels.node_ids, levels.units, strict=True):
            i = index.get(node_id)
            if i is not None and units > 0:
                out.setdefault(sku, {})[i] = int(units)
        return out
