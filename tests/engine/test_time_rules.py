"""Rules about time in decisions (engine/promise/time_rules.py, docs/rules.md "Rules about time"):
a required carrier service or a maximum of transit days, a node closed for a date range, peak-day
cut-offs.

Exhaustive search on tiny instances (test_promise_sourcing's generator, with random rules about
time), dated by a day-by-day reference that checks every day's cut-off, against the engine; and
the words a node ruled out gets.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decision import NodeVerdict, SolveStatus
from engine.directives import Closure, CutoffChange, Directives, ShippingRule
from engine.model import Order, OrderLine
from engine.promise.model import CarrierService, NodeSchedule
from engine.small_orders import decide_small
from engine.sourcing import decide, decide_from_levels
from engine.terms import resolve_terms
from tests.engine.brute_force import feasible_plans
from tests.engine.promise.reference import _leaves, _wall, _works, reference_delivery
from tests.engine.test_promise_sourcing import (
    CHICAGO_AT_1430,
    SHIP_TO,
    _availability,
    _price,
    _two_stores,
    promise_cases,
)
from tests.engine.test_small_orders import GENEROUS, Case
from tests.fuzz import examples

SERVICES = ("GROUND", "TWO_DAY", "NEXT_DAY")


@st.composite
def timed_cases(draw: st.DrawFn, max_nodes: int = 3) -> tuple[Case, int]:
    """A promise case (or, sometimes, the same order without its promise) and random rules about time."""
    case, at = draw(promise_cases(max_nodes=max_nodes))
    if draw(st.integers(0, 3)) == 0:
        case = replace(case, order=replace(case.order, carrier_service="", promised_date=None))
    today = datetime.fromtimestamp(at, UTC).date().toordinal()
    node_ids = [n.id for n in case.snapshot.nodes]
    shipping = tuple(
        ShippingRule(
            f"ship{k}",
            frozenset(draw(st.lists(st.sampled_from(SERVICES), unique=True, max_size=2))),
            draw(st.sampled_from([None, 1, 2, 3])),
        )
        for k in range(draw(st.integers(0, 2)))
    )
    closures = tuple(
        Closure(f"close{k}", frozenset(draw(st.lists(st.sampled_from(node_ids), unique=True, min_size=1))), first, last)
        for k in range(draw(st.integers(0, 2)))
        for first in [today + draw(st.integers(-2, 5))]
        for last in [first + draw(st.integers(0, 4))]
    )
    cutoffs = tuple(
        CutoffChange(
            f"peak{k}",
            frozenset(draw(st.lists(st.sampled_from(node_ids), unique=True, min_size=1))),
            first,
            first + draw(st.integers(0, 3)),
            draw(st.sampled_from([0, 300, 720, 1200, 1439])),
            frozenset(draw(st.lists(st.sampled_from(SERVICES), unique=True, max_size=2))),
        )
        for k in range(draw(st.integers(0, 2)))
        for first in [today + draw(st.integers(-2, 1))]
    )
    directives = replace(case.directives, shipping_rules=shipping, closures=closures, cutoff_changes=cutoffs)
    return replace(case, directives=directives), at


def _cutoff_on(case: Case, schedule: NodeSchedule, service_id: str, day: date) -> int:
    """The cut-off in force on ``day``: the first (highest-priority) change covering it, else the schedule's."""
    for change in case.directives.cutoff_changes:
        covers = change.first_day <= day.toordinal() <= change.last_day and schedule.node_id in change.node_ids
        if covers and (not change.carrier_services or service_id in change.carrier_services):
            return change.minutes
    cutoff = schedule.cutoff_for(service_id)
    assert cutoff is not None
    return cutoff


def _ship_day(case: Case, schedule: NodeSchedule, service: CarrierService, at: int) -> date:
    """Day by day from the instant's local date: the first working day whose own cut-off is ahead."""
    zone = ZoneInfo(schedule.time_zone)
    day = datetime.fromtimestamp(at, UTC).astimezone(zone).date()
    while not (_works(schedule, day) and at < _wall(day, _cutoff_on(case, schedule, service.id, day), zone)):
        day += timedelta(days=1)
    return _leaves(schedule, service, day)


