"""SQLite group commit: queued writers share one transaction; one caller's error undoes only its part."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from server.caller import calling_as, current_caller
from server.deadline import DeadlineExceeded, deadline_after
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


def test_a_caller_past_its_deadline_commits_nothing_and_the_others_commit_once(sqlite_store: SqliteStore) -> None:
    """Callers queued behind a slow writer share the next transaction, each run in its own context
    (its deadline, its caller) on whichever thread leads. One whose deadline passes while it waits
    is refused before BEGIN and never runs; one whose deadline passes while another's work runs
    is refused at COMMIT, which undoes the transaction and runs the others again, once more."""
    runs: Counter[str] = Counter()
    lock_taken = threading.Event()

    def insert(name: str, pause: float = 0.0) -> Callable[[Any], str]:
        def work(tx: Any) -> str:
            runs[name] += 1
            tx.execute(
                "INSERT INTO events (order_id, type, payload, created_at) VALUES (?, 'T', ?, 'x')",
                (name, current_caller()),
            )
            if name == "first":
                lock_taken.set()
            time.sleep(pause)
            return name

        return work

    def write(name: str, queued_after: float, deadline: float | None, pause: float = 0.0) -> str:
        if name != "first":
            assert lock_taken.wait(10)
            time.sleep(queued_after)  # queued in this order, while "first" holds the write lock
        with calling_as(f"token-{name}"), deadline_after(deadline):
            try:
                return sqlite_store._write_grouped(insert(name, pause))
            except DeadlineExceeded as error:
                return str(error)

    plan = [("first", 0.0, None, 0.5), ("late", 0.02, 0.1, 0.0), ("tight", 0.05, 0.8, 0.0), ("slow", 0.1, None, 0.8)]
    with ThreadPoolExecutor(len(plan)) as pool:
        outcomes = dict(zip([p[0] for p in plan], pool.map(lambda p: write(*p), plan), strict=True))
    assert outcomes["first"] == "first" and outcomes["slow"] == "slow"
    assert "deadline passed before BEGIN" in outcomes["late"]
    assert "deadline passed before COMMIT" in outcomes["tight"]
    assert runs == {"first": 1, "tight": 1, "slow": 2}  # "late" never ran; "slow" ran again alone
    written = sqlite_store._read(lambda tx: tx.execute("SELECT order_id, payload FROM events ORDER BY order_id"))
    assert [tuple(r) for r in written] == [("first", "token-first"), ("slow", "token-slow")]
