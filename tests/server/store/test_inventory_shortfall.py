"""Counts and deltas below what is reserved, on every store (memory, SQLite, PostgreSQL): the update
is applied, holds past their expiry go first, then live holds give way (engine/orders/shortfall.py)
in the same transaction, and stock conservation holds throughout."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine.decision import AllocationLine
from engine.orders import changes
from engine.orders.lifecycle import Action, OrderState
from engine.orders.records import NewOrder, OrderRecord
from server.errors import NegativeStockError
from server.store.base import RequestKey, ShortedHold, Store, UpdateOutcome
from tests.server.store.test_contract import (  # noqa: F401 - network and store are fixtures
    T0,
    absolute,
    delta,
    network,
    store,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR_MS = 3_600_000


def _allocate(
    target: Store, order_id: str, qty: int, *, node_id: str = "DC1", at: datetime = NOW, **fields: int
) -> None:
    hold_ms = fields.pop("hold_ms", HOUR_MS)
    new = NewOrder(order_id, "{}", (("L1", "A", qty),), hold_ms, "rs", "{}", f"d-{order_id}", **fields)  # type: ignore[arg-type]
    allocations = [AllocationLine("L1", node_id, "A", qty)]
    target.allocate_order(RequestKey(f"k-{order_id}", "Allocate", "h"), new, allocations, at, b"")  # type: ignore[attr-defined]


def _order(target: Store, order_id: str, at: datetime = NOW) -> OrderRecord:
    return target.get_order(order_id, at)  # type: ignore[attr-defined, no-any-return]


def _held(target: Store, order_id: str) -> int:
    return sum(r.qty for r in _order(target, order_id).reservations)


def _conserved(target: Store) -> list[str]:
    problems, _ = target.check_conservation()  # type: ignore[attr-defined]
    return list(problems)


@pytest.fixture
def reserved(network: Store) -> Store:  # noqa: F811 - the fixture imported above
    """A@DC1: 10 on hand (counted before T0), 8 reserved by O-OLD (3, priority 0), O-VIP (3, priority 5, newer) and
    O-NEW (2, priority 0, newest)."""
    network.update_inventory([absolute("DC1", "A", 10, T0 - timedelta(days=1))], now=NOW)
    _allocate(network, "O-OLD", 3, at=NOW - timedelta(minutes=3))
    _allocate(network, "O-VIP", 3, at=NOW - timedelta(minutes=2), priority=5)
    _allocate(network, "O-NEW", 2, at=NOW - timedelta(minutes=1))
    return network


def test_a_count_below_reserved_is_applied_and_the_lowest_priority_newest_holds_give_way(reserved: Store) -> None:
    [result] = reserved.update_inventory([absolute("DC1", "A", 4)], now=NOW)
    assert result.outcome is UpdateOutcome.APPLIED
    assert (result.position.on_hand, result.position.reserved) == (4, 4)
    assert result.shorted_units == 4
    # Priority 0 before 5; among priority 0 the newest first: O-NEW's 2, then 2 of O-OLD's 3.
    assert result.shorted == (ShortedHold("O-NEW", "L1", 2), ShortedHold("O-OLD", "L1", 2))
    assert (_held(reserved, "O-NEW"), _held(reserved, "O-OLD"), _held(reserved, "O-VIP")) == (0, 1, 3)
    new, old = _order(reserved, "O-NEW"), _order(reserved, "O-OLD")
    assert (new.state, old.state) == (OrderState.BACKORDERED, OrderState.PARTIALLY_ALLOCATED)
    event = old.events[-1]
    assert event.type == "SHORTED"
    assert json.loads(event.payload)["holds"] == [["L1", "DC1", 2]]
    assert json.loads(event.payload)["from"] == "ALLOCATED"
    assert _conserved(reserved) == []


def test_released_holds_give_way_last(reserved: Store) -> None:
    reserved.mutate_order(RequestKey("r-new", "Release", "h"), "O-NEW", Action.RELEASE, NOW, changes.release)  # type: ignore[attr-defined]
    [result] = reserved.update_inventory([absolute("DC1", "A", 6)], now=NOW)
    assert result.shorted == (ShortedHold("O-OLD", "L1", 2),)  # not O-NEW's, which is being picked
    assert _held(reserved, "O-NEW") == 2 and _conserved(reserved) == []


def test_holds_past_their_expiry_give_way_first_and_are_not_reported_as_shorted(network: Store) -> None:  # noqa: F811
    network.update_inventory([absolute("DC1", "A", 10, T0 - timedelta(days=1))], now=NOW)
    _allocate(network, "O-GONE", 4, at=NOW - timedelta(hours=2))  # expired an hour ago, not swept
    _allocate(network, "O-LIVE", 4)
    [result] = network.update_inventory([absolute("DC1", "A", 5)], now=NOW)
    assert (result.shorted_units, result.shorted) == (0, ())
    assert (result.position.on_hand, result.position.reserved) == (5, 4)
    assert [e.type for e in _order(network, "O-GONE").events] == ["ALLOCATED", "EXPIRED"]
    assert _held(network, "O-LIVE") == 4 and _conserved(network) == []


def test_a_negative_delta_below_reserved_is_applied_too_but_never_below_zero(reserved: Store) -> None:
    [result] = reserved.update_inventory([delta("DC1", "A", -7)], now=NOW)
    assert (result.position.on_hand, result.shorted_units) == (3, 5)
    assert _conserved(reserved) == []
    with pytest.raises(NegativeStockError) as raised:
        reserved.update_inventory([delta("DC1", "A", 1), delta("DC1", "A", -5)], now=NOW)
    assert raised.value.fields == ("updates[1].delta",)
    with pytest.raises(NegativeStockError) as count:  # the conversion layer refuses these first
        reserved.update_inventory([absolute("DC1", "A", -1)], now=NOW)
    assert count.value.fields == ("updates[0].count.count",)


def test_two_counts_of_one_position_each_report_their_own_units(reserved: Store) -> None:
    first, second = reserved.update_inventory(
        [absolute("DC1", "A", 6), absolute("DC1", "A", 1, T0 + timedelta(hours=1))], now=NOW
    )
    assert (first.shorted_units, second.shorted_units) == (2, 5)
    assert first.shorted == (ShortedHold("O-NEW", "L1", 2),)
    assert second.shorted == (ShortedHold("O-OLD", "L1", 3), ShortedHold("O-VIP", "L1", 2))
    assert second.position.reserved == 1 and _conserved(reserved) == []


def test_a_refused_batch_takes_nothing_back(reserved: Store) -> None:
    with pytest.raises(NegativeStockError):
        reserved.update_inventory([absolute("DC1", "A", 0), delta("DC2", "A", -1)], now=NOW)
    assert [_held(reserved, o) for o in ("O-OLD", "O-VIP", "O-NEW")] == [3, 3, 2]
    assert [e.type for e in _order(reserved, "O-NEW").events] == ["ALLOCATED"]
    assert reserved.get_availability(["A"], ["DC1"], now=NOW)[0].on_hand == 10
