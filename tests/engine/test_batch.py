"""Batches decided jointly (engine/batch.py): against exhaustive search over every order's plans
with shared stock, against deciding one by one, and the batch's guarantees."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from engine import batch as batch_module
from engine import limits
from engine.availability import Availability
from engine.batch import BatchDecision, BatchOrder, BatchPath, decide_batch
from engine.cost import plan_cost
from engine.decision import NodeVerdict, SolveStatus
from engine.directives import Directives, Exclusion, Protection
from engine.errors import InvalidInputError
from engine.model import GeoPoint, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.optimizer.search import SolverSettings
from engine.sourcing import decide
from engine.terms import resolve_terms
from tests.engine.batch_brute_force import fits_together, optimal_total
from tests.engine.strategies import BatchCase, Case, tiny_batches, tiny_cases
from tests.fuzz import examples

HOME = GeoPoint(40.0, -95.0)


def dc(node_id: str, lat: float, **kw: object) -> Node:
    defaults: dict[str, object] = {"pick_pack_cost": 1.0, "unit_handling_cost": 0.2}
    defaults.update(kw)
    return Node(node_id, NodeType.DC, GeoPoint(lat, -95.0), **defaults)  # type: ignore[arg-type]


def one_line(order_id: str, sku: str = "S", qty: int = 1, lat: float = 40.0, **kw: object) -> Order:
    return Order(order_id, GeoPoint(lat, -95.0), (OrderLine("1", sku, qty, 1.0),), **kw)  # type: ignore[arg-type]


def not_at(*node_ids: str) -> Directives:
    return Directives(exclusions=(Exclusion("test-exclude", frozenset(node_ids)),))


def check_batch(case: BatchCase, batch: BatchDecision) -> None:
    """Each order's decision stands alone (costed by the reference formula) and together they fit."""
    assert [d.order_id for d in batch.decisions] == [item.order.order_id for item in case.orders]
    for item, decision in zip(case.orders, batch.decisions, strict=True):
        terms = resolve_terms(item.order, item.directives, case.snapshot)
        recomputed = plan_cost(item.order, decision.allocations, case.snapshot, terms)
        assert recomputed.total == pytest.approx(decision.cost.total, abs=1e-9)
        assert sum(u.qty for u in decision.unfilled) == item.order.units - sum(a.qty for a in decision.allocations)
        assert decision.status is batch.status
        assert decision.bound <= decision.cost.total + 1e-9
    plans = [d.allocations for d in batch.decisions]
    assert fits_together(case.orders, case.snapshot, case.availability, plans)
    assert batch.total == pytest.approx(sum(d.cost.total for d in batch.decisions))
    assert batch.total <= batch.sequential_total + 1e-9, "never worse than one by one"
    assert batch.bound <= batch.total + 1e-9


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_batches())
def test_matches_exhaustive_search_over_every_orders_plans(case: BatchCase) -> None:
    batch = decide_batch(case.orders, case.snapshot, case.availability)
    check_batch(case, batch)
    assert batch.status is SolveStatus.OPTIMAL
    assert batch.total == pytest.approx(optimal_total(case.orders, case.snapshot, case.availability), abs=1e-6)
    assert batch.bound == pytest.approx(batch.total, abs=1e-6)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases())
def test_a_batch_of_one_is_decide(case: Case) -> None:
    alone = decide(case.order, case.snapshot, case.availability, case.directives)
    batch = decide_batch([BatchOrder(case.order, case.directives)], case.snapshot, case.availability)
    (decision,) = batch.decisions
    assert decision.allocations == alone.allocations
    assert decision.cost == alone.cost
    assert decision.unfilled == alone.unfilled
    assert decision.node_notes == alone.node_notes
    assert (decision.status, decision.path) == (alone.status, alone.path)
    assert decision.bound == pytest.approx(alone.bound, abs=1e-9)
    assert batch.total == pytest.approx(alone.cost.total) and batch.sequential_total == pytest.approx(batch.total)
    assert batch.path is BatchPath.SEQUENTIAL


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_batches())
def test_prices_alone_keep_a_true_bound_and_prove_only_the_optimum(case: BatchCase) -> None:
    """Without the joint model (engine/optimizer/prices.py alone): the plan fits and is never worse
    than one by one, the bound never passes the exhaustive optimum, and OPTIMAL means it."""
    with mock.patch.object(batch_module, "JOINT_MODEL_MAX_ORDERS", 0):
        batch = decide_batch(case.orders, case.snapshot, case.availability)
    check_batch(case, batch)
    best = optimal_total(case.orders, case.snapshot, case.availability)
    assert batch.bound <= best + 1e-6
    assert batch.total >= best - 1e-6
    if batch.status is SolveStatus.OPTIMAL:
        assert batch.total == pytest.approx(best, abs=1e-6)


