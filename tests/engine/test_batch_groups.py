"""A batch split into the groups of orders that compete (engine/optimizer/components.py, used by
engine/batch.py for re-plans): exact against exhaustive search, groups merged when their plans clash,
orders that compete for nothing left at their decision alone."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from engine import batch as batch_module
from engine.availability import Availability
from engine.batch import BatchOrder, decide_batch
from engine.decision import SolveStatus
from engine.network import NetworkSnapshot
from engine.optimizer.components import merge
from engine.sourcing import decide
from tests.engine.batch_brute_force import optimal_total
from tests.engine.strategies import BatchCase, tiny_batches
from tests.engine.test_batch import check_batch, dc, not_at, one_line
from tests.fuzz import examples


def split(case: BatchCase, **patches: int) -> batch_module.BatchDecision:
    """``case`` decided with the split into groups on, whatever its size."""
    with mock.patch.multiple(batch_module, DECOMPOSE_MIN_ORDERS=1, **patches):
        return decide_batch(case.orders, case.snapshot, case.availability)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_batches(max_orders=4))
def test_groups_match_exhaustive_search_over_every_orders_plans(case: BatchCase) -> None:
    batch = split(case)
    check_batch(case, batch)
    assert batch.status is SolveStatus.OPTIMAL
    assert batch.total == pytest.approx(optimal_total(case.orders, case.snapshot, case.availability), abs=1e-6)
    assert batch.bound == pytest.approx(batch.total, abs=1e-6)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_batches(max_orders=4))
def test_groups_priced_alone_keep_a_true_bound(case: BatchCase) -> None:
    """Groups settled by prices alone (no joint model): the sum of the groups' bounds and the other
    orders' own never passes the exhaustive optimum, and OPTIMAL means it."""
    batch = split(case, JOINT_MODEL_MAX_ORDERS=0)
    check_batch(case, batch)
    best = optimal_total(case.orders, case.snapshot, case.availability)
    assert batch.bound <= best + 1e-6 <= batch.total + 2e-6
    if batch.status is SolveStatus.OPTIMAL:
        assert batch.total == pytest.approx(best, abs=1e-6)


def improved_groups(case: BatchCase) -> tuple[batch_module.BatchDecision, list[list[int]]]:
    """The batch and the orders of each group the search improved, in the order it did."""
    spy = mock.patch.object(batch_module, "_improve", wraps=batch_module._improve)
    with spy as improve:
        batch = split(case)
    return batch, [list(call.args[1]) for call in improve.call_args_list]


def test_an_order_competing_for_nothing_keeps_its_decision_alone() -> None:
    """A and B want N1's one unit of S; C orders T, of which there is plenty: only {A, B} is searched."""
    snapshot = NetworkSnapshot((dc("N1", 40.0), dc("N2", 40.2)))
    availability = Availability(("S", "T"), np.array([[1, 1], [9, 9]]))
    orders = (
        BatchOrder(one_line("A", lat=40.05)),
        BatchOrder(one_line("B"), not_at("N2")),
        BatchOrder(one_line("C", sku="T")),
    )
    case = BatchCase(orders, snapshot, availability)
    batch, groups = improved_groups(case)
    check_batch(case, batch)
    assert groups == [[0, 1]]
    assert batch.decisions[2].allocations == decide(orders[2].order, snapshot, availability).allocations
    assert batch.status is SolveStatus.OPTIMAL
    assert batch.total == pytest.approx(optimal_total(orders, snapshot, availability))


def test_groups_whose_plans_clash_are_merged_and_decided_again() -> None:
    """A and B compete for N1's unit; C alone takes N2's. Settled on all the stock, {A, B} sends A to
    N2, where C is: the plans clash at N2, so A, B and C are decided again together."""
    snapshot = NetworkSnapshot((dc("N1", 40.0), dc("N2", 41.0), dc("N3", 44.0)))
    availability = Availability(("S",), np.array([[1, 1, 5]]))
    orders = (
        BatchOrder(one_line("A", lat=40.05)),
        BatchOrder(one_line("B"), not_at("N2", "N3")),
        BatchOrder(one_line("C", lat=41.05)),
    )
    case = BatchCase(orders, snapshot, availability)
    batch, groups = improved_groups(case)
    check_batch(case, batch)
    assert groups == [[0, 1], [0, 1, 2]]
    # Together: A goes furthest (N3), C keeps N2 and B has N1.
    assert [d.allocations[0].node_id for d in batch.decisions] == ["N3", "N1", "N2"]
    assert batch.status is SolveStatus.OPTIMAL
    assert batch.total == pytest.approx(optimal_total(orders, snapshot, availability))


def test_merge_joins_sets_through_shared_orders() -> None:
    assert merge(6, [[4, 1], [1, 3], [5]]) == [[1, 3, 4], [5]]
    assert merge(3, []) == []
