"""An order as the order model sees it: its lines, holds, shipments and audit trail.

Plain frozen records, no I/O: the store reads them from its tables and writes back what
``engine.orders.changes`` decides. Hold states: a HELD hold expires at ``expires_at``; a
RELEASED one (the order was handed to fulfillment) never does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from engine.decision import AllocationLine
from engine.errors import FieldViolation, InvalidInputError
from engine.orders import lifecycle
from engine.orders.lifecycle import Action, LineQuantities, OrderState

HELD = "HELD"
RELEASED = "RELEASED"
# Orders that may wait for stock, found by healing: a partially shipped order's remainder too.
HEALABLE_STATES = (OrderState.BACKORDERED, OrderState.PARTIALLY_ALLOCATED, OrderState.PARTIALLY_SHIPPED)

Position = tuple[str, str]  # (sku, node_id)


@dataclass(frozen=True, slots=True)
class LineRecord:
    line_id: str
    sku: str
    qty: int
    reserved: int
    shipped: int
    cancelled: int
    returned: int
    excluded_nodes: tuple[str, ...] = ()  # nodes that rejected units of this line: never again

    @property
    def quantities(self) -> LineQuantities:
        return LineQuantities(self.qty, self.reserved, self.shipped, self.cancelled, self.returned)


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    line_id: str
    node_id: str
    sku: str
    qty: int
    expires_at: datetime
    state: str


@dataclass(frozen=True, slots=True)
class Carriage:
    """How a shipment left its node, as the node confirmed it: the carrier, its service, the
    tracking number (each "" when not given) and when the parcel was handed over (None only for
    shipments recorded before these were kept)."""

    carrier: str = ""
    carrier_service: str = ""
    tracking_number: str = ""
    shipped_at: datetime | None = None


NO_CARRIAGE = Carriage()


@dataclass(frozen=True, slots=True)
class ShipmentRecord:
    shipment_id: str
    node_id: str
    state: str
    lines: tuple[tuple[str, int], ...]
    created_at: datetime
    carriage: Carriage = NO_CARRIAGE


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    order_id: str
    type: str
    payload: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order_id: str
    state: OrderState
    version: int
    hold_ms: int
    request: str
    lines: tuple[LineRecord, ...]
    reservations: tuple[ReservationRecord, ...]
    shipments: tuple[ShipmentRecord, ...]
    events: tuple[EventRecord, ...]
    created_at: datetime
    updated_at: datetime
    holds: tuple[tuple[str, str], ...] = ()  # (rule_id, reason) while a rule holds the order
    released_at: datetime | None = None  # handed to fulfillment: what it holds never expires

    @property
    def released(self) -> bool:
        return self.released_at is not None

    @property
    def hold_state(self) -> str:
        """The state new reservations of this order take: a released order's are handed over too."""
        return RELEASED if self.released else HELD

    def line(self, line_id: str, field: str) -> LineRecord:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise InvalidInputError(FieldViolation(field, f"order {self.order_id!r} has no line {line_id[:40]!r}"))


@dataclass(frozen=True, slots=True)
class NewOrder:
    order_id: str
    request: str  # the order as the caller sent it, JSON
    lines: tuple[tuple[str, str, int], ...]  # (line_id, sku, qty)
    hold_ms: int
    rule_set_version: str
    decision: str  # JSON
    decision_id: str
    holds: tuple[tuple[str, str], ...] = ()  # (rule_id, reason): persist HELD, reserve nothing
    priority: int = 0  # backorders heal highest first


def summed(allocations: Iterable[AllocationLine]) -> list[tuple[Position, int]]:
    """Units per (sku, node), in the order rows are locked: lines on one position are one check."""
    units: dict[Position, int] = defaultdict(int)
    for a in allocations:
        if a.qty > 0:
            units[(a.sku, a.node_id)] += a.qty
    return sorted(units.items())


def holds_of(allocations: Iterable[AllocationLine]) -> dict[tuple[str, str, str], int]:
    """Units per (line, node, sku): one hold row each."""
    units: dict[tuple[str, str, str], int] = defaultdict(int)
    for a in allocations:
        if a.qty > 0:
            units[(a.line_id, a.node_id, a.sku)] += a.qty
    return units


def held_allocations(record: OrderRecord) -> tuple[AllocationLine, ...]:
    """What the order holds, as allocation rows (line, node, SKU, units)."""
    return tuple(AllocationLine(h.line_id, h.node_id, h.sku, h.qty) for h in record.reservations)


def with_reservations(record: OrderRecord, live: Sequence[ReservationRecord]) -> OrderRecord:
    """The order holding only ``live``: line counts follow, and so does the state of an order
    whose holds may expire."""
    held: dict[str, int] = defaultdict(int)
    for hold in live:
        held[hold.line_id] += hold.qty
    lines = tuple(replace(x, reserved=held[x.line_id]) for x in record.lines)
    state = record.state
    if Action.EXPIRE in lifecycle.ALLOWED[state]:
        state = lifecycle.derive_state([x.quantities for x in lines], record.released)
    return replace(record, state=state, lines=lines, reservations=tuple(live))


def live_at(record: OrderRecord, now: datetime) -> OrderRecord:
    """The order as of ``now``: holds past their expiry no longer count, swept or not."""
    live = tuple(r for r in record.reservations if r.state != HELD or r.expires_at > now)
    if len(live) == len(record.reservations):
        return record
    return with_reservations(record, live)
