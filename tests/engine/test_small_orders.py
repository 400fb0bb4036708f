"""The plain-Python path for small orders (engine/small_orders/) against the general engine.

Every order the small path takes must get the general path's decision: the same plan cost, status
and bound, and, when the two choose the same plan (they may differ only between plans of equal
cost), the same allocations, unfilled lines and node notes. Generated orders cover every directive
shape the rules can produce (exclusions and requirements for the order or for lines, penalties,
protections, limits, objectives, pickups) and networks with closed nodes, capacities and twins.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.availability import Availability, StockLevels
from engine.cost import plan_cost
from engine.decision import Decision, DecisionPath, SolveStatus
from engine.directives import Directives, Exclusion, Penalty, Protection, Requirement
from engine.model import DeliveryMethod, GeoPoint, Node, NodeType, ObjectiveMode, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.optimizer.search import SolverSettings
from engine.small_orders import SMALL_MAX_LINES, decide_small
from engine.sourcing import decide, decide_from_levels
from engine.terms import resolve_terms
from tests.engine.instances import load_instances

SHIP_TO = GeoPoint(41.88, -87.63)
GENEROUS = SolverSettings(time_limit_ms=60_000)  # this compares decisions; it does not time them


@dataclass(frozen=True)
class Case:
    order: Order
    snapshot: NetworkSnapshot
    levels: StockLevels
    directives: Directives


def _some(draw: st.DrawFn, values: list[str], max_size: int) -> frozenset[str]:
    return frozenset(draw(st.lists(st.sampled_from(values), min_size=1, max_size=max_size)))


@st.composite
def cases(draw: st.DrawFn, max_nodes: int = 9, max_lines: int = SMALL_MAX_LINES + 1) -> Case:
    nodes: list[Node] = []
    for i in range(draw(st.integers(1, max_nodes))):
        if nodes and draw(st.integers(0, 4)) == 0:  # a twin of an earlier node: same place, same prices
            twin = draw(st.sampled_from(nodes))
            nodes.append(
                Node(
                    id=f"N{i}",
                    type=twin.type,
                    location=twin.location,
                    pick_pack_cost=twin.pick_pack_cost,
                    unit_handling_cost=twin.unit_handling_cost,
                    max_units=twin.max_units,
                    can_pickup=twin.can_pickup,
                )
            )
            continue
        nodes.append(
            Node(
                id=f"N{i}",
                type=draw(st.sampled_from(list(NodeType))),
                location=GeoPoint(
                    SHIP_TO.lat + draw(st.floats(-12, 12, allow_nan=False)),
                    SHIP_TO.lon + draw(st.floats(-25, 25, allow_nan=False)),
                ),
                pick_pack_cost=draw(st.sampled_from([0.0, 1.2, 3.5, 4.8])),
                unit_handling_cost=draw(st.sampled_from([0.2, 0.3, 0.75])),
                max_units=draw(st.sampled_from([None, None, None, 0, 1, 3, 20])),
                max_shipments=draw(st.sampled_from([None, None, None, None, 0, 1])),
                can_ship=draw(st.sampled_from([True, True, True, False])),
                can_pickup=draw(st.booleans()),
                is_open=draw(st.sampled_from([True, True, True, True, False])),
                tags=frozenset(),
            )
        )
    node_ids = [n.id for n in nodes]
    skus = [f"S{k}" for k in range(draw(st.integers(1, 4)))]
    lines = tuple(
        OrderLine(
            f"L{i}",
            draw(st.sampled_from(skus)),
            draw(st.integers(1, 4)),
            draw(st.sampled_from([0.2, 1.5, 12.0, 40.0])),
        )
        for i in range(draw(st.integers(1, max_lines)))
    )
    line_ids = [line.line_id for line in lines]
    pickup = draw(st.integers(0, 5)) == 0
    order = Order(
        order_id="O",
        ship_to=SHIP_TO,
        lines=lines,
        service_level=draw(st.sampled_from(["STANDARD", "STANDARD", "EXPRESS"])),
        delivery_method=DeliveryMethod.PICKUP if pickup else DeliveryMethod.SHIP,
        pickup_node_id=draw(st.sampled_from(node_ids)) if pickup else "",
        max_shipments=draw(st.sampled_from([None, None, None, 1, 2, 3])),
        all_or_nothing=draw(st.integers(0, 4)) == 0,
        objective=draw(st.sampled_from([ObjectiveMode.COST] * 5 + [ObjectiveMode.FEWEST_SHIPMENTS])),
        split_penalty=draw(st.sampled_from([None, 0.0, 3.0, 10.0])),
        backorder_penalty=draw(st.sampled_from([None, 4.0, 25.0, 100.0])),
    )
    rows = [
        (sku, node_id, draw(st.sampled_from([0, 0, 1, 2, 3, 5, 9, -1])))
        for node_id in node_ids
        for sku in skus
        if draw(st.integers(0, 2))
    ]
    levels = StockLevels([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    n = st.integers(0, 2)
    exclusions = tuple(
        Exclusion(
            f"ex{j}",
            _some(draw, node_ids, 2),
            frozenset(draw(st.lists(st.sampled_from(line_ids), max_size=2))),
            draw(st.sampled_from(["", "hazmat"])),
        )
        for j in range(draw(n))
    )
    requirements = tuple(
        Requirement(
            f"req{j}", _some(draw, node_ids, 4), frozenset(draw(st.lists(st.sampled_from(line_ids), max_size=1)))
        )
        for j in range(draw(st.integers(0, 1)))
    )
    penalties = tuple(
        Penalty(
            f"pen{j}",
            _some(draw, node_ids, 3),
            per_unit=draw(st.sampled_from([-0.1, 0.0, 0.5, 2.0])),
            per_shipment=draw(st.sampled_from([0.0, 2.0, -1.0])),
            line_ids=frozenset(draw(st.lists(st.sampled_from(line_ids), max_size=1))),
        )
        for j in range(draw(n))
    )
    protections = tuple(
        Protection(
            f"prot{j}",
            _some(draw, node_ids, 3),
            draw(st.integers(1, 3)),
            frozenset(draw(st.lists(st.sampled_from(skus), max_size=1))),
        )
        for j in range(draw(n))
    )
    directives = Directives(
        exclusions=exclusions,
        requirements=requirements,
        penalties=penalties,
        protections=protections,
        max_shipments=draw(st.sampled_from([None, None, 1, 2])),
        all_or_nothing=draw(st.integers(0, 6)) == 0,
        objective=draw(st.sampled_from([None, None, None, ObjectiveMode.FEWEST_SHIPMENTS])),
        split_penalty=draw(st.sampled_from([None, 5.0])),
        backorder_penalty=draw(st.sampled_from([None, 12.0])),
        rule_set_version="v1",
        fired_rules=tuple(r.rule_id for r in (*exclusions, *requirements, *penalties, *protections)),
    )
    return Case(order, NetworkSnapshot(tuple(nodes)), levels, directives)


def _general(case: Case, explain: bool = True) -> Decision:
    skus = sorted({line.sku for line in case.order.lines})
    availability = Availability.from_levels(case.snapshot, skus, case.levels)
    return decide(case.order, case.snapshot, availability, case.directives, GENEROUS, explain=explain)


def _small(case: Case, explain: bool = True) -> Decision | None:
    terms = resolve_terms(case.order, case.directives, case.snapshot)
    return decide_small(case.order, case.snapshot, case.levels, case.directives, terms, explain=explain)


def assert_same(case: Case, small: Decision, general: Decision) -> None:
    assert small.status is general.status is SolveStatus.OPTIMAL
    assert small.cost.total == pytest.approx(general.cost.total, abs=1e-9)
    assert small.bound == pytest.approx(general.bound, abs=1e-9)
    assert small.gap == pytest.approx(general.gap, abs=1e-9)
    assert (small.rule_set_version, small.fired_rules, small.holds) == (
        general.rule_set_version,
        general.fired_rules,
        general.holds,
    )
    if small.allocations == general.allocations:
        # The same plan: everything said about it is the same.
        assert small.cost == general.cost
        assert small.unfilled == general.unfilled
        assert small.node_notes == general.node_notes
    else:  # two plans of the same cost (a tie): the small path's is priced as it says and within stock
        terms = resolve_terms(case.order, case.directives, case.snapshot)
        assert plan_cost(case.order, small.allocations, case.snapshot, terms) == small.cost
        held: dict[tuple[str, str], int] = {}
        for sku, node_id, units in zip(case.levels.skus, case.levels.node_ids, case.levels.units, strict=True):
            held[sku, node_id] = max(0, units)
        for a in small.allocations:
            held[a.sku, a.node_id] = held.get((a.sku, a.node_id), 0) - a.qty
        assert min(held.values(), default=0) >= 0
    # The fast paths before any search report as the general path does (after pruning, the two
    # may name the step that settled it differently: the general path prunes with a tighter bound).
    early = (DecisionPath.NOTHING_AVAILABLE, DecisionPath.SINGLE_NODE_BOUND, DecisionPath.SINGLE_NODE_ENUMERATION)
    if (general.path in early and general.candidates > 1) or small.path is DecisionPath.NOTHING_AVAILABLE:
        assert (small.path, small.candidates) == (general.path, general.candidates)


def test_a_greedy_plan_over_the_maximum_of_shipments_is_no_plan() -> None:
    """Found by the promise property test: 4 units held 1, 1 and 2 at three nodes, all or nothing,
    at most 2 shipments. No plan fills the order, so it is backordered whole; the small path's
    greedy start took all three nodes and, being cheaper than any allowed plan, was kept."""
    nodes = tuple(Node(f"N{i}", NodeType.DC, SHIP_TO, 0.0, 0.2) for i in range(3))
    order = Order("O", SHIP_TO, (OrderLine("L0", "S1", 4, unit_weight_lb=0.2),), all_or_nothing=True, max_shipments=2)
    case = Case(
        order,
        NetworkSnapshot(nodes),
        StockLevels(["S1"] * 3, ["N0", "N1", "N2"], [1, 1, 2]),
        Directives(),
    )
    small, general = _small(case), _general(case)
    assert small is not None and general.allocations == ()
    assert_same(case, small, general)


taken = {"small": 0, "general": 0, "same plan": 0}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_small_orders_get_the_general_paths_decision(case: Case) -> None:
    general = _general(case)
    small = _small(case)
    if small is None:
        taken["general"] += 1
        return
    taken["small"] += 1
    taken["same plan"] += small.allocations == general.allocations
    assert_same(case, small, general)
    # Without explanations: the same decision, notes left out.
    quiet = _small(case, explain=False)
    assert quiet is not None and quiet.node_notes == ()
    assert quiet.allocations == small.allocations and quiet.unfilled == small.unfilled
    # The front door the server calls takes the same decision.
    skus = sorted({line.sku for line in case.order.lines})
    door = decide_from_levels(case.order, case.snapshot, skus, case.levels, case.directives, GENEROUS)
    assert door == small


def test_the_generated_orders_exercise_the_small_path() -> None:
    """The property above is not vacuous: about half the generated orders take the small path, and nearly all
    of those get the very same plan (ties aside)."""
    taken.update({"small": 0, "general": 0, "same plan": 0})
    test_small_orders_get_the_general_paths_decision()
    assert taken["small"] >= 0.45 * (taken["small"] + taken["general"]), taken
    assert taken["general"] > 0, taken  # and some take the general path (too many lines, searches)
    assert taken["same plan"] >= 0.97 * taken["small"], taken


INSTANCES = load_instances()


@pytest.mark.parametrize("instance", INSTANCES, ids=[i.name for i in INSTANCES])
def test_reference_instances(instance: object) -> None:
    """The 150 reference instances: each the small path takes reaches its proven optimum and the
    general path's decision."""
    from benchmarks.instances import Instance

    assert isinstance(instance, Instance)
    availability = instance.availability
    rows = [
        (sku, node_id, int(units))
        for k, sku in enumerate(availability.skus)
        for node_id, units in zip(instance.snapshot.ids, availability.units[k].tolist(), strict=True)
        if units
    ]
    levels = StockLevels([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    case = Case(instance.order, instance.snapshot, levels, instance.directives)
    small = _small(case)
    if small is None:
        assert len(instance.order.lines) > SMALL_MAX_LINES or len(instance.snapshot) > 0
        return
    assert small.cost.total == pytest.approx(instance.optimal_cost, abs=0.005)
    assert_same(case, small, _general(case))
