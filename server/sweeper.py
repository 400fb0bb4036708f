"""The background sweeper, every interval: deletes holds past their expiry (recording EXPIRED),
then request keys past their retention.

Expired holds already count as available at their expiry time (reads and reservations judge
them by the clock), so the sweeper is tidiness and an audit record, not correctness: a late or
failed sweep only delays the EXPIRED event. Every process may run one; each sweep is one store
transaction, so two sweepers cannot expire a hold twice.

Request keys keep each mutating call's stored response (a few kB) for replays; without a bound
the table grows with every call ever made. Keys older than the retention go in batches of
``PURGE_BATCH``, each its own short transaction, so writers wait for no long delete.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

_log = logging.getLogger(__name__)
PURGE_BATCH = 1_000
PURGE_BATCHES_PER_SWEEP = 20  # 20,000 keys per sweep at most: far above any rate of calls here


class Sweepable(Protocol):
    def sweep_expired(self, now: datetime) -> tuple[int, list[str]]: ...

    def purge_request_keys(self, created_before: datetime, limit: int) -> int: ...


def start_sweeper(
    store: Sweepable,
    clock: Callable[[], datetime],
    interval_seconds: float,
    stopping: threading.Event,
    key_retention: timedelta | None = None,
) -> threading.Thread | None:
    """A daemon thread sweeping every ``interval_seconds`` until ``stopping`` is set (None when 0);
    request keys older than ``key_retention`` go too (None keeps them)."""
    if interval_seconds <= 0:
        return None

    def run() -> None:
        while not stopping.wait(interval_seconds):
            try:
                count, order_ids = store.sweep_expired(clock())
            except Exception:  # a store hiccup must not end the thread: the next sweep retries
                _log.exception("sweeping expired holds failed")
            else:
                if count:
                    _log.info("expired holds swept", extra={"holds": count, "orders": len(order_ids)})
            if key_retention is not None:
                purge_request_keys(store, clock() - key_retention, stopping)

    thread = threading.Thread(target=run, name="sweeper", daemon=True)
    thread.start()
    return thread


def purge_request_keys(store: Sweepable, created_before: datetime, stopping: threading.Event) -> int:
    """Delete request keys created before ``created_before``, a batch at a time; how many went."""
    purged = 0
    try:
        for _ in range(PURGE_BATCHES_PER_SWEEP):
            gone = store.purge_request_keys(created_before, PURGE_BATCH)
            purged += gone
            if gone < PURGE_BATCH or stopping.is_set():
                break
    except Exception:  # as for holds: the next sweep retries
        _log.exception("purging request keys failed")
    if purged:
        _log.info("request keys purged", extra={"keys": purged, "created_before": created_before.isoformat()})
    return purged
