"""Joint decisions of orders carrying promises (engine/batch.py, docs/promise.md "Sourcing by
promise"): each order's promise kept and each of its shipments priced by the cheapest eligible
carrier service for what it carries, exactly as a single decision at the same instant, checked
against exhaustive search over every combination of every order's plans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.availability import Availability, StockLevels
from engine.batch import BatchOrder, decide_batch
from engine.cost import plan_cost
from engine.decision import AllocationLine, SolveStatus
from engine.directives import Directives
from engine.model import ObjectiveMode
from engine.optimizer.joint_milp import solve_joint
from engine.optimizer.shared import shares_fit
from engine.problem import build_problem
from engine.reoptimize import PendingOrder, reoptimize
from engine.sourcing import decide
from engine.terms import resolve_terms
from tests.engine.batch_brute_force import Allocations, Price, fits_together, optimal_total, order_plans
from tests.engine.test_promise_sourcing import _availability, promise_cases, promised_cost
from tests.engine.test_small_orders import GENEROUS, Case
from tests.fuzz import examples


def _reference(case: Case, at: int) -> Price:
    """The order's cost for a plan as exhaustive search prices it: by its level's rates without a
    promise, else each shipment by its own cheapest eligible service (dates by the day-by-day reference)."""
    order, snapshot = case.order, case.snapshot
    terms = resolve_terms(order, case.directives, snapshot)

    def price(allocations: Allocations) -> float:
        plain = plan_cost(order, allocations, snapshot, terms)
        return promised_cost(case, at, allocations, plain) if order.promised else plain.total

    return price


@st.composite
def promise_batches(draw: st.DrawFn) -> tuple[list[Case], int]:
    """Two orders over one network and its stock: the drawn promise order, and a second with its
    own promise (a date, a service, both) or none, sometimes asking for fewer units."""
    case, at = draw(promise_cases(max_nodes=3, max_lines=2, max_qty=2))
    first = case.order
    day = datetime.fromtimestamp(at, UTC).date()
    promised = draw(st.one_of(st.none(), st.integers(0, 7).map(lambda k: day + timedelta(days=k))))
    services = sorted(case.snapshot.carrier_services)
    named = draw(st.sampled_from(["", "", *services]))
    lines = tuple(replace(line, qty=draw(st.integers(1, line.qty))) for line in first.lines)
    second = replace(first, order_id="P", lines=lines, promised_date=promised, carrier_service=named)
    # Scarce stock, so the orders compete for the nodes keeping their promises cheaply.
    levels = case.levels
    scarce = StockLevels(levels.skus, levels.node_ids, [draw(st.integers(0, 2)) for _ in levels.units])
    case = replace(case, levels=scarce)
    return [case, replace(case, order=second)], at


def _items(cases: list[Case], at: int) -> list[BatchOrder]:
    return [BatchOrder(c.order, c.directives, at=at) for c in cases]


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_batches())
def test_joint_promise_orders_match_exhaustive_search(drawn: tuple[list[Case], int]) -> None:
    cases, at = drawn
    snapshot, availability = cases[0].snapshot, _availability(cases[0])
    items = _items(cases, at)
    batch = decide_batch(items, snapshot, availability, GENEROUS)
    best = optimal_total(items, snapshot, availability, prices=[_reference(c, at) for c in cases])
    assert batch.status is SolveStatus.OPTIMAL
    assert batch.total == pytest.approx(best, abs=1e-6)
    assert batch.bound <= best + 1e-6
    for case, decision in zip(cases, batch.decisions, strict=True):
        # Each order's cost is what its own pricing says of its plan: no box at a rate it would not pay.
        assert decision.cost.total == pytest.approx(_reference(case, at)(decision.allocations), abs=1e-6)
        if case.order.promised_date is not None and case.directives.late_penalty_per_day is None:
            assert all(s.delivery_day <= case.order.promised_date.toordinal() for s in decision.cost.shipments)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_batches())
def test_joint_promise_bound_is_true_when_time_runs_short(drawn: tuple[list[Case], int]) -> None:
    """However little time the batch has, what it reports as a bound is one, and its plan is priced truly."""
    cases, at = drawn
    snapshot, availability = cases[0].snapshot, _availability(cases[0])
    items = _items(cases, at)
    batch = decide_batch(items, snapshot, availability, replace(GENEROUS, time_limit_ms=5))
    best = optimal_total(items, snapshot, availability, prices=[_reference(c, at) for c in cases])
    assert batch.bound <= best + 1e-6 <= batch.total + 2e-6
    for case, decision in zip(cases, batch.decisions, strict=True):
        assert decision.cost.total == pytest.approx(_reference(case, at)(decision.allocations), abs=1e-6)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_batches())
def test_the_joint_model_prices_promise_orders_exactly(drawn: tuple[list[Case], int]) -> None:
    """The joint MILP alone (prices and one by one usually settle these small batches before it
    runs), over every column: carrier options that cross and dimensional weight
    (``Problem.pricing``) disaggregated by option, so its optimum and bound are the true ones."""
    cases, at = drawn
    snapshot, availability = cases[0].snapshot, _availability(cases[0])
    problems = []
    for case in cases:
        terms = resolve_terms(case.order, case.directives, snapshot, at=at)
        problems.append(build_problem(case.order, snapshot, availability, case.directives, terms))
    columns = [np.arange(p.n_nodes) for p in problems]
    result = solve_joint(problems, columns, snapshot.max_units, snapshot.max_shipments, GENEROUS.time_limit_ms)
    best = optimal_total(_items(cases, at), snapshot, availability, prices=[_reference(c, at) for c in cases])
    assert result.status is SolveStatus.OPTIMAL and result.plans is not None
    assert shares_fit(snapshot, problems, result.plans)
    total = sum(plan.objective(problem) for problem, plan in zip(problems, result.plans, strict=True))
    assert total == pytest.approx(best, abs=1e-6)
    assert result.bound == pytest.approx(best, abs=1e-6)


def allocated_then_restocked(
    cases: Sequence[Case], at: int, restock: list[int]
) -> tuple[list[PendingOrder], Availability, Availability]:
    """Each order allocated one by one at ``at``; stock arriving after: the pending orders, what
    nobody holds, and that plus their holds (what the re-plan decides over)."""
    snapshot = cases[0].snapshot
    stock = _availability(cases[0])
    units = stock.units.copy()
    pending = []
    for case in cases:
        decision = decide(
            case.order, snapshot, Availability(stock.skus, units.copy()), case.directives, GENEROUS, at=at
        )
        for a in decision.allocations:
            units[stock.row[a.sku], snapshot.index[a.node_id]] -= a.qty
        pending.append(PendingOrder(case.order, case.directives, decision.allocations))
    units += np.resize(np.array(restock, dtype=np.int64), units.shape)
    free = Availability(stock.skus, units.copy())
    for p in pending:
        for a in p.held:
            units[stock.row[a.sku], snapshot.index[a.node_id]] += a.qty
    return pending, free, Availability(stock.skus, units)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_batches(), st.lists(st.integers(0, 2), min_size=6, max_size=6))
def test_a_replan_prices_promise_orders_as_a_decision_at_its_instant(
    drawn: tuple[list[Case], int], restock: list[int]
) -> None:
    """Both orders allocated one by one at the instant, then stock arrives and they are re-planned at
    the same instant: their holds and their new plans are priced by the promise's carrier services,
    so the joint total is the optimum over the plans keeping every line at its holds, and a change
    is offered only when it saves money at the prices the boxes would really pay."""
    cases, at = drawn
    snapshot = cases[0].snapshot
    pending, free, pool = allocated_then_restocked(cases, at, restock)
    result = reoptimize(pending, snapshot, free, GENEROUS, at=at)
    # Allocated one by one here without the service's bookkeeping of node capacity: holds that
    # overrun a node's cap together are no state a re-plan starts from.
    assume(fits_together(_items(cases, at), snapshot, pool, [p.held for p in pending]))
    prices = [_reference(c, at) for c in cases]
    best = optimal_total(_items(cases, at), snapshot, pool, held=[p.held for p in pending], prices=prices)
    assert result.joint_total == pytest.approx(best, abs=1e-6)
    assert result.bound <= best + 1e-6
    assert result.total_before == pytest.approx(sum(price(p.held) for price, p in zip(prices, pending, strict=True)))
    for group in result.groups:
        for change in group:
            price = prices[[c.order.order_id for c in cases].index(change.order_id)]
            assert change.cost_before == pytest.approx(price(change.before), abs=1e-6)
            assert change.cost_after == pytest.approx(price(change.after), abs=1e-6)


def _units_by_line(allocations: Allocations) -> tuple[tuple[str, int], ...]:
    units: dict[str, int] = {}
    for a in allocations:
        units[a.line_id] = units.get(a.line_id, 0) + a.qty
    return tuple(sorted((line_id, q) for line_id, q in units.items() if q))


def _earliest_day_and_floor(case: Case, at: int, availability: Availability) -> tuple[date, Allocations] | None:
    """The EARLIEST_DELIVERY order alone on all the stock, by exhaustive search day by day: the
    cheapest plan sets the units to ship; the first day D (from the day before the instant's UTC
    date) whose cheapest plans, every box by D, ship as many is its day; its floor is what those
    plans ship of each line. None when nothing ships (decided by cost)."""
    snapshot = case.snapshot
    item = BatchOrder(case.order, case.directives)
    plans = order_plans(item, snapshot, availability, price=_reference(case, at))
    if not plans:
        return None
    cheapest = [p for c, p in plans if c <= plans[0][0] + 1e-9]
    fills = {sum(a.qty for a in p) for p in cheapest}
    assume(len(fills) == 1)  # cheapest plans shipping different amounts: "as many" is ambiguous
    (shipped,) = fills
    if shipped == 0:
        return None
    day = datetime.fromtimestamp(at, UTC).date() - timedelta(days=1)
    while True:
        promised = day if case.order.promised_date is None else min(day, case.order.promised_date)
        by_day = replace(case, order=replace(case.order, promised_date=promised))
        dated = order_plans(item, snapshot, availability, price=_reference(by_day, at))
        if dated:
            best = [p for c, p in dated if c <= dated[0][0] + 1e-9]
            if max(sum(a.qty for a in p) for p in best) >= shipped:
                assume(min(sum(a.qty for a in p) for p in best) >= shipped)
                floors = {_units_by_line(p) for p in best}
                assume(len(floors) == 1)  # cheapest plans at D shipping lines differently: ambiguous
                floor = tuple(AllocationLine(line_id, "", "", q) for line_id, q in next(iter(floors)))
                return promised, floor
        day += timedelta(days=1)
        assert day < date(2027, 3, 1)


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_batches())
def test_an_earliest_delivery_order_keeps_its_earliest_day_in_the_joint_decision(
    drawn: tuple[list[Case], int],
) -> None:
    """An EARLIEST_DELIVERY order (listed last) in a joint decision: its day first, as it would be
    decided alone on the stock (no other earliest-delivery order before it), then the batch's total
    cost breaking ties, over every plan of both orders keeping its day and what it ships of each line
    (exhaustive search)."""
    (promised, other), at = drawn
    # Its trial days are strict: no lateness allowed by rules here (as for a single decision).
    earliest = replace(
        promised, order=replace(promised.order, objective=ObjectiveMode.EARLIEST_DELIVERY), directives=Directives()
    )
    cases = [other, earliest]
    snapshot, availability = earliest.snapshot, _availability(earliest)
    batch = decide_batch(_items(cases, at), snapshot, availability, GENEROUS)
    found = _earliest_day_and_floor(earliest, at, availability)
    plain = [BatchOrder(c.order, c.directives) for c in cases]
    if found is None:
        prices = [_reference(c, at) for c in cases]
        best = optimal_total(plain, snapshot, availability, prices=prices)
    else:
        day, floor = found
        by_day = replace(earliest, order=replace(earliest.order, promised_date=day))
        prices = [_reference(other, at), _reference(by_day, at)]
        best = optimal_total(plain, snapshot, availability, held=[(), floor], prices=prices)
        decision = batch.decisions[1]
        assert decision.cost.delivery_day <= day.toordinal()
        assert all(dict(_units_by_line(decision.allocations)).get(a.line_id, 0) >= a.qty for a in floor)
        assert decision.cost.total == pytest.approx(prices[1](decision.allocations), abs=1e-6)
    assert batch.status is SolveStatus.OPTIMAL
    assert batch.total == pytest.approx(best, abs=1e-6)
    assert batch.bound <= best + 1e-6
