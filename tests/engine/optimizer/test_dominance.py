"""Dominance pruning: every node it drops is dominated by a node it keeps, and dropping never costs.

Line-level exclusions and requirements (a rule keeping hazmat lines away from stores, a drop-ship
line tied to its vendor) are drawn here on purpose: they take the bitset path with a line check.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.availability import Availability
from engine.directives import Directives, Exclusion, Requirement
from engine.model import GeoPoint, InventoryPosition, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.optimizer import dominance
from engine.optimizer.dominance import undominated
from engine.problem import Problem, build_problem
from engine.sourcing import decide
from engine.terms import resolve_terms
from tests.engine.brute_force import optimal_cost
from tests.engine.strategies import SHIP_TO, Case, tiny_cases
from tests.fuzz import examples


@st.composite
def crowded_cases(draw: st.DrawFn, max_nodes: int, max_lines: int, max_qty: int) -> Case:
    """Open nodes close together with plenty of stock: many of them dominate one another."""
    n_nodes = draw(st.integers(2, max_nodes))
    nodes = tuple(
        Node(
            id=f"N{i}",
            type=NodeType.DC,
            location=GeoPoint(SHIP_TO.lat + draw(st.sampled_from([0.5, 1.0, 8.0])), SHIP_TO.lon),
            pick_pack_cost=draw(st.sampled_from([1.0, 2.0])),
            unit_handling_cost=draw(st.sampled_from([0.2, 0.3])),
        )
        for i in range(n_nodes)
    )
    skus = [f"S{k}" for k in range(draw(st.integers(1, 2)))]
    lines = tuple(
        OrderLine(
            f"L{i}", draw(st.sampled_from(skus)), draw(st.integers(1, max_qty)), draw(st.sampled_from([0.2, 12.0]))
        )
        for i in range(draw(st.integers(1, max_lines)))
    )
    order = Order(order_id="O", ship_to=SHIP_TO, lines=lines, split_penalty=3.0, backorder_penalty=25.0)
    snapshot = NetworkSnapshot(nodes)
    positions = [InventoryPosition(n.id, sku, on_hand=draw(st.integers(0, 2 * max_qty))) for n in nodes for sku in skus]
    return Case(order, snapshot, Availability.from_positions(snapshot, skus, positions), Directives())


@st.composite
def cases_with_line_directives(draw: st.DrawFn, max_nodes: int = 5, max_lines: int = 4, max_qty: int = 3) -> Case:
    shapes = tiny_cases(max_nodes=max_nodes, max_lines=max_lines, max_qty=max_qty)
    case = draw(st.one_of(shapes, crowded_cases(max_nodes, max_lines, max_qty)))
    node_ids = [n.id for n in case.snapshot.nodes]
    line_ids = [line.line_id for line in case.order.lines]
    subset = st.sets(st.sampled_from(node_ids), min_size=1, max_size=3).map(frozenset)
    lines = st.sets(st.sampled_from(line_ids), min_size=1, max_size=2).map(frozenset)
    exclusions = tuple(Exclusion("line-exclude", draw(subset), draw(lines)) for _ in range(draw(st.integers(0, 2))))
    requirements = tuple(Requirement("line-require", draw(subset), draw(lines)) for _ in range(draw(st.integers(0, 1))))
    # Penalties would make unit costs non-affine in weight (the other path); keep the drawn ones half the time.
    penalties = case.directives.penalties if draw(st.booleans()) else ()
    directives = Directives(
        exclusions=case.directives.exclusions + exclusions, requirements=requirements, penalties=penalties
    )
    return Case(case.order, case.snapshot, case.availability, directives)


def _problem(case: Case) -> Problem:
    terms = resolve_terms(case.order, case.directives, case.snapshot)
    return build_problem(case.order, case.snapshot, case.availability, case.directives, terms)


def _dominates(problem: Problem, m: int, n: int) -> bool:
    """The definition in engine/optimizer/dominance.py, checked one pair at a time."""
    demand = np.zeros(len(problem.skus), dtype=np.int64)
    np.add.at(demand, problem.sku_row, problem.qty)
    lines_n = np.nonzero(problem.allowed[:, n])[0]
    held_n = np.nonzero(problem.avail[:, n] > 0)[0]
    return bool(
        problem.fixed[m] <= problem.fixed[n]
        and problem.allowed[lines_n, m].all()
        and (problem.unit[lines_n, m] <= problem.unit[lines_n, n] + 1e-12).all()
        and (problem.avail[held_n, m] >= demand[held_n]).all()
        and problem.max_units[m] >= problem.qty.sum()
    )


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases_with_line_directives(), st.sampled_from([1, 2, 64]))
def test_every_dropped_node_is_dominated_by_a_kept_one(case: Case, strongest: int) -> None:
    """Also with a first pass of only 1 or 2 dominators, as on networks of thousands of nodes."""
    problem = _problem(case)
    with mock.patch.object(dominance, "_STRONGEST", strongest):
        keep = undominated(problem)
    kept = np.nonzero(keep)[0]
    for n in np.nonzero(~keep)[0]:
        assert any(_dominates(problem, int(m), int(n)) for m in kept), f"node {n} dropped but not dominated"
    # The first pass's shortcut loses nothing: the same nodes survive as when every node is a dominator.
    with mock.patch.object(dominance, "_STRONGEST", problem.n_nodes):
        assert np.array_equal(keep, undominated(problem))


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases_with_line_directives(max_nodes=4, max_lines=3, max_qty=2))
def test_line_level_directives_still_reach_the_exhaustive_optimum(case: Case) -> None:
    decision = decide(case.order, case.snapshot, case.availability, case.directives)
    assert decision.cost.total == pytest.approx(
        optimal_cost(case.order, case.snapshot, case.availability, case.directives), abs=1e-6
    )
