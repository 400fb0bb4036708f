"""The transactional outbox's store side: what a relay reads and the position and lease it keeps.

The outbox is the ``events`` table itself: every order change appends its event in the change's
own transaction, so an event exists exactly when its change committed. Events are numbered in
commit order (``events.seq``: by their own transaction on SQLite, by the feed's sequencer after
commit on PostgreSQL; ``server/store/event_feed.py``); a
relay publishes them in that order and stores, in ``outbox_relay``, the seq of the last one the
broker acknowledged. Restarted, it resumes after that position: an event published but not yet
recorded is published again with the same message id, which the broker's duplicate window drops.

The lease: one row per destination holds ``holder`` and ``lease_until`` (epoch milliseconds). A
relay takes the lease when it is free or expired, renews it with every position it records, and
records a position only while it still holds the lease, so a relay that lost it (paused, cut off
from the database) cannot move the position of the one that took over. Relays compare
``lease_until`` with their own clocks: keep the servers' clocks in step (NTP) to well within the
lease time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from server.store.sql import Tx

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    seq: int  # the commit-ordered position (events.seq)
    id: int  # the event id: unique and never reused, the broker's message id
    order_id: str  # "" for an event about no order
    order_seq: int  # 1 for an order's first event, 2 for its second...; 0 without an order
    type: str
    payload: str  # JSON
    created_at: datetime


class OutboxStoreMixin(ABC):
    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _write(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime | None: ...

    FEED_LOCK: str

    @abstractmethod
    def sequence_events(self) -> int: ...

    @abstractmethod
    def _number_committed(self, tx: Tx) -> int: ...

    def outbox_after(self, position: int, limit: int) -> list[OutboxEvent]:
        """Numbered events after ``position`` in seq order, at most ``limit``, each with its
        per-order sequence (its rank among its order's events by id: an order's changes lock its
        row, so its events' ids follow their commit order)."""
        return self._outbox_events(self._read(lambda tx: self._outbox_rows(tx, position, limit)))

    def next_outbox_events(self, position: int, limit: int) -> list[OutboxEvent]:
        """A follower's round (the relay's, a webhook dispatcher's): what committed since its last
        round numbered, then ``outbox_after(position, limit)``, in one transaction. On SQLite
        events are numbered by their own transactions, so this is a read."""
        if not self.FEED_LOCK:
            return self.outbox_after(position, limit)

        def work(tx: Tx) -> list[Any]:
            self._number_committed(tx)
            return self._outbox_rows(tx, position, limit)

        return self._outbox_events(self._write(work))

    @staticmethod
    def _outbox_rows(tx: Tx, position: int, limit: int) -> list[Any]:
        return tx.execute(
            "SELECT e.seq, e.id, e.order_id, e.type, e.payload, e.created_at,"
            " (SELECT COUNT(*) FROM events p WHERE p.order_id = e.order_id AND p.id <= e.id)"
            " FROM events e WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
            (position, limit),
        )

    def _outbox_events(self, rows: list[Any]) -> list[OutboxEvent]:
        out = []
        for seq, id_, order_id, type_, payload, created_at, order_seq in rows:
            stamp = self._ts_out(created_at)
            assert stamp is not None
            out.append(OutboxEvent(int(seq), int(id_), order_id or "", int(order_seq), type_, payload, stamp))
        return out

    def order_request(self, order_id: str) -> str:
        """The order as it was placed (its request JSON: lines, ship-to, service level); "" when unknown."""
        rows = self._read(lambda tx: tx.execute("SELECT request FROM orders WHERE order_id = ?", (order_id,)))
        return str(rows[0][0]) if rows else ""

    def outbox_depth(self, position: int) -> int:
        """Committed events not yet past ``position``: numbered ones after it plus unnumbered ones."""

        def read(tx: Tx) -> int:
            top = int(tx.execute("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])
            unnumbered = int(tx.execute("SELECT COUNT(*) FROM events WHERE seq IS NULL")[0][0])
            return max(0, top - position) + unnumbered

        return self._read(read)

    def acquire_relay_lease(self, name: str, holder: str, now_ms: int, ttl_ms: int) -> int | None:
        """Take or renew the lease of relay ``name`` for ``holder`` until ``now_ms + ttl_ms``; the
        stored position when it is ours, None while another holder's lease runs."""

        def work(tx: Tx) -> int | None:
            tx.execute("INSERT INTO outbox_relay (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
            rows = tx.execute(
                "UPDATE outbox_relay SET holder = ?, lease_until = ?, updated_at = ?"
                " WHERE name = ? AND (holder = ? OR lease_until < ?) RETURNING position",
                (holder, now_ms + ttl_ms, now_ms, name, holder, now_ms),
            )
            return int(rows[0][0]) if rows else None

        return self._write(work)

    def advance_relay(self, name: str, holder: str, position: int, now_ms: int, ttl_ms: int) -> bool:
        """Record ``position`` (never moving back) and renew the lease, only while ``holder`` still
        holds an unexpired lease; False when it does not (it must stop publishing)."""

        def work(tx: Tx) -> bool:
            rows = tx.execute(
                "UPDATE outbox_relay SET position = CASE WHEN position < ? THEN ? ELSE position END,"
                " lease_until = ?, updated_at = ? WHERE name = ? AND holder = ? AND lease_until >= ?"
                " RETURNING position",
                (position, position, now_ms + ttl_ms, now_ms, name, holder, now_ms),
            )
            return bool(rows)

        return self._write(work)

    def release_relay_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean stop), so another relay need not wait for it to expire."""
        self._write(
            lambda tx: tx.execute(
                "UPDATE outbox_relay SET lease_until = 0 WHERE name = ? AND holder = ? RETURNING name", (name, holder)
            )
        )

    def relay_state(self, name: str) -> tuple[int, str, int] | None:
        """(position, holder, lease_until) of relay ``name``; None before any relay ran."""
        rows = self._read(
            lambda tx: tx.execute("SELECT position, holder, lease_until FROM outbox_relay WHERE name = ?", (name,))
        )
        return (int(rows[0][0]), str(rows[0][1]), int(rows[0][2])) if rows else None

    def start_relay_at(self, name: str, position: int) -> None:
        """Create relay ``name``'s row at ``position`` when it has none (a new webhook subscriber
        starts at the outbox's head, not its history); an existing row is left alone."""
        self._write(
            lambda tx: tx.execute(
                "INSERT INTO outbox_relay (name, position) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING name",
                (name, position),
            )
        )

    def outbox_head(self) -> int:
        """The position of the last numbered event (0: none)."""
        self.sequence_events()
        return int(self._read(lambda tx: tx.execute("SELECT COALESCE(MAX(seq), 0) FROM events"))[0][0])

    def outbox_event(self, event_id: int) -> OutboxEvent | None:
        """One event by id, with its per-order sequence (a dead letter replayed)."""
        rows = self._read(
            lambda tx: tx.execute(
                "SELECT e.seq, e.id, e.order_id, e.type, e.payload, e.created_at,"
                " (SELECT COUNT(*) FROM events p WHERE p.order_id = e.order_id AND p.id <= e.id)"
                " FROM events e WHERE e.id = ?",
                (event_id,),
            )
        )
        if not rows:
            return None
        seq, id_, order_id, type_, payload, created_at, order_seq = rows[0]
        stamp = self._ts_out(created_at)
        assert stamp is not None
        return OutboxEvent(int(seq or 0), int(id_), order_id or "", int(order_seq), type_, payload, stamp)

    # --- webhook dead letters ------------------------------------------------------

    def add_dead_letter(self, letter: DeadLetter) -> None:
        """Record an event a subscriber did not accept (again: its attempts and error are updated
        and it is open once more)."""
        self._write(
            lambda tx: tx.execute(
                "INSERT INTO webhook_dead_letters (subscriber, event_id, event_seq, order_id, event_type, attempts,"
                " last_error, dead_at, replayed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (subscriber, event_id) DO UPDATE SET attempts = excluded.attempts,"
                " last_error = excluded.last_error, dead_at = excluded.dead_at, replayed_at = NULL RETURNING event_id",
                (
                    letter.subscriber,
                    letter.event_id,
                    letter.event_seq,
                    letter.order_id,
                    letter.event_type,
                    letter.attempts,
                    letter.last_error[:2000],
                    letter.dead_at_ms,
                ),
            )
        )

    def has_open_dead_letter(self, subscriber: str, order_id: str) -> bool:
        """Whether an event of ``order_id`` waits in ``subscriber``'s dead letters (its later events
        must wait too, so the subscriber never gets an order's events out of order)."""
        if not order_id:
            return False
        rows = self._read(
            lambda tx: tx.execute(
                "SELECT 1 FROM webhook_dead_letters WHERE subscriber = ? AND order_id = ? AND replayed_at IS NULL"
                " LIMIT 1",
                (subscriber, order_id),
            )
        )
        return bool(rows)

    def dead_letters(self, subscriber: str = "", include_replayed: bool = False, limit: int = 1000) -> list[DeadLetter]:
        """Dead letters in event order (one subscriber's, or every one's), open ones only unless asked."""
        where = ["1 = 1"]
        params: list[Any] = []
        if subscriber:
            where.append("subscriber = ?")
            params.append(subscriber)
        if not include_replayed:
            where.append("replayed_at IS NULL")
        rows = self._read(
            lambda tx: tx.execute(
                "SELECT subscriber, event_id, event_seq, order_id, event_type, attempts, last_error, dead_at,"
                f" replayed_at FROM webhook_dead_letters WHERE {' AND '.join(where)}"
                " ORDER BY subscriber, event_id LIMIT ?",
                (*params, limit),
            )
        )
        return [
            DeadLetter(
                str(r[0]),
                int(r[1]),
                int(r[2]),
                str(r[3]),
                str(r[4]),
                int(r[5]),
                str(r[6]),
                int(r[7]),
                None if r[8] is None else int(r[8]),
            )
            for r in rows
        ]

    def mark_replayed(self, subscriber: str, event_id: int, now_ms: int) -> None:
        self._write(
            lambda tx: tx.execute(
                "UPDATE webhook_dead_letters SET replayed_at = ? WHERE subscriber = ? AND event_id = ?"
                " RETURNING event_id",
                (now_ms, subscriber, event_id),
            )
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    subscriber: str
    event_id: int
    event_seq: int
    order_id: str  # "" for an event about no order
    event_type: str
    attempts: int  # deliveries tried (0: parked behind an earlier dead event of its order)
    last_error: str
    dead_at_ms: int
    replayed_at_ms: int | None = None
