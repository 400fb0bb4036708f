"""The order state machine as pure code: which actions each state allows, which state quantities imply."""

from __future__ import annotations

import pytest

from engine.lifecycle import ALLOWED, Action, LineQuantities, OrderState, TransitionError, derive_state, require

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