def test_prices_give_the_last_unit_to_the_order_that_needs_it_and_prove_it() -> None:
    """The contested unit of two_orders_one_unit_each, settled by prices alone: B's backorder makes
    N1's unit dear, A moves to N2, and the priced bound meets the plan."""
    orders, snapshot, availability = two_orders_one_unit_each()
    with (
        mock.patch.object(batch_module, "JOINT_MODEL_MAX_ORDERS", 0),
        mock.patch.object(batch_module, "solve_joint", side_effect=AssertionError("no joint model")),
    ):
        batch = decide_batch(orders, snapshot, availability)
    a, b = batch.decisions
    assert [x.node_id for x in a.allocations] == ["N2"] and [x.node_id for x in b.allocations] == ["N1"]
    assert batch.path is BatchPath.JOINT and batch.status is SolveStatus.OPTIMAL


def test_a_priced_bound_never_prunes_the_optimums_columns() -> None:
    """Found by the exhaustive-search property: prices raise the bound to 14.2, and the joint
    model's columns used to be pruned against that bound minus the order's own alone bound. A
    Lagrangian bound does not split by order: O0's column at N1 (in the optimum) was cut, and the
    sequential 16.7 came back as OPTIMAL. Pruned against the alone bounds' sum, the optimum stays."""
    snapshot = NetworkSnapshot(
        (
            dc("N0", 40.0, pick_pack_cost=0.0),
            Node("N1", NodeType.DC, GeoPoint(40.0, -89.0), pick_pack_cost=1.2, unit_handling_cost=0.2),
        )
    )
    availability = Availability(("S0",), np.array([[2, 1]]))
    orders = [
        BatchOrder(Order("O0", HOME, (OrderLine("L0", "S0", 1, 0.5),), backorder_penalty=25.0)),
        BatchOrder(Order("O1", HOME, (OrderLine("L0", "S0", 2, 0.5),), backorder_penalty=6.0)),
    ]
    batch = decide_batch(orders, snapshot, availability)
    assert batch.total == pytest.approx(optimal_total(orders, snapshot, availability), abs=1e-6)
    assert batch.total == pytest.approx(14.2, abs=1e-6) and batch.status is SolveStatus.OPTIMAL
    first, second = batch.decisions
    assert [(a.node_id, a.qty) for a in first.allocations] == [("N1", 1)]
    assert [(a.node_id, a.qty) for a in second.allocations] == [("N0", 2)]


def two_orders_one_unit_each() -> tuple[list[BatchOrder], NetworkSnapshot, Availability]:
    """A could ship from N1 or N2 at about the same cost; B only from N1 (a rule keeps it from N2).
    One unit at each node. A comes first and N1 is slightly nearer to it."""
    snapshot = NetworkSnapshot((dc("N1", 40.0), dc("N2", 40.2)))
    availability = Availability(("S",), np.array([[1, 1]]))
    orders = [BatchOrder(one_line("A", lat=40.05)), BatchOrder(one_line("B"), not_at("N2"))]
    return orders, snapshot, availability


def test_joint_gives_the_last_unit_to_the_order_that_needs_it() -> None:
    orders, snapshot, availability = two_orders_one_unit_each()
    batch = decide_batch(orders, snapshot, availability)
    a, b = batch.decisions
    assert [x.node_id for x in a.allocations] == ["N2"] and [x.node_id for x in b.allocations] == ["N1"]
    assert not a.unfilled and not b.unfilled
    assert batch.path is BatchPath.JOINT and batch.status is SolveStatus.OPTIMAL
    assert batch.total < batch.sequential_total - 90.0, "one by one, B is backordered (100 per unit)"
    assert batch.bound == pytest.approx(batch.total)


def test_one_by_one_goes_by_priority_then_the_order_given() -> None:
    orders, snapshot, availability = two_orders_one_unit_each()
    urgent_b = [orders[0], BatchOrder(one_line("B", priority=500), orders[1].directives)]
    batch = decide_batch(urgent_b, snapshot, availability)
    # B first takes N1, A then takes N2: one by one is already optimal.
    assert batch.path is BatchPath.SEQUENTIAL and batch.status is SolveStatus.OPTIMAL
    assert batch.total == pytest.approx(batch.sequential_total)


def test_orders_that_do_not_compete_are_proven_optimal_without_the_solver() -> None:
    snapshot = NetworkSnapshot((dc("N1", 40.0), dc("N2", 40.2)))
    availability = Availability(("S", "T"), np.array([[5, 5], [5, 5]]))
    orders = [BatchOrder(one_line("A")), BatchOrder(one_line("B", sku="T", qty=3))]
    batch = decide_batch(orders, snapshot, availability)
    assert batch.status is SolveStatus.OPTIMAL and batch.path is BatchPath.SEQUENTIAL and batch.candidates == 0
    for item, decision in zip(orders, batch.decisions, strict=True):
        assert decision.cost == decide(item.order, snapshot, availability).cost


