"""Orders, reservations, shipments, the audit trail and idempotency keys: the store side.

``OrderStoreMixin`` is inherited by ``SqlStore``, so both adapters share this SQL. Rules kept by
every method here:

- A mutating method runs in ONE write transaction: claim the request key, apply the change,
  append the event, store the response bytes. Any exception rolls all of it back.
- Reservations are conditional writes (``... WHERE on_hand - reserved - protected >= q``),
  one per (sku, node) with an order's lines summed first, in (sku, node) order.
- A reservation row exists only while it holds stock; ``inventory.reserved`` equals the sum of
  the rows. A HELD row past ``expires_at`` no longer counts: reads subtract it, and writes
  that touch its (sku, node) or its order delete it first (what the sweeper also does).
- Once an order is released (``orders.released_at``) every row it holds is RELEASED, including
  rows reserved for it later: the warehouse works them, so they never expire.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from engine.decision import AllocationLine
from engine.orders import answers, lifecycle
from engine.orders.changes import OrderChange
from engine.orders.lifecycle import Action, OrderState
from engine.orders.records import (
    HEALABLE_STATES,
    HELD,
    RELEASED,
    EventRecord,
    LineRecord,
    NewOrder,
    OrderRecord,
    ReservationRecord,
    ShipmentRecord,
    held_allocations,
    live_at,
    summed,
)
from engine.orders.records import holds_of as _holds
from server.caller import with_caller
from server.errors import HoldsNotMoved, IdempotencyKeyConflict, NotFoundError, OrderExistsError, ReservationConflict
from server.store.base import HoldsMove, OrderFilter, OrderSummaryRow, RequestKey
from server.store.event_feed import EventFeedMixin

if TYPE_CHECKING:
    from server.store.sql import Key, Tx

T = TypeVar("T")


Plan = Callable[[OrderRecord], OrderChange]

_RESERVE = (
    "UPDATE inventory SET reserved = reserved + ?, version = version + 1, updated_at = ? "
    "WHERE sku = ? AND node_id = ? AND on_hand - reserved - protected >= ? RETURNING sku"
)
_UNRESERVE = (
    "UPDATE inventory SET reserved = reserved - ?, version = version + 1, updated_at = ? WHERE sku = ? AND node_id = ?"
)
_SHIP = (
    "UPDATE inventory SET reserved = reserved - ?, on_hand = on_hand - ?, version = version + 1, updated_at = ? "
    "WHERE sku = ? AND node_id = ?"
)
_RESERVATION_COLUMNS = "line_id, node_id, sku, qty, expires_at, state"
# Rows per multi-row INSERT: far below any driver's parameter limit (SQLite 32,766, PostgreSQL 65,535).
_ROWS_PER_INSERT = 500


# An order (aliased o) has a line with units neither shipped, cancelled nor held: they wait for stock.
_WAITING_LINE = (
    "EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id"
    " AND l.qty - l.shipped_qty - l.cancelled_qty > COALESCE((SELECT SUM(r.qty) FROM reservations r"
    " WHERE r.order_id = l.order_id AND r.line_id = l.line_id), 0))"
)


class OrderStoreMixin(EventFeedMixin, ABC):
    """The order methods of ``SqlStore``; it supplies the transactions and dialect fragments."""

    ROW_LOCK: str

    @abstractmethod
    def _read(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _write(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def _in_keys(self, keys: Sequence[Key]) -> tuple[str, list[Any]]: ...

    def _write_grouped(self, work: Callable[[Tx], T]) -> T:
        """A write that may share its transaction with concurrent ones (SQLite group commit)."""
        return self._write(work)

    def _write_pipelined(self, work: Callable[[Tx], T]) -> T:
        """A grouped write whose ``Tx.defer`` statements may share round trips (PostgreSQL)."""
        return self._write_grouped(work)

    @abstractmethod
    def _in_list(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]: ...

    @abstractmethod
    def _ts_in(self, value: datetime | None) -> Any: ...

    @abstractmethod
    def _ts_out(self, value: Any) -> datetime | None: ...

    # --- idempotency -------------------------------------------------------------------

    def replay(self, key: RequestKey) -> bytes | None:
        """The stored response for ``key`` (None if unused); a different request raises."""
        found = self._read(
            lambda tx: tx.execute(
                "SELECT method, request_hash, response FROM idempotency_keys WHERE key = ?", (key.key,)
            )
        )
        return _stored(key, found)

    def _claim(self, tx: Tx, key: RequestKey, now: datetime) -> bytes | None:
        """Take ``key`` in this transaction, or return the response stored under it.

        The INSERT makes a concurrent duplicate wait on this row until we commit (PostgreSQL) or
        queue on the write lock (SQLite); it then finds our stored response.
        """
        inserted = tx.execute(
            "INSERT INTO idempotency_keys (key, method, request_hash, response, created_at) "
            "VALUES (?, ?, ?, NULL, ?) ON CONFLICT (key) DO NOTHING RETURNING key",
            (key.key, key.method, key.request_hash, self._ts_in(now)),
        )
        if inserted:
            return None
        found = tx.execute("SELECT method, request_hash, response FROM idempotency_keys WHERE key = ?", (key.key,))
        stored = _stored(key, found)
        if stored is None:  # only a row written outside this code can lack its response
            raise RuntimeError(f"request key {key.key!r} has no stored response")
        return stored

    def _finish(self, tx: Tx, key: RequestKey, response: bytes) -> bytes:
        tx.execute("UPDATE idempotency_keys SET response = ? WHERE key = ?", (response, key.key))
        return response

    def _claim_with_response(self, tx: Tx, key: RequestKey, response: bytes, now: datetime) -> None:
        """Take ``key`` with its response in one statement, last in the transaction.

        For Allocate, whose order row already excludes a duplicate: a claim up front plus a
        finishing UPDATE cost a statement more. A plain INSERT, sent without waiting: when the
        key is taken (by another request, or a duplicate racing ahead) its unique violation
        fails the transaction, at the latest at COMMIT, so a pipelined PostgreSQL transaction
        needs no round trip of its own for it. ``_key_taken`` recognizes that error.
        """
        tx.defer(
            "INSERT INTO idempotency_keys (key, method, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
            (key.key, key.method, key.request_hash, response, self._ts_in(now)),
        )

    def _key_taken(self, error: Exception) -> bool:
        """Whether ``error`` is the unique violation of an idempotency key (dialects say)."""
        return False

    # --- allocate ----------------------------------------------------------------------

    def allocate_order(
        self, key: RequestKey, new: NewOrder, allocations: Sequence[AllocationLine], now: datetime, attachment: bytes
    ) -> bytes:
        """Reserve ``allocations`` and persist the order; ReservationConflict on a lost race.

        Returns the answer stored under ``key`` (engine.orders.answers): the new order and
        ``attachment`` (the decision, serialized), or the first call's for a duplicate."""
        wanted = summed(allocations)

        held: dict[str, int] = defaultdict(int)
        for a in allocations:
            held[a.line_id] += a.qty
        lines = tuple(LineRecord(line_id, sku, qty, held[line_id], 0, 0, 0) for line_id, sku, qty in sorted(new.lines))
        if new.holds and allocations:
            raise ValueError("an order a rule holds reserves nothing")
        # A new order's state follows from its decision: no need to read it back.
        state = lifecycle.derive_state([line.quantities for line in lines], held=bool(new.holds))
        event = "HELD" if new.holds else "ALLOCATED"
        expires = now + timedelta(milliseconds=new.hold_ms)
        body: dict[str, Any] = {
            "from": OrderState.CREATED.value,
            "to": state.value,
            "decision_id": new.decision_id,
            "rule_set_version": new.rule_set_version,
            "allocations": [[a.line_id, a.node_id, a.qty] for a in allocations],
            "hold_ms": new.hold_ms,
        }
        if new.holds:
            body["holds"] = [list(h) for h in new.holds]
        payload = json.dumps(with_caller(body), sort_keys=True)

        def work(tx: Tx) -> bytes:
            # The order row comes first: a concurrent duplicate (same order id) waits on it until
            # we commit (PostgreSQL) or queues behind us (SQLite), then finds it taken.
            stamp = self._ts_in(now)
            inserted = tx.defer(
                "INSERT INTO orders (order_id, request, state, rule_set_version, decision, version, hold_ms,"
                " created_at, updated_at, holds, priority) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)"
                " ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
                (
                    new.order_id,
                    new.request,
                    state.value,
                    new.rule_set_version,
                    new.decision,
                    new.hold_ms,
                    stamp,
                    stamp,
                    _holds_json(new.holds),
                    new.priority,
                ),
            )
            # Everything is sent before the first result is looked at (one round trip when
            # pipelined). Should the order exist, these inserts do nothing and all is rolled back.
            _insert_rows(
                tx,
                "INSERT INTO order_lines (order_id, line_id, sku, qty) VALUES ",
                [(new.order_id, line_id, sku, qty) for line_id, sku, qty in new.lines],
                " ON CONFLICT (order_id, line_id) DO NOTHING",
            )
            events = tx.defer(
                "INSERT INTO events (order_id, type, payload, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                (new.order_id, event, payload, stamp),
            )
            try:
                if wanted:
                    self._reserve(tx, new.order_id, wanted, allocations, now, new.hold_ms, fresh=True)
            except ReservationConflict:
                if not inserted():  # short because this is a duplicate: replay it rather than decide again
                    raise _OrderTaken() from None
                raise
            if not inserted():
                raise _OrderTaken()
            (event_id,) = events()[0]
            record = OrderRecord(
                order_id=new.order_id,
                state=state,
                version=1,
                hold_ms=new.hold_ms,
                request=new.request,
                lines=lines,
                reservations=tuple(
                    ReservationRecord(line_id, node_id, sku, qty, expires, HELD)
                    for (line_id, node_id, sku), qty in sorted(_holds(allocations).items())
                ),
                shipments=(),
                events=(EventRecord(int(event_id), new.order_id, event, payload, now),),
                created_at=now,
                updated_at=now,
                holds=new.holds,
            )
            response = answers.pack(record, attachment)
            self._claim_with_response(tx, key, response, now)
            return response

        try:
            return self._write_pipelined(work)
        except Exception as error:  # rolled back: the first call's stored answer, if it is ours
            order_exists = isinstance(error, _OrderTaken)
            if not order_exists and not self._key_taken(error):
                raise
            stored = self.replay(key)
            if stored is not None:
                return stored
            if order_exists:
                raise OrderExistsError(new.order_id) from None
            raise RuntimeError(f"request key {key.key!r} has no stored response") from None

    def _reserve(
        self,
        tx: Tx,
        order_id: str,
        wanted: Sequence[tuple[Key, int]],
        allocations: Sequence[AllocationLine],
        now: datetime,
        hold_ms: int,
        fresh: bool = False,
        hold_state: str = HELD,
    ) -> None:
        stamp = self._ts_in(now)
        # Sent together (in (sku, node) order, so rows still lock in that order), checked after:
        # one round trip on a pipelined PostgreSQL transaction.
        reserved = [tx.defer(_RESERVE, (qty, stamp, sku, node_id, qty)) for (sku, node_id), qty in wanted]
        if fresh:  # a new order's holds go out with them; a short position rolls everything back
            self._insert_holds(tx, order_id, allocations, now, hold_ms, fresh)
        for ((sku, node_id), qty), rows in zip(wanted, reserved, strict=True):
            if rows():
                continue
            # Short: holds past their expiry may be what is missing. Freeing them only when
            # short keeps the common path at one statement per position.
            self._expire(tx, now, keys=[(sku, node_id)])
            if not tx.execute(_RESERVE, (qty, stamp, sku, node_id, qty)):
                raise ReservationConflict(f"fewer than {qty} units of {sku!r} free at {node_id!r}")
        if not fresh:  # after the checks: an expired hold of this order must be freed before it grows
            self._insert_holds(tx, order_id, allocations, now, hold_ms, fresh, hold_state)

    def _insert_holds(
        self,
        tx: Tx,
        order_id: str,
        allocations: Sequence[AllocationLine],
        now: datetime,
        hold_ms: int,
        fresh: bool = False,
        hold_state: str = HELD,
    ) -> None:
        stamp = self._ts_in(now)
        expires = self._ts_in(now + timedelta(milliseconds=hold_ms))
        if fresh:  # a new order holds nothing yet: one multi-row insert
            _insert_rows(
                tx,
                "INSERT INTO reservations (order_id, line_id, node_id, sku, qty, expires_at, state, created_at,"
                " updated_at) VALUES ",
                [
                    (order_id, line_id, node_id, sku, qty, expires, HELD, stamp, stamp)
                    for (line_id, node_id, sku), qty in sorted(_holds(allocations).items())
                ],
                " ON CONFLICT (order_id, line_id, node_id) DO NOTHING",  # only if the order was not ours
            )
            return
        # A line may already hold units at a node (a re-source back to it): add to that hold.
        for a in allocations:
            if a.qty <= 0:
                continue
            updated = tx.execute(
                "UPDATE reservations SET qty = qty + ?, expires_at = ?, state = ?, updated_at = ? "
                "WHERE order_id = ? AND line_id = ? AND node_id = ? RETURNING qty",
                (a.qty, expires, hold_state, stamp, order_id, a.line_id, a.node_id),
            )
            if not updated:
                tx.execute(
                    "INSERT INTO reservations (order_id, line_id, node_id, sku, qty, expires_at, state, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (order_id, a.line_id, a.node_id, a.sku, a.qty, expires, hold_state, stamp, stamp),
                )

    # --- expiry ------------------------------------------------------------------------

    def sweep_expired(self, now: datetime) -> tuple[int, list[str]]:
        """Delete every hold past its expiry; one EXPIRED event per order touched."""
        return self._write(lambda tx: self._expire(tx, now))

    def purge_request_keys(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` request keys (and their stored responses) created before
        ``created_before``, oldest first, in one short transaction; how many went."""
        stamp = self._ts_in(created_before)

        def work(tx: Tx) -> int:
            gone = tx.execute(
                "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys"
                " WHERE created_at < ? ORDER BY created_at LIMIT ?) RETURNING key",
                (stamp, limit),
            )
            return len(gone)

        return self._write(work)

    def _expire(self, tx: Tx, now: datetime, *, keys: Sequence[Key] = (), order_id: str = "") -> tuple[int, list[str]]:
        sql = "SELECT order_id, line_id, node_id, sku, qty FROM reservations WHERE state = ? AND expires_at <= ?"
        params: list[Any] = [HELD, self._ts_in(now)]
        if order_id:
            sql += " AND order_id = ?"
            params.append(order_id)
        if keys:
            predicate, values = self._in_list("sku", sorted({sku for sku, _ in keys}))
            sql += f" AND {predicate}"
            params += values
        expired = tx.execute(sql, params)
        wanted = set(keys)
        expired = [r for r in expired if not keys or (r[3], r[2]) in wanted]
        if not expired:
            return 0, []
        if self.ROW_LOCK:
            # Lock the inventory rows (every writer of holds takes them before the holds), then
            # read the holds again: a transaction that expired or renewed one of them since the
            # read above has committed by now, and read committed's next statement sees it.
            # Without this, both expired the same hold and took its units off `reserved` twice.
            keys_held = sorted({(r[3], r[2]) for r in expired})
            predicate, values = self._in_keys(keys_held)
            tx.execute(f"SELECT sku FROM inventory WHERE {predicate} ORDER BY sku, node_id{self.ROW_LOCK}", values)
            expired = [r for r in tx.execute(sql, params) if (r[3], r[2]) in set(keys_held)]
            if not expired:
                return 0, []
        stamp = self._ts_in(now)
        per_key: dict[Key, int] = defaultdict(int)
        per_order: dict[str, list[list[Any]]] = defaultdict(list)
        for oid, line_id, node_id, sku, qty in expired:
            per_key[(sku, node_id)] += int(qty)
            per_order[oid].append([line_id, node_id, int(qty)])
        for (sku, node_id), qty in sorted(per_key.items()):
            tx.execute(_UNRESERVE, (qty, stamp, sku, node_id))
        tx.executemany(
            "DELETE FROM reservations WHERE order_id = ? AND line_id = ? AND node_id = ?",
            [(r[0], r[1], r[2]) for r in expired],
        )
        for oid in sorted(per_order):
            self._settle(tx, oid, now, "EXPIRED", {"holds": per_order[oid]}, None)
        return len(expired), sorted(per_order)

    # --- lifecycle transitions -----------------------------------------------------------

    def mutate_order(
        self,
        key: RequestKey,
        order_id: str,
        action: Action,
        now: datetime,
        plan: Plan,
        attachment: bytes = b"",
        expected_version: int | None = None,
    ) -> tuple[bytes, OrderChange | None]:
        """Check ``action`` against the order's state, then apply what ``plan`` (a pure function of
        the order, engine.orders.changes) decides, in one transaction.

        ``plan`` raising rolls everything back. ``expected_version`` makes it a compare-and-set
        against the version the caller decided on. Stores under ``key`` the order as the change
        left it with ``attachment`` (engine.orders.answers); returns those bytes and the change
        applied (None when the request key's stored answer was replayed).
        """

        def work(tx: Tx) -> tuple[bytes, OrderChange | None]:
            stored = self._claim(tx, key, now)
            if stored is not None:
                return stored, None
            locked = tx.execute(f"SELECT version FROM orders WHERE order_id = ?{self.ROW_LOCK}", (order_id,))
            if not locked:
                raise NotFoundError("order", order_id)
            if expected_version is not None and int(locked[0][0]) != expected_version:
                raise ReservationConflict(f"order {order_id!r} changed while it was being re-sourced")
            self._expire(tx, now, order_id=order_id)
            record = self._load(tx, order_id)
            lifecycle.require(order_id, record.state, action)
            change = plan(record)
            self._apply(tx, record, change, now)
            self._settle(tx, order_id, now, change.event, change.payload, record.state)
            return self._finish(tx, key, answers.pack(self._load(tx, order_id), attachment)), change

        return self._write_grouped(work)

    def _apply(self, tx: Tx, record: OrderRecord, change: OrderChange, now: datetime) -> None:
        """Write what ``change`` says, in the order of its fields (holds given back before new ones
        are reserved, so a re-source may take units it just gave back)."""
        order_id = record.order_id
        if change.clear_holds:
            self._clear_holds(tx, order_id)
        if change.mark_released:
            self._mark_released(tx, order_id, now)
        for u in change.release:
            self._release_units(tx, order_id, u.line_id, u.node_id, u.sku, u.qty, now)
        for u in change.ship:
            self._ship_units(tx, order_id, u.line_id, u.node_id, u.sku, u.qty, now)
        if change.shipment is not None:
            shipment = change.shipment
            self._insert_shipment(tx, order_id, shipment.shipment_id, shipment.node_id, shipment.lines, now)
        for line_id, units in change.cancelled:
            self._add_line_counts(tx, order_id, line_id, cancelled=units)
        for node_id, sku, units in change.restock:
            self._restock(tx, node_id, sku, units, now)
        for line_id, units in change.returned:
            self._add_line_counts(tx, order_id, line_id, returned=units)
        if change.shipments_returned:
            self._mark_shipments_returned(tx, order_id, change.shipments_returned, now)
        for line_id, nodes in change.excluded_nodes:
            self._exclude_nodes(tx, order_id, line_id, nodes)
        if change.reserve:
            self._reserve_more(tx, order_id, change.reserve, now, change.hold_ms, hold_state=change.hold_state)

    def _release_units(
        self, tx: Tx, order_id: str, line_id: str, node_id: str, sku: str, qty: int, now: datetime
    ) -> None:
        """Give back ``qty`` held units of one line at one node."""
        tx.execute(_UNRESERVE, (qty, self._ts_in(now), sku, node_id))
        self._shrink_hold(tx, order_id, line_id, node_id, qty)

    def _ship_units(self, tx: Tx, order_id: str, line_id: str, node_id: str, sku: str, qty: int, now: datetime) -> None:
        """Held units leave the node: on hand and reserved both drop."""
        tx.execute(_SHIP, (qty, qty, self._ts_in(now), sku, node_id))
        self._shrink_hold(tx, order_id, line_id, node_id, qty)
        tx.execute(
            "UPDATE order_lines SET shipped_qty = shipped_qty + ? WHERE order_id = ? AND line_id = ?",
            (qty, order_id, line_id),
        )

    def _shrink_hold(self, tx: Tx, order_id: str, line_id: str, node_id: str, qty: int) -> None:
        # Delete first: shrinking first would let the delete catch the shrunk row.
        tx.execute(
            "DELETE FROM reservations WHERE order_id = ? AND line_id = ? AND node_id = ? AND qty <= ?",
            (order_id, line_id, node_id, qty),
        )
        tx.execute(
            "UPDATE reservations SET qty = qty - ? WHERE order_id = ? AND line_id = ? AND node_id = ? AND qty > ?",
            (qty, order_id, line_id, node_id, qty),
        )

    def _add_line_counts(self, tx: Tx, order_id: str, line_id: str, *, cancelled: int = 0, returned: int = 0) -> None:
        tx.execute(
            "UPDATE order_lines SET cancelled_qty = cancelled_qty + ?, returned_qty = returned_qty + ? "
            "WHERE order_id = ? AND line_id = ?",
            (cancelled, returned, order_id, line_id),
        )

    def _mark_released(self, tx: Tx, order_id: str, now: datetime) -> None:
        """Hand the order to fulfillment: its holds stop expiring, and so will any it takes later."""
        stamp = self._ts_in(now)
        tx.execute(
            "UPDATE reservations SET state = ?, updated_at = ? WHERE order_id = ? AND state = ?",
            (RELEASED, stamp, order_id, HELD),
        )
        tx.execute("UPDATE orders SET released_at = COALESCE(released_at, ?) WHERE order_id = ?", (stamp, order_id))

    def _exclude_nodes(self, tx: Tx, order_id: str, line_id: str, node_ids: Iterable[str]) -> None:
        """Store the nodes a line may never be sourced from again (they rejected its units)."""
        tx.execute(
            "UPDATE order_lines SET excluded_nodes = ? WHERE order_id = ? AND line_id = ?",
            (_ids_json(node_ids), order_id, line_id),
        )

    def _mark_shipments_returned(self, tx: Tx, order_id: str, shipment_ids: Sequence[str], now: datetime) -> None:
        tx.executemany(
            "UPDATE shipments SET state = 'RETURNED', updated_at = ? WHERE order_id = ? AND shipment_id = ?",
            [(self._ts_in(now), order_id, shipment_id) for shipment_id in shipment_ids],
        )

    def _insert_shipment(
        self, tx: Tx, order_id: str, shipment_id: str, node_id: str, lines: Sequence[tuple[str, int]], now: datetime
    ) -> None:
        stamp = self._ts_in(now)
        tx.execute(
            "INSERT INTO shipments (shipment_id, order_id, node_id, state, payload, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (shipment_id, order_id, node_id, "SHIPPED", json.dumps([list(x) for x in lines]), stamp, stamp),
        )

    def _reserve_more(
        self,
        tx: Tx,
        order_id: str,
        allocations: Sequence[AllocationLine],
        now: datetime,
        hold_ms: int,
        hold_state: str = HELD,
    ) -> None:
        """Conditional reservations for a re-source; ReservationConflict on a lost race.
        ``hold_state``: RELEASED for an order already handed to fulfillment (no expiry)."""
        self._reserve(tx, order_id, summed(allocations), allocations, now, hold_ms, hold_state=hold_state)

    def _restock(self, tx: Tx, node_id: str, sku: str, qty: int, now: datetime) -> None:
        stamp = self._ts_in(now)
        tx.execute(
            "INSERT INTO inventory (sku, node_id, on_hand, reserved, protected, version, as_of, updated_at) "
            "VALUES (?, ?, 0, 0, 0, 0, NULL, ?) ON CONFLICT (sku, node_id) DO NOTHING",
            (sku, node_id, stamp),
        )
        tx.execute(
            "UPDATE inventory SET on_hand = on_hand + ?, version = version + 1, updated_at = ? "
            "WHERE sku = ? AND node_id = ?",
            (qty, stamp, sku, node_id),
        )

    def _settle(
        self, tx: Tx, order_id: str, now: datetime, event: str, payload: dict[str, Any], before: OrderState | None
    ) -> None:
        """Store the state the order's quantities now imply and append the event."""
        record = self._load(tx, order_id, events=False)
        before = before or record.state
        after = lifecycle.derive_state(
            [line.quantities for line in record.lines], record.released, held=bool(record.holds)
        )
        stamp = self._ts_in(now)
        tx.execute(
            "UPDATE orders SET state = ?, version = version + 1, updated_at = ? WHERE order_id = ?",
            (after.value, stamp, order_id),
        )
        body = with_caller({"from": before.value, "to": after.value, **payload})
        tx.execute(
            "INSERT INTO events (order_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
            (order_id, event, json.dumps(body, sort_keys=True), stamp),
        )

    # --- re-planning pending orders (ReoptimizePending) --------------------------------

    def pending_orders(self, limit: int, skus: Sequence[str], node_ids: Sequence[str], now: datetime) -> list[str]:
        """Orders holding unreleased stock that has not expired (ALLOCATED, PARTIALLY_ALLOCATED),
        oldest first; with ``skus``, only those with a line of one; with ``node_ids``, only those
        holding units at one."""
        sql = (
            "SELECT o.order_id FROM orders o WHERE o.state IN (?, ?) AND o.released_at IS NULL"
            " AND EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o.order_id AND r.state = ?"
            " AND r.expires_at > ?"
        )
        params: list[Any] = [OrderState.ALLOCATED.value, OrderState.PARTIALLY_ALLOCATED.value, HELD, self._ts_in(now)]
        if node_ids:
            predicate, values = self._in_list("r.node_id", sorted(set(node_ids)))
            sql += f" AND {predicate}"
            params += values
        sql += ")"
        if skus:
            predicate, values = self._in_list("l.sku", sorted(set(skus)))
            sql += f" AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id AND {predicate})"
            params += values
        sql += " ORDER BY o.created_at, o.order_id LIMIT ?"
        params.append(limit)
        return [str(r[0]) for r in self._read(lambda tx: tx.execute(sql, params))]

    def move_holds(self, moves: Sequence[HoldsMove], now: datetime) -> None:
        """Move a group's holds in ONE transaction, every order or none; HoldsNotMoved when one
        changed since it was read or the stock is short (then nothing changed).

        Order rows are locked first, by id, then stock positions in (sku, node) order, each
        once with the group's net change: a unit one order gives up and another takes at the
        same position never leaves ``reserved``, and a net increase is the usual conditional
        write. Holds keep their expiry instants (``_rehold``)."""
        ordered = sorted(moves, key=lambda m: m.order_id)

        def work(tx: Tx) -> None:
            records = [self._moving(tx, move, now) for move in ordered]
            net: dict[Key, int] = defaultdict(int)
            for move in ordered:
                for key, qty in summed(move.after):
                    net[key] += qty
                for key, qty in summed(move.before):
                    net[key] -= qty
            stamp = self._ts_in(now)
            for (sku, node_id), qty in sorted(net.items()):
                if qty < 0:
                    tx.execute(_UNRESERVE, (-qty, stamp, sku, node_id))
                elif qty > 0 and not tx.execute(_RESERVE, (qty, stamp, sku, node_id, qty)):
                    self._expire(tx, now, keys=[(sku, node_id)])  # expired holds may be what is missing
                    if not tx.execute(_RESERVE, (qty, stamp, sku, node_id, qty)):
                        taker = next(
                            m.order_id for m in ordered if any(a.sku == sku and a.node_id == node_id for a in m.after)
                        )
                        detail = f"fewer than {qty} units of {sku!r} free at {node_id!r}"
                        raise HoldsNotMoved(taker, detail, stock=True)
            for move, record in zip(ordered, records, strict=True):
                self._rehold(tx, record, move.after, now)
                self._settle(tx, move.order_id, now, "REOPTIMIZED", move.payload, record.state)

        self._write(work)

    def _moving(self, tx: Tx, move: HoldsMove, now: datetime) -> OrderRecord:
        """The order, locked, as it was read: same version, not released, holds unexpired and as listed."""
        locked = tx.execute(f"SELECT version FROM orders WHERE order_id = ?{self.ROW_LOCK}", (move.order_id,))
        if not locked or int(locked[0][0]) != move.version:
            raise HoldsNotMoved(move.order_id, f"order {move.order_id!r} changed since it was read")
        record = self._load(tx, move.order_id, events=False)
        if record.released or Action.REOPTIMIZE not in lifecycle.ALLOWED[record.state]:
            raise HoldsNotMoved(move.order_id, f"order {move.order_id!r} is {record.state.value}, released or not")
        # An expiry changes what the order holds without a new version: compared by content.
        live = all(h.state == HELD and h.expires_at > now for h in record.reservations)
        if not live or _holds(held_allocations(record)) != _holds(move.before):
            raise HoldsNotMoved(move.order_id, f"order {move.order_id!r}'s holds changed since it was read")
        return record

    def _rehold(self, tx: Tx, record: OrderRecord, after: Sequence[AllocationLine], now: datetime) -> None:
        """Rewrite the order's hold rows to ``after``, keeping expiry instants: a (line, node) it held
        keeps its row and expiry; a new one takes the earliest expiry of the line's holds (of the
        order's, for a line that held nothing). Re-planning neither extends nor shortens a hold."""
        stamp = self._ts_in(now)
        old = {(h.line_id, h.node_id): h for h in record.reservations}
        earliest_of_order = min(h.expires_at for h in record.reservations)
        earliest: dict[str, datetime] = {}
        for h in record.reservations:
            earliest[h.line_id] = min(h.expires_at, earliest.get(h.line_id, h.expires_at))
        new = _holds(after)
        kept = {(line_id, node_id) for line_id, node_id, _ in new}
        for line_id, node_id in sorted(set(old) - kept):
            tx.execute(
                "DELETE FROM reservations WHERE order_id = ? AND line_id = ? AND node_id = ?",
                (record.order_id, line_id, node_id),
            )
        for (line_id, node_id, sku), qty in sorted(new.items()):
            hold = old.get((line_id, node_id))
            if hold is not None:
                if hold.qty != qty:
                    tx.execute(
                        "UPDATE reservations SET qty = ?, updated_at = ?"
                        " WHERE order_id = ? AND line_id = ? AND node_id = ?",
                        (qty, stamp, record.order_id, line_id, node_id),
                    )
                continue
            expires = self._ts_in(earliest.get(line_id, earliest_of_order))
            tx.execute(
                "INSERT INTO reservations (order_id, line_id, node_id, sku, qty, expires_at, state, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.order_id, line_id, node_id, sku, qty, expires, HELD, stamp, stamp),
            )

    def remember_response(self, key: RequestKey, response: bytes, now: datetime) -> bytes:
        """Store ``response`` under ``key`` unless a duplicate stored its own first: the stored one."""

        def work(tx: Tx) -> bytes:
            stored = self._claim(tx, key, now)
            return stored if stored is not None else self._finish(tx, key, response)

        return self._write(work)

    # --- reads -------------------------------------------------------------------------

    def get_order(self, order_id: str, now: datetime) -> OrderRecord:
        """The order as of ``now``: holds past their expiry no longer count, swept or not."""
        return live_at(self._read(lambda tx: self._load(tx, order_id)), now)

    def _load(self, tx: Tx, order_id: str, events: bool = True) -> OrderRecord:
        found = tx.execute(
            "SELECT state, version, hold_ms, request, created_at, updated_at, holds, released_at FROM orders"
            " WHERE order_id = ?",
            (order_id,),
        )
        if not found:
            raise NotFoundError("order", order_id)
        state, version, hold_ms, request, created_at, updated_at, holds_json, released_at = found[0]
        holds = tuple(
            ReservationRecord(r[0], r[1], r[2], int(r[3]), self._ts_required(r[4]), r[5])
            for r in tx.execute(
                f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE order_id = ? ORDER BY line_id, node_id",
                (order_id,),
            )
        )
        held: dict[str, int] = defaultdict(int)
        for hold in holds:
            held[hold.line_id] += hold.qty
        lines = tuple(
            LineRecord(r[0], r[1], int(r[2]), held[r[0]], int(r[3]), int(r[4]), int(r[5]), _ids_from_json(r[6]))
            for r in tx.execute(
                "SELECT line_id, sku, qty, shipped_qty, cancelled_qty, returned_qty, excluded_nodes FROM order_lines "
                "WHERE order_id = ? ORDER BY line_id",
                (order_id,),
            )
        )
        shipments = tuple(
            ShipmentRecord(
                r[0], r[1], r[2], tuple((str(x[0]), int(x[1])) for x in json.loads(r[3])), self._ts_required(r[4])
            )
            for r in tx.execute(
                "SELECT shipment_id, node_id, state, payload, created_at FROM shipments WHERE order_id = ? "
                "ORDER BY created_at, shipment_id",
                (order_id,),
            )
        )
        history: tuple[EventRecord, ...] = ()
        if events:
            history = tuple(
                EventRecord(int(r[0]), order_id, r[1], r[2], self._ts_required(r[3]))
                for r in tx.execute(
                    "SELECT id, type, payload, created_at FROM events WHERE order_id = ? ORDER BY id", (order_id,)
                )
            )
        return OrderRecord(
            order_id=order_id,
            state=OrderState(state),
            version=int(version),
            hold_ms=int(hold_ms),
            request=request,
            lines=lines,
            reservations=holds,
            shipments=shipments,
            events=history,
            created_at=self._ts_required(created_at),
            updated_at=self._ts_required(updated_at),
            holds=_holds_from_json(holds_json),
            released_at=self._ts_out(released_at),
        )

    def _ts_required(self, value: Any) -> datetime:
        decoded = self._ts_out(value)
        assert decoded is not None
        return decoded

    def list_orders(self, wanted: OrderFilter, page_size: int, after: str) -> list[OrderSummaryRow]:
        """Orders by id after ``after``, at most ``page_size``, that pass every part of ``wanted``."""
        sql = "SELECT o.order_id, o.state, o.created_at, o.updated_at FROM orders o WHERE o.order_id > ?"
        params: list[Any] = [after]
        if wanted.states:
            predicate, values = self._in_list("o.state", [s.value for s in wanted.states])
            sql += f" AND {predicate}"
            params += values
        if wanted.node_ids:
            # Per order, by its id: both tables are indexed on it, and the page walks orders by
            # id. A page costs in proportion to the orders it passes over; an index on the node
            # would cost every reservation written, on Allocate's hot path, to speed up this one.
            held, held_params = self._in_list("r.node_id", wanted.node_ids)
            shipped, shipped_params = self._in_list("s.node_id", wanted.node_ids)
            sql += (
                f" AND (EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o.order_id AND {held})"
                f" OR EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.order_id AND {shipped}))"
            )
            params += [*held_params, *shipped_params]
        for column, window in (("o.created_at", wanted.created), ("o.updated_at", wanted.updated)):
            if window.start is not None:
                sql += f" AND {column} >= ?"
                params.append(self._ts_in(window.start))
            if window.end is not None:
                sql += f" AND {column} < ?"
                params.append(self._ts_in(window.end))
        sql += " ORDER BY o.order_id LIMIT ?"
        params.append(page_size)
        found = self._read(lambda tx: tx.execute(sql, params))
        return [
            OrderSummaryRow(r[0], OrderState(r[1]), self._ts_required(r[2]), self._ts_required(r[3])) for r in found
        ]

    # --- the exception queue and backorders --------------------------------------------

    def _clear_holds(self, tx: Tx, order_id: str) -> None:
        """A person released the order: its rules' holds no longer apply to it."""
        tx.execute("UPDATE orders SET holds = '' WHERE order_id = ?", (order_id,))

    def list_exceptions(
        self, states: Sequence[OrderState], rule_id: str, page_size: int, after: tuple[str, str] | None
    ) -> tuple[list[OrderRecord], tuple[str, str] | None]:
        """Queued orders oldest first (created_at, order_id) after the ``after`` position, and the
        position to continue from (None on the last page)."""
        predicate, params = self._in_list("state", [s.value for s in states])
        sql = f"SELECT order_id, created_at FROM orders o WHERE {predicate}"
        if OrderState.PARTIALLY_SHIPPED in states:  # queued only while some of it waits for stock
            sql += f" AND (state <> ? OR {_WAITING_LINE})"
            params.append(OrderState.PARTIALLY_SHIPPED.value)
        if after is not None:
            stamp = self._ts_in(datetime.fromisoformat(after[0]))
            sql += " AND (created_at > ? OR (created_at = ? AND order_id > ?))"
            params += [stamp, stamp, after[1]]
        if rule_id:  # a substring prefilter; the exact match is checked on the decoded holds
            sql += " AND holds LIKE ?"
            params.append(f"%{json.dumps(rule_id)}%")
        sql += " ORDER BY created_at, order_id LIMIT ?"
        params.append(page_size + 1)

        def work(tx: Tx) -> tuple[list[OrderRecord], tuple[str, str] | None]:
            rows = tx.execute(sql, params)
            page = [self._load(tx, r[0], events=False) for r in rows[:page_size]]
            last = page[-1] if page and len(rows) > page_size else None
            kept = [r for r in page if not rule_id or any(h[0] == rule_id for h in r.holds)]
            return kept, None if last is None else (last.created_at.isoformat(), last.order_id)

        return self._read(work)

    def backordered_orders(self, skus: Sequence[str], limit: int) -> list[str]:
        """Orders waiting for any of ``skus``, highest priority first, then oldest: the ones stock
        arriving may heal."""
        if not skus:
            return []
        sku_predicate, sku_params = self._in_list("l.sku", sorted(set(skus)))
        sql = (
            "SELECT o.order_id, o.created_at FROM orders o WHERE o.state IN (?, ?, ?) AND "
            + _WAITING_LINE.replace("l.order_id = o.order_id", f"l.order_id = o.order_id AND {sku_predicate}")
            + " ORDER BY o.priority DESC, o.created_at, o.order_id LIMIT ?"
        )
        params = [*(s.value for s in HEALABLE_STATES), *sku_params, limit]
        return [r[0] for r in self._read(lambda tx: tx.execute(sql, params))]

    # --- conservation ------------------------------------------------------------------

    def check_conservation(self) -> tuple[list[str], int]:
        """Differences between stock counters, holds and orders; (problems, positions checked)."""
        return self._read(_conservation)


def _conservation(tx: Tx) -> tuple[list[str], int]:
    problems: list[str] = []
    holds: dict[Key, int] = defaultdict(int)
    for sku, node_id, qty in tx.execute("SELECT sku, node_id, SUM(qty) FROM reservations GROUP BY sku, node_id"):
        holds[(sku, node_id)] = int(qty)
    positions = tx.execute("SELECT sku, node_id, on_hand, reserved, protected FROM inventory ORDER BY sku, node_id")
    seen: set[Key] = set()
    for sku, node_id, on_hand, reserved, protected in positions:
        key = (sku, node_id)
        seen.add(key)
        if int(reserved) != holds.get(key, 0):
            problems.append(f"{sku}@{node_id}: reserved {reserved} but holds sum to {holds.get(key, 0)}")
        if not 0 <= int(reserved) <= int(on_hand):
            problems.append(f"{sku}@{node_id}: reserved {reserved} outside 0..on_hand {on_hand}")
        if int(protected) < 0:
            problems.append(f"{sku}@{node_id}: protected {protected} is negative")
    for key in sorted(set(holds) - seen):
        problems.append(f"{key[0]}@{key[1]}: holds of {holds[key]} units on no inventory row")
    lines = tx.execute(
        "SELECT l.order_id, l.line_id, l.sku, l.qty, l.shipped_qty, l.cancelled_qty, l.returned_qty,"
        " COALESCE((SELECT SUM(r.qty) FROM reservations r WHERE r.order_id = l.order_id AND r.line_id = l.line_id), 0),"
        " o.state FROM order_lines l JOIN orders o ON o.order_id = l.order_id ORDER BY l.order_id, l.line_id"
    )
    for order_id, line_id, _sku, qty, shipped, cancelled, returned, held, state in lines:
        if int(held) + int(shipped) + int(cancelled) > int(qty):
            problems.append(f"order {order_id} line {line_id}: held+shipped+cancelled exceeds qty {qty}")
        if int(returned) > int(shipped):
            problems.append(f"order {order_id} line {line_id}: returned {returned} exceeds shipped {shipped}")
        if int(held) > 0 and state in (OrderState.CANCELLED, OrderState.SHIPPED, OrderState.RETURNED):
            problems.append(f"order {order_id} is {state} but still holds {held} units of line {line_id}")
    mismatched = tx.execute(
        "SELECT r.order_id, r.line_id FROM reservations r JOIN order_lines l"
        " ON l.order_id = r.order_id AND l.line_id = r.line_id WHERE l.sku <> r.sku"
    )
    problems.extend(f"order {o} line {line}: a hold's SKU differs from the line's" for o, line in mismatched)
    expiring = tx.execute(
        "SELECT r.order_id, r.line_id, r.node_id FROM reservations r JOIN orders o ON o.order_id = r.order_id"
        " WHERE o.released_at IS NOT NULL AND r.state = ? ORDER BY r.order_id, r.line_id, r.node_id",
        (HELD,),
    )
    problems.extend(
        f"order {o} line {line}: released, but its hold at {node_id} can still expire" for o, line, node_id in expiring
    )
    return problems, len(positions)


class _OrderTaken(Exception):
    """Allocate's order id was already taken: roll back, then replay or refuse."""


def _insert_rows(tx: Tx, insert: str, values: Sequence[tuple[Any, ...]], suffix: str = "") -> None:
    """``insert`` ("INSERT INTO t (columns) VALUES ") of every row in ONE statement, sent
    without waiting (``Tx.defer``): its errors surface at the next result or the commit.

    One statement per order instead of an executemany: a single statement's overhead (each
    row count is its own prepared statement, and orders have few lines).
    """
    for start in range(0, len(values), _ROWS_PER_INSERT):
        chunk = values[start : start + _ROWS_PER_INSERT]
        row = "(" + ", ".join("?" for _ in chunk[0]) + ")"
        tx.defer(insert + ", ".join(row for _ in chunk) + suffix, [v for r in chunk for v in r])


def _holds_json(holds: Sequence[tuple[str, str]]) -> str:
    return json.dumps([list(h) for h in holds]) if holds else ""


def _holds_from_json(value: str | None) -> tuple[tuple[str, str], ...]:
    return tuple((str(h[0]), str(h[1])) for h in json.loads(value)) if value else ()


def _ids_json(ids: Iterable[str]) -> str:
    # Sorted and unique, so equal sets store equal text; '' for none, like orders.holds.
    unique = sorted(set(ids))
    return json.dumps(unique) if unique else ""


def _ids_from_json(value: str | None) -> tuple[str, ...]:
    return tuple(sorted({str(x) for x in json.loads(value)})) if value else ()


def _stored(key: RequestKey, found: Sequence[Sequence[Any]]) -> bytes | None:
    if not found:
        return None
    method, request_hash, response = found[0]
    if method != key.method or request_hash != key.request_hash:
        raise IdempotencyKeyConflict(key.key, str(method))
    return None if response is None else bytes(response)
