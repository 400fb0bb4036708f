"""SQLite group commit: queued writers share one transaction; one caller's error undoes only its part."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from server.store.sqlite import SqliteStore


def test_queued_writers_share_a_transaction_and_fail_alone(sqlite_store: SqliteStore) -> None:
    ran_on: dict[int, tuple[int, int]] = {}
    start = threading.Barrier(16)

    def write(i: int) -> int:
        caller = threading.get_ident()

        def work(tx: Any) -> int:
            ran_on[i] = (caller, threading.get_ident())
            tx.execute(
                "INSERT INTO events (order_id, type, payload, created_at) VALUES (?, 'T', '{}', 'x')", (f"o{i}",)
            )
            if i == 0:
                time.sleep(0.05)  # hold the write lock so that the others queue behind it
            if i % 2:
                raise ValueError(f"caller {i} fails")
            return i

        if i:
            start.wait()
            time.sleep(0.01)
        else:
            start.wait()
        return sqlite_store._write_grouped(work)

    outcomes: dict[int, Any] = {}
    with ThreadPoolExecutor(16) as pool:
        futures = {i: pool.submit(write, i) for i in range(16)}
        for i, future in futures.items():
            try:
                outcomes[i] = future.result()
            except ValueError as error:
                outcomes[i] = str(error)
    assert outcomes == {i: (f"caller {i} fails" if i % 2 else i) for i in range(16)}
    written = sqlite_store._read(lambda tx: tx.execute("SELECT order_id FROM events ORDER BY order_id"))
    assert sorted(r[0] for r in written) == sorted(f"o{i}" for i in range(0, 16, 2))
    assert any(caller != runner for caller, runner in ran_on.values()), "no batch formed: group commit untested"


def test_a_failing_statement_fails_its_caller_only(sqlite_store: SqliteStore) -> None:
    def bad(tx: Any) -> None:
        tx.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(Exception, match="no_such_table"):
        sqlite_store._write_grouped(bad)
    assert sqlite_store._write_grouped(lambda tx: 7) == 7  # the next batch is unaffected
