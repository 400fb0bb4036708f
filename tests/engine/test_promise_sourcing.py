"""Sourcing by promise (engine/promise/shipping.py): per shipment a node and a carrier service, the
cheapest that delivers by the promised date.

- Exhaustive search on tiny instances, with its own dates (tests/engine/promise/reference.py, day
  by day) and every eligible carrier service per shipment tried, against the general engine.
- The small-order path against the general one on promise orders (the differential test's shape).
- Orders without a promise: the same decision with or without the decision's instant.
- The words a late node gets, with dates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from random import Random

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.availability import Availability, StockLevels
from engine.cost import plan_cost
from engine.decision import AllocationLine, CostBreakdown, Decision, NodeVerdict, SolveStatus
from engine.directives import Directives
from engine.model import GeoPoint, InventoryPosition, Node, NodeType, ObjectiveMode, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.optimizer import priced_milp, search
from engine.optimizer.deadline import Deadline
from engine.optimizer.milp import MilpResult
from engine.optimizer.plan import Plan
from engine.optimizer.search import Solution
from engine.problem import Problem
from engine.promise.calculator import epoch_seconds
from engine.promise.model import CarrierService, Cutoff, NodeSchedule, ShipTo, Weekday, ZoneRate
from engine.promise.pricing import carrier_charge
from engine.rates import STANDARD_RATES
from engine.small_orders import decide_small
from engine.sourcing import decide, decide_from_levels
from engine.terms import resolve_terms
from tests.engine.brute_force import feasible_plans
from tests.engine.promise.reference import reference_delivery, reference_ship
from tests.engine.test_small_orders import GENEROUS, Case
from tests.fuzz import examples

SHIP_TO = GeoPoint(41.88, -87.63)
ZONES = ("America/Chicago", "America/New_York", "America/Los_Angeles", "UTC")
WEEKDAYS = frozenset({Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI})


def _chart(transit: tuple[int, ...], base_extra: float, per_lb_scale: float) -> tuple[ZoneRate, ...]:
    limits = (*STANDARD_RATES.zone_limits_miles, None)
    return tuple(
        ZoneRate(
            str(z + 1),
            transit[z],
            STANDARD_RATES.base[z] + base_extra,
            STANDARD_RATES.per_lb[z] * per_lb_scale,
            limits[z],
        )
        for z in range(len(limits))
    )


REMOTE_ZIP3 = frozenset({"606"})  # the generated ship-to's ZIP 60614 is remote for services listing it


def _charges(draw: st.DrawFn) -> dict[str, object]:
    """A service's dimensional divisor and surcharges, drawn (none of them, often)."""
    return {
        "dim_divisor": draw(st.sampled_from([None, 139.0, 250.0])),
        "residential_surcharge": draw(st.sampled_from([0.0, 0.0, 2.5])),
        "non_contiguous_surcharge": draw(st.sampled_from([0.0, 9.0])),
        "remote_area_surcharge": draw(st.sampled_from([0.0, 3.75])),
        "remote_area_zip3": draw(st.sampled_from([frozenset(), REMOTE_ZIP3])),
    }


@st.composite
def services(draw: st.DrawFn) -> dict[str, CarrierService]:
    """GROUND, TWO_DAY and NEXT_DAY: random transit; faster usually dearer on both counts (as rate
    cards go), sometimes cheaper per pound (services cross), with dimensional weight and surcharges."""
    ground = tuple(sorted(draw(st.lists(st.integers(1, 5), min_size=8, max_size=8))))
    two = tuple(min(t, draw(st.integers(1, 3))) for t in ground)
    two_scale = draw(st.sampled_from([1.5, 0.6]))
    return {
        "GROUND": CarrierService("GROUND", "C", "STANDARD", _chart(ground, 0.0, 1.0), **_charges(draw)),  # type: ignore[arg-type]
        "TWO_DAY": CarrierService("TWO_DAY", "C", "EXPRESS", _chart(two, 4.0, two_scale), **_charges(draw)),  # type: ignore[arg-type]
        "NEXT_DAY": CarrierService(
            "NEXT_DAY",
            "C",
            "NEXT_DAY",
            _chart((1,) * 8, 12.0, 3.0),
            pickup_days=draw(st.sampled_from([WEEKDAYS, frozenset(Weekday)])),
            **_charges(draw),  # type: ignore[arg-type]
        ),
    }


