"""Today's shipments per node, for rules' daily capacity caps, re-read at most once a second.

Days are UTC days. The count is shared by every worker through the store, so a cap holds
across workers to within the refresh interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

DEFAULT_REFRESH_SECONDS = 1.0


class ShipmentCounts(Protocol):
    def shipments_since(self, since: datetime) -> dict[str, int]: ...


class DailyShipments:
    def __init__(self, store: ShipmentCounts, refresh_seconds: float = DEFAULT_REFRESH_SECONDS) -> None:
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._day: datetime | None = None
        self._counts: Mapping[str, int] = {}
        self._read_at = float("-inf")

    def counts(self, now: datetime) -> Mapping[str, int]:
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        with self._lock:
            if day != self._day or time.monotonic() - self._read_at >= self._refresh_seconds:
                self._counts = self._store.shipments_since(day)
                self._day, self._read_at = day, time.monotonic()
            return self._counts
