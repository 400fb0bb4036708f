"""Re-plans of promise orders judged at a later instant (engine/reoptimize.py, docs/promise.md
"Joint decisions"): the orders were allocated at one instant and are re-planned hours or days later,
when some node they hold at may no longer keep their promise, and with lines promised differently.
Each order is priced by its carrier services as a decision at the re-plan's instant would, except
that a node it holds at stays a candidate (keeping its holds never makes it later): where none of
that node's options keeps the promise any more, its shipments go by its services delivering
earliest. Checked against exhaustive search over every combination of every order's plans, with
the options computed by the slow day-by-day reference; the level's rate table prices none of them."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.availability import Availability, StockLevels
from engine.batch import BatchOrder
from engine.cost import plan_cost
from engine.directives import Directives
from engine.model import Order, OrderLine
from engine.reoptimize import PendingOrder, reoptimize
from engine.sourcing import decide
from engine.terms import resolve_terms
from tests.engine.batch_brute_force import Allocations, Price, fits_together, optimal_total
from tests.engine.promise.reference import reference_delivery, reference_ship
from tests.engine.test_batch_promise import allocated_then_restocked, promise_batches
from tests.engine.test_line_promises import line_promise_cases, reference_option
from tests.engine.test_promise_sourcing import (
    MONDAY_1000_UTC,
    SHIP_TO,
    _crossing_network,
    _price,
    _reference_priced,
)
from tests.engine.test_small_orders import GENEROUS, Case
from tests.fuzz import examples


def _offered(case: Case, at: int, node_id: str, distance: float, named: str) -> list[tuple[str, date]]:
    """(service, delivery date) of every service ``node_id`` ships with (``named`` only, when
    given), whatever the order's promise, by the reference."""
    snapshot = case.snapshot
    schedule = next(s for s in snapshot.node_schedules if s.node_id == node_id)
    instant = datetime.fromtimestamp(at, UTC)
    found = []
    for service in sorted(snapshot.carrier_services.values(), key=lambda s: s.id):
        if named and service.id != named:
            continue
        if not schedule.offers(service.id) or not service.pickup_days & schedule.working_days:
            continue
        ship, _ = reference_ship(schedule, service, instant)
        found.append(
            (service.id, reference_delivery(service, ship, service.zone(service.zone_of(distance)).transit_days))
        )
    return found


def _earliest(offered: list[tuple[str, date]]) -> list[str]:
    first = min(d for _, d in offered)
    return [s for s, d in offered if d == first]


def _carrier_and_lateness(choices: list[list[tuple[float, int]]], penalty: float) -> float:
    """The least carrier charges over every combination of the shipments' options, plus the order's
    lateness penalty once: per day its latest shipment is late."""
    return min(
        sum(price for price, _ in combo) + penalty * max((late for _, late in combo), default=0)
        for combo in itertools.product(*choices)
    )


def _order_price(case: Case, at: int, held: Allocations) -> Price:
    """An order-level promise at ``at``: each shipment by its cheapest eligible service; at a node
    the order holds at and where none is eligible, by the cheapest of its services delivering earliest."""
    order, snapshot = case.order, case.snapshot
    terms = resolve_terms(order, case.directives, snapshot)  # penalties and limits; no promise
    lines = {line.line_id: line for line in order.lines}
    holding = {a.node_id for a in held}
    penalty = case.directives.late_penalty_per_day or 0.0

    def price(allocations: Allocations) -> float:
        plain = plan_cost(order, allocations, snapshot, terms)
        total = plain.split_penalty + plain.backorder_penalty
        choices = []  # per shipment, (carrier price, days late) of each option it may take
        for s in plain.shipments:
            volume = sum(lines[a.line_id].unit_volume_in3 * a.qty for a in allocations if a.node_id == s.node_id)
            options = [(service, late) for service, _, late in _reference_priced(case, at, s.node_id, s.distance_miles)]
            if not options and s.node_id in holding:
                offered = _offered(case, at, s.node_id, s.distance_miles, order.carrier_service)
                options = [(service, 0) for service in _earliest(offered)] if offered else []
            if not options:
                return float("inf")
            total += s.pick_pack + s.handling + s.rule_penalty
            choices.append([(_price(case, sid, s.distance_miles, s.weight_lb, volume), late) for sid, late in options])
        return total + _carrier_and_lateness(choices, penalty)

    return price


