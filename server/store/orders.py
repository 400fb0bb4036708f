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
from abc import ABC
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from engine.decision import AllocationLine
from engine.orders import answers, changes, lifecycle
from engine.orders.changes import NewShipment, OrderChange
from engine.orders.lifecycle import Action
from engine.orders.records import (
    HELD,
    RELEASED,
    EventRecord,
    NewOrder,
    OrderRecord,
    summed,
)
from server.caller import with_caller
from server.errors import NotFoundError, OrderExistsError, ReservationConflict
from server.store.base import Plan, RequestKey
from server.store.event_feed import EventFeedMixin
from server.store.holds import HoldsMixin
from server.store.order_queries import OrderQueriesMixin
from server.store.order_rows import _holds_json, _ids_json, _insert_rows
from server.store.request_keys import RequestKeysMixin

if TYPE_CHECKING:
    from server.store.sql import Tx


class OrderStoreMixin(HoldsMixin, OrderQueriesMixin, RequestKeysMixin, EventFeedMixin, ABC):
    """The order methods of ``SqlStore``; it supplies the transactions and dialect fragments.

    Split by concern: order rows (order_rows.py), request keys (request_keys.py), holds on stock
    (holds.py), bulk reads (order_queries.py); here the two writes an order service makes,
    allocating a new order and applying a change to one, and the rows a change touches.
    """

    def allocate_order(
        self, key: RequestKey, new: NewOrder, allocations: Sequence[AllocationLine], now: datetime, attachment: bytes
    ) -> bytes:
        """Reserve ``allocations`` and persist the order; ReservationConflict on a lost race.

        Returns the answer stored under ``key`` (engine.orders.answers): the new order and
        ``attachment`` (the decision, serialized), or the first call's for a duplicate."""
        wanted = summed(allocations)

        allocation = changes.allocate(new, allocations, now)
        state, event = allocation.state, allocation.event
        payload = json.dumps(with_caller(allocation.body), sort_keys=True)

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
            record = allocation.record(EventRecord(int(event_id), new.order_id, event, payload, now), now)
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
            self._insert_shipment(tx, order_id, shipment, now)
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

    def _insert_shipment(self, tx: Tx, order_id: str, shipment: NewShipment, now: datetime) -> None:
        stamp = self._ts_in(now)
        carriage = shipment.carriage
        tx.execute(
            "INSERT INTO shipments (shipment_id, order_id, node_id, state, payload, created_at, updated_at,"
            " carrier, carrier_service, tracking_number, shipped_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                shipment.shipment_id,
                order_id,
                shipment.node_id,
                "SHIPPED",
                json.dumps([list(x) for x in shipment.lines]),
                stamp,
                stamp,
                carriage.carrier,
                carriage.carrier_service,
                carriage.tracking_number,
                self._ts_in(carriage.shipped_at),
            ),
        )

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

    def _clear_holds(self, tx: Tx, order_id: str) -> None:
        """A person released the order: its rules' holds no longer apply to it."""
        tx.execute("UPDATE orders SET holds = '' WHERE order_id = ?", (order_id,))


class _OrderTaken(Exception):
    """Allocate's order id was already taken: roll back, then replay or refuse."""
