"""The order rows every order method of the SQL store builds on: reading an order back
(``_load``), storing the state its quantities imply with its event (``_settle``), and the
transaction and dialect hooks ``SqlStore`` supplies. The rules all order methods keep are in
server/store/orders.py.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from engine.orders import lifecycle
from engine.orders.lifecycle import OrderState
from engine.orders.records import (
    Carriage,
    EventRecord,
    LineRecord,
    OrderRecord,
    ReservationRecord,
    ShipmentRecord,
    live_at,
)
from server.caller import with_caller
from server.errors import NotFoundError

if TYPE_CHECKING:
    from server.store.sql import Key, Tx

T = TypeVar("T")

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


class OrderRowsMixin(ABC):
    """Transactions and dialect fragments (``SqlStore`` supplies them) and the order rows."""

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
                r[0],
                r[1],
                r[2],
                tuple((str(x[0]), int(x[1])) for x in json.loads(r[3])),
                self._ts_required(r[4]),
                Carriage(r[5], r[6], r[7], self._ts_out(r[8])),
            )
            for r in tx.execute(
                "SELECT shipment_id, node_id, state, payload, created_at, carrier, carrier_service, tracking_number,"
                " shipped_at FROM shipments WHERE order_id = ? ORDER BY created_at, shipment_id",
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
