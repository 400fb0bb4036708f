from __future__ import annotations

from dataclasses import replace

import pytest

from engine.simulation.gate import check, parse_threshold
from engine.simulation.kpis import Kpis
from engine.simulation.on_time import BACKORDERED, LATE_CAUSES, OnTime


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


@pytest.mark.parametrize(
    ("text", "base", "candidate", "line"),
    [
        # the example: a cost that went down must not read like a claim that it rose
        ("cost_per_order>+1%", 100.0, 99.84, "pass: cost_per_order change -0.16% (limit: at most +1%;"),
        ("cost_per_order>+1%", 100.0, 101.5, "FAIL: cost_per_order change +1.5% (limit: at most +1%;"),
        ("total_cost<0", 100.0, 100.0, "pass: total_cost change 0 (limit: at least 0;"),
        ("total_cost<=-2", 100.0, 99.0, "pass: total_cost change -1 (limit: above -2;"),
        ("total_cost>=5", 100.0, 99.0, "pass: total_cost change -1 (limit: below +5;"),
    ],
)
def test_a_gate_line_says_what_was_measured_and_what_is_allowed(
    text: str, base: float, candidate: float, line: str
) -> None:
    explanation = check(parse_threshold(text), _kpis(base), _kpis(candidate), {}).explanation
    assert explanation == f"{line} --fail-if '{text}')"


def test_a_value_or_a_count_reads_as_itself() -> None:
    one_side = check(parse_threshold("fill_rate<0.98"), _kpis(1.0, 9), None, {})
    assert one_side.explanation == "FAIL: fill_rate 0.9 (limit: at least 0.98; --fail-if 'fill_rate<0.98')"
    count = check(parse_threshold("decisions_changed>0"), _kpis(1.0), _kpis(1.0), {"decisions_changed": 426})
    assert count.explanation == "FAIL: decisions_changed 426 (limit: at most 0; --fail-if 'decisions_changed>0')"


def _promised(on_time: int, late: int, shipped: int = 0, shipped_on_time: int = 0) -> Kpis:
    """KPIs of a side with ``on_time`` + ``late`` promised orders (late: units backordered)."""
    causes = {c: 0 for c in LATE_CAUSES} | {BACKORDERED: late}
    promise = OnTime(on_time + late, on_time, causes, 2.0, on_time + late, 2.5, shipped, shipped_on_time)
    return replace(_kpis(1.0), promise=promise)


def test_promise_kpis_gate_like_the_others_with_one_side_or_two() -> None:
    assert check(parse_threshold("on_time_rate<0.95"), _promised(9, 1), None, {}).failed  # 0.90 alone
    assert not check(parse_threshold("on_time_rate<0.9"), _promised(9, 1), None, {}).failed
    assert check(parse_threshold("late_orders>0"), _promised(10, 0), _promised(9, 1), {}).failed  # one more late
    verdict = check(parse_threshold("on_time_rate<-2%"), _promised(10, 0), _promised(97, 3), {})
    assert verdict.failed and verdict.measured == pytest.approx(-3.0)
    shipped = check(
        parse_threshold("on_time_ship_rate<0.98"), _promised(1, 0, shipped=50, shipped_on_time=48), None, {}
    )
    assert shipped.failed and shipped.measured == pytest.approx(0.96)


def test_a_promise_kpi_with_nothing_to_measure_is_skipped_not_failed() -> None:
    verdict = check(parse_threshold("on_time_rate<0.95"), _kpis(1.0), None, {})  # no order carries a promise
    assert not verdict.failed and verdict.measured is None
    assert "skipped: on_time_rate not measured, no promised orders" in verdict.explanation
    ship = check(parse_threshold("on_time_ship_rate<0.98"), _promised(5, 0), _promised(5, 0, 3, 3), {})
    assert not ship.failed and "no confirmed shipments" in ship.explanation  # the baseline confirmed none


def test_an_unknown_metric_lists_the_promise_kpis_too() -> None:
    with pytest.raises(ValueError, match="on_time_rate, late_orders"):
        parse_threshold("on_time<0.9")
