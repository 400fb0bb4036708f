"""Every node's carrier options at once (engine/promise/option_table.py) against the per-node path
(``ShipOptions.option`` / ``rates`` / ``late``), to the last bit: promises with and without a
named service, lateness allowed at a penalty, rules about time (services, transit, closures,
peak cut-offs), Alaska and Hawaii zoned apart or by distance, dimensional weight and surcharges.
The exhaustive tests (test_promise_sourcing, test_time_rules) then hold for the arrays too.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.geo import haversine_miles
from engine.network import NetworkSnapshot
from engine.problem import _promised_rates, _rates_by_node
from engine.promise.model import CarrierService, ZoneRate
from engine.promise.shipping import table_rates
from engine.terms import Terms, resolve_terms
from tests.engine.test_small_orders import Case
from tests.engine.test_time_rules import timed_cases
from tests.fuzz import examples

REGIONS = ("", "US-CONTIGUOUS", "US-AK", "US-HI", "US-PR")


@st.composite
def table_cases(draw: st.DrawFn) -> tuple[Case, int, str, int | None, frozenset[str]]:
    """A promise case over up to 12 nodes with rules about time, a ship-to region, often a tight
    promised date with lateness allowed, sometimes two services priced alike (ties) and a service
    zoning Alaska or Hawaii apart; sometimes an earliest-delivery trial day every box must arrive
    by, and a re-plan's held nodes (kept though late)."""
    case, at = draw(timed_cases(max_nodes=12))
    order = case.order
    if order.promised_date is not None:
        day = datetime.fromtimestamp(at, UTC).date() + timedelta(days=draw(st.integers(0, 3)))
        penalty = draw(st.sampled_from([None, 0.0, 0.5, 4.0]))
        directives = replace(case.directives, late_penalty_per_day=penalty)
        case = replace(case, order=replace(order, promised_date=day), directives=directives)
    services = dict(case.snapshot.carrier_services)
    if draw(st.booleans()):  # TWO_DAY priced as GROUND: options tie on price, delivery and id decide
        ground, two = services["GROUND"], services["TWO_DAY"]
        zones = tuple(replace(g, transit_days=t.transit_days) for g, t in zip(ground.zones, two.zones, strict=True))
        services["TWO_DAY"] = replace(ground, id="TWO_DAY", service_level="EXPRESS", zones=zones)
    for service_id in draw(st.lists(st.sampled_from(sorted(services)), unique=True, max_size=2)):
        offshore = draw(st.sampled_from(["AK", "HI"]))
        extra = ZoneRate(offshore, draw(st.integers(1, 6)), draw(st.sampled_from([9.0, 30.0])), 2.5)
        service: CarrierService = services[service_id]
        services[service_id] = replace(service, zones=(*service.zones, extra))
    old = case.snapshot
    snapshot = NetworkSnapshot(old.nodes, node_schedules=old.node_schedules, carrier_services=services)
    case = replace(case, snapshot=snapshot)
    trial = datetime.fromtimestamp(at, UTC).date() + timedelta(days=draw(st.integers(-1, 4)))
    arrive_by = draw(st.sampled_from([None, trial.toordinal()]))
    kept = frozenset(draw(st.lists(st.sampled_from(list(snapshot.ids)), unique=True, max_size=3)))
    return case, at, draw(st.sampled_from(REGIONS)), arrive_by, kept


def _terms(case: Case, at: int, region: str, arrive_by: int | None, kept: frozenset[str]) -> Terms:
    terms = resolve_terms(case.order, case.directives, case.snapshot, at, region, arrive_by)
    if terms.ship_options is not None:
        terms.ship_options.keep(kept)
    return terms


@settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_cases())
def test_the_option_table_answers_as_the_nodes_do_one_by_one(
    drawn: tuple[Case, int, str, int | None, frozenset[str]],
) -> None:
    case, at, region, arrive_by, kept = drawn
    snapshot = case.snapshot
    ids = list(snapshot.ids)
    miles = haversine_miles(case.order.ship_to.lat, case.order.ship_to.lon, snapshot.lat, snapshot.lon)
    by_node = _terms(case, at, region, arrive_by, kept).ship_options
    options = _terms(case, at, region, arrive_by, kept).ship_options
    assert by_node is not None and options is not None
    late = options.late_among(ids, miles)
    assert late.tolist() == [by_node.late(n, d) for n, d in zip(ids, miles.tolist(), strict=True)]
    if not options.constrained or options.per_line:
        return
    table = options.table(ids, miles)
    rates = table_rates(table, table.kept())
    for j, node_id in enumerate(ids):
        if not late[j] and not table.by_node[j]:
            assert rates[j] == by_node.rates(node_id, float(miles[j])), node_id


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_cases())
def test_the_problem_prices_candidates_from_the_table_as_node_by_node(
    drawn: tuple[Case, int, str, int | None, frozenset[str]],
) -> None:
    """Zone, per-shipment and per-unit costs, or each candidate's option rates when not linear."""
    case, at, region, arrive_by, kept = drawn
    terms = _terms(case, at, region, arrive_by, kept)
    options = terms.ship_options
    assert options is not None
    if not options.constrained or options.per_line:
        return
    snapshot = case.snapshot
    ids = list(snapshot.ids)
    miles = haversine_miles(case.order.ship_to.lat, case.order.ship_to.lon, snapshot.lat, snapshot.lon)
    nodes = np.flatnonzero(~options.late_among(ids, miles))
    distance = miles[nodes]
    lines = case.order.lines
    weight = np.array([line.unit_weight_lb for line in lines], dtype=np.float64)
    volume = np.array([line.unit_volume_in3 for line in lines], dtype=np.float64)
    fixed = snapshot.pick_pack[nodes].copy()
    unit = np.broadcast_to(snapshot.handling[nodes], (len(lines), nodes.shape[0])).copy()
    by_node = _terms(case, at, region, arrive_by, kept).ship_options
    assert by_node is not None
    expected = _rates_by_node(by_node, [ids[n] for n in nodes.tolist()], distance, weight, volume, fixed, unit)
    found = _promised_rates(snapshot, terms, nodes, distance, weight, volume, None)
    assert np.array_equal(found[0], expected[0])
    assert np.array_equal(found[1], expected[1])
    assert np.array_equal(found[2], expected[2])
    assert found[3] == expected[3]
