"""The in-memory network snapshot, rebuilt from the store when nodes change.

Decisions read node attributes from a snapshot (numpy arrays), never from the
database. Its version is a hash of the nodes it was built from, so every replica
and worker can say which network a decision was made against.
"""

from __future__ import annotations

import hashlib
import threading

from engine.network import NetworkSnapshot
from server.store.base import Store


class NetworkCache:
    def __init__(self, store: Store, currency: str) -> None:
        self._store = store
        self._currency = currency
        self._lock = threading.Lock()
        self._snapshot: NetworkSnapshot | None = None

    def get(self) -> NetworkSnapshot:
        snapshot = self._snapshot
        if snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = self._build()
                snapshot = self._snapshot
        return snapshot

    def invalidate(self) -> None:
        """Called after nodes change; the next decision rebuilds (other workers rebuild on their own)."""
        with self._lock:
            self._snapshot = None

    def _build(self) -> NetworkSnapshot:
        nodes = tuple(self._store.all_nodes())
        digest = hashlib.sha256(repr(sorted(nodes, key=lambda n: n.id)).encode()).hexdigest()[:16]
        return NetworkSnapshot(nodes, currency=self._currency, version=digest)
