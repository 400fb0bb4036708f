"""A plan in the problem's terms: units x[l, n] of line l from candidate n, and its objective."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.problem import IntArray, Problem


@dataclass(frozen=True)
class Plan:
    x: IntArray  # [L, N]

    @classmethod
    def empty(cls, problem: Problem) -> Plan:
        return cls(np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64))

    def used(self) -> IntArray:
        return np.nonzero(self.x.sum(axis=0) > 0)[0]

    def objective(self, problem: Problem) -> float:
        """The cost-model objective, from the problem's arrays (engine.cost.plan_cost is the reference)."""
        used = self.used()
        terms = problem.terms
        unfilled = int(problem.qty.sum() - self.x.sum())
        return float(
            problem.fixed[used].sum()
            + (problem.unit * self.x).sum()
            + terms.split_penalty * max(0, len(used) - 1)
            + terms.backorder_penalty * unfilled
        )

    def unfilled(self, problem: Problem) -> int:
        return int(problem.qty.sum() - self.x.sum())
