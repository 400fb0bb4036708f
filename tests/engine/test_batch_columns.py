"""Column generation (engine/optimizer/columns.py), the coordination of sets of orders too large for
the joint model: its bound never passes the optimum found by exhaustive search, its plan fits and
is never worse than where it started, with and without a re-plan's holds."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings

from engine import batch as batch_module
from engine.batch import BatchDecision, decide_batch
from engine.decision import AllocationLine, SolveStatus
from engine.optimizer import columns as columns_module
from tests.engine.batch_brute_force import optimal_total
from tests.engine.strategies import BatchCase, tiny_batches
from tests.engine.test_batch import check_batch
from tests.fuzz import examples

Holds = tuple[AllocationLine, ...]


def generated(case: BatchCase, held: list[Holds] | None = None, split: bool = False) -> BatchDecision:
    """``case`` decided with column generation in place of the joint model (every set is too large for
    it), the batch split into its groups first when ``split``."""
    patches = {"JOINT_MODEL_MAX_ORDERS": 0, **({"DECOMPOSE_MIN_ORDERS": 1} if split else {})}
    with mock.patch.multiple(batch_module, **patches):
        return decide_batch(case.orders, case.snapshot, case.availability, held=held)


def line_units(allocations: Holds) -> dict[str, int]:
    units: dict[str, int] = {}
    for a in allocations:
        units[a.line_id] = units.get(a.line_id, 0) + a.qty
    return units


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_batches(max_orders=4))
def test_column_generation_bound_never_passes_the_exhaustive_optimum(case: BatchCase) -> None:
    batch = generated(case)
    check_batch(case, batch)
    best = optimal_total(case.orders, case.snapshot, case.availability)
    assert batch.bound <= best + 1e-6 <= batch.total + 2e-6
    if batch.status is SolveStatus.OPTIMAL:
        assert batch.total == pytest.approx(best, abs=1e-6)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_batches(max_orders=4))
def test_a_re_plan_by_column_generation_keeps_every_line_at_its_holds_and_a_true_bound(case: BatchCase) -> None:
    """Holds: a batch plan decided first (as one by one would leave them); the optimum is over the
    plans that give no line fewer units than it holds, as a re-plan applies them."""
    held = [d.allocations for d in decide_batch(case.orders, case.snapshot, case.availability).decisions]
    batch = generated(case, held=held, split=True)
    check_batch(case, batch)
    for holds, decision in zip(held, batch.decisions, strict=True):
        after = line_units(decision.allocations)
        assert all(after.get(line, 0) >= units for line, units in line_units(holds).items())
    best = optimal_total(case.orders, case.snapshot, case.availability, held=held)
    assert batch.bound <= best + 1e-6 <= batch.total + 2e-6
    if batch.status is SolveStatus.OPTIMAL:
        assert batch.total == pytest.approx(best, abs=1e-6)


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_batches(max_orders=4))
def test_every_rounds_bound_is_true_not_only_the_last(case: BatchCase) -> None:
    """Stopped after one round (the master's first prices), the bound is still below the optimum."""
    with mock.patch.object(columns_module, "MAX_ROUNDS", 1):
        batch = generated(case)
    check_batch(case, batch)
    assert batch.bound <= optimal_total(case.orders, case.snapshot, case.availability) + 1e-6
