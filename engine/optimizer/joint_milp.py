"""Several orders in one model: each order's own model (engine/optimizer/milp.py, unchanged) plus
the stock and node capacity they share.

Shared stock with per-order protections. An order's problem already holds back what its rules
protect: it may take cap_o = max(0, a - p_o) of a position holding a. One by one, an order may
take only what is left above its own protection, so a set of takes t_o is possible in some order
exactly when it is possible most-protected first (an exchange argument: moving a more protected
order earlier only shrinks what it sees taken). That order gives nested constraints, one per
distinct cap c at a position: the orders with cap_o <= c together take at most c. Without
protections that is the one constraint Σ_o t_o <= a.

Shared capacity: the units all orders take at a node stay within its max_units, and the orders
shipping from it within its max_shipments (one shipment per order and node).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from engine.decision import SolveStatus
from engine.network import IntArray
from engine.optimizer.deadline import Deadline
from engine.optimizer.milp import DEFAULT_BACKEND, OrderModel, new_solver, solve_exactly
from engine.optimizer.plan import Plan
from engine.problem import Problem


@dataclass(frozen=True)
class JointResult:
    plans: tuple[Plan, ...] | None  # one per order, over its problem's columns; None: nothing found in time
    status: SolveStatus
    bound: float  # a proven lower bound on the total over the columns given


def solve_joint(
    problems: Sequence[Problem],
    cols: Sequence[IntArray],
    max_units: IntArray,
    max_shipments: IntArray,
    time_limit_ms: int,
    *,
    start: Sequence[Plan] | None = None,
    fixed: Sequence[bool] = (),
    backend: str = DEFAULT_BACKEND,
) -> JointResult:
    """Minimize the sum of the orders' costs over their columns ``cols``; ``max_units`` and
    ``max_shipments`` are the snapshot's node capacities; ``fixed[o]`` holds order o at ``start[o]``.
    ``time_limit_ms`` counts from here: building a model of thousands of variables takes a good
    part of it, and the solver gets what is left."""
    deadline = Deadline.after_ms(time_limit_ms)
    solver = new_solver(backend)
    models = []
    for o, (problem, c) in enumerate(zip(problems, cols, strict=True)):
        # Building goes through OR-Tools' Python API, term by term: thousands of variables can take
        # longer than the whole limit on a busy machine, and nothing would stop it but this check.
        if deadline.passed():
            return JointResult(None, SolveStatus.FEASIBLE, -np.inf)
        models.append(OrderModel(problem, c, backend, solver=solver, name=f"o{o}_"))
    if start is not None:
        for model, plan, hold in zip(models, start, fixed or [False] * len(models), strict=True):
            if hold:
                model.fix(plan)
    inf = solver.infinity()
    for vars_, cap in _shared_stock(models):
        _add(solver, [(v, 1.0) for v in vars_], -inf, float(cap))
    for vars_, cap in _shared_units(models, max_units):
        _add(solver, [(v, 1.0) for v in vars_], -inf, float(cap))
    for ys, cap in _shared_shipments(models, max_shipments):
        _add(solver, [(y, 1.0) for y in ys], -inf, float(cap))
    objective = solver.Objective()
    for model in models:
        for var, coefficient in model.cost:
            objective.SetCoefficient(var, coefficient)
    objective.SetOffset(sum(model.cost_offset for model in models))
    objective.SetMinimization()
    if start is not None:
        variables: list[pywraplp.Variable] = []
        values: list[float] = []
        for model, plan in zip(models, start, strict=True):
            v, x = model.hint_values(plan)
            variables += v
            values += x
        solver.SetHint(variables, values)
    if deadline.passed():
        return JointResult(None, SolveStatus.FEASIBLE, -np.inf)
    status = solve_exactly(solver, deadline.remaining_ms())
    if status == pywraplp.Solver.OPTIMAL:
        return JointResult(tuple(m.plan() for m in models), SolveStatus.OPTIMAL, float(objective.Value()))
    if status == pywraplp.Solver.FEASIBLE:
        return JointResult(tuple(m.plan() for m in models), SolveStatus.FEASIBLE, float(objective.BestBound()))
    return JointResult(None, SolveStatus.FEASIBLE, -np.inf)


def _shared_stock(models: Sequence[OrderModel]) -> list[tuple[list[pywraplp.Variable], int]]:
    """The nested constraints (module docstring) that can bind: (variables, cap)."""
    # (SKU, snapshot node) -> order -> (its cap there, its variables there)
    positions: dict[tuple[str, int], dict[int, tuple[int, list[pywraplp.Variable]]]] = defaultdict(dict)
    for o, model in enumerate(models):
        problem = model.problem
        for (line, j), var in model.x.items():
            k = int(problem.sku_row[line])
            column = int(model.cols[j])
            at = positions[problem.skus[k], int(problem.nodes[column])]
            cap = int(problem.avail[k, column])
            at.setdefault(o, (cap, []))[1].append(var)
    constraints = []
    for by_order in positions.values():
        if len(by_order) < 2:
            continue  # one order alone: its own model holds it to its cap
        for cap in sorted({cap for cap, _ in by_order.values()}):
            vars_ = [v for c, vs in by_order.values() if c <= cap for v in vs]
            if sum(v.ub() for v in vars_) > cap:
                constraints.append((vars_, cap))
    return constraints


def _shared_units(models: Sequence[OrderModel], max_units: IntArray) -> list[tuple[list[pywraplp.Variable], int]]:
    at_node: dict[int, list[pywraplp.Variable]] = defaultdict(list)
    orders: dict[int, set[int]] = defaultdict(set)
    for o, model in enumerate(models):
        for (_, j), var in model.x.items():
            n = int(model.problem.nodes[model.cols[j]])
            at_node[n].append(var)
            orders[n].add(o)
    return [
        (vars_, int(max_units[n]))
        for n, vars_ in at_node.items()
        if len(orders[n]) > 1 and sum(v.ub() for v in vars_) > max_units[n]
    ]


def _shared_shipments(
    models: Sequence[OrderModel], max_shipments: IntArray
) -> list[tuple[list[pywraplp.Variable], int]]:
    at_node: dict[int, list[pywraplp.Variable]] = defaultdict(list)
    for model in models:
        for j, y in enumerate(model.y):
            at_node[int(model.problem.nodes[model.cols[j]])].append(y)
    return [(ys, int(max_shipments[n])) for n, ys in at_node.items() if len(ys) > max_shipments[n]]


def _add(solver: pywraplp.Solver, terms: list[tuple[pywraplp.Variable, float]], lb: float, ub: float) -> None:
    constraint = solver.Constraint(lb, ub)
    for var, coefficient in terms:
        constraint.SetCoefficient(var, coefficient)
