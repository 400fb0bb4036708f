"""The background sweeper: deletes holds past their expiry and records EXPIRED, every interval.

Expired holds already count as available at their expiry time (reads and reservations judge
them by the clock), so the sweeper is tidiness and an audit record, not correctness: a late or
failed sweep only delays the EXPIRED event. Every process may run one; each sweep is one store
transaction, so two sweepers cannot expire a hold twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

_log = logging.getLogger(__name__)


class Sweepable(Protocol):
    def sweep_expired(self, now: datetime) -> tuple[int, list[str]]: ...


def start_sweeper(
    store: Sweepable, clock: Callable[[], datetime], interval_seconds: float, stopping: threading.Event
) -> threading.Thread | None:
    """A daemon thread sweeping every ``interval_seconds`` until ``stopping`` is set (None when 0)."""
    if interval_seconds <= 0:
        return None

    def run() -> None:
        while not stopping.wait(interval_seconds):
            try:
                count, order_ids = store.sweep_expired(clock())
            except Exception:  # a store hiccup must not end the thread: the next sweep retries
                _log.exception("sweeping expired holds failed")
                continue
            if count:
                _log.info("expired holds swept", extra={"holds": count, "orders": len(order_ids)})

    thread = threading.Thread(target=run, name="hold-sweeper", daemon=True)
    thread.start()
    return thread
