"""Lower bounds that let cheap arguments settle or shrink a decision before any solver runs.

All bounds relax the model (never overestimate), so pruning with them is exact:
  unit floor  u_l = min(backorder penalty, cheapest allowed unit cost of line l)
  any plan    >= Σ_l qty_l · u_l  (+ the fixed cost of whatever it ships from)
"""

from __future__ import annotations

import numpy as np

from engine.geo import FloatArray
from engine.network import BoolArray
from engine.problem import Problem


def unit_floor(problem: Problem) -> FloatArray:
    """[L] the least any unit of each line can cost: shipped from its cheapest node or backordered."""
    bo = problem.terms.backorder_penalty
    if problem.n_nodes == 0:
        return np.full(problem.n_lines, bo)
    cheapest = np.where(problem.allowed, problem.unit, np.inf).min(axis=1)
    result: FloatArray = np.minimum(bo, cheapest)
    return result


def bound_without_single_full_shipment(problem: Problem, floor: FloatArray) -> float:
    """A lower bound on every plan that is NOT one shipment filling the whole order.

    Such a plan ships nothing (all backordered), or splits (>= 2 fixed costs and a
    split penalty), or ships once and leaves a unit unfilled (that unit costs the
    backorder penalty instead of its floor).
    """
    terms = problem.terms
    units_floor = float(problem.qty @ floor)
    candidates = [terms.backorder_penalty * float(problem.qty.sum())]
    fixed = np.sort(problem.fixed)
    if problem.n_nodes >= 2 and (terms.max_shipments is None or terms.max_shipments >= 2):
        candidates.append(terms.split_penalty + float(fixed[0] + fixed[1]) + units_floor)
    if problem.n_nodes >= 1:
        shortfall = float((terms.backorder_penalty - floor).min())
        candidates.append(float(fixed[0]) + units_floor + shortfall)
    return min(candidates)


def node_bounds(problem: Problem, floor: FloatArray, full: BoolArray) -> FloatArray:
    """[N] a lower bound on every plan that ships from node n."""
    terms = problem.terms
    units_floor = float(problem.qty @ floor)
    fixed = problem.fixed
    order = np.argsort(fixed, kind="stable")
    # The cheapest fixed cost among the other nodes: the second-cheapest for the cheapest node.
    other = np.full(problem.n_nodes, np.inf)
    if problem.n_nodes >= 2:
        other[:] = fixed[order[0]]
        other[order[0]] = fixed[order[1]]
    may_split = terms.max_shipments is None or terms.max_shipments >= 2
    split_extra = terms.split_penalty + other if may_split else np.full(problem.n_nodes, np.inf)
    shortfall = float((terms.backorder_penalty - floor).min())
    extra = np.where(full, 0.0, np.minimum(split_extra, shortfall))
    result: FloatArray = fixed + units_floor + extra
    return result


def max_useful_shipments(problem: Problem, floor: FloatArray, upper: float) -> int:
    """The most shipments a plan costing no more than ``upper`` can have (and the order allows).

    A plan with s shipments pays at least the s smallest fixed costs, s - 1 split
    penalties, and every unit at its floor.
    """
    terms = problem.terms
    limit = min(terms.max_shipments or problem.n_nodes, problem.n_nodes)
    fixed = np.sort(problem.fixed)[:limit]
    s = np.arange(1, fixed.shape[0] + 1)
    least = np.cumsum(fixed) + terms.split_penalty * (s - 1) + float(problem.qty @ floor)
    # The largest such s, not a count: with preferred nodes (negative fixed costs) ``least`` need not rise.
    within = np.nonzero(least <= upper + 1e-7)[0]
    return int(within[-1]) + 1 if within.shape[0] else 1
