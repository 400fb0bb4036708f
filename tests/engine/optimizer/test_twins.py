"""Twins (engine/optimizer/twins.py): interchangeable nodes searched once, proven against exhaustive
search on small networks built of copies, some of them differing in one way that makes them NOT
twins (a unit of stock, a cost, a capacity, a mile that changes the zone, a closed door)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.availability import Availability
from engine.decision import SolveStatus
from engine.directives import NO_DIRECTIVES
from engine.model import GeoPoint, InventoryPosition, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.optimizer.enumeration import best_by_enumeration, enumerable
from engine.optimizer.milp import solve_milp
from engine.optimizer.plan import Plan, is_feasible
from engine.optimizer.subset_search import best_by_search, searchable
from engine.optimizer.twins import TwinColumns, twin_groups
from engine.problem import Problem, build_problem
from engine.sourcing import decide
from engine.terms import resolve_terms
from tests.engine.brute_force import optimal_cost
from tests.engine.strategies import SHIP_TO, Case
from tests.fuzz import examples

# Zone limits are 50/150/300 miles: 0.7 degrees of latitude (~48 miles) from 40.0 sits in zone 1,
# and a copy moved to 40.8 (~55 miles) is in zone 2.
_DIFFERENCES = ("none", "none", "none", "stock", "pick_pack", "handling", "capacity", "zone", "closed")


@st.composite
def twin_cases(draw: st.DrawFn, max_nodes: int = 4) -> Case:
    """1-3 sites, each with 1-3 copies of one node (same place, costs and stock), until ``max_nodes``;
    a copy differs from its site's first node in one way drawn from _DIFFERENCES."""
    skus = [f"S{k}" for k in range(draw(st.integers(1, 2)))]
    nodes: list[Node] = []
    stock: dict[tuple[str, str], int] = {}
    while len(nodes) < max_nodes and (not nodes or draw(st.booleans())):
        site = len(nodes)
        lat = SHIP_TO.lat + draw(st.sampled_from([0.3, 0.7, 2.0, 5.0]))
        pick_pack = draw(st.sampled_from([0.0, 1.2, 3.5]))
        handling = draw(st.sampled_from([0.2, 0.75]))
        units = {sku: draw(st.integers(0, 2)) for sku in skus}
        for copy in range(min(draw(st.integers(1, 3)), max_nodes - len(nodes))):
            differ = draw(st.sampled_from(_DIFFERENCES)) if copy else "none"
            node_id = f"N{len(nodes)}"
            nodes.append(
                Node(
                    id=node_id,
                    type=NodeType.STORE,
                    location=GeoPoint(lat + (0.1 if differ == "zone" and lat < 40.8 else 0.0), SHIP_TO.lon),
                    pick_pack_cost=pick_pack + (0.5 if differ == "pick_pack" else 0.0),
                    unit_handling_cost=handling + (0.05 if differ == "handling" else 0.0),
                    max_units=draw(st.integers(1, 3)) if differ == "capacity" else None,
                    is_open=differ != "closed",
                )
            )
            for sku in skus:
                stock[node_id, sku] = units[sku] + (1 if differ == "stock" and sku == skus[0] else 0)
        del site
    n_lines = draw(st.integers(1, 3))
    lines = tuple(
        OrderLine(f"L{i}", draw(st.sampled_from(skus)), draw(st.integers(1, 2)), draw(st.sampled_from([0.5, 12.0])))
        for i in range(n_lines)
    )
    order = Order(
        order_id="O",
        ship_to=SHIP_TO,
        lines=lines,
        max_shipments=draw(st.one_of(st.none(), st.none(), st.integers(1, 2))),
        split_penalty=draw(st.sampled_from([0.0, 3.0])),
        backorder_penalty=draw(st.sampled_from([8.0, 100.0])),
    )
    snapshot = NetworkSnapshot(tuple(nodes))
    positions = [InventoryPosition(n, sku, on_hand=units) for (n, sku), units in stock.items()]
    return Case(order, snapshot, Availability.from_positions(snapshot, skus, positions), NO_DIRECTIVES)


def _problem(case: Case) -> Problem:
    terms = resolve_terms(case.order, case.directives, case.snapshot)
    return build_problem(case.order, case.snapshot, case.availability, case.directives, terms)


def _best(case: Case) -> float:
    return optimal_cost(case.order, case.snapshot, case.availability, case.directives)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(twin_cases())
