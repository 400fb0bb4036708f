"""The arithmetic of an order's transitions: a record in, the change to apply out.

Each function takes the order as it stands (read and locked in the store's transaction, its
expired holds already freed) and the caller's checked request, and returns an ``OrderChange``:
the units to give back, ship, reserve or restock, the line counts to add, and the event to
record. Nothing here reads or writes anything; the store applies the change in the same
transaction, then stores the state the new quantities imply (``lifecycle.derive_state``).
A request the order cannot take raises (``InvalidInputError`` naming the field,
``TransitionError``, ``ReservationConflict`` when holds the decision counted on are gone), and
the transaction rolls back with nothing changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from engine.decision import AllocationLine
from engine.errors import FieldViolation, InvalidInputError, ReservationConflict
from engine.orders import lifecycle
from engine.orders.lifecycle import Action, LineQuantities
from engine.orders.records import (
    HELD,
    NO_CARRIAGE,
    RELEASED,
    Carriage,
    EventRecord,
    LineRecord,
    NewOrder,
    OrderRecord,
    ReservationRecord,
    holds_of,
)

LineTargets = Sequence[tuple[str, int]]  # (line id, units; 0: all the line has for this)


@dataclass(frozen=True, slots=True)
class Units:
    """Units of one line held at one node (a hold, or part of one)."""

    line_id: str
    node_id: str
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class NewShipment:
    shipment_id: str
    node_id: str
    lines: tuple[tuple[str, int], ...]  # (line id, units)
    carriage: Carriage = NO_CARRIAGE


@dataclass(frozen=True, slots=True)
class OrderChange:
    """What one transition does to an order, applied by the store in this order of fields."""

    event: str  # the event type recorded
    payload: dict[str, Any]  # its payload (the store adds the states before and after)
    clear_holds: bool = False  # a person released a HELD order: its rules' holds no longer apply
    mark_released: bool = False  # handed to fulfillment: its holds stop expiring
    release: tuple[Units, ...] = ()  # held units given back to free stock
    ship: tuple[Units, ...] = ()  # held units leaving their node (on hand and reserved drop)
    shipment: NewShipment | None = None
    cancelled: tuple[tuple[str, int], ...] = ()  # (line id, units) added to the line's cancelled
    returned: tuple[tuple[str, int], ...] = ()  # (line id, units) added to the line's returned
    restock: tuple[tuple[str, str, int], ...] = ()  # (node id, sku, units) back on hand
    shipments_returned: tuple[str, ...] = ()
    excluded_nodes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (line id, every node it may never use)
    reserve: tuple[AllocationLine, ...] = ()  # conditional reservations (a lost race rolls back)
    hold_ms: int = 0  # how long the new reservations hold
    hold_state: str = "HELD"  # the state new reservations take (RELEASED for a released order)
    freed_skus: frozenset[str] = field(default_factory=frozenset)  # stock given back: may heal others


def _bad(field_path: str, description: str) -> InvalidInputError:
    return InvalidInputError(FieldViolation(field_path, description))


def _nothing_to_cancel(line: LineRecord, cancellable: int, released: bool) -> str:
    if released and cancellable < line.quantities.open:
        return (
            f"line {line.line_id!r} has {cancellable} units waiting for stock to cancel;"
            " the others are handed to fulfillment"
        )
    if cancellable == 0:
        return f"line {line.line_id!r} has no open units left to cancel"
    return f"line {line.line_id!r} has only {cancellable} open units"


def cancel(record: OrderRecord, targets: LineTargets, reason: str) -> OrderChange:
    """Cancel the units named (every cancellable unit with no ``targets``): units waiting for
    stock go first, then holds, freeing stock for others."""
    lifecycle.require(record.order_id, record.state, Action.CANCEL)
    chosen = list(targets) or [(line.line_id, 0) for line in record.lines]
    done: list[list[Any]] = []
    release: list[Units] = []
    for i, (line_id, qty) in enumerate(chosen):
        line = record.line(line_id, f"lines[{i}].line_id")
        open_units = lifecycle.cancellable(line.quantities, record.state, record.released)
        units = qty or open_units
        if targets and (units == 0 or units > open_units):  # a line named must have units to cancel
            raise _bad(f"lines[{i}].qty", _nothing_to_cancel(line, open_units, record.released))
        if units == 0:
            continue
        from_holds = max(0, units - line.quantities.backordered)
        for hold in (h for h in record.reservations if h.line_id == line_id):
            take = min(hold.qty, from_holds)
            if take:
                release.append(Units(line_id, hold.node_id, hold.sku, take))
                from_holds -= take
        done.append([line_id, units])
    if not done:  # the whole order, with nothing left that may be cancelled
        detail = f"order {record.order_id!r} is {record.state.value}: nothing is left to cancel"
        raise lifecycle.TransitionError(record.order_id, record.state, Action.CANCEL, detail)
    return OrderChange(
        "CANCELLED",
        {"lines": done, "reason": reason},
        release=tuple(release),
        cancelled=tuple((line_id, units) for line_id, units in done),
        freed_skus=frozenset(u.sku for u in release),
    )


def release(record: OrderRecord) -> OrderChange:
    """Hand what the order holds to fulfillment; units still waiting are handed over when found."""
    handed = [h for h in record.reservations if h.state != RELEASED]
    lifecycle.require_release(record.order_id, record.state, sum(h.qty for h in handed))
    return OrderChange(
        "RELEASED",
        {
            "holds": [[h.line_id, h.node_id, h.qty] for h in handed],
            "waiting": [[x.line_id, n] for x in record.lines if (n := x.quantities.backordered) > 0],
        },
        mark_released=True,
    )


def ship(
    record: OrderRecord, node_id: str, targets: LineTargets, shipment_id: str, carriage: Carriage = NO_CARRIAGE
) -> OrderChange:
    """Held units leave ``node_id`` as one shipment (every unit held there with no ``targets``),
    with the carrier, service, tracking number and hand-over time the node confirmed."""
    lifecycle.require(record.order_id, record.state, Action.SHIP)
    held = {h.line_id: h for h in record.reservations if h.node_id == node_id}
    chosen = list(targets) or [(line_id, 0) for line_id in sorted(held)]
    if not chosen:
        raise _bad("node_id", f"order {record.order_id!r} holds nothing at {node_id!r}")
    shipped: list[Units] = []
    for i, (line_id, qty) in enumerate(chosen):
        record.line(line_id, f"lines[{i}].line_id")
        hold = held.get(line_id)
        available = hold.qty if hold is not None else 0
        units = qty or available
        if hold is None or units > available:
            raise _bad(f"lines[{i}].qty", f"line {line_id!r} holds {available} units at {node_id!r}")
        shipped.append(Units(line_id, node_id, hold.sku, units))
    lines = tuple((u.line_id, u.qty) for u in shipped)
    payload: dict[str, Any] = {"shipment_id": shipment_id, "node_id": node_id, "lines": lines}
    if carriage != NO_CARRIAGE:  # what the node said about the parcel, for whoever is told of it
        payload.update(carriage_payload(carriage))
    return OrderChange(
        "SHIPPED",
        payload,
        ship=tuple(shipped),
        shipment=NewShipment(shipment_id, node_id, lines, carriage),
    )


def carriage_payload(carriage: Carriage) -> dict[str, Any]:
    """The carriage as a SHIPPED event carries it (``shipped_at`` in ISO 8601 UTC, ``Z``)."""
    shipped_at = carriage.shipped_at
    stamp = None if shipped_at is None else shipped_at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return {
        "carrier": carriage.carrier,
        "carrier_service": carriage.carrier_service,
        "tracking_number": carriage.tracking_number,
        "shipped_at": stamp,
    }


def returned_units(record: OrderRecord, targets: LineTargets) -> dict[str, int]:
    """Units a Return of ``targets`` brings back per line (0: every shipped unit not yet
    returned); lines the order lacks are left out (the Return itself then says so)."""
    units: dict[str, int] = {}
    for line_id, qty in targets:
        line = next((x for x in record.lines if x.line_id == line_id), None)
        if line is not None:
            units[line_id] = units.get(line_id, 0) + (qty or line.shipped - line.returned)
    return units


def return_units(
    record: OrderRecord,
    targets: LineTargets,
    restock: bool,
    node_id: str = "",
    rules: Sequence[str] = (),
    rule_set_version: str = "",
) -> OrderChange:
    """Shipped units come back to ``node_id`` (else the node that last shipped the line); with
    ``restock`` they are on hand there again. ``rules``: the rules for returns that routed them."""
    lifecycle.require(record.order_id, record.state, Action.RETURN)
    returned: list[list[Any]] = []
    counts: list[tuple[str, int]] = []
    restocked: list[tuple[str, str, int]] = []
    back: dict[str, LineQuantities] = {x.line_id: x.quantities for x in record.lines}  # as this leaves them
    for i, (line_id, qty) in enumerate(targets):
        line = record.line(line_id, f"lines[{i}].line_id")
        returnable = line.shipped - line.returned
        units = qty or returnable
        if units == 0 or units > returnable:
            raise _bad(f"lines[{i}].qty", f"line {line_id!r} has {returnable} shipped units not yet returned")
        at = node_id or next(s.node_id for s in reversed(record.shipments) if any(x[0] == line_id for x in s.lines))
        if restock:
            restocked.append((at, line.sku, units))
        counts.append((line_id, units))
        returned.append([line_id, units, at])
        back[line_id] = replace(line.quantities, returned=line.returned + units)
    shipments = [(s.shipment_id, s.lines) for s in record.shipments if s.state != "RETURNED"]
    done = lifecycle.returned_shipments(shipments, back)
    payload: dict[str, Any] = {"lines": returned, "restocked": restock}
    if done:
        payload["shipments_returned"] = done
    if rules:  # the audit trail says which rules routed it
        payload["rules"] = list(rules)
        payload["rule_set_version"] = rule_set_version
    return OrderChange(
        "RETURNED", payload, returned=tuple(counts), restock=tuple(restocked), shipments_returned=tuple(done)
    )


def reallocation_moves(record: OrderRecord, node_id: str, targets: LineTargets) -> dict[str, int]:
    """Units per line a Reallocate away from ``node_id`` moves (every unit held there with no
    ``targets``), checked against what the order holds there."""
    lifecycle.require(record.order_id, record.state, Action.REALLOCATE)
    held = {h.line_id: h.qty for h in record.reservations if h.node_id == node_id}
    chosen = list(targets) or sorted(held.items())
    if not chosen:
        raise _bad("node_id", f"order {record.order_id!r} holds nothing at {node_id!r}")
    moves: dict[str, int] = {}
    for i, (line_id, qty) in enumerate(chosen):
        record.line(line_id, f"lines[{i}].line_id")
        units = qty or held.get(line_id, 0)
        if units == 0 or units > held.get(line_id, 0):
            raise _bad(f"lines[{i}].qty", f"line {line_id!r} holds {held.get(line_id, 0)} units there")
        moves[line_id] = units
    return moves


def waiting_units(record: OrderRecord) -> dict[str, int]:
    """Units per line still waiting for stock (all of a HELD order's open units)."""
    return {x.line_id: x.quantities.backordered for x in record.lines if x.quantities.backordered > 0}


@dataclass(frozen=True, slots=True)
class Sourced:
    """A decision's reservations for an existing order, and what its event says about them."""

    allocations: tuple[AllocationLine, ...]
    hold_ms: int
    decision_id: str
    rule_set_version: str


def reallocate(
    record: OrderRecord, node_id: str, moves: Mapping[str, int], sourced: Sourced, reason: str
) -> OrderChange:
    """Give back ``moves`` held at ``node_id`` (which no moved line may use again) and reserve
    what the new decision chose instead; ReservationConflict when a hold expired since."""
    lifecycle.require(record.order_id, record.state, Action.REALLOCATE)
    held = {h.line_id: h for h in record.reservations if h.node_id == node_id}
    release_: list[Units] = []
    excluded: dict[str, list[str]] = {}
    for line_id, units in moves.items():
        hold = held.get(line_id)
        if hold is None or hold.qty < units:  # a hold expired since the decision
            raise ReservationConflict(f"line {line_id!r} no longer holds {units} units there")
        release_.append(Units(line_id, node_id, hold.sku, units))
        excluded[line_id] = sorted({*record.line(line_id, "lines").excluded_nodes, node_id})
    return OrderChange(
        "REALLOCATED",
        {
            "excluded_node": node_id,
            "excluded_nodes": excluded,
            "moved": sorted(moves.items()),
            "allocations": [[a.line_id, a.node_id, a.qty] for a in sourced.allocations],
            "hold_state": record.hold_state,
            "decision_id": sourced.decision_id,
            "rule_set_version": sourced.rule_set_version,
            "reason": reason,
        },
        release=tuple(release_),
        excluded_nodes=tuple((line_id, tuple(nodes)) for line_id, nodes in excluded.items()),
        # Units re-sourced for an order the warehouse already works are handed over too.
        reserve=sourced.allocations,
        hold_ms=sourced.hold_ms,
        hold_state=record.hold_state,
    )


def resource(
    record: OrderRecord,
    action: Action,
    event: str,
    details: Mapping[str, Any],
    sourced: Sourced,
    clear_holds: bool = False,
) -> OrderChange:
    """Reserve what a decision found for the units the order waits for (RESOURCE), or for all of
    a HELD order a person released (RELEASE_HOLD, ``clear_holds``)."""
    lifecycle.require(record.order_id, record.state, action)
    return OrderChange(
        event,
        {
            **details,
            "allocations": [[a.line_id, a.node_id, a.qty] for a in sourced.allocations],
            "hold_state": record.hold_state,
            "decision_id": sourced.decision_id,
            "rule_set_version": sourced.rule_set_version,
        },
        clear_holds=clear_holds,
        # A released order's new units are handed over at once: the warehouse works it.
        reserve=sourced.allocations,
        hold_ms=sourced.hold_ms,
        hold_state=record.hold_state,
    )


@dataclass(frozen=True, slots=True)
class Allocation:
    """A new order as its first transaction writes it: lines, state, event and holds. The store
    adds the event's id once it has one (``record``)."""

    new: NewOrder
    lines: tuple[LineRecord, ...]
    state: lifecycle.OrderState
    event: str  # ALLOCATED, or HELD when a rule holds the order
    body: dict[str, Any]  # the event's payload (the store adds who caused it)
    reservations: tuple[ReservationRecord, ...]

    def record(self, event: EventRecord, now: datetime) -> OrderRecord:
        return OrderRecord(
            order_id=self.new.order_id,
            state=self.state,
            version=1,
            hold_ms=self.new.hold_ms,
            request=self.new.request,
            lines=self.lines,
            reservations=self.reservations,
            shipments=(),
            events=(event,),
            created_at=now,
            updated_at=now,
            holds=tuple(self.new.holds),
        )


def allocate(new: NewOrder, allocations: Sequence[AllocationLine], now: datetime) -> Allocation:
    """A new order holding ``allocations`` (a rule-held order reserves nothing: ValueError)."""
    if new.holds and allocations:
        raise ValueError("an order a rule holds reserves nothing")
    held: dict[str, int] = defaultdict(int)
    for a in allocations:
        held[a.line_id] += a.qty
    lines = tuple(LineRecord(line_id, sku, qty, held[line_id], 0, 0, 0) for line_id, sku, qty in sorted(new.lines))
    # A new order's state follows from its decision: no need to read it back.
    state = lifecycle.derive_state([line.quantities for line in lines], held=bool(new.holds))
    body: dict[str, Any] = {
        "from": lifecycle.OrderState.CREATED.value,
        "to": state.value,
        "decision_id": new.decision_id,
        "rule_set_version": new.rule_set_version,
        "allocations": [[a.line_id, a.node_id, a.qty] for a in allocations],
        "hold_ms": new.hold_ms,
    }
    if new.holds:
        body["holds"] = [list(h) for h in new.holds]
    expires = now + timedelta(milliseconds=new.hold_ms)
    reservations = tuple(
        ReservationRecord(line_id, node_id, sku, qty, expires, HELD)
        for (line_id, node_id, sku), qty in sorted(holds_of(allocations).items())
    )
    return Allocation(new, lines, state, "HELD" if new.holds else "ALLOCATED", body, reservations)
