"""A promise per line (engine/promise/per_line.py, docs/promise.md "A promise per line").

- Exhaustive search on tiny instances whose lines carry their own promised dates and carrier
  services (the order's the default): every allocation, each shipment from a node by the option
  that node takes for the lines it holds (computed here with the day-by-day reference dates), a
  shipment carrying a line its option does not keep being no plan. Both search paths must find
  its least cost, and every shipment must keep the promise of every line it carries.
- The small-order path against the general one on such orders.
- The words a line gets at a node that cannot keep its promise.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.availability import Availability, StockLevels
from engine.decision import SolveStatus
from engine.directives import Directives
from engine.model import GeoPoint, Order, OrderLine
from engine.promise.calculator import epoch_seconds
from engine.sourcing import decide, decide_from_levels
from engine.terms import resolve_terms
from tests.engine.brute_force import feasible_plans
from tests.engine.promise.reference import reference_delivery, reference_ship
from tests.engine.test_promise_sourcing import _availability, _price, _two_stores, promise_cases
from tests.engine.test_small_orders import GENEROUS, Case
from tests.fuzz import examples


@st.composite
def line_promise_cases(draw: st.DrawFn) -> tuple[Case, int]:
    """promise_cases' orders, each line given its own date and/or service some of the time."""
    case, at = draw(promise_cases(max_nodes=3, max_lines=3, max_qty=2))
    today = datetime.fromtimestamp(at, UTC).date()
    services = sorted(case.snapshot.carrier_services)
    lines = []
    for line in case.order.lines:
        promised = draw(st.one_of(st.none(), st.integers(0, 7).map(lambda k: today + timedelta(days=k))))
        named = draw(st.sampled_from(["", "", "", *services]))
        lines.append(replace(line, promised_date=promised, carrier_service=named))
    return replace(case, order=replace(case.order, lines=tuple(lines))), at


def _held(case: Case) -> dict[str, list[int]]:
    at: dict[str, set[str]] = {}
    for sku, node_id, units in zip(case.levels.skus, case.levels.node_ids, case.levels.units, strict=True):
        if units > 0:
            at.setdefault(node_id, set()).add(sku)
    return {node_id: [k for k, line in enumerate(case.order.lines) if line.sku in skus] for node_id, skus in at.items()}


def reference_choices(
    case: Case, at: int, node_id: str, distance: float, held: list[int]
) -> list[tuple[tuple[int, float, date, str], tuple[str, date, float, frozenset[int]]]]:
    """Every option ``node_id`` can ship by, by the reference dates, with the lines it holds whose
    promises it keeps (none: left out): (its rank for the whole order in one box: most lines kept,
    then checkout's price, a late line at the rules' penalty, the latest line's, then the earlier
    delivery, then the id; (service, delivery, days late (its latest line's), lines kept))."""
    order, snapshot = case.order, case.snapshot
    promises = order.line_promises()
    penalty = case.directives.late_penalty_per_day
    schedule = next(s for s in snapshot.node_schedules if s.node_id == node_id)
    weight = sum(line.unit_weight_lb * line.qty for line in order.lines)
    volume = sum(line.unit_volume_in3 * line.qty for line in order.lines)
    instant = datetime.fromtimestamp(at, UTC)
    choices = []
    for service in sorted(snapshot.carrier_services.values(), key=lambda s: s.id):
        if not schedule.offers(service.id) or not service.pickup_days & schedule.working_days:
            continue
        ship, _ = reference_ship(schedule, service, instant)
        delivery = reference_delivery(service, ship, service.zone(service.zone_of(distance)).transit_days)
        kept, late = [], 0
        for k in held:
            named, day = promises[k]
            if named and named != service.id:
                continue
            if day is not None and delivery > day:
                if penalty is None:
                    continue
                late = max(late, (delivery - day).days)
            kept.append(k)
        if not kept:
            continue
        late_cost = penalty * late if penalty is not None else 0.0
        key = (-len(kept), _price(case, service.id, distance, weight, volume) + late_cost, delivery, service.id)
        choices.append((key, (service.id, delivery, late, frozenset(kept))))
    return choices


def reference_option(
    case: Case, at: int, node_id: str, distance: float, held: list[int]
) -> tuple[str, date, float, frozenset[int]] | None:
    """The option ``node_id`` ships by when lines are promised differently: the one keeping the
    promises of the most lines it holds, then the cheapest for the whole order in one box, then the
    earlier delivery, then the id: (service, delivery, days late, lines kept)."""
    choices = reference_choices(case, at, node_id, distance, held)
    return min(choices)[1] if choices else None