@st.composite
def promise_cases(draw: st.DrawFn, max_nodes: int = 3, max_lines: int = 3, max_qty: int = 2) -> tuple[Case, int]:
    """A tiny order with a promised date and/or a carrier service, and the decision's instant."""
    carrier = draw(services())
    nodes, schedules = [], []
    for i in range(draw(st.integers(1, max_nodes))):
        node_id = f"N{i}"
        nodes.append(
            Node(
                node_id,
                draw(st.sampled_from(list(NodeType))),
                GeoPoint(SHIP_TO.lat + draw(st.floats(-12, 12)), SHIP_TO.lon + draw(st.floats(-25, 25))),
                pick_pack_cost=draw(st.sampled_from([0.0, 1.2, 3.5])),
                unit_handling_cost=draw(st.sampled_from([0.2, 0.75])),
                max_units=draw(st.sampled_from([None, None, 2])),
            )
        )
        offered = draw(st.lists(st.sampled_from(sorted(carrier)), unique=True, max_size=3))
        schedules.append(
            NodeSchedule(
                node_id,
                draw(st.sampled_from(ZONES)),
                draw(st.sampled_from([WEEKDAYS, frozenset(Weekday)])),
                processing_days=draw(st.integers(0, 2)),
                cutoffs=tuple(Cutoff(s, draw(st.sampled_from([600, 900, 1380]))) for s in offered),
            )
        )
    skus = [f"S{k}" for k in range(draw(st.integers(1, 2)))]
    lines = tuple(
        OrderLine(
            f"L{i}",
            draw(st.sampled_from(skus)),
            draw(st.integers(1, max_qty)),
            draw(st.sampled_from([0.2, 1.5, 12.0])),
            unit_volume_in3=draw(st.sampled_from([0.0, 100.0, 2_000.0])),
        )
        for i in range(draw(st.integers(1, max_lines)))
    )
    at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 14 * 24 * 60)))
    promised = draw(st.one_of(st.none(), st.integers(0, 7).map(lambda k: at.date() + timedelta(days=k))))
    named = (
        draw(st.sampled_from(["", "", *sorted(carrier)]))
        if promised is not None
        else draw(st.sampled_from(sorted(carrier)))
    )
    order = Order(
        "O",
        SHIP_TO,
        lines,
        max_shipments=draw(st.sampled_from([None, None, 1, 2])),
        all_or_nothing=draw(st.integers(0, 4)) == 0,
        split_penalty=draw(st.sampled_from([0.0, 3.0])),
        backorder_penalty=draw(st.sampled_from([4.0, 25.0, 100.0])),
        carrier_service=named,
        promised_date=promised,
        postal_code=draw(st.sampled_from(["", "60614"])),
        residential=draw(st.booleans()),
    )
    snapshot = NetworkSnapshot(tuple(nodes), node_schedules=tuple(schedules), carrier_services=carrier)
    rows = [(sku, n.id, draw(st.integers(0, 3))) for n in nodes for sku in skus]
    levels = StockLevels([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    # Sometimes a rule allows lateness at a penalty per day late (a shipment's, per day).
    directives = Directives(late_penalty_per_day=draw(st.sampled_from([None, None, None, 0.5, 4.0])))
    return Case(order, snapshot, levels, directives), epoch_seconds(at)


def _availability(case: Case) -> Availability:
    positions = [
        InventoryPosition(n, s, on_hand=u)
        for s, n, u in zip(case.levels.skus, case.levels.node_ids, case.levels.units, strict=True)
    ]
    return Availability.from_positions(case.snapshot, sorted({line.sku for line in case.order.lines}), positions)


def _reference_options(case: Case, at: int, node_id: str, distance: float) -> list[tuple[str, date]]:
    """(service, delivery date) a shipment from ``node_id`` may take, by the day-by-day reference."""
    return [(s, d) for s, d, _ in _reference_priced(case, at, node_id, distance)]


def _reference_priced(case: Case, at: int, node_id: str, distance: float) -> list[tuple[str, date, float]]:
    """(service, delivery date, lateness penalty) of each option a shipment from ``node_id`` may take."""
    penalty = case.directives.late_penalty_per_day
    order, snapshot = case.order, case.snapshot
    schedule = next(s for s in snapshot.node_schedules if s.node_id == node_id)
    instant = datetime.fromtimestamp(at, UTC)
    found = []
    for service in snapshot.carrier_services.values():
        if order.carrier_service and service.id != order.carrier_service:
            continue
        if not schedule.offers(service.id) or not service.pickup_days & schedule.working_days:
            continue
        ship, _ = reference_ship(schedule, service, instant)
        delivery = reference_delivery(service, ship, service.zone(service.zone_of(distance)).transit_days)
        if order.promised_date is None or delivery <= order.promised_date:
            found.append((service.id, delivery, 0.0))
        elif penalty is not None:
            found.append((service.id, delivery, penalty * (delivery - order.promised_date).days))
    return found


def _price(case: Case, service_id: str, distance: float, pounds: float, volume: float, late_cost: float) -> float:
    """What checkout's Promise charges for the box (engine.promise.pricing.carrier_charge), plus lateness."""
    service = case.snapshot.carrier_services[service_id]
    ship_to = ShipTo(postal_code=case.order.postal_code, residential=case.order.residential)
    return carrier_charge(service, distance, ship_to, pounds, volume).total + late_cost


def promised_cost(case: Case, at: int, allocations: Sequence[AllocationLine], plain: CostBreakdown) -> float:
    """``allocations`` (costed ``plain`` at the level's rates) with each shipment by its own cheapest
    eligible carrier service (checkout's price for the box, plus any lateness); inf when a shipment
    has none."""
    lines = {line.line_id: line for line in case.order.lines}
    total = plain.split_penalty + plain.backorder_penalty
    for shipment in plain.shipments:
        options = _reference_priced(case, at, shipment.node_id, shipment.distance_miles)
        if not options:
            return float("inf")
        # Per shipment (docs/promise.md): the cheapest eligible service for what this box holds.
        volume = sum(lines[a.line_id].unit_volume_in3 * a.qty for a in allocations if a.node_id == shipment.node_id)
        price = min(
            _price(case, s, shipment.distance_miles, shipment.weight_lb, volume, late) for s, _, late in options
        )
        total += shipment.pick_pack + shipment.handling + shipment.rule_penalty + price
    return total


def exhaustive_cost(case: Case, at: int) -> float:
    """Every allocation, each shipment by its own cheapest eligible carrier service (checkout's
    price for the box: dimensional weight and surcharges, plus any lateness penalty)."""
    return exhaustive(case, at)[0]


def exhaustive(case: Case, at: int) -> tuple[float, set[int]]:
    """The least cost, and the units shipped by each plan of that cost."""
    order, snapshot = case.order, case.snapshot
    availability = _availability(case)
    base_terms = resolve_terms(order, case.directives, snapshot)  # penalties and limits; no promise
    best = float("inf")
    fills: set[int] = set()
    for allocations, plain in feasible_plans(
        order, snapshot, availability, base_terms
    ):  # level rates: replaced per shipment below
        total = promised_cost(case, at, allocations, plain)
        shipped = sum(a.qty for a in allocations)
        if total < best - 1e-9:
            best, fills = total, {shipped}
        elif total <= best + 1e-9:
            fills.add(shipped)
    return best, fills


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_cases())
def test_promise_orders_match_exhaustive_search_over_nodes_and_services(drawn: tuple[Case, int]) -> None:
    case, at = drawn
    decision = decide(case.order, case.snapshot, _availability(case), case.directives, GENEROUS, at=at)
    assert decision.status is SolveStatus.OPTIMAL
    assert decision.cost.total == pytest.approx(exhaustive_cost(case, at), abs=1e-6)
    lines = {line.line_id: line for line in case.order.lines}
    for shipment in decision.cost.shipments:  # every shipment dated, by a service keeping the promise
        assert shipment.carrier_service and shipment.ship_day <= shipment.delivery_day
        allowed = dict(_reference_options(case, at, shipment.node_id, shipment.distance_miles))
        assert date.fromordinal(shipment.delivery_day) == allowed[shipment.carrier_service]
        # ... and the cheapest for what it carries: its carrier charge and lateness are the least.
        volume = sum(
            lines[a.line_id].unit_volume_in3 * a.qty for a in decision.allocations if a.node_id == shipment.node_id
        )
        options = _reference_priced(case, at, shipment.node_id, shipment.distance_miles)
        least = min(
            _price(case, s, shipment.distance_miles, shipment.weight_lb, volume, late) for s, _, late in options
        )
        late = next(late for s, _, late in options if s == shipment.carrier_service)
        assert shipment.carrier_base + shipment.carrier_weight + late == pytest.approx(least, abs=1e-9)
    assert decision.cost.delivery_day == max((s.delivery_day for s in decision.cost.shipments), default=0)


taken = {"small": 0, "general": 0}


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_cases(max_nodes=6, max_lines=3, max_qty=4))
def test_the_small_path_takes_the_general_paths_decision_on_promise_orders(drawn: tuple[Case, int]) -> None:
    case, at = drawn
    general = decide(case.order, case.snapshot, _availability(case), case.directives, GENEROUS, at=at)
    terms = resolve_terms(case.order, case.directives, case.snapshot, at)
    small = decide_small(case.order, case.snapshot, case.levels, case.directives, terms)
    taken["small" if small is not None else "general"] += 1
    if small is None:  # the small path hands some searches to the general one
        return
    assert small.status is general.status is SolveStatus.OPTIMAL
    assert small.cost.total == pytest.approx(general.cost.total, abs=1e-9)
    assert small.bound == pytest.approx(general.bound, abs=1e-9)
    if small.allocations == general.allocations:  # the same plan: the same services, dates, words
        assert small.cost == general.cost
        assert small.unfilled == general.unfilled
        assert small.node_notes == general.node_notes
    else:  # a tie: the small path's plan is priced as it says
        assert plan_cost(case.order, small.allocations, case.snapshot, terms) == small.cost
    skus = sorted({line.sku for line in case.order.lines})
    assert decide_from_levels(case.order, case.snapshot, skus, case.levels, case.directives, GENEROUS, at=at) == small


