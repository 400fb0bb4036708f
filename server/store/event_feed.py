"""The event feed behind WatchEvents: a commit-ordered cursor over the append-only events table.

Why not the events id: ids are taken when a row is INSERTed, not when its transaction commits.
On PostgreSQL, a transaction that took id 10 may commit after one that took id 11; a reader that
had delivered 11 and resumed "after 11" would skip 10 forever. So the cursor is ``events.seq``,
written AFTER commit by ``sequence_events``: it numbers every committed, unnumbered event, in id
order, continuing from the largest number given so far, under a lock that serializes numbering
(PostgreSQL: a transaction-level advisory lock; SQLite: its single write lock). An event commits
before it can be numbered, and numbers only grow, so a reader of ``seq > cursor`` never misses
one.

SQLite commits its one writer at a time, in insert order, so there an event's own transaction
numbers it (a trigger, migration 017) and ``sequence_events`` finds nothing to do: a reader (the
relay, WatchEvents, a webhook dispatcher) then needs no write transaction of its own, which would
queue behind the order writers for the file's write lock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from server.store.base import FeedEvent

if TYPE_CHECKING:
    from server.store.sql import Tx

T = TypeVar("T")

# Events numbered per transaction: bounds the time the numbering lock is held.
SEQUENCE_BATCH = 5000


class EventFeedMixin(ABC):
    # Run first in the numbering transaction where writers run concurrently (PostgreSQL).
    FEED_LOCK: str = ""

    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _write(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime | None: ...

    def sequence_events(self) -> int:
        """Number committed events that have no cursor yet; how many were numbered (on SQLite
        none: its events are numbered by their own transactions)."""
        pending = self._read(lambda tx: tx.execute("SELECT id FROM events WHERE seq IS NULL LIMIT 1"))
        if not pending:  # the common case while following: no write transaction at all
            return 0
        total = 0
        while True:
            numbered = self._write(self._number_committed)
            total += numbered
            if numbered < SEQUENCE_BATCH:
                return total

    def _number_committed(self, tx: Tx) -> int:
        """In ``tx``: number up to SEQUENCE_BATCH committed, unnumbered events in id order, after
        the largest number given so far, under the numbering lock; how many."""
        if self.FEED_LOCK:
            tx.execute(self.FEED_LOCK)
        # One statement, not a statement per event: at Allocate's peak the relay numbers every
        # event it publishes, and the database's CPU is the handlers' too.
        numbered = tx.execute(
            "UPDATE events SET seq = numbered.seq FROM ("
            " SELECT id, (SELECT COALESCE(MAX(seq), 0) FROM events) + ROW_NUMBER() OVER (ORDER BY id) AS seq"
            " FROM events WHERE seq IS NULL ORDER BY id LIMIT ?) AS numbered"
            " WHERE events.id = numbered.id RETURNING events.id",
            (SEQUENCE_BATCH,),
        )
        return len(numbered)

    def events_after(self, cursor: int, limit: int) -> list[FeedEvent]:
        """Numbered events after ``cursor``, in cursor order, at most ``limit``."""
        rows = self._read(
            lambda tx: tx.execute(
                "SELECT seq, id, order_id, type, payload, created_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (cursor, limit),
            )
        )
        out = []
        for seq, id_, order_id, type_, payload, created_at in rows:
            stamp = self._ts_out(created_at)
            assert stamp is not None
            out.append(FeedEvent(int(seq), int(id_), order_id or "", type_, payload, stamp))
        return out
