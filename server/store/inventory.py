"""Stock in the SQL store: availability and stock levels as decisions read them, and inventory
updates (absolute counts and deltas, exactly once by request key) applied in one transaction,
with the holds a lowered count can no longer cover taken back (engine/orders/shortfall.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from engine.availability import StockLevels
from engine.model import InventoryPosition
from engine.orders.records import HELD, RELEASED
from engine.orders.shortfall import Claim, take_back
from server.errors import (
    StoreError,
    UnknownNodeError,
)
from server.store import rows
from server.store.base import (
    InventoryUpdate,
    InventoryUpdateResult,
    RequestKey,
    ShortedHold,
)
from server.store.holds import HoldsMixin
from server.store.request_keys import RequestKeysMixin
from server.store.sql import Key, Tx
from server.store.stock_batches import (
    WorkingPosition,
    apply_in_order,
    checked_as_of,
    deal_shortfalls,
    position_after,
    raise_if_refused,
)
from server.store.system_events import STOCK_SHORTFALL, append_system_event

T = TypeVar("T")
_NO_LEVELS = StockLevels((), (), ())
_INSERT_EMPTY_POSITION = (
    "INSERT INTO inventory (sku, node_id, on_hand, reserved, protected, version, as_of, updated_at) "
    "VALUES (?, ?, 0, 0, 0, 0, NULL, ?) ON CONFLICT (sku, node_id) DO NOTHING"
)
_WRITE_POSITION = (
    "UPDATE inventory SET on_hand = ?, as_of = ?, version = version + 1, updated_at = ? WHERE sku = ? AND node_id = ?"
)


class InventoryStoreMixin(HoldsMixin, RequestKeysMixin, ABC):
    @abstractmethod
    def _read_stock(self, work: Callable[[Tx], T]) -> T: ...

    def get_availability(
        self, skus: Sequence[str], node_ids: Sequence[str] = (), now: datetime | None = None
    ) -> list[InventoryPosition]:
        found = self._positions(skus, node_ids, now)
        return [rows.row_to_position(r, self._ts_out(r[5])) for r in found]

    def stock_levels(self, skus: Sequence[str], now: datetime | None = None) -> StockLevels:
        if not skus:
            return _NO_LEVELS
        # The statement's text is the same for every list (the dialects pass a list as parameters
        # of fixed count), so it is written once per store; the SKU list's parameters serve both
        # of its IN predicates, and the current instant is formatted the cheap way.
        sql = self._stock_levels_sql
        if sql is None:
            sql = self._stock_levels_sql = self._stock_levels_statement()
        listed = self._in_list("i.sku", sorted(set(skus)))[1]
        at = self._ts_now() if now is None else self._ts_in(now)
        found = self._fetch_stock(sql, [HELD, at, *listed, *listed])
        if not found:
            return _NO_LEVELS
        sku_column, node_column, units_column = zip(*found, strict=True)
        return StockLevels(sku_column, node_column, units_column)

    _stock_levels_sql: str | None = None

    def _stock_levels_statement(self) -> str:
        expired, _ = self._expired_holds((), None)
        stock_in, _ = self._in_list("i.sku", ())
        # The arithmetic and the "any left" filter run in the database, so only rows worth
        # promising cross into Python, as plain tuples.
        available = "i.on_hand - i.reserved - i.protected + COALESCE(e.qty, 0)"
        return (
            f"SELECT i.sku, i.node_id, CAST({available} AS BIGINT) FROM inventory i {expired}"
            f" WHERE {stock_in} AND {available} > 0"
        )

    def _fetch_stock(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of the decision's stock read; a dialect may take a shorter way to them."""
        return self._read_stock(lambda tx: tx.execute(sql, params))

    def _ts_now(self) -> Any:
        """The current instant as ``_ts_in`` gives it to the database."""
        return self._ts_in(rows.utc_now())

    def next_hold_expiry(self, skus: Sequence[str], now: datetime) -> datetime | None:
        if not skus:
            return None
        stock_in, params = self._in_list("sku", sorted(set(skus)))
        sql = f"SELECT MIN(expires_at) FROM reservations WHERE state = ? AND expires_at > ? AND {stock_in}"
        found = self._read_stock(lambda tx: tx.execute(sql, [HELD, self._ts_in(now), *params]))
        return self._ts_out(found[0][0]) if found and found[0][0] is not None else None

    def _positions(self, skus: Sequence[str], node_ids: Sequence[str], now: datetime | None) -> list[Any]:
        if not skus:
            return []
        wanted = sorted(set(skus))
        expired, params = self._expired_holds(wanted, now)
        columns = ", ".join(
            "i.reserved - COALESCE(e.qty, 0)" if c == "reserved" else f"i.{c}" for c in rows.POSITION_COLUMNS
        )
        predicate, sku_params = self._in_list("i.sku", wanted)
        params += sku_params
        sql = f"SELECT {columns} FROM inventory i {expired} WHERE {predicate}"
        if node_ids:
            node_predicate, node_params = self._in_list("i.node_id", sorted(set(node_ids)))
            sql += f" AND {node_predicate}"
            params += node_params
        sql += " ORDER BY i.sku, i.node_id"
        return list(self._read(lambda tx: tx.execute(sql, params)))

    def _expired_holds(self, skus: Sequence[str], now: datetime | None) -> tuple[str, list[Any]]:
        """A LEFT JOIN of ``inventory i`` to ``e.qty``: units of holds past their expiry per position.

        Holds past their expiry count as available from that instant, swept or not. They are few:
        one grouped aggregate joined once, not a subquery per stock row.
        """
        holds_in, holds_params = self._in_list("r.sku", skus)
        sql = (
            "LEFT JOIN (SELECT r.sku, r.node_id, CAST(SUM(r.qty) AS BIGINT) AS qty FROM reservations r"
            f" WHERE r.state = ? AND r.expires_at <= ? AND {holds_in} GROUP BY r.sku, r.node_id) e"
            " ON e.sku = i.sku AND e.node_id = i.node_id"
        )
        return sql, [HELD, self._ts_in(now or rows.utc_now()), *holds_params]

    def update_inventory(
        self, updates: Sequence[InventoryUpdate], now: datetime | None = None
    ) -> list[InventoryUpdateResult]:
        if not updates:
            return []
        as_ofs = [checked_as_of(i, u) for i, u in enumerate(updates)]
        at = now or rows.utc_now()
        return self._write(lambda tx: self._apply_updates(tx, updates, as_ofs, at))

    def update_inventory_once(
        self,
        key: RequestKey,
        updates: Sequence[InventoryUpdate],
        now: datetime,
        respond: Callable[[Sequence[InventoryUpdateResult]], bytes],
    ) -> tuple[bytes, list[InventoryUpdateResult] | None]:
        """``update_inventory`` exactly once per request key: the response ``respond`` made of the
        results is stored with them, in the same transaction. A retry gets the stored response and
        None for results (nothing was applied again); the key used for another request raises
        IdempotencyKeyConflict. A refused batch stores nothing, so its retry is judged anew."""
        as_ofs = [checked_as_of(i, u) for i, u in enumerate(updates)]

        def work(tx: Tx) -> tuple[bytes, list[InventoryUpdateResult] | None]:
            # The key first: a concurrent duplicate waits on it and then finds our response.
            stored = self._claim(tx, key, now)
            if stored is not None:
                return stored, None
            results = self._apply_updates(tx, updates, as_ofs, now)
            return self._finish(tx, key, respond(results)), results

        return self._write(work)

    def _apply_updates(
        self,
        tx: Tx,
        updates: Sequence[InventoryUpdate],
        as_ofs: Sequence[datetime | None],
        now: datetime,
    ) -> list[InventoryUpdateResult]:
        self._reject_unknown_nodes(tx, updates)
        locked = self._lock_positions(tx, sorted({(u.sku, u.node_id) for u in updates}), now)
        applied = apply_in_order(updates, as_ofs, locked)
        raise_if_refused(updates, applied)
        if applied.short:
            # Holds past their expiry no longer count, swept or not: they give way before live ones.
            short_keys = sorted({(updates[i].sku, updates[i].node_id) for i in applied.short})
            self._expire(tx, now, keys=short_keys)
            predicate, params = self._in_keys(short_keys)
            for sku, node_id, reserved in tx.execute(
                f"SELECT sku, node_id, reserved FROM inventory WHERE {predicate}", params
            ):
                locked[(sku, node_id)] = replace(locked[(sku, node_id)], reserved=int(reserved))
            applied = apply_in_order(updates, as_ofs, locked)
        shorted = self._take_back(tx, updates, applied.short, now) if applied.short else {}

        # After the holds gave way: on hand may not drop below reserved even within the transaction.
        working = applied.rows
        changed = sorted(key for key, row in working.items() if row.changed)
        if changed:
            stamp = self._ts_in(now)
            tx.executemany(
                _WRITE_POSITION,
                [(working[k].on_hand, self._ts_in(working[k].as_of), stamp, k[0], k[1]) for k in changed],
            )
        return [
            InventoryUpdateResult(
                outcome=outcome,
                position=position_after(u, working[(u.sku, u.node_id)]),
                shorted_units=applied.short.get(i, 0),
                shorted=shorted.get(i, ()),
            )
            for i, (u, outcome) in enumerate(zip(updates, applied.outcomes, strict=True))
        ]

    def _take_back(
        self, tx: Tx, updates: Sequence[InventoryUpdate], short: Mapping[int, int], now: datetime
    ) -> dict[int, tuple[ShortedHold, ...]]:
        """Holds give back the units the updates left without stock (``short``: units per update
        index); each order touched records SHORTED and takes the state its quantities now imply.
        The holds taken back, per update index, in the order taken."""
        wanted: dict[Key, int] = defaultdict(int)
        for index, units in short.items():
            wanted[(updates[index].sku, updates[index].node_id)] += units
        keys = sorted(wanted)
        predicate, params = self._in_keys(keys)
        holders = [r[0] for r in tx.execute(f"SELECT DISTINCT order_id FROM reservations WHERE {predicate}", params)]
        # Lock the orders before changing their holds, in id order: a lifecycle call (Cancel, a
        # shipment) works on its order under this lock and must see the holds as left here. The
        # positions are locked already, so the holds at them cannot change meanwhile.
        orders_in, orders_params = self._in_list("order_id", sorted(holders))
        tx.execute(f"SELECT order_id FROM orders WHERE {orders_in} ORDER BY order_id{self.ROW_LOCK}", orders_params)
        claims: dict[Key, list[Claim]] = defaultdict(list)
        for sku, node_id, order_id, line_id, qty, state, priority, created_at in tx.execute(
            "SELECT r.sku, r.node_id, r.order_id, r.line_id, r.qty, r.state, o.priority, o.created_at"
            f" FROM (SELECT * FROM reservations WHERE {predicate}) r JOIN orders o ON o.order_id = r.order_id",
            params,
        ):
            claim = Claim(order_id, line_id, int(qty), state == RELEASED, int(priority), self._ts_required(created_at))
            claims[(sku, node_id)].append(claim)

        taken: dict[Key, list[tuple[Claim, int]]] = {}
        per_order: dict[str, list[list[Any]]] = defaultdict(list)
        for key in keys:
            sku, node_id = key
            taken[key] = take_back(wanted[key], claims[key])
            if sum(units for _, units in taken[key]) < wanted[key]:
                # inventory.reserved is the sum of the holds (CheckConservation says where it is not).
                raise StoreError(f"{sku}@{node_id}: reserved is not backed by holds; run CheckConservation")
            for claim, units in taken[key]:
                self._release_units(tx, claim.order_id, claim.line_id, node_id, sku, units, now)
                per_order[claim.order_id].append([claim.line_id, node_id, units])
        for order_id in sorted(per_order):
            payload = {"holds": per_order[order_id], "reason": "stock at the node no longer covers the holds"}
            self._settle(tx, order_id, now, "SHORTED", payload, None)
        for sku, node_id in keys:  # for the inventory team: where stock fell short of promises, and whose
            given_back = [[c.order_id, c.line_id, units] for c, units in taken[(sku, node_id)]]
            shortfall = {"sku": sku, "node_id": node_id, "short_units": wanted[(sku, node_id)], "holds": given_back}
            append_system_event(tx, self._ts_in, STOCK_SHORTFALL, shortfall, now)
        return deal_shortfalls(updates, short, taken)

    def _reject_unknown_nodes(self, tx: Tx, updates: Sequence[InventoryUpdate]) -> None:
        wanted = sorted({u.node_id for u in updates})
        predicate, params = self._in_list("id", wanted)
        known = {r[0] for r in tx.execute(f"SELECT id FROM nodes WHERE {predicate}", params)}
        unknown = [(i, u.node_id) for i, u in enumerate(updates) if u.node_id not in known]
        if unknown:
            raise UnknownNodeError([i for i, _ in unknown], [n for _, n in unknown])

    def _lock_positions(self, tx: Tx, keys: Sequence[Key], now: datetime) -> dict[Key, WorkingPosition]:
        """Lock every row the batch touches, creating missing ones (at zero) first.

        Creating first means concurrent callers meet on an existing row lock instead of a
        unique-key violation; a missing row at zero behaves exactly as "no row" for both
        kinds of update, and a rejected batch rolls the new rows back with everything else.
        """
        predicate, params = self._in_keys(keys)
        select = f"SELECT {', '.join(rows.POSITION_COLUMNS)} FROM inventory WHERE {predicate}"
        existing = {(r[1], r[0]) for r in tx.execute(select, params)}
        missing = [k for k in keys if k not in existing]
        if missing:
            stamp = self._ts_in(now)
            tx.executemany(_INSERT_EMPTY_POSITION, [(sku, node, stamp) for sku, node in missing])
        # Locked in (sku, node_id) order, the order reservations use too, so writers never deadlock.
        locked = tx.execute(f"{select} ORDER BY sku, node_id{self.ROW_LOCK}", params)
        return {(r[1], r[0]): WorkingPosition(int(r[2]), int(r[3]), int(r[4]), self._ts_out(r[5])) for r in locked}
