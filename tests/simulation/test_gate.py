from __future__ import annotations

import pytest

from engine.simulation.gate import check, parse_threshold
from engine.simulation.kpis import Kpis


def _kpis(cost: float, allocated: int = 10) -> Kpis:
    return Kpis(
        orders=10, decided_orders=10, held_orders=0, failed_orders=0, units_ordered=10, units_allocated=allocated,
        backordered_units=10 - allocated, total_cost=cost, total_objective=cost, shipments=10, split_orders=0,
        total_miles=0.0, days=1, zone_mix={}, nodes=(), rules_fired={},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "base", "candidate", "failed"),
    [
        ("cost_per_order>+1%", 100.0, 101.5, True),
        ("cost_per_order>+1%", 100.0, 100.5, False),
        ("cost_per_order>=-0.5", 100.0, 100.0, True),  # change 0 >= -0.05
        ("total_cost<0", 100.0, 99.0, True),
    ],
)
def test_thresholds_compare_the_change(text: str, base: float, candidate: float, failed: bool) -> None:
    assert check(parse_threshold(text), _kpis(base), _kpis(candidate), {}).failed is failed


def test_fill_rate_down_at_all_fails() -> None:
    t = parse_threshold("fill_rate<0")
    assert check(t, _kpis(1.0, 10), _kpis(1.0, 9), {}).failed
    assert not check(t, _kpis(1.0, 10), _kpis(1.0, 10), {}).failed


def test_a_percent_change_over_zero_fails_safe() -> None:
    verdict = check(parse_threshold("held_orders>+5%"), _kpis(1.0), _kpis(1.0), {})
    assert verdict.failed and verdict.measured is None


@pytest.mark.parametrize("text", ["cost>1", "cost_per_order=1", "divergences>1%", "fill_rate<"])
def test_bad_thresholds_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_threshold(text)
