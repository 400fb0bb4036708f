"""The order state machine: which actions each state allows, and the state quantities imply.

Pure code (no I/O): the store applies an action only after ``require`` allowed it, then stores
``derive_state`` of the quantities the action left. Forbidden transitions raise
``TransitionError`` before anything changes.

Released (handed to fulfillment) is a fact about the order, not a state of its own: once
released, every unit reserved for it is the warehouse's and never expires, including units
sourced later (away from a node that rejected them, or when its backorder heals). The state
still says where its units stand: RELEASED while everything open is reserved, else
PARTIALLY_ALLOCATED or BACKORDERED, so the units still waiting show in the exception queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from engine.errors import SourcingError


class OrderState(StrEnum):
    CREATED = "CREATED"
    ALLOCATED = "ALLOCATED"
    PARTIALLY_ALLOCATED = "PARTIALLY_ALLOCATED"
    BACKORDERED = "BACKORDERED"
    RELEASED = "RELEASED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    RETURNED = "RETURNED"
    HELD = "HELD"  # a rule stopped automatic allocation; waits in the exception queue


class Action(StrEnum):
    CANCEL = "CANCEL"
    RELEASE = "RELEASE"
    SHIP = "SHIP"
    REALLOCATE = "REALLOCATE"
    RETURN = "RETURN"
    EXPIRE = "EXPIRE"
    RELEASE_HOLD = "RELEASE_HOLD"  # a person approves a HELD order: allocate it now
    RESOURCE = "RESOURCE"  # source backordered units again (stock arrived, or a person asked)
    # Move an unreleased order's holds to a cheaper joint plan (ReoptimizePending); a released
    # order's holds are the warehouse's and never move this way.
    REOPTIMIZE = "REOPTIMIZE"


S = OrderState
_OPEN = frozenset({S.CREATED, S.ALLOCATED, S.PARTIALLY_ALLOCATED, S.BACKORDERED})

# What each state allows. Once released to fulfillment an order is the warehouse's: it can ship
# or be re-sourced away from a node that short-picks, but its handed-over units are no longer
# cancelled here (``cancellable``: until part of it shipped, the rest may then be cancelled).
# RELEASE hands over whatever is reserved, so a partial order can be released too; the units
# it still waits for keep waiting (RESOURCE) and are handed over when found.
ALLOWED: dict[OrderState, frozenset[Action]] = {
    S.CREATED: frozenset({Action.CANCEL, Action.REALLOCATE}),
    S.ALLOCATED: frozenset(
        {Action.CANCEL, Action.RELEASE, Action.SHIP, Action.REALLOCATE, Action.EXPIRE, Action.REOPTIMIZE}
    ),
    S.PARTIALLY_ALLOCATED: frozenset(
        {
            Action.CANCEL,
            Action.RELEASE,
            Action.SHIP,
            Action.REALLOCATE,
            Action.EXPIRE,
            Action.RESOURCE,
            Action.REOPTIMIZE,
        }
    ),
    S.BACKORDERED: frozenset({Action.CANCEL, Action.REALLOCATE, Action.RESOURCE}),
    # Nothing is reserved while held: only a person's release (or a cancel) moves it on.
    S.HELD: frozenset({Action.CANCEL, Action.RELEASE_HOLD}),
    S.RELEASED: frozenset({Action.SHIP, Action.REALLOCATE}),
    # The units not shipped yet may still be cancelled (then the order is SHIPPED), handed over,
    # or, when they wait for stock, sourced again.
    S.PARTIALLY_SHIPPED: frozenset(
        {
            Action.CANCEL,
            Action.RELEASE,
            Action.SHIP,
            Action.RETURN,
            Action.REALLOCATE,
            Action.EXPIRE,
            Action.RESOURCE,
        }
    ),
    S.SHIPPED: frozenset({Action.RETURN}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset({Action.RETURN}),
}


class TransitionError(SourcingError):
    """The order's state does not allow the action; nothing was changed."""

    def __init__(self, order_id: str, state: OrderState, action: Action, detail: str = "") -> None:
        self.order_id = order_id
        self.state = state
        self.action = action
        self.detail = detail or f"order {order_id!r} is {state.value}: {action.value} is not allowed"
        super().__init__(self.detail)


def require(order_id: str, state: OrderState, action: Action) -> None:
    if action not in ALLOWED[state]:
        raise TransitionError(order_id, state, action)


def require_release(order_id: str, state: OrderState, unreleased_units: int) -> None:
    """RELEASE needs a state that allows it and units reserved but not yet handed over: with
    nothing to hand over (all waiting for stock, or released already) it would change nothing."""
    require(order_id, state, Action.RELEASE)
    if unreleased_units <= 0:
        detail = f"order {order_id!r} is {state.value}: nothing reserved is left to release"
        raise TransitionError(order_id, state, Action.RELEASE, detail)


@dataclass(frozen=True, slots=True)
class LineQuantities:
    qty: int
    reserved: int = 0
    shipped: int = 0
    cancelled: int = 0
    returned: int = 0

    @property
    def open(self) -> int:
        """Units still to be fulfilled (reserved or waiting for stock)."""
        return self.qty - self.shipped - self.cancelled

    @property
    def backordered(self) -> int:
        return self.open - self.reserved


def cancellable(line: LineQuantities, state: OrderState, released: bool) -> int:
    """Units of ``line`` a Cancel may take. A released order that has shipped nothing yet is the
    warehouse's: only the units still waiting for stock (which nobody is working) may go."""
    if released and state in _OPEN:
        return max(0, line.backordered)
    return max(0, line.open)


def returned_shipments(
    shipments: Sequence[tuple[str, Sequence[tuple[str, int]]]], lines: Mapping[str, LineQuantities]
) -> list[str]:
    """The shipments (id, (line id, units)...) whose every unit came back.

    A return names lines, not shipments, so a shipment counts as returned only when each line
    it carried has every shipped unit back: a line split over two parcels marks both at once,
    and no guess is made about which parcel a partial return came from.
    """
    done = []
    for shipment_id, carried in shipments:
        back = [lines.get(line_id) for line_id, _ in carried]
        if carried and all(x is not None and x.shipped > 0 and x.returned >= x.shipped for x in back):
            done.append(shipment_id)
    return done


def derive_state(lines: Sequence[LineQuantities], released: bool = False, held: bool = False) -> OrderState:
    """The state the quantities imply; ``released`` (the order was handed to fulfillment) makes a
    fully reserved order RELEASED, ``held`` keeps an order a rule holds HELD until it is
    cancelled. A released order with units waiting for stock is PARTIALLY_ALLOCATED (or
    BACKORDERED): the state says what is missing, the holds say they are the warehouse's."""
    total = sum(line.qty for line in lines)
    cancelled = sum(line.cancelled for line in lines)
    shipped = sum(line.shipped for line in lines)
    returned = sum(line.returned for line in lines)
    reserved = sum(line.reserved for line in lines)
    open_units = sum(line.open for line in lines)
    if cancelled >= total:
        return S.CANCELLED
    if held:
        return S.HELD
    if open_units == 0:
        return S.RETURNED if shipped > 0 and returned >= shipped else S.SHIPPED
    if shipped > 0:
        return S.PARTIALLY_SHIPPED
    if reserved == 0:
        return S.BACKORDERED
    if reserved < open_units:
        return S.PARTIALLY_ALLOCATED
    return S.RELEASED if released else S.ALLOCATED
