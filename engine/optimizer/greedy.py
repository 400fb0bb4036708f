"""A quick feasible plan: an upper bound for pruning and a fallback when the solver runs out of time."""

from __future__ import annotations

import numpy as np

from engine.optimizer.plan import Plan
from engine.optimizer.single_node import best_fill_at
from engine.problem import Problem


def greedy_plan(problem: Problem) -> Plan:
    """Repeatedly add the node whose best fill of what is left saves the most, while that pays."""
    terms = problem.terms
    limit = terms.max_shipments or problem.n_nodes
    x = np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64)
    remaining = problem.qty.copy()
    avail = problem.avail.copy()
    capacity = problem.max_units.copy()
    line_avail = problem.allowed.astype(np.int64)
    used: list[int] = []
    while len(used) < limit and remaining.any():
        reach = np.minimum(remaining[:, None], avail[problem.sku_row] * line_avail)
        reach = np.minimum(reach, capacity[None, :])
        saving = (terms.backorder_penalty - problem.unit) * reach
        value = saving.sum(axis=0) - problem.fixed - (terms.split_penalty if used else 0.0)
        value[used] = -np.inf
        n = int(np.argmax(value))
        if value[n] <= 0:
            break
        sub = _residual(problem, remaining, avail, capacity)
        take = best_fill_at(sub, n)
        if not take.any():
            break
        x[:, n] = take
        remaining -= take
        np.subtract.at(avail[:, n], problem.sku_row, take)
        capacity[n] -= int(take.sum())
        used.append(n)
    plan = Plan(x)
    if terms.all_or_nothing and plan.unfilled(problem) > 0:
        return Plan.empty(problem)
    return plan


def _residual(problem: Problem, remaining: np.ndarray, avail: np.ndarray, capacity: np.ndarray) -> Problem:
    """The same problem with what is already taken removed (a shallow copy with new arrays)."""
    from dataclasses import replace

    return replace(problem, qty=remaining.copy(), avail=avail.copy(), max_units=capacity.copy())
