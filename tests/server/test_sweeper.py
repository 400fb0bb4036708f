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

    def purge_request_keys(self, created_before: datetime, limit: int) -> int:
        raise AssertionError("no retention was given")


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


class KeyStore:
    """Holds nothing expired; ``keys`` old request keys to purge, a batch at a time."""

    def __init__(self, keys: int) -> None:
        self.keys = keys
        self.cutoffs: list[datetime] = []

    def sweep_expired(self, now: datetime) -> tuple[int, list[str]]:
        return 0, []

    def purge_request_keys(self, created_before: datetime, limit: int) -> int:
        self.cutoffs.append(created_before)
        gone = min(limit, self.keys)
        self.keys -= gone
        return gone


def test_purges_request_keys_past_the_retention_in_bounded_batches() -> None:
    from datetime import timedelta

    from server.sweeper import PURGE_BATCH, PURGE_BATCHES_PER_SWEEP, purge_request_keys

    store, stopping = KeyStore(keys=PURGE_BATCH * 2 + 5), threading.Event()
    assert purge_request_keys(store, NOW, stopping) == PURGE_BATCH * 2 + 5
    assert len(store.cutoffs) == 3 and store.keys == 0, "stops after a short batch"
    flood = KeyStore(keys=PURGE_BATCH * (PURGE_BATCHES_PER_SWEEP + 5))
    assert purge_request_keys(flood, NOW, stopping) == PURGE_BATCH * PURGE_BATCHES_PER_SWEEP, "the rest next sweep"

    swept = KeyStore(keys=1)
    thread = start_sweeper(swept, lambda: NOW, 0.01, stopping, key_retention=timedelta(hours=72))
    assert thread is not None
    deadline = time.monotonic() + 5.0
    while swept.keys:
        assert time.monotonic() < deadline, "the sweeper never purged"
        time.sleep(0.01)
    stopping.set()
    thread.join(2.0)
    assert swept.cutoffs[0] == NOW - timedelta(hours=72)


def test_without_a_retention_keys_are_kept() -> None:
    store, stopping = KeyStore(keys=10), threading.Event()
    thread = start_sweeper(store, lambda: NOW, 0.01, stopping)
    assert thread is not None
    time.sleep(0.1)
    stopping.set()
    thread.join(2.0)
    assert store.keys == 10 and store.cutoffs == []