def test_shared_shipment_capacity_goes_where_it_saves_most() -> None:
    """N1 can send one more shipment today. A (first) is indifferent between N1 and N2; B is near N1
    and far from N2: one by one A takes N1's last shipment."""
    snapshot = NetworkSnapshot((dc("N1", 40.0, max_shipments=1), dc("N2", 41.0)))
    availability = Availability(("S",), np.array([[5, 5]]))
    orders = [BatchOrder(one_line("A", lat=40.5)), BatchOrder(one_line("B", lat=39.6))]
    batch = decide_batch(orders, snapshot, availability)
    check_batch(BatchCase(tuple(orders), snapshot, availability), batch)
    assert [d.allocations[0].node_id for d in batch.decisions] == ["N2", "N1"]
    assert batch.total < batch.sequential_total and batch.status is SolveStatus.OPTIMAL


def test_shared_unit_capacity_is_respected() -> None:
    snapshot = NetworkSnapshot((dc("N1", 40.0, max_units=3), dc("N2", 45.0)))
    availability = Availability(("S",), np.array([[9, 9]]))
    orders = [BatchOrder(one_line(f"O{i}", qty=2)) for i in range(3)]
    batch = decide_batch(orders, snapshot, availability)
    check_batch(BatchCase(tuple(orders), snapshot, availability), batch)
    at_n1 = sum(a.qty for d in batch.decisions for a in d.allocations if a.node_id == "N1")
    assert at_n1 <= 3
    assert all(not d.unfilled for d in batch.decisions)


def test_a_protection_applies_to_its_own_order_only() -> None:
    """Three units at N1; A's rules keep two of them back (A may take one), B's keep none. B first
    takes two and leaves A one unit, which A may not touch; A first takes one and B the other two."""
    snapshot = NetworkSnapshot((dc("N1", 40.0),))
    availability = Availability(("S",), np.array([[3]]))
    keep_two = Directives(protections=(Protection("store-safety", frozenset({"N1"}), 2),))
    orders = [BatchOrder(one_line("B", qty=2, priority=500)), BatchOrder(one_line("A"), keep_two)]
    batch = decide_batch(orders, snapshot, availability)
    check_batch(BatchCase(tuple(orders), snapshot, availability), batch)
    assert all(not d.unfilled for d in batch.decisions)
    assert batch.path is BatchPath.JOINT and batch.status is SolveStatus.OPTIMAL


def test_out_of_time_still_answers_one_by_one_with_a_true_bound() -> None:
    orders, snapshot, availability = two_orders_one_unit_each()
    batch = decide_batch(orders, snapshot, availability, SolverSettings(time_limit_ms=0))
    check_batch(BatchCase(tuple(orders), snapshot, availability), batch)
    assert batch.status is SolveStatus.FEASIBLE and batch.path is BatchPath.SEQUENTIAL
    assert batch.total == pytest.approx(batch.sequential_total)
    assert batch.bound <= decide_batch(orders, snapshot, availability).total + 1e-9 < batch.total
    assert batch.gap > 0
    assert all(d.status is SolveStatus.FEASIBLE for d in batch.decisions)


def violations(error: pytest.ExceptionInfo[InvalidInputError]) -> list[str]:
    return [v.field for v in error.value.violations]


def test_a_batch_is_refused_when_empty_too_large_or_repeating_an_order() -> None:
    snapshot = NetworkSnapshot((dc("N1", 40.0),))
    availability = Availability(("S",), np.array([[1]]))
    with pytest.raises(InvalidInputError) as empty:
        decide_batch([], snapshot, availability)
    assert violations(empty) == ["orders"]
    too_many = [BatchOrder(one_line(f"O{i}")) for i in range(limits.MAX_ORDERS_PER_BATCH + 1)]
    with pytest.raises(InvalidInputError) as large:
        decide_batch(too_many, snapshot, availability)
    assert violations(large) == ["orders"]
    twice = [BatchOrder(one_line("A")), BatchOrder(one_line("B")), BatchOrder(one_line("A"))]
    with pytest.raises(InvalidInputError) as repeated:
        decide_batch(twice, snapshot, availability)
    assert violations(repeated) == ["orders[2].order_id"]
    unknown = [BatchOrder(one_line("A")), BatchOrder(one_line("B", service_level="TELEPORT"))]
    with pytest.raises(InvalidInputError) as level:
        decide_batch(unknown, snapshot, availability)
    assert violations(level) == ["orders[1].service_level"]


def test_notes_say_what_other_orders_left() -> None:
    orders, snapshot, availability = two_orders_one_unit_each()
    a, b = decide_batch(orders, snapshot, availability).decisions
    notes = {d.order_id: {n.node_id: (n.verdict, n.detail) for n in d.node_notes} for d in (a, b)}
    assert notes["B"]["N1"][0] is NodeVerdict.USED and notes["B"]["N2"][0] is NodeVerdict.EXCLUDED
    assert notes["A"]["N2"][0] is NodeVerdict.USED
    assert notes["A"]["N1"] == (NodeVerdict.NO_STOCK, "other orders of this batch took its stock")