def test_the_generated_promise_orders_exercise_the_small_path() -> None:
    taken.update({"small": 0, "general": 0})
    test_the_small_path_takes_the_general_paths_decision_on_promise_orders()
    assert taken["small"] >= 0.5 * (taken["small"] + taken["general"]), taken


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_cases(max_nodes=5))
def test_without_a_promise_the_instant_only_dates_the_shipments(drawn: tuple[Case, int]) -> None:
    case, at = drawn
    order = replace(case.order, carrier_service="", promised_date=None)
    availability = _availability(case)
    before = decide(order, case.snapshot, availability, case.directives, GENEROUS)
    dated = decide(order, case.snapshot, availability, case.directives, GENEROUS, at=at)
    assert dated.allocations == before.allocations and dated.node_notes == before.node_notes
    assert dated.cost.total == before.cost.total
    for plain, with_dates in zip(before.cost.shipments, dated.cost.shipments, strict=True):
        assert replace(with_dates, carrier_service="", ship_day=0, delivery_day=0) == plain
        if with_dates.carrier_service:  # the level's service, when the node ships with one
            assert case.snapshot.carrier_services[with_dates.carrier_service].service_level == "STANDARD"


# --- worked example: a store that would deliver after the promise ------------------------------------------------

CHICAGO_AT_1430 = epoch_seconds(datetime(2026, 12, 4, 20, 30, tzinfo=UTC))  # Friday 4 December, 14:30 CST


