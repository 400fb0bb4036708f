"""Catalogue items by SKU (and SKU aliases and units), held in memory: every decision reads its order's items.

Reading and decoding them per call (JSON tags and attributes per row) was ~7% of a Source call
(docs/profiling.md). The contract is the network cache's: a change made through this process is
seen at once (``invalidate``), one made elsewhere (another worker, a replica, ``oms-sourcing
load``) within ``ttl_seconds``. At most once per ``ttl_seconds`` the cache reads the store's
catalogue counter (``Store.items_version``, one row) and forgets everything when it moved; so an
item stays cached for as long as nothing in the catalogue changes. (Timing out each entry on
its own, as it did first, re-read every hot SKU once a second: at 500 orders a second over 300
SKUs, six calls in ten went to the store.) A SKU the cache does not know is always asked of the
store, so a new item is never refused as unknown because of the cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

from engine.model import Item
from server.store.base import Store

DEFAULT_TTL_SECONDS = 1.0
# A bound on memory for very large catalogues: past it the cache starts over (a miss is cheap).
MAX_ENTRIES = 200_000


class ItemCache:
    def __init__(self, store: Store, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._checked_at = -float("inf")
        self._version: int | None = None
        # Replaced, never cleared in place: readers on other threads keep a consistent dict.
        # Single-key writes are atomic under the GIL.
        self._entries: dict[str, Item] = {}
        # SKU aliases (key to SKU) and declared units (SKU to unit factors), forgotten with the
        # items: alias and unit writes move the same counter. Only found ones are kept, so a new
        # alias or unit is never refused because of the cache.
        self._aliases: dict[str, str] = {}
        self._units: dict[str, dict[str, int]] = {}

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]:
        """Like ``Store.get_items``: the known ones of ``skus``, by SKU."""
        if time.monotonic() - self._checked_at >= self._ttl:
            self._revalidate()
        entries = self._entries
        found: dict[str, Item] = {}
        missing: list[str] = []
        for sku in skus:
            item = entries.get(sku)
            if item is None:
                missing.append(sku)
            else:
                found[sku] = item
        if missing:
            fetched = self._store.get_items(missing)
            if len(entries) + len(fetched) > MAX_ENTRIES:
                entries = self._entries = {}
            entries.update(fetched)
            found.update(fetched)
        return found

    def all_cached(self, skus: Iterable[str]) -> bool:
        """Whether every one of ``skus`` is a cached item (no store read; False when unsure)."""
        entries = self._entries
        return all(sku in entries for sku in skus)

    def aliases(self, keys: Sequence[str]) -> dict[str, str]:
        """Like ``Store.resolve_alias_keys``: the SKU each known alias among ``keys`` names."""
        if time.monotonic() - self._checked_at >= self._ttl:
            self._revalidate()
        cached = self._aliases
        found = {k: cached[k] for k in keys if k in cached}
        missing = [k for k in keys if k not in found]
        if missing:
            fetched = self._store.resolve_alias_keys(missing)
            if len(cached) + len(fetched) > MAX_ENTRIES:
                cached = self._aliases = {}
            cached.update(fetched)
            found.update(fetched)
        return found

    def unit_factors(self, skus: Sequence[str]) -> dict[str, dict[str, int]]:
        """The declared units (name to factor, without EACH) of those of ``skus`` that have any."""
        if time.monotonic() - self._checked_at >= self._ttl:
            self._revalidate()
        cached = self._units
        found = {s: cached[s] for s in skus if s in cached}
        missing = [s for s in skus if s not in found]
        if missing:
            fetched = {s: {u.unit: u.factor for u in units} for s, units in self._store.item_units(missing).items()}
            if len(cached) + len(fetched) > MAX_ENTRIES:
                cached = self._units = {}
            cached.update(fetched)
            found.update(fetched)
        return found

    def invalidate(self) -> None:
        """Called after this process changed items, aliases or units (or loaded a network): the next
        read asks the store."""
        self._entries = {}
        self._aliases = {}
        self._units = {}

    def _revalidate(self) -> None:
        """Forget every entry if the catalogue changed since the last check (one thread asks)."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at < self._ttl:
                return  # another thread just checked
            # Read before any entry fetched after it, so a change racing with a fetch shows up
            # as a moved counter at the next check, never as a stale entry kept for good.
            version = self._store.items_version()
            if version != self._version:
                self._entries = {}
                self._aliases = {}
                self._units = {}
                self._version = version
            self._checked_at = now
