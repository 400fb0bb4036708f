"""The in-memory network snapshot, rebuilt from the store when nodes, rate tables or promise data change.

Decisions read node attributes and carrier rates from a snapshot (numpy arrays), never from
the database. A worker that changes nodes or rate tables rebuilds at once; every other worker
(and replica, and server group on another machine) notices within ``refresh_seconds`` by
comparing the store's ``network_version``, a counter every such change bumps in its own
transaction, so no process decides on a stale network for longer than that.
The snapshot's version is a hash of its nodes and rate tables: what each decision records.
"""

from __future__ import annotations

import hashlib
import threading
import time

from engine.network import NetworkSnapshot
from engine.promise.model import carrier_services_in_force
from engine.rates import rate_tables_in_force
from server.store import rows
from server.store.base import Store

DEFAULT_REFRESH_SECONDS = 1.0


class NetworkCache:
    def __init__(self, store: Store, currency: str, refresh_seconds: float = DEFAULT_REFRESH_SECONDS) -> None:
        self._store = store
        self._currency = currency
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._snapshot: NetworkSnapshot | None = None
        self._store_version = ""
        self._checked_at = 0.0

    def get(self) -> NetworkSnapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._checked_at < self._refresh_seconds:
            return snapshot
        with self._lock:
            now = time.monotonic()
            if self._snapshot is None or now - self._checked_at >= self._refresh_seconds:
                version = self._store.network_version()
                if self._snapshot is None or version != self._store_version:
                    self._snapshot = self._build()
                    self._store_version = version
                self._checked_at = now
            return self._snapshot

    def invalidate(self) -> None:
        """Called after this process changed nodes or rate tables: the next decision rebuilds."""
        with self._lock:
            self._snapshot = None

    def _build(self) -> NetworkSnapshot:
        nodes = tuple(self._store.all_nodes())
        stored_tables = self._store.rate_tables()
        tables = rate_tables_in_force(stored_tables)
        schedules = tuple(self._store.node_schedules())
        services = carrier_services_in_force(self._store.carrier_services(), stored_tables)
        # Rates, schedules and services are part of what a decision or a promise was made against:
        # a new rate card or calendar is a new version.
        described = (
            sorted(nodes, key=lambda n: n.id),
            sorted(tables.values(), key=lambda t: t.service_level),
            # as the store writes them: sorted JSON, the same text in every process (a frozenset's
            # repr follows the process's string hashing)
            [rows.node_schedule_to_row(s) for s in schedules],
            [rows.carrier_service_to_row(s) for _, s in sorted(services.items())],
        )
        digest = hashlib.sha256(repr(described).encode()).hexdigest()[:16]
        return NetworkSnapshot(
            nodes,
            rate_tables=tables,
            currency=self._currency,
            version=digest,
            node_schedules=schedules,
            carrier_services=services,
        )