def _two_stores() -> NetworkSnapshot:
    ground = CarrierService("GROUND", "Northstar", "STANDARD", _chart((1, 1, 2, 2, 3, 4, 4, 5), 0.0, 1.0))
    two_day = CarrierService("TWO_DAY", "Northstar", "EXPRESS", _chart((2,) * 8, 4.0, 1.5))
    near = Node("ST-003", NodeType.STORE, GeoPoint(41.85, -87.65), 1.0, 0.25)
    far = Node("DC-001", NodeType.DC, GeoPoint(39.10, -84.51), 1.0, 0.25)  # Cincinnati, ~250 miles
    return NetworkSnapshot(
        (near, far),
        node_schedules=(
            # The store ships GROUND only and takes two days to pack: Friday's order leaves Tuesday.
            NodeSchedule("ST-003", "America/Chicago", WEEKDAYS, processing_days=2, cutoffs=(Cutoff("GROUND", 900),)),
            NodeSchedule(
                "DC-001", "America/New_York", WEEKDAYS, cutoffs=(Cutoff("GROUND", 1020), Cutoff("TWO_DAY", 1020))
            ),
        ),
        carrier_services={"GROUND": ground, "TWO_DAY": two_day},
    )


def test_a_store_that_would_deliver_late_is_left_out_and_the_note_says_when() -> None:
    snapshot = _two_stores()
    order = Order("O", SHIP_TO, (OrderLine("L1", "SKU", 1, 1.0),), promised_date=date(2026, 12, 8))
    levels = StockLevels(["SKU", "SKU"], ["ST-003", "DC-001"], [5, 5])
    plain = decide_from_levels(order.__class__("O", SHIP_TO, order.lines), snapshot, ["SKU"], levels)
    assert [a.node_id for a in plain.allocations] == ["ST-003"], "by cost alone the store ships"
    decision = decide_from_levels(order, snapshot, ["SKU"], levels, at=CHICAGO_AT_1430)
    assert [a.node_id for a in decision.allocations] == ["DC-001"]
    (shipment,) = decision.cost.shipments
    assert (shipment.carrier_service, date.fromordinal(shipment.ship_day), date.fromordinal(shipment.delivery_day)) == (
        "GROUND", date(2026, 12, 4), date(2026, 12, 8),
    )  # fmt: skip
    note = next(n for n in decision.node_notes if n.node_id == "ST-003")
    assert note.verdict is NodeVerdict.LATE
    assert note.detail == "would deliver Wed 9 Dec, after the promised Tue 8 Dec"
    # The general path says the same.
    general = decide(order, snapshot, Availability.from_levels(snapshot, ["SKU"], levels), at=CHICAGO_AT_1430)
    assert general.node_notes == decision.node_notes and general.cost == decision.cost


