"""The optimizer against exhaustive search, and the invariants every decision keeps."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.availability import Availability
from engine.cost import plan_cost
from engine.decision import Decision, SolveStatus
from engine.directives import Directives
from engine.model import GeoPoint, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.optimizer.enumeration import best_by_enumeration, enumerable
from engine.optimizer.milp import solve_milp
from engine.optimizer.plan import is_feasible
from engine.optimizer.search import SolverSettings, optimize
from engine.problem import build_problem
from engine.sourcing import decide
from engine.terms import resolve_terms
from tests.engine.brute_force import optimal_cost
from tests.engine.strategies import Case, tiny_cases
from tests.fuzz import examples


def check_invariants(case: Case, decision: Decision) -> None:
    order, snapshot = case.order, case.snapshot
    terms = resolve_terms(order, case.directives, snapshot)
    ordered = {line.line_id: line.qty for line in order.lines}
    per_line: dict[str, int] = defaultdict(int)
    per_sku_node: dict[tuple[str, str], int] = defaultdict(int)
    for a in decision.allocations:
        assert a.qty > 0
        per_line[a.line_id] += a.qty
        per_sku_node[a.sku, a.node_id] += a.qty
    for line_id, qty in per_line.items():
        assert qty <= ordered[line_id], "never more than ordered"
    for (sku, node_id), qty in per_sku_node.items():
        assert qty <= case.availability.for_sku(sku)[snapshot.index[node_id]], "never more than available"
    excluded = {i for e in case.directives.exclusions for i in e.node_ids}
    used = {a.node_id for a in decision.allocations}
    assert not used & excluded, "excluded nodes unused"
    if terms.max_shipments is not None:
        assert len(used) <= terms.max_shipments, "shipments within the limit"
    if terms.all_or_nothing:
        assert sum(per_line.values()) in (0, order.units)
    recomputed = plan_cost(order, decision.allocations, snapshot, terms)
    assert recomputed.total == pytest.approx(decision.cost.total, abs=1e-9), "reported cost equals a recomputation"
    unfilled = sum(u.qty for u in decision.unfilled)
    assert unfilled == order.units - sum(per_line.values())


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases())
def test_matches_exhaustive_search(case: Case) -> None:
    decision = decide(case.order, case.snapshot, case.availability, case.directives)
    check_invariants(case, decision)
    assert decision.status is SolveStatus.OPTIMAL
    best = optimal_cost(case.order, case.snapshot, case.availability, case.directives)
    assert decision.cost.total == pytest.approx(best, abs=1e-6)


@settings(max_examples=examples(50), deadline=None)
@given(tiny_cases(max_nodes=6, max_lines=6, max_qty=5))
def test_invariants_on_larger_cases(case: Case) -> None:
    check_invariants(case, decide(case.order, case.snapshot, case.availability, case.directives))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases())
def test_every_exact_path_matches_exhaustive_search_on_its_own(case: Case) -> None:
    """The solver model and subset enumeration, each run alone over every candidate (no fast path first)."""
    terms = resolve_terms(case.order, case.directives, case.snapshot)
    problem = build_problem(case.order, case.snapshot, case.availability, case.directives, terms)
    best = optimal_cost(case.order, case.snapshot, case.availability, case.directives)
    cols = np.arange(problem.n_nodes)
    if problem.n_nodes == 0:
        return
    result = solve_milp(problem, cols, time_limit_ms=10_000)
    assert result.plan is not None and result.status is SolveStatus.OPTIMAL
    assert result.plan.objective(problem) == pytest.approx(best, abs=1e-6)
    size = problem.terms.max_shipments or problem.n_nodes
    if enumerable(problem, cols, size):
        assert best_by_enumeration(problem, cols, size).objective(problem) == pytest.approx(best, abs=1e-6)


def test_all_or_nothing_ships_a_line_that_saves_nothing_alone_when_the_whole_order_pays() -> None:
    """Found by the search above: a heavy line costs more to ship than to backorder, so the best
    partial plan leaves it; all or nothing must still compare the whole order against nothing."""
    snapshot = NetworkSnapshot(
        (Node("N1", NodeType.DC, GeoPoint(40.0, -94.0), pick_pack_cost=0.0, unit_handling_cost=0.2),)
    )
    lines = (OrderLine("L0", "S0", 1, 12.0), OrderLine("L1", "S0", 2, 0.2))
    whole = Order("O", GeoPoint(40.0, -95.0), lines, all_or_nothing=True, split_penalty=0.0, backorder_penalty=4.0)
    availability = Availability(("S0",), np.array([[3]]))
    decision = decide(whole, snapshot, availability, Directives())
    assert [(a.line_id, a.qty) for a in decision.allocations] == [("L0", 1), ("L1", 2)] and not decision.unfilled
    assert decision.cost.total == pytest.approx(optimal_cost(whole, snapshot, availability, Directives()))
    assert decision.cost.total < 3 * 4.0, "cheaper than backordering all three units"


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases(), st.data())
def test_lines_kept_at_their_least_match_exhaustive_search(case: Case, data: st.DataObject) -> None:
    """A re-plan's "no line below its holds" (Problem.least): the optimum over the plans that keep
    every line's least, or, when none does, a plan the feasibility check refuses."""
    terms = resolve_terms(case.order, case.directives, case.snapshot)
    problem = build_problem(case.order, case.snapshot, case.availability, case.directives, terms)
    least = [data.draw(st.integers(0, line.qty)) for line in case.order.lines]
    keeping = replace(problem, least=np.array(least, dtype=np.int64))
    solution = optimize(keeping, SolverSettings(time_limit_ms=10_000))
    best = optimal_cost(case.order, case.snapshot, case.availability, case.directives, least)
    if best == float("inf"):
        assert not is_feasible(keeping, solution.plan)
        return
    assert is_feasible(keeping, solution.plan)
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.plan.objective(keeping) == pytest.approx(best, abs=1e-6)
    assert solution.bound <= best + 1e-6
