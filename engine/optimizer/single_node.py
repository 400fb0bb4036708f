"""Plans that ship from one node: exact, vectorized over candidates where possible."""

from __future__ import annotations

import numpy as np

from engine.geo import FloatArray
from engine.network import BoolArray
from engine.optimizer.plan import Plan
from engine.problem import IntArray, Problem


def full_fill_nodes(problem: Problem) -> BoolArray:
    """[N] nodes that can ship every unit of the order alone."""
    demand = np.zeros(len(problem.skus), dtype=np.int64)
    np.add.at(demand, problem.sku_row, problem.qty)
    enough = (problem.avail >= demand[:, None]).all(axis=0)
    every_line = problem.allowed.all(axis=0)
    capacity = problem.max_units >= problem.qty.sum()
    result: BoolArray = enough & every_line & capacity
    return result


def full_fill_costs(problem: Problem) -> FloatArray:
    """[N] cost of shipping everything from each node alone (meaningful where full_fill_nodes)."""
    result: FloatArray = problem.fixed + problem.qty @ problem.unit
    if problem.pricing is not None:  # each node's carrier charge for the whole order
        result = result + problem.carrier_charges(np.broadcast_to(problem.qty[:, None], problem.unit.shape))
    return result


def best_fill_at(problem: Problem, n: int) -> IntArray:
    """The cheapest allocation from node ``n`` alone, as an [L] vector of units.

    Each unit saves (backorder penalty - unit cost); taking units in order of saving,
    under per-SKU availability and the node's unit capacity, is exact here (the
    constraints form a laminar matroid).
    """
    qty = problem.qty
    take = np.zeros(problem.n_lines, dtype=np.int64)
    saving = problem.terms.backorder_penalty - problem.unit[:, n]
    left_by_sku = problem.avail[:, n].copy()
    capacity = int(problem.max_units[n])
    for line in np.lexsort((np.arange(problem.n_lines), -saving)).tolist():
        if saving[line] <= 0 or capacity <= 0 or not problem.allowed[line, n]:
            continue
        k = int(problem.sku_row[line])
        units = int(min(qty[line], left_by_sku[k], capacity))
        take[line] = units
        left_by_sku[k] -= units
        capacity -= units
    return take


def best_single_node_plan(problem: Problem) -> Plan:
    """The exact optimum among plans with at most one shipment (ties: the lower node index)."""
    best = Plan.empty(problem)
    best_cost = best.objective(problem)
    # All or nothing leaves two plans per node, everything from it or nothing: a unit that
    # saves nothing on its own still ships when the whole order does.
    whole = full_fill_nodes(problem) if problem.terms.all_or_nothing else None
    for n in range(problem.n_nodes):
        if whole is None:
            take = best_fill_at(problem, n)
        else:
            take = problem.qty if whole[n] else np.zeros(problem.n_lines, dtype=np.int64)
        if not take.any():
            continue
        x = np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64)
        x[:, n] = take
        plan = Plan(x)
        cost = plan.objective(problem)
        if cost < best_cost - 1e-9:
            best, best_cost = plan, cost
    return best