def test_a_named_carrier_service_rules_out_nodes_without_it_and_prices_by_it() -> None:
    snapshot = _two_stores()
    order = Order("O", SHIP_TO, (OrderLine("L1", "SKU", 1, 1.0),), carrier_service="TWO_DAY")
    levels = StockLevels(["SKU"], ["ST-003"], [5])
    decision = decide_from_levels(order, snapshot, ["SKU"], levels, at=CHICAGO_AT_1430)
    assert decision.allocations == () and decision.unfilled[0].reason.startswith("ST-003 does not ship by TWO_DAY")
    levels = StockLevels(["SKU", "SKU"], ["ST-003", "DC-001"], [5, 5])
    decision = decide_from_levels(order, snapshot, ["SKU"], levels, at=CHICAGO_AT_1430)
    (shipment,) = decision.cost.shipments
    assert shipment.carrier_service == "TWO_DAY" and shipment.node_id == "DC-001"
    assert shipment.carrier_base == pytest.approx(STANDARD_RATES.base[shipment.zone - 1] + 4.0)  # TWO_DAY's chart


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_cases())
def test_earliest_delivery_matches_exhaustive_search_day_by_day(drawn: tuple[Case, int]) -> None:
    """EARLIEST_DELIVERY: the first day D whose cheapest plan (every shipment by D) ships as many
    units as the cheapest plan overall; that plan's cost. Exhaustive search per day."""
    case, at = drawn
    case = replace(case, directives=Directives())  # trial dates are strict: no lateness allowed by rules here
    order = replace(case.order, objective=ObjectiveMode.EARLIEST_DELIVERY)
    skus = sorted({line.sku for line in order.lines})
    decision = decide_from_levels(order, case.snapshot, skus, case.levels, case.directives, GENEROUS, at=at)
    cost, fills = exhaustive(case, at)
    assume(len(fills) == 1)  # cheapest plans shipping different amounts: "as many" is ambiguous
    (shipped,) = fills
    if cost == float("inf") or shipped == 0:
        return
    day = datetime.fromtimestamp(at, UTC).date() - timedelta(days=1)
    while True:
        promised = day if case.order.promised_date is None else min(day, case.order.promised_date)
        cost_by, fills_by = exhaustive(replace(case, order=replace(case.order, promised_date=promised)), at)
        if cost_by < float("inf") and max(fills_by) >= shipped:
            assume(min(fills_by) >= shipped)
            break
        day += timedelta(days=1)
    assert decision.cost.total == pytest.approx(cost_by, abs=1e-6)
    assert sum(a.qty for a in decision.allocations) >= shipped
    assert date.fromordinal(decision.cost.delivery_day) <= day


