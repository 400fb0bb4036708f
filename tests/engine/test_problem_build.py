"""The problem build and the node notes agree with the plain reference (tests/engine/problem_reference.py).

Instances draw what the build branches on: closed and capacity-less nodes, pickup orders,
protections on some or every SKU, order-wide and per-line exclusions and requirements,
penalties on some lines, SKUs without stock rows, more nodes than the notes keep.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.availability import Availability
from engine.directives import Directives, Exclusion, Penalty, Protection, Requirement
from engine.explain import node_notes
from engine.model import DeliveryMethod, GeoPoint, InventoryPosition, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.optimizer.deadline import Deadline
from engine.optimizer.search import SolverSettings, optimize
from engine.problem import Elimination, Problem, build_problem
from engine.terms import resolve_terms
from tests.engine.problem_reference import ReferenceProblem, reference_build, reference_notes
from tests.fuzz import examples

SHIP_TO = GeoPoint(40.0, -95.0)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Order, NetworkSnapshot, Availability, Directives]:
    n_nodes = draw(st.integers(1, 40))
    nodes = [
        Node(
            id=f"N{i:02d}",
            type=draw(st.sampled_from(list(NodeType))),
            location=GeoPoint(SHIP_TO.lat + draw(st.floats(-15, 15)), SHIP_TO.lon + draw(st.floats(-25, 25))),
            pick_pack_cost=draw(st.sampled_from([0.0, 1.2, 3.5])),
            unit_handling_cost=draw(st.sampled_from([0.2, 0.75])),
            max_units=draw(st.one_of(st.none(), st.integers(0, 6))),
            max_shipments=draw(st.one_of(st.none(), st.integers(0, 2))),
            is_open=draw(st.integers(0, 5)) > 0,
            can_pickup=draw(st.booleans()),
        )
        for i in range(n_nodes)
    ]
    node_ids = [n.id for n in nodes]
    skus = [f"S{k}" for k in range(draw(st.integers(1, 3)))]
    lines = tuple(
        OrderLine(f"L{i}", draw(st.sampled_from(skus)), draw(st.integers(1, 3)), draw(st.sampled_from([0.2, 12.0])))
        for i in range(draw(st.integers(1, 5)))
    )
    line_ids = [line.line_id for line in lines]
    pickup = draw(st.one_of(st.none(), st.sampled_from(node_ids)))
    order = Order(
        order_id="O",
        ship_to=SHIP_TO,
        lines=lines,
        delivery_method=DeliveryMethod.PICKUP if pickup else DeliveryMethod.SHIP,
        pickup_node_id=pickup or "",
    )
    snapshot = NetworkSnapshot(tuple(nodes))
    stocked_skus = skus[: draw(st.integers(1, len(skus)))]  # the others have no stock row at all
    positions = [
        InventoryPosition(node.id, sku, on_hand=draw(st.integers(0, 4))) for node in nodes for sku in stocked_skus
    ]
    availability = Availability.from_positions(snapshot, stocked_skus, positions)

    some_nodes = st.sets(st.sampled_from(node_ids), max_size=max(1, n_nodes // 2)).map(frozenset)
    some_lines = st.sets(st.sampled_from(line_ids), max_size=2).map(frozenset)
    rule = st.sampled_from(["r1", "r2", "r3"])
    directives = Directives(
        exclusions=tuple(
            Exclusion(draw(rule), draw(some_nodes), draw(some_lines)) for _ in range(draw(st.integers(0, 3)))
        ),
        requirements=tuple(
            Requirement(draw(rule), draw(some_nodes), draw(some_lines)) for _ in range(draw(st.integers(0, 2)))
        ),
        penalties=tuple(
            Penalty(
                draw(rule),
                draw(some_nodes),
                per_unit=draw(st.sampled_from([-0.1, 0.0, 0.5])),
                per_shipment=draw(st.sampled_from([0.0, 2.0])),
                line_ids=draw(some_lines),
            )
            for _ in range(draw(st.integers(0, 2)))
        ),
        protections=tuple(
            Protection(
                draw(rule),
                draw(some_nodes),
                draw(st.integers(1, 3)),
                draw(st.sets(st.sampled_from([*skus, "OTHER"]), max_size=2).map(frozenset)),
            )
            for _ in range(draw(st.integers(0, 3)))
        ),
    )
    return order, snapshot, availability, directives


def assert_same_problem(got: Problem, want: ReferenceProblem) -> None:
    for f in fields(want):
        a, b = getattr(got, f.name) if f.name != "rule_ids" else None, getattr(want, f.name)
        if f.name == "rule_ids":
            continue
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, f.name
            assert np.array_equal(a, b), f.name  # exact, floats too
        else:
            assert a == b, f.name
    for position, n in enumerate(want.stocked.tolist()):
        why = Elimination(int(want.elimination[position]))
        if why is not Elimination.CANDIDATE:
            assert got.rule_ids(n, why) == want.rule_ids.get(n, ()), (n, why)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.data())
def test_build_and_notes_match_the_reference(
    case: tuple[Order, NetworkSnapshot, Availability, Directives], data: st.DataObject
) -> None:
    order, snapshot, availability, directives = case
    terms = resolve_terms(order, directives, snapshot)
    want = reference_build(order, snapshot, availability, directives, terms)
    for _ in range(2):  # the second build reads the snapshot's cached masks and reasons
        got = build_problem(order, snapshot, availability, directives, terms)
        assert_same_problem(got, want)
    plan = optimize(got, SolverSettings(), Deadline.after_ms(10_000)).plan
    why_not = data.draw(st.sets(st.sampled_from(snapshot.ids), max_size=3))
    extra = {node_id: data.draw(st.sampled_from([0.0, 1.5])) for node_id in sorted(why_not)}
    assert node_notes(got, plan, snapshot, extra) == reference_notes(got, want, plan, snapshot, extra)


def test_stocked_distance_is_the_candidates_distance_and_more() -> None:
    """Distances are computed once over stocked nodes; candidates' are the same numbers."""
    nodes = tuple(
        Node(f"N{i}", NodeType.STORE, GeoPoint(30 + i, -100 + 2 * i), 1.0, 0.5, is_open=i % 3 != 0) for i in range(30)
    )
    snapshot = NetworkSnapshot(nodes)
    order = Order(order_id="O", ship_to=SHIP_TO, lines=(OrderLine("L0", "S0", 1, 1.0),))
    availability = Availability.from_positions(snapshot, ["S0"], [InventoryPosition(n.id, "S0", 2) for n in nodes])
    terms = resolve_terms(order, Directives(), snapshot)
    problem = build_problem(order, snapshot, availability, Directives(), terms)
    candidate = problem.elimination == Elimination.CANDIDATE
    assert np.array_equal(problem.stocked[candidate], problem.nodes)
    assert np.array_equal(problem.stocked_distance[candidate], problem.distance)
    assert (problem.elimination[~candidate] == Elimination.CLOSED).all()
