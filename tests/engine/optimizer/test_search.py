"""Subset branch and bound, the rounding cuts and the whole-decision deadline, against exact references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from engine.availability import Availability
from engine.decision import SolveStatus
from engine.directives import NO_DIRECTIVES
from engine.model import GeoPoint, InventoryPosition, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.optimizer.deadline import Deadline
from engine.optimizer.enumeration import best_by_enumeration, enumerable
from engine.optimizer.greedy import greedy_plan
from engine.optimizer.milp import solve_lp, solve_milp
from engine.optimizer.plan import Plan, is_feasible
from engine.optimizer.search import SolverSettings, optimize
from engine.optimizer.subset_search import LpView, best_by_search, local_search, searchable
from engine.problem import Problem, build_problem
from engine.terms import resolve_terms
from tests.engine.instances import load_instances
from tests.engine.strategies import Case, tiny_cases
from tests.fuzz import examples


def _problem(case: Case) -> Problem:
    terms = resolve_terms(case.order, case.directives, case.snapshot)
    return build_problem(case.order, case.snapshot, case.availability, case.directives, terms)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases(max_nodes=7, max_lines=5, max_qty=5))
def test_subset_search_matches_enumeration(case: Case) -> None:
    """With and without the LP's bound, from the empty plan: the same optimum as trying every subset."""
    problem = _problem(case)
    cols = np.arange(problem.n_nodes)
    size = min(problem.terms.max_shipments or problem.n_nodes, problem.n_nodes)
    if problem.n_nodes == 0 or not searchable(problem, cols) or not enumerable(problem, cols, size):
        return
    best = best_by_enumeration(problem, cols, size).objective(problem)
    plan, proven = best_by_search(problem, cols, size, Plan.empty(problem))
    assert proven and is_feasible(problem, plan)
    assert plan.objective(problem) == pytest.approx(best, abs=1e-6)
    lp = solve_lp(problem, cols, 10_000)
    if lp is not None:
        assert lp.bound <= best + 1e-6
        view = LpView(lp.bound, lp.y, lp.reduced)
        plan, proven = best_by_search(problem, cols, size, Plan.empty(problem), view)
        assert proven and plan.objective(problem) == pytest.approx(best, abs=1e-6)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases(max_nodes=5, max_lines=4, max_qty=5))
def test_model_with_rounding_cuts_matches_enumeration(case: Case) -> None:
    """Quantities of 3+ against stock of 2-3 per node: the cuts fire, and neither the MIP's optimum
    nor the LP's bound may pass the exact optimum."""
    problem = _problem(case)
    cols = np.arange(problem.n_nodes)
    size = min(problem.terms.max_shipments or problem.n_nodes, problem.n_nodes)
    if problem.n_nodes == 0 or not enumerable(problem, cols, size):
        return
    best = best_by_enumeration(problem, cols, size).objective(problem)
    result = solve_milp(problem, cols, time_limit_ms=10_000)
    assert result.plan is not None and result.status is SolveStatus.OPTIMAL
    assert result.plan.objective(problem) == pytest.approx(best, abs=1e-6)
    lp = solve_lp(problem, cols, 10_000)
    if lp is not None:
        assert lp.bound <= best + 1e-6


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases(max_nodes=7, max_lines=5, max_qty=5))
def test_subset_search_out_of_time_keeps_the_best_so_far(case: Case) -> None:
    problem = _problem(case)
    cols = np.arange(problem.n_nodes)
    if problem.n_nodes == 0 or not searchable(problem, cols):
        return
    start = Plan.empty(problem)
    size = min(problem.terms.max_shipments or problem.n_nodes, problem.n_nodes)  # as search.py passes it
    plan, _ = best_by_search(problem, cols, size, start, out_of_time=lambda: True)
    assert is_feasible(problem, plan)
    assert plan.objective(problem) <= start.objective(problem) + 1e-9


