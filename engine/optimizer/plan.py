"""A plan in the problem's terms: units x[l, n] of line l from candidate n, and its objective."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.problem import IntArray, Problem


@dataclass(frozen=True)
class Plan:
    x: IntArray  # [L, N], never changed after construction
    # (problem, objective) pairs already computed: the search compares the same plans many times.
    _objectives: list[tuple[Problem, float]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def empty(cls, problem: Problem) -> Plan:
        return cls(np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64))

    def used(self) -> IntArray:
        return np.nonzero(self.x.sum(axis=0) > 0)[0]

    def objective(self, problem: Problem) -> float:
        """The cost-model objective, from the problem's arrays (engine.cost.plan_cost is the reference)."""
        for known, value in self._objectives:
            if known is problem:
                return value
        value = self._objective(problem)
        self._objectives.append((problem, value))
        return value

    def _objective(self, problem: Problem) -> float:
        used = self.used()
        terms = problem.terms
        unfilled = int(problem.qty.sum() - self.x.sum())
        carrier = 0.0 if problem.pricing is None else problem.carrier_total(self.x)
        return float(
            problem.fixed[used].sum()
            + (problem.unit * self.x).sum()
            + carrier
            + terms.split_penalty * max(0, len(used) - 1)
            + terms.backorder_penalty * unfilled
        )

    def unfilled(self, problem: Problem) -> int:
        return int(problem.qty.sum() - self.x.sum())


def is_feasible(problem: Problem, plan: Plan) -> bool:
    """Every constraint of the model, checked on an integer plan (for plans read off an LP)."""
    x = plan.x
    terms = problem.terms
    if (x < 0).any() or (x[~problem.allowed] != 0).any():
        return False
    if (x.sum(axis=1) > problem.qty).any():
        return False
    if not keeps_least(problem, plan):
        return False
    taken = np.zeros_like(problem.avail)
    np.add.at(taken, problem.sku_row, x)
    if (taken > problem.avail).any():
        return False
    units = x.sum(axis=0)
    if (units > problem.max_units).any():
        return False
    if terms.max_shipments is not None and int((units > 0).sum()) > terms.max_shipments:
        return False
    filled = int(x.sum())
    return not (terms.all_or_nothing and filled not in (0, int(problem.qty.sum())))


def keeps_least(problem: Problem, plan: Plan) -> bool:
    """Every line keeps at least the units it must (``problem.least``; always, without one)."""
    return problem.least is None or bool((plan.x.sum(axis=1) >= problem.least).all())