def test_earliest_delivery_pays_for_the_faster_node() -> None:
    snapshot = _two_stores()
    order = Order("O", SHIP_TO, (OrderLine("L1", "SKU", 1, 1.0),), objective=ObjectiveMode.EARLIEST_DELIVERY)
    levels = StockLevels(["SKU", "SKU"], ["ST-003", "DC-001"], [5, 5])
    decision = decide_from_levels(order, snapshot, ["SKU"], levels, at=CHICAGO_AT_1430)
    assert [(s.node_id, s.carrier_service) for s in decision.cost.shipments] == [("DC-001", "GROUND")]
    assert date.fromordinal(decision.cost.delivery_day) == date(2026, 12, 8)
    note = next(n for n in decision.node_notes if n.node_id == "ST-003")
    assert note.detail == "would deliver Wed 9 Dec, after Tue 8 Dec (the order's earliest)"
    # Without the instant it is decided by cost: the store.
    assert [a.node_id for a in decide_from_levels(order, snapshot, ["SKU"], levels).allocations] == ["ST-003"]


def test_a_rule_allowing_lateness_prices_the_late_node_per_day_late() -> None:
    snapshot = _two_stores()
    order = Order("O", SHIP_TO, (OrderLine("L1", "SKU", 1, 1.0),), promised_date=date(2026, 12, 8))
    levels = StockLevels(["SKU", "SKU"], ["ST-003", "DC-001"], [5, 5])
    cheap = Directives(late_penalty_per_day=0.25)  # a day late costs less than the DC's longer haul
    decision = decide_from_levels(order, snapshot, ["SKU"], levels, cheap, at=CHICAGO_AT_1430)
    (shipment,) = decision.cost.shipments
    assert (shipment.node_id, date.fromordinal(shipment.delivery_day)) == ("ST-003", date(2026, 12, 9))
    assert shipment.rule_penalty == pytest.approx(0.25)  # one day late
    dear = Directives(late_penalty_per_day=5.0)
    decision = decide_from_levels(order, snapshot, ["SKU"], levels, dear, at=CHICAGO_AT_1430)
    assert [s.node_id for s in decision.cost.shipments] == ["DC-001"]


# --- regression: carrier services that cross, chosen per shipment -------------------------------------------------

MONDAY_1000_UTC = epoch_seconds(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))


def _crossing_network() -> NetworkSnapshot:
    """DEN (Denver, ~920 miles: zone 5) ships GROUND (4 days) and TWO_DAY; MKE (Milwaukee, ~80 miles:
    zone 2, GROUND 1 day) holds only the heavy SKU. Nodes on UTC, open every weekday until 23:59."""
    ground = CarrierService("GROUND", "C", "STANDARD", _chart((1, 1, 2, 2, 4, 4, 5, 5), 0.0, 1.0))
    two_day = CarrierService("TWO_DAY", "C", "EXPRESS", _chart((2,) * 8, 4.0, 1.5))
    den = Node("DEN", NodeType.DC, GeoPoint(39.74, -104.99), 0.0, 0.0)
    mke = Node("MKE", NodeType.DC, GeoPoint(43.04, -87.91), 0.0, 0.0)
    both = (Cutoff("GROUND", 1439), Cutoff("TWO_DAY", 1439))
    return NetworkSnapshot(
        (den, mke),
        node_schedules=(
            NodeSchedule("DEN", "UTC", WEEKDAYS, cutoffs=both),
            NodeSchedule("MKE", "UTC", WEEKDAYS, cutoffs=both),
        ),
        carrier_services={"GROUND": ground, "TWO_DAY": two_day},
    )


