"""An order store in memory: the ``OrderStore`` port without a database.

A real adapter, not a mock: it keeps the rules the SQL adapters keep (server/store/orders.py)
and passes the order store contract (tests/server/store/test_order_store_contract.py) with
them. Every method runs under one lock, which makes each write one atomic step that applies
completely or not at all (a failed write is undone from a copy). It keeps stock as
(on hand, reserved) per (sku, node), set with ``set_stock``; the network, the catalogue, inventory
updates and rule sets are :class:`~server.store.memory_store.MemoryStore`'s, built on this.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

from engine.decision import AllocationLine
from engine.orders import answers, changes, lifecycle
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
    holds_of,
    live_at,
    summed,
)
from server.caller import with_caller
from server.errors import HoldsNotMoved, IdempotencyKeyConflict, NotFoundError, OrderExistsError, ReservationConflict
from server.store.base import FeedEvent, HoldsMove, OrderFilter, OrderSummaryRow, Plan, RequestKey

Position = tuple[str, str]  # (sku, node_id)
T = TypeVar("T")


@dataclass
class _Stock:
    on_hand: int = 0
    reserved: int = 0
    as_of: datetime | None = None  # of the latest absolute count (MemoryStore's inventory updates)


@dataclass
class _Key:
    method: str
    request_hash: str
    response: bytes
    created_at: datetime


@dataclass
class _State:
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    priority: dict[str, int] = field(default_factory=dict)
    stock: dict[Position, _Stock] = field(default_factory=dict)
    keys: dict[str, _Key] = field(default_factory=dict)
    events: list[tuple[int | None, EventRecord]] = field(default_factory=list)  # (seq, event)
    next_event: int = 1


class MemoryOrderStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._s = _State()

    # --- stock (what the SQL adapters keep through the Store port) -------------------------

    def set_stock(self, sku: str, node_id: str, on_hand: int) -> None:
        with self._lock:
            self._s.stock.setdefault((sku, node_id), _Stock()).on_hand = on_hand

    def stock(self, sku: str, node_id: str) -> tuple[int, int]:
        """(on hand, reserved) at the position; holds past expiry still count until swept."""
        with self._lock:
            found = self._s.stock.get((sku, node_id), _Stock())
            return found.on_hand, found.reserved

    # --- request keys -------------------------------------------------------------------

    def replay(self, key: RequestKey) -> bytes | None:
        with self._lock:
            return self._stored(key)

    def remember_response(self, key: RequestKey, response: bytes, now: datetime) -> bytes:
        with self._lock:
            stored = self._stored(key)
            if stored is not None:
                return stored
            self._s.keys[key.key] = _Key(key.method, key.request_hash, response, now)
            return response

    def purge_request_keys(self, created_before: datetime, limit: int) -> int:
        with self._lock:
            old = sorted((k.created_at, name) for name, k in self._s.keys.items() if k.created_at < created_before)
            for _, name in old[:limit]:
                del self._s.keys[name]
            return len(old[:limit])

    def _stored(self, key: RequestKey) -> bytes | None:
        found = self._s.keys.get(key.key)
        if found is None:
            return None
        if found.method != key.method or found.request_hash != key.request_hash:
            raise IdempotencyKeyConflict(key.key, found.method)
        return found.response

    # --- writes -------------------------------------------------------------------------

    def _atomically(self, work: Callable[[], T]) -> T:
        with self._lock:
            saved = copy.deepcopy(self._s)
            try:
                return work()
            except BaseException:
                self._s = saved
                raise

    def allocate_order(
        self, key: RequestKey, new: NewOrder, allocations: Sequence[AllocationLine], now: datetime, attachment: bytes
    ) -> bytes:
        allocation = changes.allocate(new, allocations, now)

        def work() -> bytes:
            stored = self._stored(key)
            if stored is not None:
                return stored
            if new.order_id in self._s.orders:
                raise OrderExistsError(new.order_id)
            self._reserve(summed(allocations), now)
            event = self._event(new.order_id, allocation.event, allocation.body, now)
            record = allocation.record(event, now)
            self._s.orders[new.order_id] = record
            self._s.priority[new.order_id] = new.priority
            response = answers.pack(record, attachment)
            self._s.keys[key.key] = _Key(key.method, key.request_hash, response, now)
            return response

        return self._atomically(work)

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
        def work() -> tuple[bytes, OrderChange | None]:
            stored = self._stored(key)
            if stored is not None:
                return stored, None
            record = self._order(order_id)
            if expected_version is not None and record.version != expected_version:
                raise ReservationConflict(f"order {order_id!r} changed while it was being re-sourced")
            self._expire(now, lambda _, o: o == order_id)
            record = self._s.orders[order_id]
            lifecycle.require(order_id, record.state, action)
            change = plan(record)
            self._apply(record, change, now)
            self._settle(order_id, now, change.event, change.payload, record.state)
            response = answers.pack(self._s.orders[order_id], attachment)
            self._s.keys[key.key] = _Key(key.method, key.request_hash, response, now)
            return response, change

        return self._atomically(work)

    def _apply(self, record: OrderRecord, change: OrderChange, now: datetime) -> None:
        lines = {x.line_id: x for x in record.lines}
        holds = {(h.line_id, h.node_id): h for h in record.reservations}
        shipments = list(record.shipments)
        released_at = record.released_at
        rule_holds = () if change.clear_holds else record.holds
        if change.mark_released:
            released_at = released_at or now
            holds = {k: replace(h, state=RELEASED) for k, h in holds.items()}
        for u in change.release:
            self._s.stock[(u.sku, u.node_id)].reserved -= u.qty
            _shrink(holds, u.line_id, u.node_id, u.qty)
        for u in change.ship:
            position = self._s.stock[(u.sku, u.node_id)]
            position.reserved -= u.qty
            position.on_hand -= u.qty
            _shrink(holds, u.line_id, u.node_id, u.qty)
            lines[u.line_id] = replace(lines[u.line_id], shipped=lines[u.line_id].shipped + u.qty)
        if change.shipment is not None:
            s = change.shipment
            shipments.append(ShipmentRecord(s.shipment_id, s.node_id, "SHIPPED", s.lines, now, s.carriage))
        for line_id, units in change.cancelled:
            lines[line_id] = replace(lines[line_id], cancelled=lines[line_id].cancelled + units)
        for node_id, sku, units in change.restock:
            self._s.stock.setdefault((sku, node_id), _Stock()).on_hand += units
        for line_id, units in change.returned:
            lines[line_id] = replace(lines[line_id], returned=lines[line_id].returned + units)
        done = set(change.shipments_returned)
        shipments = [replace(s, state="RETURNED") if s.shipment_id in done else s for s in shipments]
        for line_id, nodes in change.excluded_nodes:
            lines[line_id] = replace(lines[line_id], excluded_nodes=tuple(sorted(set(nodes))))
        if change.reserve:
            self._reserve(summed(change.reserve), now)
            expires = now + timedelta(milliseconds=change.hold_ms)
            for a in change.reserve:
                if a.qty <= 0:
                    continue
                old = holds.get((a.line_id, a.node_id))
                qty = a.qty + (old.qty if old is not None else 0)
                holds[(a.line_id, a.node_id)] = ReservationRecord(
                    a.line_id, a.node_id, a.sku, qty, expires, change.hold_state
                )
        self._s.orders[record.order_id] = _with_holds(
            replace(
                record,
                lines=tuple(lines[x.line_id] for x in record.lines),
                shipments=tuple(shipments),
                released_at=released_at,
                holds=rule_holds,
            ),
            holds.values(),
        )

    def _reserve(self, wanted: Sequence[tuple[Position, int]], now: datetime) -> None:
        """Conditional reservations, all or none; a short position frees its expired holds first."""
        for position, qty in wanted:
            stock = self._s.stock.get(position, _Stock())
            if stock.on_hand - stock.reserved < qty:
                self._expire(now, lambda h, _, p=position: (h.sku, h.node_id) == p)  # type: ignore[misc]
                stock = self._s.stock.get(position, _Stock())
                if stock.on_hand - stock.reserved < qty:
                    raise ReservationConflict(f"fewer than {qty} units of {position[0]!r} free at {position[1]!r}")
            self._s.stock[position] = stock
            stock.reserved += qty

    def _settle(
        self, order_id: str, now: datetime, event: str, payload: dict[str, object], before: OrderState | None
    ) -> None:
        record = self._s.orders[order_id]
        after = lifecycle.derive_state([x.quantities for x in record.lines], record.released, held=bool(record.holds))
        body = {"from": (before or record.state).value, "to": after.value, **payload}
        added = self._event(order_id, event, body, now)
        self._s.orders[order_id] = replace(
            record, state=after, version=record.version + 1, updated_at=now, events=(*record.events, added)
        )

    def _event(self, order_id: str, kind: str, body: dict[str, object], now: datetime) -> EventRecord:
        added = EventRecord(self._s.next_event, order_id, kind, json.dumps(with_caller(body), sort_keys=True), now)
        self._s.next_event += 1
        self._s.events.append((None, added))
        return added

    def _expire(self, now: datetime, which: Callable[[ReservationRecord, str], bool]) -> tuple[int, list[str]]:
        count = 0
        touched: list[str] = []
        for order_id in sorted(self._s.orders):
            record = self._s.orders[order_id]
            gone = [h for h in record.reservations if h.state == HELD and h.expires_at <= now and which(h, order_id)]
            if not gone:
                continue
            for h in gone:
                self._s.stock[(h.sku, h.node_id)].reserved -= h.qty
            kept = [h for h in record.reservations if h not in gone]
            self._s.orders[order_id] = _with_holds(record, kept)
            self._settle(order_id, now, "EXPIRED", {"holds": [[h.line_id, h.node_id, h.qty] for h in gone]}, None)
            count += len(gone)
            touched.append(order_id)
        return count, touched

    def sweep_expired(self, now: datetime) -> tuple[int, list[str]]:
        return self._atomically(lambda: self._expire(now, lambda h, o: True))

    def move_holds(self, moves: Sequence[HoldsMove], now: datetime) -> None:
        ordered = sorted(moves, key=lambda m: m.order_id)

        def work() -> None:
            for move in ordered:
                record = self._s.orders.get(move.order_id)
                if record is None or record.version != move.version:
                    raise HoldsNotMoved(move.order_id, f"order {move.order_id!r} changed since it was read")
                if record.released or Action.REOPTIMIZE not in lifecycle.ALLOWED[record.state]:
                    raise HoldsNotMoved(move.order_id, f"order {move.order_id!r} is {record.state.value}")
                live = all(h.state == HELD and h.expires_at > now for h in record.reservations)
                if not live or holds_of(_allocations(record)) != holds_of(move.before):
                    raise HoldsNotMoved(move.order_id, f"order {move.order_id!r}'s holds changed since it was read")
            net: dict[Position, int] = defaultdict(int)
            for move in ordered:
                for position, qty in summed(move.after):
                    net[position] += qty
                for position, qty in summed(move.before):
                    net[position] -= qty
            for position, qty in sorted(net.items()):
                if qty < 0:
                    self._s.stock[position].reserved += qty
            try:
                self._reserve([(p, q) for p, q in sorted(net.items()) if q > 0], now)
            except ReservationConflict as short:
                taker = next(m.order_id for m in ordered if any((a.sku, a.node_id) in net for a in m.after))
                raise HoldsNotMoved(taker, short.detail, stock=True) from None
            for move in ordered:
                record = self._s.orders[move.order_id]
                old = {(h.line_id, h.node_id): h for h in record.reservations}
                earliest_of_order = min(h.expires_at for h in record.reservations)
                earliest: dict[str, datetime] = {}
                for h in record.reservations:
                    earliest[h.line_id] = min(h.expires_at, earliest.get(h.line_id, h.expires_at))
                new = [
                    ReservationRecord(
                        line_id,
                        node_id,
                        sku,
                        qty,
                        old[(line_id, node_id)].expires_at
                        if (line_id, node_id) in old
                        else earliest.get(line_id, earliest_of_order),
                        HELD,
                    )
                    for (line_id, node_id, sku), qty in sorted(holds_of(move.after).items())
                ]
                self._s.orders[move.order_id] = _with_holds(record, new)
                self._settle(move.order_id, now, "REOPTIMIZED", move.payload, record.state)

        self._atomically(work)

    # --- reads --------------------------------------------------------------------------

    def _order(self, order_id: str) -> OrderRecord:
        found = self._s.orders.get(order_id)
        if found is None:
            raise NotFoundError("order", order_id)
        return found

    def get_order(self, order_id: str, now: datetime) -> OrderRecord:
        with self._lock:
            return live_at(self._order(order_id), now)

    def list_orders(self, wanted: OrderFilter, page_size: int, after: str) -> list[OrderSummaryRow]:
        with self._lock:
            found = []
            for order_id in sorted(o for o in self._s.orders if o > after):
                r = self._s.orders[order_id]
                if wanted.states and r.state not in wanted.states:
                    continue
                if wanted.node_ids and not (
                    {h.node_id for h in r.reservations} | {s.node_id for s in r.shipments}
                ) & set(wanted.node_ids):
                    continue
                if not all(
                    (w.start is None or at >= w.start) and (w.end is None or at < w.end)
                    for w, at in ((wanted.created, r.created_at), (wanted.updated, r.updated_at))
                ):
                    continue
                found.append(OrderSummaryRow(r.order_id, r.state, r.created_at, r.updated_at))
                if len(found) == page_size:
                    break
            return found

    def list_exceptions(
        self, states: Sequence[OrderState], rule_id: str, page_size: int, after: tuple[str, str] | None
    ) -> tuple[list[OrderRecord], tuple[str, str] | None]:
        with self._lock:
            queued = sorted(
                (r for r in self._s.orders.values() if r.state in states and _queued(r)),
                key=lambda r: (r.created_at, r.order_id),
            )
            if after is not None:
                at = datetime.fromisoformat(after[0])
                queued = [r for r in queued if (r.created_at, r.order_id) > (at, after[1])]
            page = [replace(r, events=()) for r in queued[:page_size]]
            last = page[-1] if page and len(queued) > page_size else None
            kept = [r for r in page if not rule_id or any(h[0] == rule_id for h in r.holds)]
            return kept, None if last is None else (last.created_at.isoformat(), last.order_id)

    def backordered_orders(self, skus: Sequence[str], limit: int) -> list[str]:
        with self._lock:
            wanted = set(skus)
            found = [
                r
                for r in self._s.orders.values()
                if r.state in HEALABLE_STATES and any(x.sku in wanted and _waits(x) for x in r.lines)
            ]
            found.sort(key=lambda r: (-self._s.priority.get(r.order_id, 0), r.created_at, r.order_id))
            return [r.order_id for r in found[:limit]]

    def pending_orders(self, limit: int, skus: Sequence[str], node_ids: Sequence[str], now: datetime) -> list[str]:
        with self._lock:
            found = []
            for r in sorted(self._s.orders.values(), key=lambda r: (r.created_at, r.order_id)):
                if r.state not in (OrderState.ALLOCATED, OrderState.PARTIALLY_ALLOCATED) or r.released:
                    continue
                live = [h for h in r.reservations if h.state == HELD and h.expires_at > now]
                if not any(not node_ids or h.node_id in node_ids for h in live):
                    continue
                if skus and not any(x.sku in skus for x in r.lines):
                    continue
                found.append(r.order_id)
            return found[:limit]

    def check_conservation(self) -> tuple[list[str], int]:
        with self._lock:
            problems: list[str] = []
            holds: dict[Position, int] = defaultdict(int)
            for r in self._s.orders.values():
                for h in r.reservations:
                    holds[(h.sku, h.node_id)] += h.qty
            for (sku, node_id), stock in sorted(self._s.stock.items()):
                if stock.reserved != holds.get((sku, node_id), 0):
                    problems.append(
                        f"{sku}@{node_id}: reserved {stock.reserved} but holds sum to {holds[(sku, node_id)]}"
                    )
                if not 0 <= stock.reserved <= stock.on_hand:
                    problems.append(f"{sku}@{node_id}: reserved {stock.reserved} outside 0..on_hand {stock.on_hand}")
            for order_id in sorted(self._s.orders):
                r = self._s.orders[order_id]
                for x in r.lines:
                    if x.reserved + x.shipped + x.cancelled > x.qty:
                        problems.append(
                            f"order {order_id} line {x.line_id}: held+shipped+cancelled exceeds qty {x.qty}"
                        )
                    if x.returned > x.shipped:
                        problems.append(f"order {order_id} line {x.line_id}: returned {x.returned} exceeds shipped")
                    closed = (OrderState.CANCELLED, OrderState.SHIPPED, OrderState.RETURNED)
                    if x.reserved > 0 and r.state in closed:
                        problems.append(f"order {order_id} is {r.state} but still holds {x.reserved} units")
            return problems, len(self._s.stock)

    # --- the event feed -----------------------------------------------------------------

    def sequence_events(self) -> int:
        with self._lock:
            last = max((seq for seq, _ in self._s.events if seq is not None), default=0)
            numbered = 0
            for i, (seq, event) in enumerate(self._s.events):
                if seq is None:
                    numbered += 1
                    self._s.events[i] = (last + numbered, event)
            return numbered

    def events_after(self, cursor: int, limit: int) -> list[FeedEvent]:
        with self._lock:
            found = [(seq, e) for seq, e in self._s.events if seq is not None and seq > cursor]
            return [FeedEvent(seq, e.id, e.order_id, e.type, e.payload, e.created_at) for seq, e in found[:limit]]


def _shrink(holds: dict[tuple[str, str], ReservationRecord], line_id: str, node_id: str, qty: int) -> None:
    hold = holds[(line_id, node_id)]
    if hold.qty <= qty:
        del holds[(line_id, node_id)]
    else:
        holds[(line_id, node_id)] = replace(hold, qty=hold.qty - qty)


def _with_holds(record: OrderRecord, holds: Iterable[ReservationRecord]) -> OrderRecord:
    """``record`` holding ``holds`` (line counts follow), in the order the SQL stores read them."""
    kept = tuple(sorted(holds, key=lambda h: (h.line_id, h.node_id)))
    held: dict[str, int] = defaultdict(int)
    for h in kept:
        held[h.line_id] += h.qty
    return replace(record, reservations=kept, lines=tuple(replace(x, reserved=held[x.line_id]) for x in record.lines))


def _allocations(record: OrderRecord) -> list[AllocationLine]:
    return [AllocationLine(h.line_id, h.node_id, h.sku, h.qty) for h in record.reservations]


def _waits(line: LineRecord) -> bool:
    return line.qty - line.shipped - line.cancelled > line.reserved


def _queued(record: OrderRecord) -> bool:
    """PARTIALLY_SHIPPED orders are queued only while some of them waits for stock."""
    return record.state is not OrderState.PARTIALLY_SHIPPED or any(_waits(x) for x in record.lines)