def test_groups_hold_only_interchangeable_columns(case: Case) -> None:
    problem = _problem(case)
    cols = np.arange(problem.n_nodes)
    group = twin_groups(problem, cols)
    for j in range(problem.n_nodes):
        g = int(group[j])
        assert g <= j and group[g] == g, "a group is named by its first column"
        if g == j:
            continue
        assert problem.fixed[g] == problem.fixed[j]
        assert (problem.allowed[:, g] == problem.allowed[:, j]).all()
        assert (problem.unit[problem.allowed[:, g], g] == problem.unit[problem.allowed[:, j], j]).all()
        assert (problem.avail[:, g] == problem.avail[:, j]).all()
        assert min(problem.max_units[g], problem.max_units[j]) >= problem.qty.sum(), "no capacity can bind"


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(twin_cases())
def test_decisions_match_exhaustive_search(case: Case) -> None:
    decision = decide(case.order, case.snapshot, case.availability, case.directives)
    assert decision.status is SolveStatus.OPTIMAL
    assert decision.cost.total == pytest.approx(_best(case), abs=1e-6)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(twin_cases())
def test_every_exact_path_over_twins_matches_exhaustive_search(case: Case) -> None:
    """The model with a column per group, subset enumeration and the subset search, each alone over
    every candidate: the optimum of exhaustive search, with a feasible plan."""
    problem = _problem(case)
    if problem.n_nodes == 0:
        return
    best = _best(case)
    cols = np.arange(problem.n_nodes)
    result = solve_milp(problem, cols, time_limit_ms=10_000)
    assert result.plan is not None and result.status is SolveStatus.OPTIMAL
    assert is_feasible(problem, result.plan)
    assert result.plan.objective(problem) == pytest.approx(best, abs=1e-6)
    size = min(problem.terms.max_shipments or problem.n_nodes, problem.n_nodes)
    if enumerable(problem, cols, size):
        plan = best_by_enumeration(problem, cols, size)
        assert is_feasible(problem, plan) and plan.objective(problem) == pytest.approx(best, abs=1e-6)
        if searchable(problem, cols):
            found, proven = best_by_search(problem, cols, size, Plan.empty(problem))
            assert proven and is_feasible(problem, found)
            assert found.objective(problem) == pytest.approx(best, abs=1e-6)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(twin_cases(max_nodes=5))
def test_a_plan_folded_onto_groups_and_unfolded_costs_the_same(case: Case) -> None:
    """Any feasible plan, its units summed per group and handed out again first twin first, is
    feasible and uses no more twins of any group: it costs no more."""
    problem = _problem(case)
    if problem.n_nodes == 0:
        return
    cols = np.arange(problem.n_nodes)
    twins = TwinColumns(problem, cols)
    size = min(problem.terms.max_shipments or problem.n_nodes, problem.n_nodes)
    plan = best_by_enumeration(problem, cols, size) if enumerable(problem, cols, size) else Plan.empty(problem)
    folded, used = twins.fold(plan.x)
    again = Plan(twins.unfold(folded))
    assert is_feasible(problem, again)
    assert (twins.fold(again.x)[1] <= used).all()
    assert again.objective(problem) <= plan.objective(problem) + 1e-9


def test_copies_of_a_node_ship_together_when_one_holds_too_little() -> None:
    """Three stores in one mall, one unit each, an order for three: all three ship (the model counts
    them, then gives each its own unit); a fourth copy with a unit more is not a twin and is best."""
    mall = [
        Node(f"M{i}", NodeType.STORE, GeoPoint(40.3, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.2)
        for i in range(3)
    ]
    snapshot = NetworkSnapshot(tuple(mall))
    order = Order("O", SHIP_TO, (OrderLine("L", "S", 3, 1.0),), split_penalty=0.0)
    availability = Availability(("S",), np.array([[1, 1, 1]]))
    terms = resolve_terms(order, NO_DIRECTIVES, snapshot)
    problem = build_problem(order, snapshot, availability, NO_DIRECTIVES, terms)
    assert twin_groups(problem, np.arange(3)).tolist() == [0, 0, 0]
    result = solve_milp(problem, np.arange(3), time_limit_ms=10_000)
    assert result.plan is not None and result.plan.x.tolist() == [[1, 1, 1]]
    found, proven = best_by_search(problem, np.arange(3), 3, Plan.empty(problem))
    assert proven and found.x.tolist() == [[1, 1, 1]]
    assert best_by_enumeration(problem, np.arange(3), 3).x.tolist() == [[1, 1, 1]]
    bigger = NetworkSnapshot(
        (*mall, Node("M3", NodeType.STORE, GeoPoint(40.3, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.2))
    )
    availability = Availability(("S",), np.array([[1, 1, 1, 3]]))
    problem = build_problem(order, bigger, availability, NO_DIRECTIVES, terms)
    assert twin_groups(problem, np.arange(4)).tolist() == [0, 0, 0, 3]
    decision = decide(order, bigger, availability)
    assert [(a.node_id, a.qty) for a in decision.allocations] == [("M3", 3)]