def test_each_shipment_takes_the_service_cheapest_for_what_it_carries() -> None:
    """The crossing the lateness penalty makes (docs/promise.md): promised Wed 2 Dec, DEN's GROUND
    arrives Fri 4 Dec, 2 days late at 4.00 a day: 7.80 + 8.00 + 0.80/lb against TWO_DAY's on-time
    11.80 + 1.20/lb; GROUND is cheaper above 10 lb. For the whole 12.2 lb order DEN would ship by
    GROUND (25.56 alone). Per shipment, the 12 lb line goes from MKE by GROUND (5.50 + 0.35 x 12 =
    9.70) and the 0.2 lb line from DEN by TWO_DAY (11.80 + 0.24 = 12.04): 24.74 with the 3.00 split.
    Choosing DEN's service for the order's whole weight, that split costs 9.70 + 15.96 + 3.00 =
    28.66, so a decision choosing per node took 25.56."""
    snapshot = _crossing_network()
    order = Order(
        "O",
        SHIP_TO,
        (OrderLine("HEAVY", "H", 1, 12.0), OrderLine("LIGHT", "L", 1, 0.2)),
        promised_date=date(2026, 12, 2),
    )
    levels = StockLevels(["H", "L", "H"], ["DEN", "DEN", "MKE"], [1, 1, 1])
    directives = Directives(late_penalty_per_day=4.0)
    case = Case(order, snapshot, levels, directives)
    for decision in (
        decide_from_levels(order, snapshot, ["H", "L"], levels, directives, at=MONDAY_1000_UTC),  # small path
        decide(order, snapshot, _availability(case), directives, GENEROUS, at=MONDAY_1000_UTC),  # general path
    ):
        assert decision.cost.total == pytest.approx(24.74, abs=1e-9)
        shipped = {(s.node_id, s.carrier_service, s.rule_penalty) for s in decision.cost.shipments}
        assert shipped == {("MKE", "GROUND", 0.0), ("DEN", "TWO_DAY", 0.0)}
        assert date.fromordinal(decision.cost.delivery_day) == date(2026, 12, 2)
    assert exhaustive_cost(case, MONDAY_1000_UTC) == pytest.approx(24.74, abs=1e-9)
    # Alone, DEN ships both lines by the late GROUND, as the whole order's weight makes it cheapest.
    alone = replace(order, max_shipments=1)
    decision = decide_from_levels(alone, snapshot, ["H", "L"], levels, directives, at=MONDAY_1000_UTC)
    ((shipment),) = decision.cost.shipments
    assert (shipment.node_id, shipment.carrier_service, decision.cost.total) == ("DEN", "GROUND", pytest.approx(25.56))
    assert shipment.rule_penalty == pytest.approx(8.0)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_cases(max_nodes=4, max_lines=3, max_qty=3))
def test_without_the_exact_priced_model_the_answer_fits_and_its_bound_is_true(drawn: tuple[Case, int]) -> None:
    """An order too large for the exact priced model (30 lines over 2,000 nodes) is decided at
    prices from below: a plan that fits, priced truly, with a bound no higher than the optimum,
    never an empty plan with no bound. Forced here on small orders by a model limit of 0."""
    case, at = drawn
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(priced_milp, "MAX_UNITS", 0)
        decision = decide(case.order, case.snapshot, _availability(case), case.directives, GENEROUS, at=at)
    optimum = exhaustive_cost(case, at)
    assert decision.cost.total >= optimum - 1e-6  # a real plan, priced as checkout quotes its boxes
    assert math.isfinite(decision.bound) and decision.bound <= optimum + 1e-6
    assert decision.bound <= decision.cost.total + 1e-6
    if decision.status is SolveStatus.OPTIMAL:
        assert decision.cost.total == pytest.approx(optimum, abs=1e-6)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_cases(max_nodes=4, max_lines=3, max_qty=3), st.randoms(use_true_random=False))
def test_prices_from_below_are_never_above_the_true_price_of_any_plan(drawn: tuple[Case, int], rng: Random) -> None:
    """What makes the bound above true: at the linear prices from below, every plan (feasible or
    not, drawn at random) costs at most what it truly costs."""
    case, at = drawn
    seen: list[Problem] = []
    priced = search._priced

    def spy(problem: Problem, settings: search.SolverSettings, deadline: Deadline) -> Solution:
        seen.append(problem)
        return priced(problem, settings, deadline)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search, "_priced", spy)
        decide(case.order, case.snapshot, _availability(case), case.directives, GENEROUS, at=at)
    for problem in seen:  # none for an order whose carrier prices are linear (about 3 in 4 drawn)
        below = replace(search._priced_from_below(problem), pricing=None)
        for _ in range(20):
            x = np.array(
                [
                    [rng.randint(0, int(q)) if ok else 0 for ok in row]
                    for q, row in zip(problem.qty, problem.allowed, strict=True)
                ],
                dtype=np.int64,
            ).reshape(problem.n_lines, problem.n_nodes)
            assert Plan(x).objective(below) <= Plan(x).objective(problem) + 1e-9


