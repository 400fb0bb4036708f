"""Which holds give way when stock no longer covers them (engine/orders/shortfall.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.orders.shortfall import Claim, take_back

T = datetime(2026, 1, 1, tzinfo=UTC)


def claim(order_id: str, qty: int, *, released: bool = False, priority: int = 0, age_min: int = 0) -> Claim:
    return Claim(order_id, "L1", qty, released, priority, T - timedelta(minutes=age_min))


def test_the_reverse_of_healing_order_and_released_holds_last() -> None:
    claims = [
        claim("RELEASED", 5, released=True, priority=0, age_min=0),
        claim("VIP", 5, priority=900, age_min=0),
        claim("OLD", 5, age_min=60),
        claim("NEW", 5, age_min=1),
    ]
    taken = take_back(17, claims)
    assert [(c.order_id, units) for c, units in taken] == [("NEW", 5), ("OLD", 5), ("VIP", 5), ("RELEASED", 2)]


def test_only_what_is_short_and_never_more_than_held() -> None:
    assert [(c.order_id, n) for c, n in take_back(3, [claim("A", 2), claim("B", 2, age_min=1)])] == [("A", 2), ("B", 1)]
    assert [n for _, n in take_back(9, [claim("A", 2)])] == [2]  # the caller sees it fell short
    assert take_back(0, [claim("A", 2)]) == []


def test_ties_give_way_in_one_order_whatever_the_input_order() -> None:
    same = [Claim("B", "L2", 1, False, 0, T), Claim("A", "L1", 1, False, 0, T), Claim("A", "L0", 1, False, 0, T)]
    first = [(c.order_id, c.line_id) for c, _ in take_back(2, same)]
    assert first == [(c.order_id, c.line_id) for c, _ in take_back(2, list(reversed(same)))]
    assert first == [("A", "L0"), ("A", "L1")]