def _line_price(case: Case, at: int, held: Allocations, pool: Availability) -> Price:
    """Lines promised differently at ``at``: each node one option for the lines it holds stock for
    (the reference's choice), a line sourced there only when that option keeps its promise or the
    order holds the line there; a held node with no option keeping any line's promise ships by its
    service delivering earliest, cheapest for the whole order, then by id."""
    order, snapshot = case.order, case.snapshot
    terms = resolve_terms(order, case.directives, snapshot)
    position = {line.line_id: k for k, line in enumerate(order.lines)}
    holding = {(a.line_id, a.node_id) for a in held}
    held_nodes = {a.node_id for a in held}
    stocked: dict[str, list[int]] = {}
    for k, line in enumerate(order.lines):
        for n in np.flatnonzero(pool.units[pool.row[line.sku]] > 0).tolist():
            stocked.setdefault(snapshot.ids[n], []).append(k)
    weight = sum(line.unit_weight_lb * line.qty for line in order.lines)
    volume_all = sum(line.unit_volume_in3 * line.qty for line in order.lines)

    def price(allocations: Allocations) -> float:
        plain = plan_cost(order, allocations, snapshot, terms)
        total = plain.split_penalty + plain.backorder_penalty
        most_late = 0  # the order pays its lateness once: for its latest shipment
        for s in plain.shipments:
            here = [a for a in allocations if a.node_id == s.node_id and a.qty > 0]
            option = reference_option(case, at, s.node_id, s.distance_miles, stocked.get(s.node_id, []))
            if option is not None:
                service, late, carries = option[0], int(option[2]), option[3]
            elif s.node_id in held_nodes and (offered := _offered(case, at, s.node_id, s.distance_miles, "")):
                first = _earliest(offered)
                service = min(first, key=lambda sid: (_price(case, sid, s.distance_miles, weight, volume_all), sid))
                late, carries = 0, frozenset()
            else:
                return float("inf")
            if any(position[a.line_id] not in carries and (a.line_id, a.node_id) not in holding for a in here):
                return float("inf")
            volume = sum(order.lines[position[a.line_id]].unit_volume_in3 * a.qty for a in here)
            total += s.pick_pack + s.handling + s.rule_penalty
            total += _price(case, service, s.distance_miles, s.weight_lb, volume)
            most_late = max(most_late, late)
        return total + (case.directives.late_penalty_per_day or 0.0) * most_late

    return price


def _check(cases: list[Case], pending: list[PendingOrder], free: Availability, pool: Availability, later: int,
           prices: list[Price]) -> None:  # fmt: skip
    snapshot = cases[0].snapshot
    items = [BatchOrder(c.order, c.directives) for c in cases]
    # Allocated one by one here without the service's bookkeeping of node capacity: holds that
    # overrun a node's cap together are no state a re-plan starts from.
    assume(fits_together(items, snapshot, pool, [p.held for p in pending]))
    result = reoptimize(pending, snapshot, free, GENEROUS, at=later)
    best = optimal_total(items, snapshot, pool, held=[p.held for p in pending], prices=prices)
    assert result.total_before == pytest.approx(sum(price(p.held) for price, p in zip(prices, pending, strict=True)))
    assert result.joint_total == pytest.approx(best, abs=1e-6)
    assert result.bound <= best + 1e-6
    for group in result.groups:
        for change in group:
            price = prices[[c.order.order_id for c in cases].index(change.order_id)]
            assert change.cost_before == pytest.approx(price(change.before), abs=1e-6)
            assert change.cost_after == pytest.approx(price(change.after), abs=1e-6)


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_batches(), st.integers(1, 96), st.lists(st.integers(0, 2), min_size=6, max_size=6))
def test_a_replan_later_prices_an_order_holding_at_a_node_now_late_by_carrier_services(
    drawn: tuple[list[Case], int], hours: int, restock: list[int]
) -> None:
    """Allocated at one instant, re-planned ``hours`` later: a held node whose options no longer
    keep the promise is priced by its services delivering earliest, every other node as a decision
    at the later instant prices it; the joint total is the optimum over the plans keeping every
    line at its holds, and each hold and change costs what the reference says."""
    cases, at = drawn
    later = at + hours * 3600
    pending, free, pool = allocated_then_restocked(cases, at, restock)
    prices = [
        _order_price(c, later, p.held) if c.order.promised else _plain(c) for c, p in zip(cases, pending, strict=True)
    ]
    _check(cases, pending, free, pool, later, prices)


