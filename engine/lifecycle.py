"""The order state machine: which actions each state allows, and the state quantities imply.

Pure code (no I/O): the store applies an action only after ``require`` allowed it, then stores
``derive_state`` of the quantities the action left. Forbidden transitions raise
``TransitionError`` before anything changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


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


S = OrderState
_OPEN = frozenset({S.CREATED, S.ALLOCATED, S.PARTIALLY_ALLOCATED, S.BACKORDERED})

# What each state allows. Once released to fulfillment an order is the warehouse's: it can ship
# or be re-sourced away from a node that short-picks, but no longer be cancelled here (until
# part of it shipped: the rest may then be cancelled).
ALLOWED: dict[OrderState, frozenset[Action]] = {
    S.CREATED: frozenset({Action.CANCEL, Action.REALLOCATE}),
    S.ALLOCATED: frozenset({Action.CANCEL, Action.RELEASE, Action.SHIP, Action.REALLOCATE, Action.EXPIRE}),
    S.PARTIALLY_ALLOCATED: frozenset({Action.CANCEL, Action.SHIP, Action.REALLOCATE, Action.EXPIRE, Action.RESOURCE}),
    S.BACKORDERED: frozenset({Action.CANCEL, Action.REALLOCATE, Action.RESOURCE}),
    # Nothing is reserved while held: only a person's release (or a cancel) moves it on.
    S.HELD: frozenset({Action.CANCEL, Action.RELEASE_HOLD}),
    S.RELEASED: frozenset({Action.SHIP, Action.REALLOCATE}),
    # The units not shipped yet may still be cancelled (then the order is SHIPPED).
    S.PARTIALLY_SHIPPED: frozenset({Action.CANCEL, Action.SHIP, Action.RETURN, Action.REALLOCATE, Action.EXPIRE}),
    S.SHIPPED: frozenset({Action.RETURN}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset({Action.RETURN}),
}


class TransitionError(Exception):
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


def derive_state(lines: Sequence[LineQuantities], released: bool = False, held: bool = False) -> OrderState:
    """The state the quantities imply; ``released`` keeps a fully reserved order RELEASED,
    ``held`` keeps an order a rule holds HELD until it is cancelled."""
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
