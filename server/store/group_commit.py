"""Group commit for SQLite: writers queued behind the write lock share one transaction.

SQLite has one writer at a time and pays an fsync per COMMIT (0.13-3 ms here). Callers that
queue while another holds the write lock are run by that holder, each in a SAVEPOINT of one
transaction, so one fsync covers them all. A caller's error rolls back only its savepoint; a
failed COMMIT fails every caller of the batch. Nobody gets a result before the COMMIT that
made it durable returned.

Leader/follower without a thread of its own: every caller enqueues, then takes the write lock;
whoever gets it first runs the whole queue (up to ``MAX_BATCH``); the others then find their
work done and return its outcome.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
MAX_BATCH = 64


class Slot(Generic[T]):
    __slots__ = ("done", "error", "value", "work")

    def __init__(self, work: Callable[[Any], T]) -> None:
        self.work = work
        self.done = False
        self.value: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class GroupCommitter:
    def __init__(self, write_lock: threading.Lock) -> None:
        self._write_lock = write_lock
        self._queue_lock = threading.Lock()
        self._queue: list[Slot[Any]] = []

    def run(
        self,
        work: Callable[[Any], T],
        connect: Callable[[], Any],
        begin: Callable[[sqlite3.Connection], None],
        make_tx: Callable[[sqlite3.Connection], Any],
    ) -> T:
        """``connect()`` is a context manager giving a connection; ``begin`` opens the write transaction."""
        slot: Slot[T] = Slot(work)
        with self._queue_lock:
            self._queue.append(slot)
        with self._write_lock:
            if not slot.done:
                with self._queue_lock:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                if slot not in batch:  # cannot happen: ours was queued before any later one
                    batch.append(slot)
                    self._queue.remove(slot)
                with connect() as connection:
                    _run_batch(connection, batch, begin, make_tx)
        return slot.outcome()


def _run_batch(
    connection: sqlite3.Connection,
    batch: list[Slot[Any]],
    begin: Callable[[sqlite3.Connection], None],
    make_tx: Callable[[sqlite3.Connection], Any],
) -> None:
    try:
        begin(connection)
        tx = make_tx(connection)
        if len(batch) == 1:  # alone: its failure may undo the whole transaction, no savepoint needed
            _run_alone(connection, batch[0], tx)
            return
        for slot in batch:
            connection.execute("SAVEPOINT grouped")
            try:
                slot.value = slot.work(tx)
            except Exception as error:  # this caller's failure: undo only its part
                connection.execute("ROLLBACK TO grouped")
                slot.error = error
            connection.execute("RELEASE grouped")
        connection.execute("COMMIT")
    except BaseException as error:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        for slot in batch:  # nothing of the batch was committed
            slot.value = None
            slot.error = error
    finally:
        for slot in batch:
            slot.done = True


def _run_alone(connection: sqlite3.Connection, slot: Slot[Any], tx: Any) -> None:
    """A batch of one: two statements (SAVEPOINT, RELEASE) fewer than a shared batch."""
    try:
        slot.value = slot.work(tx)
    except Exception as error:  # the caller's own failure: nothing to commit
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        slot.error = error
        return
    connection.execute("COMMIT")