def _options(case: Case, at: int, node_id: str, distance: float, closures: bool = True) -> list[tuple[str, date, int]]:
    """(service, delivery date, days after the promise) of each option the promise and the rules leave."""
    order, snapshot, directives = case.order, case.snapshot, case.directives
    schedule = next(s for s in snapshot.node_schedules if s.node_id == node_id)
    allowed: set[str] = set(SERVICES)
    transit_max = None
    for rule in directives.shipping_rules:
        if rule.carrier_services:
            allowed &= rule.carrier_services
        if rule.max_transit_days is not None:
            transit_max = min(transit_max or rule.max_transit_days, rule.max_transit_days)
    constrained = bool(order.carrier_service) or order.promised_date is not None
    constrained = constrained or any(
        r.carrier_services or r.max_transit_days is not None for r in directives.shipping_rules
    )
    found = []
    for service in snapshot.carrier_services.values():
        if order.carrier_service and service.id != order.carrier_service:
            continue
        if not constrained and service.service_level != "STANDARD":
            continue
        if constrained and service.id not in allowed:
            continue
        if not schedule.offers(service.id) or not service.pickup_days & schedule.working_days:
            continue
        transit = service.zone(service.zone_of(distance)).transit_days
        if transit_max is not None and transit > transit_max:
            continue
        ship = _ship_day(case, schedule, service, at)
        closed = [
            c for c in directives.closures if node_id in c.node_ids and c.first_day <= ship.toordinal() <= c.last_day
        ]
        if closed and closures:
            continue
        delivery = reference_delivery(service, ship, transit)
        if order.promised_date is None or delivery <= order.promised_date:
            found.append((service.id, delivery, 0))
        elif directives.late_penalty_per_day is not None:
            found.append((service.id, delivery, (delivery - order.promised_date).days))
    return found


def _constrained(case: Case) -> bool:
    order, rules = case.order, case.directives.shipping_rules
    named = bool(order.carrier_service) or order.promised_date is not None
    return named or any(r.carrier_services or r.max_transit_days is not None for r in rules)


def exhaustive_cost(case: Case, at: int) -> float:
    """Every allocation; each shipment by its cheapest option left (priced as checkout quotes the box),
    or, for an order the rules do not constrain, at its level's rates when any option is left."""
    order, snapshot = case.order, case.snapshot
    availability = _availability(case)
    base_terms = resolve_terms(
        order, replace(case.directives, shipping_rules=(), closures=(), cutoff_changes=()), snapshot
    )
    best = float("inf")
    lines = {line.line_id: line for line in order.lines}
    penalty = case.directives.late_penalty_per_day or 0.0
    for allocations, plain in feasible_plans(order, snapshot, availability, base_terms):
        total = plain.split_penalty + plain.backorder_penalty
        prices = []  # per shipment, (carrier price, days late) of each option it may take
        for shipment in plain.shipments:
            options = _options(case, at, shipment.node_id, shipment.distance_miles)
            if not _constrained(case):  # the level's rates; out only when every option is closed
                if not options and _options(case, at, shipment.node_id, shipment.distance_miles, closures=False):
                    total = float("inf")
                    break
                total += shipment.total
                continue
            if not options:
                total = float("inf")
                break
            volume = sum(lines[a.line_id].unit_volume_in3 * a.qty for a in allocations if a.node_id == shipment.node_id)
            prices.append(
                [(_price(case, service_id, shipment.distance_miles, shipment.weight_lb, volume), late)
                 for service_id, _, late in options]
            )  # fmt: skip
            total += shipment.pick_pack + shipment.handling + shipment.rule_penalty
        if total < float("inf") and prices:
            # The order's lateness once, by its latest shipment, over every combination of options.
            total += min(
                sum(price for price, _ in combo) + penalty * max(late for _, late in combo)
                for combo in itertools.product(*prices)
            )
        best = min(best, total)
    return best


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timed_cases())
def test_rules_about_time_match_exhaustive_search(drawn: tuple[Case, int]) -> None:
    case, at = drawn
    decision = decide(case.order, case.snapshot, _availability(case), case.directives, GENEROUS, at=at)
    assert decision.status is SolveStatus.OPTIMAL
    assert decision.cost.total == pytest.approx(exhaustive_cost(case, at), abs=1e-6)
    for shipment in decision.cost.shipments:  # every shipment by an option the rules leave, dated so
        allowed = {s: d for s, d, _ in _options(case, at, shipment.node_id, shipment.distance_miles)}
        if shipment.carrier_service:
            assert date.fromordinal(shipment.delivery_day) == allowed[shipment.carrier_service]
    # The small-order path, when it decides, agrees.
    terms = resolve_terms(case.order, case.directives, case.snapshot, at)
    small = decide_small(case.order, case.snapshot, case.levels, case.directives, terms)
    if small is not None:
        assert small.cost.total == pytest.approx(decision.cost.total, abs=1e-9)
        if small.allocations == decision.allocations:
            assert small.node_notes == decision.node_notes and small.unfilled == decision.unfilled


# --- the words ------------------------------------------------------------------------------------------------

ORDER = Order("O", SHIP_TO, (OrderLine("L1", "SKU", 1, 1.0),))
BOTH = ("ST-003", "DC-001")


