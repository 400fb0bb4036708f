"""The order model's arithmetic, on records alone: what each transition changes, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.decision import AllocationLine
from engine.errors import InvalidInputError, ReservationConflict
from engine.orders import changes
from engine.orders.changes import Sourced, Units
from engine.orders.lifecycle import Action, OrderState, TransitionError
from engine.orders.records import (
    HELD,
    RELEASED,
    LineRecord,
    OrderRecord,
    ReservationRecord,
    ShipmentRecord,
    live_at,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _order(
    state: OrderState = OrderState.ALLOCATED,
    lines: tuple[LineRecord, ...] = (),
    holds: tuple[ReservationRecord, ...] = (),
    shipments: tuple[ShipmentRecord, ...] = (),
    released: bool = False,
) -> OrderRecord:
    return OrderRecord(
        order_id="o-1",
        state=state,
        version=3,
        hold_ms=60_000,
        request="{}",
        lines=lines,
        reservations=holds,
        shipments=shipments,
        events=(),
        created_at=T0,
        updated_at=T0,
        released_at=T0 if released else None,
    )


def _hold(line_id: str, node_id: str, sku: str, qty: int, state: str = HELD) -> ReservationRecord:
    return ReservationRecord(line_id, node_id, sku, qty, T0 + timedelta(minutes=15), state)


# Line a: 5 units, 3 held at dc-1 and 1 at dc-2, 1 waiting for stock. Line b: 2 held at dc-1.
SPLIT = _order(
    OrderState.PARTIALLY_ALLOCATED,
    lines=(LineRecord("a", "SKU-A", 5, 4, 0, 0, 0), LineRecord("b", "SKU-B", 2, 2, 0, 0, 0)),
    holds=(_hold("a", "dc-1", "SKU-A", 3), _hold("a", "dc-2", "SKU-A", 1), _hold("b", "dc-1", "SKU-B", 2)),
)


def test_cancel_takes_waiting_units_first_then_holds_in_order() -> None:
    change = changes.cancel(SPLIT, [("a", 3)], "customer asked")
    # 1 unit waited for stock: the other 2 come off the first hold.
    assert change.release == (Units("a", "dc-1", "SKU-A", 2),)
    assert change.cancelled == (("a", 3),)
    assert change.freed_skus == frozenset({"SKU-A"})
    assert change.event == "CANCELLED"
    assert change.payload == {"lines": [["a", 3]], "reason": "customer asked"}


def test_cancel_of_the_whole_order_gives_back_every_hold() -> None:
    change = changes.cancel(SPLIT, [], "")
    assert sorted(change.release, key=lambda u: (u.line_id, u.node_id)) == [
        Units("a", "dc-1", "SKU-A", 3),
        Units("a", "dc-2", "SKU-A", 1),
        Units("b", "dc-1", "SKU-B", 2),
    ]
    assert change.cancelled == (("a", 5), ("b", 2))


def test_cancel_refuses_more_than_is_open_naming_the_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        changes.cancel(SPLIT, [("b", 0), ("a", 6)], "")
    assert [v.field for v in caught.value.violations] == ["lines[1].qty"]


def test_a_released_order_may_cancel_only_what_waits_for_stock() -> None:
    released = _order(
        OrderState.PARTIALLY_ALLOCATED,
        lines=(LineRecord("a", "SKU-A", 5, 4, 0, 0, 0),),
        holds=(_hold("a", "dc-1", "SKU-A", 4, RELEASED),),
        released=True,
    )
    assert changes.cancel(released, [], "").cancelled == (("a", 1),)
    assert changes.cancel(released, [], "").release == ()
    with pytest.raises(InvalidInputError, match="handed to fulfillment"):
        changes.cancel(released, [("a", 2)], "")


def test_cancel_with_nothing_left_is_a_transition_error() -> None:
    shipped = _order(OrderState.PARTIALLY_SHIPPED, lines=(LineRecord("a", "SKU-A", 2, 0, 1, 1, 0),))
    with pytest.raises(TransitionError):
        changes.cancel(shipped, [], "")


def test_release_hands_over_unreleased_holds_and_reports_what_waits() -> None:
    change = changes.release(SPLIT)
    assert change.mark_released
    assert change.payload["holds"] == [["a", "dc-1", 3], ["a", "dc-2", 1], ["b", "dc-1", 2]]
    assert change.payload["waiting"] == [["a", 1]]
    all_released = _order(lines=SPLIT.lines, holds=tuple(_hold("b", "dc-1", "SKU-B", 2, RELEASED) for _ in [0]))
    with pytest.raises(TransitionError, match="nothing reserved is left to release"):
        changes.release(all_released)


def test_ship_takes_every_hold_at_the_node_by_default() -> None:
    change = changes.ship(SPLIT, "dc-1", [], "s-1")
    assert change.ship == (Units("a", "dc-1", "SKU-A", 3), Units("b", "dc-1", "SKU-B", 2))
    assert change.shipment == changes.NewShipment("s-1", "dc-1", (("a", 3), ("b", 2)))
    assert change.payload == {"shipment_id": "s-1", "node_id": "dc-1", "lines": (("a", 3), ("b", 2))}


def test_ship_refuses_units_not_held_there() -> None:
    with pytest.raises(InvalidInputError) as caught:
        changes.ship(SPLIT, "dc-2", [("a", 2)], "s-1")
    assert caught.value.violations[0].field == "lines[0].qty"
    with pytest.raises(InvalidInputError) as nothing:
        changes.ship(SPLIT, "dc-9", [], "s-1")
    assert nothing.value.violations[0].field == "node_id"


def test_return_restocks_at_the_shipping_node_and_marks_fully_returned_shipments() -> None:
    shipped = _order(
        OrderState.SHIPPED,
        lines=(LineRecord("a", "SKU-A", 2, 0, 2, 0, 0), LineRecord("b", "SKU-B", 1, 0, 1, 0, 0)),
        shipments=(
            ShipmentRecord("s-1", "dc-1", "SHIPPED", (("a", 2),), T0),
            ShipmentRecord("s-2", "dc-2", "SHIPPED", (("b", 1),), T0),
        ),
    )
    change = changes.return_units(shipped, [("a", 0)], restock=True)
    assert change.restock == (("dc-1", "SKU-A", 2),)
    assert change.returned == (("a", 2),)
    assert change.shipments_returned == ("s-1",)
    assert change.payload == {"lines": [["a", 2, "dc-1"]], "restocked": True, "shipments_returned": ["s-1"]}
    routed = changes.return_units(shipped, [("b", 1)], restock=False, node_id="store-7", rules=("r1",))
    assert routed.restock == ()
    assert routed.payload["lines"] == [["b", 1, "store-7"]]
    assert routed.payload["rules"] == ["r1"]


def test_return_refuses_more_than_shipped() -> None:
    shipped = _order(OrderState.SHIPPED, lines=(LineRecord("a", "SKU-A", 2, 0, 2, 0, 1),))
    with pytest.raises(InvalidInputError, match="1 shipped units not yet returned"):
        changes.return_units(shipped, [("a", 2)], restock=True, node_id="dc-1")


def test_reallocate_gives_back_the_moved_units_bars_the_node_and_reserves_the_new_plan() -> None:
    moves = changes.reallocation_moves(SPLIT, "dc-1", [])
    assert moves == {"a": 3, "b": 2}
    new = (AllocationLine("a", "dc-3", "SKU-A", 3),)
    change = changes.reallocate(SPLIT, "dc-1", moves, Sourced(new, 60_000, "d-1", "v1"), "short pick")
    assert change.release == (Units("a", "dc-1", "SKU-A", 3), Units("b", "dc-1", "SKU-B", 2))
    assert change.excluded_nodes == (("a", ("dc-1",)), ("b", ("dc-1",)))
    assert change.reserve == new
    assert change.hold_state == HELD
    assert change.payload["moved"] == [("a", 3), ("b", 2)]


def test_reallocate_is_a_lost_race_when_the_hold_expired_since_the_decision() -> None:
    gone = _order(OrderState.PARTIALLY_ALLOCATED, lines=SPLIT.lines, holds=(_hold("b", "dc-1", "SKU-B", 2),))
    with pytest.raises(ReservationConflict):
        changes.reallocate(gone, "dc-1", {"a": 3}, Sourced((), 60_000, "d", "v"), "")


def test_resource_of_a_released_order_hands_its_new_units_over() -> None:
    released = _order(
        OrderState.PARTIALLY_ALLOCATED,
        lines=(LineRecord("a", "SKU-A", 5, 4, 0, 0, 0),),
        holds=(_hold("a", "dc-1", "SKU-A", 4, RELEASED),),
        released=True,
    )
    assert changes.waiting_units(released) == {"a": 1}
    new = (AllocationLine("a", "dc-2", "SKU-A", 1),)
    change = changes.resource(released, Action.RESOURCE, "RESOURCED", {"cause": "x"}, Sourced(new, 1, "d", "v"))
    assert change.hold_state == RELEASED
    assert change.reserve == new
    assert change.payload["cause"] == "x"
    with pytest.raises(TransitionError):
        changes.resource(SPLIT, Action.RELEASE_HOLD, "HOLD_RELEASED", {}, Sourced((), 1, "d", "v"))


def test_expired_holds_no_longer_count_and_the_state_follows() -> None:
    later = live_at(SPLIT, T0 + timedelta(hours=1))
    assert later.reservations == ()
    assert [x.reserved for x in later.lines] == [0, 0]
    assert later.state is OrderState.BACKORDERED
    assert live_at(SPLIT, T0) is SPLIT
