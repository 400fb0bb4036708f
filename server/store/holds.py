"""Holds on stock: conditional reservations, their expiry, giving units back or shipping them,
and moving a group's holds at once (ReoptimizePending). The rules are in server/store/orders.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.decision import AllocationLine
from engine.orders import lifecycle
from engine.orders.lifecycle import Action, OrderState
from engine.orders.records import (
    HELD,
    OrderRecord,
    held_allocations,
    summed,
)
from engine.orders.records import holds_of as _holds
from server.errors import HoldsNotMoved, ReservationConflict
from server.store.base import HoldsMove
from server.store.order_rows import _RESERVE, _SHIP, _UNRESERVE, OrderRowsMixin, _insert_rows

if TYPE_CHECKING:
    from server.store.sql import Key, Tx


class HoldsMixin(OrderRowsMixin):
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

    def sweep_expired(self, now: datetime) -> tuple[int, list[str]]:
        """Delete every hold past its expiry; one EXPIRED event per order touched."""
        return self._write(lambda tx: self._expire(tx, now))

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