def _decide(directives: Directives, order: Order = ORDER, at: int = CHICAGO_AT_1430) -> tuple[object, ...]:
    from engine.availability import StockLevels

    levels = StockLevels(["SKU", "SKU"], list(BOTH), [5, 5])
    decision = decide_from_levels(order, _two_stores(), ["SKU"], levels, directives, at=at)
    notes = {n.node_id: n for n in decision.node_notes}
    return decision, notes


def test_a_required_service_rules_out_the_store_and_says_which_rule() -> None:
    decision, notes = _decide(Directives(shipping_rules=(ShippingRule("gold-two-day", frozenset({"TWO_DAY"})),)))
    assert [(s.node_id, s.carrier_service) for s in decision.cost.shipments] == [("DC-001", "TWO_DAY")]
    assert notes["ST-003"].verdict is NodeVerdict.LATE
    assert notes["ST-003"].detail == "does not ship by TWO_DAY (rule gold-two-day)"


def test_a_maximum_of_transit_days_picks_a_faster_service_or_node() -> None:
    # Chicago to Chicago is zone 1 by GROUND (1 day); the DC 250 miles away is zone 3 (2 days).
    decision, notes = _decide(Directives(shipping_rules=(ShippingRule("next-day-web", max_transit_days=1),)))
    assert [(s.node_id, s.carrier_service) for s in decision.cost.shipments] == [("ST-003", "GROUND")]
    far = Order("O", replace(SHIP_TO, lat=39.2, lon=-84.6), ORDER.lines)  # beside the DC: the store is 250 mi off
    decision, notes = _decide(Directives(shipping_rules=(ShippingRule("next-day-web", max_transit_days=1),)), far)
    assert [s.node_id for s in decision.cost.shipments] == ["DC-001"]
    assert notes["ST-003"].detail == "needs 2 transit days by GROUND, more than the 1 rule next-day-web allows"


def test_a_closed_node_ships_nothing_in_its_range_and_says_so() -> None:
    # The store ships Tuesday 8 Dec (two days to pack); closed 7-13 Dec: the DC ships instead.
    closed = Closure(
        "st-003-remodel",
        frozenset({"ST-003"}),
        date(2026, 12, 7).toordinal(),
        date(2026, 12, 13).toordinal(),
        "remodel",
    )
    decision, notes = _decide(Directives(closures=(closed,)))
    assert [s.node_id for s in decision.cost.shipments] == ["DC-001"]
    assert notes["ST-003"].verdict is NodeVerdict.LATE
    assert notes["ST-003"].detail == "is closed Mon 7 Dec-Sun 13 Dec (remodel; rule st-003-remodel)"
    # A closure the ship date misses changes nothing: the cheaper store ships.
    later = replace(closed, first_day=date(2026, 12, 9).toordinal())
    decision, _ = _decide(Directives(closures=(later,)))
    assert [s.node_id for s in decision.cost.shipments] == ["ST-003"]


def test_a_peak_cutoff_moves_the_ship_date_and_so_the_choice() -> None:
    # The DC's cut-offs are 17:00 New York; 14:30 Chicago is 15:30 there: it ships Friday and
    # delivers Tue 8 Dec. With a 12:00 peak cut-off on Friday it ships Monday, delivers Wed 9 Dec.
    order = replace(ORDER, promised_date=date(2026, 12, 8))
    friday = date(2026, 12, 4).toordinal()
    peak = CutoffChange("peak-week", frozenset({"DC-001"}), friday, friday + 3, 720)  # every service
    decision, notes = _decide(Directives(), order)
    assert [(s.node_id, date.fromordinal(s.delivery_day)) for s in decision.cost.shipments] == [
        ("DC-001", date(2026, 12, 8))
    ]
    decision, notes = _decide(Directives(cutoff_changes=(peak,)), order)
    assert decision.allocations == ()
    assert notes["DC-001"].detail == "would deliver Wed 9 Dec, after the promised Tue 8 Dec"
    # A later peak cut-off (20:00) keeps Friday's shipment on a day the usual 17:00 would miss.
    late_at = CHICAGO_AT_1430 + 3 * 3600  # 17:30 Chicago, 18:30 New York
    decision, _ = _decide(Directives(), order, late_at)
    assert decision.allocations == ()
    evening = replace(peak, minutes=20 * 60)
    decision, _ = _decide(Directives(cutoff_changes=(evening,)), order, late_at)
    assert [(s.node_id, date.fromordinal(s.ship_day)) for s in decision.cost.shipments] == [
        ("DC-001", date(2026, 12, 4))
    ]


def test_without_rules_about_time_nothing_changes() -> None:
    base, _ = _decide(Directives())
    again, _ = _decide(Directives(closures=(Closure("x", frozenset(), 0, 10**6),)))
    assert base.cost == again.cost and base.node_notes == again.node_notes