def _plain(case: Case) -> Price:
    terms = resolve_terms(case.order, case.directives, case.snapshot)
    return lambda allocations: plan_cost(case.order, allocations, case.snapshot, terms).total


@st.composite
def line_promise_batches(draw: st.DrawFn) -> tuple[list[Case], int]:
    """Two orders whose lines are promised differently (the second a copy asking for fewer units),
    over scarce stock."""
    case, at = draw(line_promise_cases())
    assume(len(set(case.order.line_promises())) > 1)
    lines = tuple(replace(line, qty=draw(st.integers(1, line.qty))) for line in case.order.lines)
    second = replace(case.order, order_id="P", lines=lines)
    levels = case.levels
    scarce = StockLevels(levels.skus, levels.node_ids, [draw(st.integers(0, 2)) for _ in levels.units])
    case = replace(case, levels=scarce)
    return [case, replace(case, order=second)], at


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line_promise_batches(), st.integers(0, 96), st.lists(st.integers(0, 2), min_size=6, max_size=6))
def test_a_replan_prices_lines_promised_differently_by_carrier_services(
    drawn: tuple[list[Case], int], hours: int, restock: list[int]
) -> None:
    cases, at = drawn
    later = at + hours * 3600
    pending, free, pool = allocated_then_restocked(cases, at, restock)
    prices = [_line_price(c, later, p.held, pool) for c, p in zip(cases, pending, strict=True)]
    _check(cases, pending, free, pool, later, prices)


def test_an_order_holding_at_a_node_now_late_is_priced_by_its_earliest_service_there() -> None:
    """Promised Wed 2 Dec, 1 x LIGHT (0.2 lb) allocated Monday 10:00 UTC at DEN by TWO_DAY (delivered
    Wed 2 Dec). Re-planned Tuesday 10:00: DEN's TWO_DAY now delivers Thu 3 Dec and its GROUND Mon 7
    Dec, neither by the promise. DEN stays the order's candidate, priced by its earliest service,
    TWO_DAY (zone 5: 11.80 + 1.20 x 0.2 = 12.04), not by GROUND (7.96) nor the level's table. With a
    unit at MKE (GROUND, Wed 2 Dec: 5.50 + 0.35 x 0.2 = 5.57) the re-plan moves it there."""
    snapshot = _crossing_network()
    order = Order("O", SHIP_TO, (OrderLine("LIGHT", "L", 1, 0.2),), promised_date=date(2026, 12, 2))
    stock = Availability(("L",), np.array([[1, 0]], dtype=np.int64))  # DEN, MKE (node ids in order)
    assert snapshot.ids == ("DEN", "MKE")
    placed = decide(order, snapshot, stock, Directives(), GENEROUS, at=MONDAY_1000_UTC)
    assert [(s.node_id, s.carrier_service) for s in placed.cost.shipments] == [("DEN", "TWO_DAY")]
    pending = [PendingOrder(order, Directives(), placed.allocations)]
    tuesday = MONDAY_1000_UTC + 24 * 3600
    kept = reoptimize(pending, snapshot, Availability(("L",), np.array([[0, 0]], dtype=np.int64)), GENEROUS, at=tuesday)
    assert kept.total_before == pytest.approx(12.04, abs=1e-9) and not kept.groups
    moved = reoptimize(
        pending, snapshot, Availability(("L",), np.array([[0, 1]], dtype=np.int64)), GENEROUS, at=tuesday
    )
    ((change,),) = moved.groups
    assert [(a.node_id, a.qty) for a in change.after] == [("MKE", 1)]
    assert (change.cost_before, change.cost_after) == (pytest.approx(12.04, abs=1e-9), pytest.approx(5.57, abs=1e-9))
