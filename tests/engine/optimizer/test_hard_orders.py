"""The hard-orders benchmark's instances (benchmarks/data/hard-orders.jsonl.gz, optima proven offline
by HiGHS): a few of the quickest decided exactly, and every one out of time with a true bound.
Correctness only: their timing is the benchmark's (`make bench`)."""

from __future__ import annotations

import pytest

from benchmarks.hard_orders import DATA
from benchmarks.instances import Instance, instance_from_json, read_jsonl
from engine.cost import plan_cost
from engine.decision import SolveStatus
from engine.optimizer.search import SolverSettings
from engine.sourcing import decide
from engine.terms import resolve_terms

INSTANCES = [instance_from_json(doc) for doc in read_jsonl(DATA)]
# The quickest few for the optimizer (benchmarks/results/*-optimizer.md lists them all), one per
# family: the twins among them go through the model with a column per group of twins.
QUICK = ("twins-8-", "spread-8-", "bulky-13-", "mixed-13-")


def test_the_benchmark_file_holds_100_proven_instances_in_four_families() -> None:
    assert len(INSTANCES) == 100
    assert {i.kind for i in INSTANCES} == {"twins", "spread", "bulky", "mixed"}
    assert all(20 <= len(i.order.lines) <= 30 for i in INSTANCES)


@pytest.mark.parametrize("prefix", QUICK)
def test_a_quick_one_reaches_its_proven_optimum(prefix: str) -> None:
    (instance,) = [i for i in INSTANCES if i.name.startswith(prefix)]
    decision = decide(instance.order, instance.snapshot, instance.availability, settings=SolverSettings(60_000))
    assert decision.status is SolveStatus.OPTIMAL
    assert decision.cost.total == pytest.approx(instance.optimal_cost, abs=0.005)
    terms = resolve_terms(instance.order, instance.directives, instance.snapshot)
    assert plan_cost(instance.order, decision.allocations, instance.snapshot, terms).total == pytest.approx(
        decision.cost.total, abs=1e-9
    )


@pytest.mark.parametrize("instance", INSTANCES, ids=[i.name for i in INSTANCES])
def test_out_of_time_the_bound_and_the_cost_bracket_the_proven_optimum(instance: Instance) -> None:
    decision = decide(
        instance.order, instance.snapshot, instance.availability, settings=SolverSettings(1), explain=False
    )
    assert decision.bound <= instance.optimal_cost + 1e-6
    assert decision.cost.total >= instance.optimal_cost - 0.005
    if decision.status is SolveStatus.OPTIMAL:
        assert decision.cost.total == pytest.approx(instance.optimal_cost, abs=0.005)