def _distinct_sku_case(seed: int) -> Case:
    """Up to 9 nodes and 5 lines, one SKU per line (so subset search applies), 1-5 units against
    0-4 in stock: enough nodes that the search branches and prunes."""
    rng = np.random.default_rng(seed)
    ship_to = GeoPoint(40.0, -95.0)
    nodes = tuple(
        Node(
            id=f"N{i}",
            type=NodeType.DC,
            location=GeoPoint(40.0 + float(rng.uniform(-12, 12)), -95.0 + float(rng.uniform(-20, 20))),
            pick_pack_cost=float(rng.choice([0.0, 1.2, 3.5, 4.8])),
            unit_handling_cost=float(rng.choice([0.2, 0.3, 0.75])),
        )
        for i in range(int(rng.integers(3, 10)))
    )
    n_lines = int(rng.integers(1, 6))
    lines = tuple(
        OrderLine(f"L{i}", f"S{i}", int(rng.integers(1, 6)), float(rng.choice([0.2, 1.5, 12.0])))
        for i in range(n_lines)
    )
    order = Order(
        order_id="O",
        ship_to=ship_to,
        lines=lines,
        max_shipments=None if rng.random() < 0.7 else int(rng.integers(1, 4)),
        split_penalty=float(rng.choice([0.0, 3.0, 10.0])),
        backorder_penalty=float(rng.choice([4.0, 25.0, 100.0])),
    )
    snapshot = NetworkSnapshot(nodes)
    positions = [
        InventoryPosition(node.id, line.sku, on_hand=int(rng.integers(0, 5))) for node in nodes for line in lines
    ]
    availability = Availability.from_positions(snapshot, [line.sku for line in lines], positions)
    return Case(order, snapshot, availability, NO_DIRECTIVES)


@pytest.mark.parametrize("seed", range(300))
def test_subset_search_matches_enumeration_with_one_sku_per_line(seed: int) -> None:
    problem = _problem(_distinct_sku_case(seed))
    cols = np.arange(problem.n_nodes)
    size = min(problem.terms.max_shipments or problem.n_nodes, problem.n_nodes)
    if problem.n_nodes == 0:
        return
    assert searchable(problem, cols)
    best = best_by_enumeration(problem, cols, size).objective(problem)
    lp = solve_lp(problem, cols, 10_000)
    assert lp is not None and lp.bound <= best + 1e-6
    for view in (None, LpView(lp.bound, lp.y, lp.reduced)):
        plan, proven = best_by_search(problem, cols, size, Plan.empty(problem), view)
        assert proven and is_feasible(problem, plan)
        assert plan.objective(problem) == pytest.approx(best, abs=1e-6)
    result = solve_milp(problem, cols, time_limit_ms=10_000)
    assert result.plan is not None and result.plan.objective(problem) == pytest.approx(best, abs=1e-6)


INSTANCES = load_instances()


@pytest.mark.parametrize("instance", INSTANCES[::5], ids=[i.name for i in INSTANCES[::5]])
def test_a_passed_deadline_bounds_the_whole_optimization(instance: object) -> None:
    """Out of time from the start: optimize still answers with a feasible plan and a true bound."""
    from tests.engine.instances import Instance

    assert isinstance(instance, Instance)
    terms = resolve_terms(instance.order, instance.directives, instance.snapshot)
    problem = build_problem(instance.order, instance.snapshot, instance.availability, instance.directives, terms)
    solution = optimize(problem, SolverSettings(), Deadline(0.0))
    assert solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert is_feasible(problem, solution.plan)
    cost = solution.plan.objective(problem)
    assert solution.bound <= cost + 1e-6
    assert solution.bound <= instance.optimal_cost + 0.005
    assert cost >= instance.optimal_cost - 0.005
    if solution.status is SolveStatus.OPTIMAL:
        assert cost == pytest.approx(instance.optimal_cost, abs=0.005)