def exhaustive_cost(case: Case, at: int) -> float:
    order, snapshot = case.order, case.snapshot
    availability = _availability(case)
    base_terms = resolve_terms(order, case.directives, snapshot)  # penalties and limits; no promise
    held = _held(case)
    position = {line.line_id: k for k, line in enumerate(order.lines)}
    best = float("inf")
    # Every line promised alike (the order's promise): each shipment by the option cheapest for
    # what it carries, as for an order-level promise (test_promise_sourcing.py); else one option a
    # node, chosen for the whole order.
    alike = len(set(order.line_promises())) == 1
    penalty = case.directives.late_penalty_per_day or 0.0
    for allocations, plain in feasible_plans(order, snapshot, availability, base_terms):
        total = plain.split_penalty + plain.backorder_penalty
        prices = []  # per shipment, (carrier price, days late) of each option it may take
        for shipment in plain.shipments:
            carried = {position[a.line_id] for a in allocations if a.node_id == shipment.node_id}
            node_held = held[shipment.node_id]
            choices = reference_choices(case, at, shipment.node_id, shipment.distance_miles, node_held)
            if not alike:
                option = reference_option(case, at, shipment.node_id, shipment.distance_miles, node_held)
                choices = [c for c in choices if c[1] == option]
            options = [c[1] for c in choices if carried <= c[1][3]]
            if not options:
                total = float("inf")
                break
            volume = sum(
                order.lines[position[a.line_id]].unit_volume_in3 * a.qty
                for a in allocations
                if a.node_id == shipment.node_id
            )
            prices.append(
                [(_price(case, service, shipment.distance_miles, shipment.weight_lb, volume), late)
                 for service, _, late, _ in options]
            )  # fmt: skip
            total += shipment.pick_pack + shipment.handling + shipment.rule_penalty
        if total < float("inf"):
            # The order's lateness once, by its latest shipment, over every combination of options.
            total += min(
                sum(price for price, _ in combo) + penalty * max((late for _, late in combo), default=0)
                for combo in itertools.product(*prices)
            )
        best = min(best, total)
    return best


@settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line_promise_cases())
def test_line_promises_match_exhaustive_search_and_every_shipment_keeps_its_lines_promises(
    drawn: tuple[Case, int],
) -> None:
    case, at = drawn
    decision = decide(case.order, case.snapshot, _availability(case), case.directives, GENEROUS, at=at)
    assert decision.status is SolveStatus.OPTIMAL
    assert decision.cost.total == pytest.approx(exhaustive_cost(case, at), abs=1e-6)
    promises = dict(zip((line.line_id for line in case.order.lines), case.order.line_promises(), strict=True))
    for shipment in decision.cost.shipments:
        for a in decision.allocations:
            if a.node_id != shipment.node_id or not a.qty:
                continue
            named, day = promises[a.line_id]
            assert not named or shipment.carrier_service == named
            if day is not None and case.directives.late_penalty_per_day is None:
                assert shipment.delivery_day <= day.toordinal()
    skus = sorted({line.sku for line in case.order.lines})
    small = decide_from_levels(case.order, case.snapshot, skus, case.levels, case.directives, GENEROUS, at=at)
    assert small.cost.total == pytest.approx(decision.cost.total, abs=1e-9)


FRIDAY_1430_CHICAGO = epoch_seconds(datetime(2026, 12, 4, 20, 30, tzinfo=UTC))


def _lines(a_by: date, b_by: date | None = None) -> Order:
    lines = (
        OrderLine("L0", "A", 1, 1.0, promised_date=a_by),
        OrderLine("L1", "B", 1, 1.0, promised_date=b_by),
    )
    return Order("O", GeoPoint(41.88, -87.63), lines)


def test_a_line_a_node_cannot_bring_in_time_comes_from_another_and_the_reason_names_it() -> None:
    """_two_stores: ordered Friday 14:30 in Chicago, the store would deliver Wed 9 Dec (two days of
    packing), the Cincinnati DC Tue 8 Dec. L0 must arrive by Tue 8 Dec, L1 by Fri 11 Dec."""
    snapshot = _two_stores()
    order = _lines(date(2026, 12, 8), date(2026, 12, 11))
    levels = StockLevels(["A", "B", "A"], ["ST-003", "ST-003", "DC-001"], [1, 1, 1])
    decision = decide_from_levels(order, snapshot, ["A", "B"], levels, Directives(), GENEROUS, at=FRIDAY_1430_CHICAGO)
    assert sorted((a.line_id, a.node_id) for a in decision.allocations) == [("L0", "DC-001"), ("L1", "ST-003")]
    days = {s.node_id: date.fromordinal(s.delivery_day) for s in decision.cost.shipments}
    assert days == {"DC-001": date(2026, 12, 8), "ST-003": date(2026, 12, 9)}
    assert not decision.unfilled
    # Without the DC's unit, L0 waits, and the reason names the line and both dates.
    levels = StockLevels(["A", "B"], ["ST-003", "ST-003"], [1, 1])
    for decided in (
        decide_from_levels(order, snapshot, ["A", "B"], levels, Directives(), GENEROUS, at=FRIDAY_1430_CHICAGO),
        decide(order, snapshot, Availability.from_levels(snapshot, ["A", "B"], levels), at=FRIDAY_1430_CHICAGO),
    ):
        assert [(a.line_id, a.node_id) for a in decided.allocations] == [("L1", "ST-003")]
        (unfilled,) = decided.unfilled
        assert unfilled.line_id == "L0"
        assert unfilled.reason == "ST-003 would deliver Wed 9 Dec, after line L0's promised Tue 8 Dec"


def test_lines_carrying_one_promise_decide_as_the_order_carrying_it() -> None:
    snapshot = _two_stores()
    levels = StockLevels(["A", "B", "A", "B"], ["ST-003", "ST-003", "DC-001", "DC-001"], [1, 1, 1, 1])
    lined = _lines(date(2026, 12, 8), date(2026, 12, 8))
    ordered = replace(
        lined, lines=tuple(replace(x, promised_date=None) for x in lined.lines), promised_date=date(2026, 12, 8)
    )
    one = decide_from_levels(lined, snapshot, ["A", "B"], levels, at=FRIDAY_1430_CHICAGO)
    other = decide_from_levels(ordered, snapshot, ["A", "B"], levels, at=FRIDAY_1430_CHICAGO)
    assert one == other and [a.node_id for a in one.allocations] == ["DC-001", "DC-001"]
