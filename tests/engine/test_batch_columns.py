"""Column generation (engine/optimizer/columns.py), the coordination of sets of orders too large for
the joint model: its bound never passes the optimum found by exhaustive search, its plan fits and
is never worse than where it started, with and without a re-plan's holds."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import batch as batch_module
from engine.batch import BatchDecision, decide_batch
from engine.decision import AllocationLine, SolveStatus
from engine.model import ObjectiveMode
from engine.optimizer import columns as columns_module
from engine.optimizer.deadline import Deadline
from engine.optimizer.plan import Plan
from engine.optimizer.search import Solution, optimize
from engine.sourcing import DEFAULT_SETTINGS
from tests.engine.batch_brute_force import optimal_total
from tests.engine.strategies import BatchCase, tiny_batches
from tests.engine.test_batch import check_batch
from tests.fuzz import examples

Holds = tuple[AllocationLine, ...]


def generated(case: BatchCase, held: list[Holds] | None = None, split: bool = False) -> BatchDecision:
    """``case`` decided with column generation in place of the joint model (every set is too large for
    it), the batch split into its groups first when ``split``."""
    patches: dict[str, Any] = {"JOINT_MODEL_MAX_ORDERS": 0, **({"DECOMPOSE_MIN_ORDERS": 1} if split else {})}
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


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_batches(max_orders=4), st.integers(1, 3))
def test_the_bound_itself_never_passes_the_optimum(case: BatchCase, rounds: int) -> None:
    """The bound alone, not clipped by a good plan: from plans that ship nothing (they fit, and
    cost more than the optimum) with the master's whole columns off, after 1 to 3 rounds."""
    problems = batch_module._problems(case.orders, case.snapshot, case.availability, len(case.orders))
    assume(all(p.terms.objective is not ObjectiveMode.FEWEST_SHIPMENTS for p in problems))
    alone: list[Solution | None] = [optimize(p, DEFAULT_SETTINGS) for p in problems]
    master = columns_module._master

    def prices_only(*args: Any, whole: bool, **kwargs: Any) -> Any:
        return None if whole else master(*args, whole=whole, **kwargs)

    with (
        mock.patch.object(columns_module, "MAX_ROUNDS", rounds),
        mock.patch.object(columns_module, "_master", prices_only),
    ):
        result = columns_module.generate(
            problems,
            case.snapshot,
            [Plan.empty(p) for p in problems],
            alone,
            [True] * len(problems),
            DEFAULT_SETTINGS,
            Deadline.after_ms(10_000),
        )
    assert result.bound <= optimal_total(case.orders, case.snapshot, case.availability) + 1e-6