def _set_cost(problem: Problem, cols: np.ndarray, members: list[int]) -> float:
    """Cost of shipping from exactly the nodes cols[members], each line filled cheapest first."""
    terms = problem.terms
    bo = terms.backorder_penalty
    total = float(problem.fixed[cols[members]].sum()) + terms.split_penalty * max(0, len(members) - 1)
    for line in range(problem.n_lines):
        offers = sorted(
            (float(problem.unit[line, cols[m]]), int(problem.avail[problem.sku_row[line], cols[m]]))
            for m in members
            if problem.allowed[line, cols[m]]
        )
        left = int(problem.qty[line])
        for cost, units in offers:
            take = min(left, units) if cost < bo else 0
            total += take * cost
            left -= take
        total += left * bo
    return total


@pytest.mark.parametrize("seed", range(60))
def test_every_subtree_bound_is_below_every_set_in_the_subtree(seed: int) -> None:
    """The bounds themselves, against every superset they cover (so a wrong bound fails here even
    when the search happens to find the optimum before it could prune it)."""
    import itertools

    from engine.optimizer import subset_search as search

    problem = _problem(_distinct_sku_case(seed))
    cols = np.arange(problem.n_nodes)
    lines = search._lines(problem, cols)
    floors = search._Floors.of(lines)
    lp = solve_lp(problem, cols, 10_000)
    assert lp is not None
    lp_bound = search._LpBound.of((lp.bound, lp.reduced), np.arange(len(cols)))
    limit = problem.terms.max_shipments or problem.n_nodes
    rng = np.random.default_rng(seed)
    for _ in range(4):
        members = sorted(rng.choice(len(cols), size=int(rng.integers(0, 3)), replace=False).tolist())
        rest = np.arange(members[-1] + 1 if members else 0, len(cols))
        if rest.shape[0] == 0:
            continue
        cost_i, extended = search._extensions(lines, members, rest)
        assert cost_i == pytest.approx(_set_cost(problem, cols, members), abs=1e-9)
        for i, r in enumerate(rest.tolist()):
            assert extended[i] == pytest.approx(_set_cost(problem, cols, [*members, r]), abs=1e-9)
        gains = np.maximum(0.0, cost_i - extended)
        slots = 3
        combined = search._child_bounds(lp_bound, members, rest, extended, gains, slots)
        after = floors.children(members, rest)
        for i, r in enumerate(rest.tolist()):
            later = [int(p) for p in rest[i + 1 :]]
            for k in range(0, slots + 1):
                if len(members) + 1 + k > limit:  # beyond the order's limit: never searched, not in the LP
                    break
                for extra in itertools.combinations(later, k):
                    cost = _set_cost(problem, cols, [*members, r, *extra])
                    assert combined[i] <= cost + 1e-6
                    if extra:
                        assert after[i] <= cost + 1e-6


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases(max_nodes=7, max_lines=5, max_qty=5))
def test_local_search_only_ever_improves_and_never_passes_the_optimum(case: Case) -> None:
    """From the greedy plan: a feasible plan, no dearer than where it started, no cheaper than
    exhaustive enumeration; from the empty plan with room for every node it reaches the optimum
    whenever one node is all it takes."""
    problem = _problem(case)
    cols = np.arange(problem.n_nodes)
    size = min(problem.terms.max_shipments or problem.n_nodes, problem.n_nodes)
    if problem.n_nodes == 0 or not searchable(problem, cols) or not enumerable(problem, cols, size):
        return
    best = best_by_enumeration(problem, cols, size)
    start = greedy_plan(problem)
    found = local_search(problem, cols, start, size)
    assert is_feasible(problem, found)
    assert best.objective(problem) - 1e-6 <= found.objective(problem) <= start.objective(problem) + 1e-9
    if len(best.used()) <= 1:
        alone = local_search(problem, cols, Plan.empty(problem), size)
        assert alone.objective(problem) == pytest.approx(best.objective(problem), abs=1e-6)
