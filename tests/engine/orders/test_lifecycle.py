"""The order state machine as pure code: which actions each state allows, which state quantities imply."""

from __future__ import annotations

import pytest

from engine.orders.lifecycle import (
    ALLOWED,
    Action,
    LineQuantities,
    OrderState,
    TransitionError,
    cancellable,
    derive_state,
    require,
    require_release,
    returned_shipments,
)

S = OrderState


@pytest.mark.parametrize(
    ("lines", "released", "expected"),
    [
        ([LineQuantities(3, reserved=3)], False, S.ALLOCATED),
        ([LineQuantities(3, reserved=3)], True, S.RELEASED),
        ([LineQuantities(3, reserved=1)], False, S.PARTIALLY_ALLOCATED),
        ([LineQuantities(3)], False, S.BACKORDERED),
        ([LineQuantities(3, cancelled=3)], False, S.CANCELLED),
        ([LineQuantities(3, shipped=1, reserved=2)], False, S.PARTIALLY_SHIPPED),
        ([LineQuantities(3, shipped=2, cancelled=1)], False, S.SHIPPED),
        ([LineQuantities(3, shipped=3, returned=1)], False, S.SHIPPED),
        ([LineQuantities(3, shipped=3, returned=3)], False, S.RETURNED),
        ([LineQuantities(2, reserved=2), LineQuantities(1)], False, S.PARTIALLY_ALLOCATED),
    ],
)
def test_the_state_quantities_imply(lines: list[LineQuantities], released: bool, expected: OrderState) -> None:
    assert derive_state(lines, released) is expected


def test_terminal_and_handed_over_states_refuse_what_they_must() -> None:
    assert ALLOWED[S.CANCELLED] == frozenset()
    for state, action in [(S.SHIPPED, Action.CANCEL), (S.RELEASED, Action.CANCEL), (S.BACKORDERED, Action.SHIP)]:
        with pytest.raises(TransitionError) as raised:
            require("O-1", state, action)
        assert raised.value.state is state and "O-1" in str(raised.value)
    require("O-1", S.ALLOCATED, Action.CANCEL)  # allowed: no exception


def test_every_state_has_a_row() -> None:
    assert set(ALLOWED) == set(OrderState)


def test_partial_orders_may_be_released_and_nothing_reserved_may_not() -> None:
    for state in (S.ALLOCATED, S.PARTIALLY_ALLOCATED, S.PARTIALLY_SHIPPED):
        require_release("O-1", state, unreleased_units=1)
    for state in (S.BACKORDERED, S.RELEASED, S.HELD, S.SHIPPED):
        with pytest.raises(TransitionError):
            require_release("O-1", state, unreleased_units=1)
    # Allowed by its state, but nothing to hand over (all waiting, or released already).
    with pytest.raises(TransitionError) as raised:
        require_release("O-1", S.PARTIALLY_SHIPPED, unreleased_units=0)
    assert "nothing reserved is left to release" in str(raised.value)


def test_a_released_order_missing_units_says_so_and_heals_back_to_released() -> None:
    waiting = [LineQuantities(3, reserved=2)]
    assert derive_state(waiting, released=True) is S.PARTIALLY_ALLOCATED
    assert derive_state([LineQuantities(3)], released=True) is S.BACKORDERED
    assert derive_state([LineQuantities(3, reserved=3)], released=True) is S.RELEASED
    assert Action.RESOURCE in ALLOWED[S.PARTIALLY_ALLOCATED] and Action.RESOURCE in ALLOWED[S.PARTIALLY_SHIPPED]


def test_a_released_order_cancels_only_what_waits_for_stock_until_part_of_it_shipped() -> None:
    line = LineQuantities(5, reserved=3)  # 3 with the warehouse, 2 waiting
    assert cancellable(line, S.PARTIALLY_ALLOCATED, released=False) == 5
    assert cancellable(line, S.PARTIALLY_ALLOCATED, released=True) == 2
    assert cancellable(LineQuantities(5), S.BACKORDERED, released=True) == 5
    shipped = LineQuantities(5, reserved=3, shipped=1)
    assert cancellable(shipped, S.PARTIALLY_SHIPPED, released=True) == 4
    assert cancellable(LineQuantities(2, cancelled=2), S.ALLOCATED, released=False) == 0


def test_a_shipment_is_returned_when_every_unit_of_its_lines_came_back() -> None:
    shipments = [("S1", [("L0", 2)]), ("S2", [("L0", 1), ("L1", 1)]), ("S3", [("L2", 1)])]
    lines = {
        "L0": LineQuantities(3, shipped=3, returned=2),
        "L1": LineQuantities(1, shipped=1, returned=1),
        "L2": LineQuantities(1, shipped=1),
    }
    # Two of L0's three units back: which parcel they came from is unknown, so neither is marked.
    assert returned_shipments(shipments, lines) == []
    lines["L0"] = LineQuantities(3, shipped=3, returned=3)
    assert returned_shipments(shipments, lines) == ["S1", "S2"]
    assert returned_shipments([("S4", [("L9", 1)])], lines) == []  # a line it does not know