FILTERED = [HealthCheck.too_slow, HealthCheck.filter_too_much]  # most drawn orders are priced linearly


def _priced_calls(case: Case, at: int, patch: pytest.MonkeyPatch) -> tuple[list[Problem], list[int], Decision]:
    """Decide ``case``, recording each problem the priced path saw and each exact model it built."""
    seen: list[Problem] = []
    built: list[int] = []
    priced, exact = search._priced, priced_milp.solve_priced_milp

    def spy(problem: Problem, settings: search.SolverSettings, deadline: Deadline) -> Solution:
        seen.append(problem)
        return priced(problem, settings, deadline)

    def exact_spy(problem: Problem, time_limit_ms: int, backend: str, force: int | None = None) -> MilpResult:
        built.append(problem.n_nodes)
        return exact(problem, time_limit_ms, backend, force)

    patch.setattr(search, "_priced", spy)
    patch.setattr(search, "solve_priced_milp", exact_spy)
    decision = decide(case.order, case.snapshot, _availability(case), case.directives, GENEROUS, at=at)
    return seen, built, decision


@settings(max_examples=examples(150), deadline=None, suppress_health_check=FILTERED)
@given(promise_cases(max_nodes=4, max_lines=3, max_qty=3))
def test_a_plan_from_below_proven_at_its_true_price_is_the_answer_without_the_exact_model(
    drawn: tuple[Case, int],
) -> None:
    """When the plan decided at prices from below costs, priced truly, no more than their proven
    bound, it is optimal: the exact model is not built, and the answer matches exhaustive search."""
    case, at = drawn
    with pytest.MonkeyPatch.context() as patch:
        seen, built, decision = _priced_calls(case, at, patch)
    assume(seen)  # only orders whose carrier prices are not linear take the priced path
    (problem,) = seen
    below = replace(search._priced_from_below(problem), pricing=None)
    first = search.optimize(below, GENEROUS)
    proven = first.plan.objective(problem) <= max(0.0, first.bound) + search.COST_EPSILON
    assert decision.status is SolveStatus.OPTIMAL
    assert decision.cost.total == pytest.approx(exhaustive_cost(case, at), abs=1e-6)
    assert (not built) if proven else built


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(promise_cases(max_nodes=4, max_lines=3, max_qty=3))
def test_an_exact_model_that_cannot_be_built_in_half_the_time_left_is_not_started(drawn: tuple[Case, int]) -> None:
    """Its build is Python, which no solver time limit bounds: when it would take more than half of
    what is left, the decision keeps the plan from below (fitting, priced truly, a true bound)."""
    case, at = drawn
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(priced_milp, "BUILD_US_PER_UNIT", 1e12)  # nothing builds in a minute
        _, built, decision = _priced_calls(case, at, patch)
    assert not built
    optimum = exhaustive_cost(case, at)
    assert decision.cost.total >= optimum - 1e-6
    assert math.isfinite(decision.bound) and decision.bound <= optimum + 1e-6
    if decision.status is SolveStatus.OPTIMAL:
        assert decision.cost.total == pytest.approx(optimum, abs=1e-6)


@settings(max_examples=examples(50), deadline=None, suppress_health_check=FILTERED)
@given(promise_cases(max_nodes=4, max_lines=3, max_qty=3))
def test_the_exact_model_stops_building_when_its_time_is_up(drawn: tuple[Case, int]) -> None:
    """Given no time, the exact model returns no plan and no bound rather than building and solving
    past the caller's deadline."""
    case, at = drawn
    with pytest.MonkeyPatch.context() as patch:
        seen, _, _ = _priced_calls(case, at, patch)
    assume(seen)
    result = priced_milp.solve_priced_milp(seen[0], 0, "CBC")
    assert result.plan is None and result.bound == -np.inf
