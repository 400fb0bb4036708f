"""The background sweeper: sweeps on its interval, survives a failing sweep, stops when told."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from server.sweeper import start_sweeper

NOW = datetime(2026, 11, 24, tzinfo=UTC)


class FlakyStore:
    def __init__(self) -> None:
        self.calls = 0

    def sweep_expired(self, now: datetime) -> tuple[int, list[str]]:
        self.calls += 1
        if self.calls == 1:
            raise OSError("database went away")
        return 1, ["O-1"]


def test_sweeps_repeatedly_survives_an_error_and_stops_on_shutdown() -> None:
    store, stopping = FlakyStore(), threading.Event()
    thread = start_sweeper(store, lambda: NOW, 0.01, stopping)
    assert thread is not None
    deadline = time.monotonic() + 5.0
    while store.calls < 3:
        assert time.monotonic() < deadline, "the sweeper stopped sweeping"
        time.sleep(0.01)
    stopping.set()
    thread.join(2.0)
    assert not thread.is_alive()
    calls = store.calls
    time.sleep(0.05)
    assert store.calls == calls


def test_an_interval_of_zero_starts_nothing() -> None:
    assert start_sweeper(FlakyStore(), lambda: NOW, 0.0, threading.Event()) is None
