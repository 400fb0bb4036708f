"""Group commit for SQLite: writers queued behind the write lock share one transaction.

SQLite has one writer at a time and pays an fsync per COMMIT (0.13-3 ms here). Callers that
queue while another holds the write lock are run by that holder, each in a SAVEPOINT of one
transaction, so one fsync covers them all. A caller's error rolls back only its savepoint; a
failed COMMIT fails every caller of the batch. Nobody gets a result before the COMMIT that
made it durable returned.

Leader/follower without a thread of its own: every caller enqueues, then takes the write lock;
whoever gets it first runs the whole queue (up to ``MAX_BATCH``); the others then find their
work done and return its outcome.

Each caller's work runs in the caller's own context (server/deadline.py, server/caller.py), and
its deadline is checked before BEGIN and before COMMIT: a caller past it gets DeadlineExceeded
and none of its work commits. Should one pass while the batch runs, the transaction is undone
and the rest run again, as PostgreSQL's retries run a transaction's work again.
"""

from __future__ import annotations

import contextvars
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from server.deadline import DeadlineExceeded, check_deadline

T = TypeVar("T")
MAX_BATCH = 64


class Slot(Generic[T]):
    __slots__ = ("context", "done", "error", "value", "work")

    def __init__(self, work: Callable[[Any], T]) -> None:
        self.work = work
        # The caller's context variables (its deadline, its token's name): the leader runs this
        # work on its own thread, but as the caller.
        self.context = contextvars.copy_context()
        self.done = False
        self.value: T | None = None
        self.error: BaseException | None = None

    def run(self, tx: Any) -> None:
        self.value, self.error = None, None
        try:
            self.value = self.context.run(self.work, tx)
        except Exception as error:
            self.error = error

    def expired(self, before: str) -> DeadlineExceeded | None:
        """The caller's deadline has passed: the error it gets (its work stays uncommitted)."""
        try:
            self.context.run(check_deadline, before)
        except DeadlineExceeded as error:
            return error
        return None

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
    live = _unexpired(batch, "BEGIN")
    try:
        while live:
            begin(connection)
            tx = make_tx(connection)
            if len(live) == 1:  # alone: its failure may undo the whole transaction, no savepoint needed
                _run_alone(connection, live[0], tx)
                return
            for slot in live:
                connection.execute("SAVEPOINT grouped")
                slot.run(tx)
                if slot.error is not None:  # this caller's failure: undo only its part
                    connection.execute("ROLLBACK TO grouped")
                connection.execute("RELEASE grouped")
            unexpired = _unexpired(live, "COMMIT")
            if len(unexpired) == len(live):
                connection.execute("COMMIT")
                return
            # A caller whose deadline passed meanwhile must not commit, and its part can no longer
            # be taken out alone: undo the transaction and run the others again (rare).
            connection.execute("ROLLBACK")
            live = unexpired
    except BaseException as error:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        for slot in live:  # nothing of the batch was committed
            slot.value = None
            slot.error = error
    finally:
        for slot in batch:
            slot.done = True


def _unexpired(slots: list[Slot[Any]], before: str) -> list[Slot[Any]]:
    """The slots whose callers' deadlines have not passed; the others fail with DeadlineExceeded."""
    kept = []
    for slot in slots:
        late = slot.expired(before)
        if late is None:
            kept.append(slot)
        else:
            slot.value, slot.error = None, late
    return kept


def _run_alone(connection: sqlite3.Connection, slot: Slot[Any], tx: Any) -> None:
    """A batch of one: two statements (SAVEPOINT, RELEASE) fewer than a shared batch."""
    slot.run(tx)
    if slot.error is None:
        slot.error = slot.expired("COMMIT")
    if slot.error is not None:  # the caller's own failure, or its deadline: nothing to commit
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        slot.value = None
        return
    connection.execute("COMMIT")
