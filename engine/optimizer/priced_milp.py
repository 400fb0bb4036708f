"""The exact model when a shipment's carrier charge is not linear in what it ships
(``Problem.pricing``: a promise order whose nodes have carrier options that cross, or whose
dimensional weight bills some mixes of lines and not others; docs/cost-model.md).

Disaggregated by option: y[n,r] binary "ships from n by option r" (at most one r per node: one
box, one service), x[l,n,r] integer units of line l in it, and for a service with a dimensional
divisor d, b[n,r] >= 0 its billed pounds with b >= Σ w_l x and b >= Σ (v_l / d) x (billed weight
is convex, and the objective pushes b down to the larger). A shipment then pays its option's
per-shipment charge (base, surcharges) and per billed pound: minimising over r
is the cheapest option for exactly what the plan ships from n. A rule allowing lateness adds one
variable, the days the order is late, at least each chosen option's days late (late >= d[n,r] y[n,r]),
at the penalty per day: the order pays once, by its latest shipment (docs/promise.md).
"""

from __future__ import annotations

import numpy as np
from ortools.linear_solver import pywraplp

from engine.decision import SolveStatus
from engine.model import ObjectiveMode
from engine.optimizer.deadline import Deadline
from engine.optimizer.milp import MilpResult, new_solver, solve_exactly
from engine.optimizer.plan import Plan
from engine.problem import Problem

_Terms = list[tuple[pywraplp.Variable, float]]

# The model is built only up to this many (line, node, option) unit variables: its build is Python,
# not bounded by the solver's time limit, and 30 lines over 2,000 nodes by 3 options took 0.4 s.
MAX_UNITS = 5_000
# What building the model costs per unit variable, measured on 30-line orders over 2,000 nodes
# (17-20 µs at rest, benchmarks/results/2026-12-08-promise-sourcing-*.md); CBC then took about twice
# the build to prove the optimum. A decision builds the model only when the build fits in half of
# the time left, so that the solve gets the other half.
BUILD_US_PER_UNIT = 20.0


def unit_variables(problem: Problem) -> int:
    """How many (line, node, option) unit variables the model for ``problem`` has."""
    assert problem.pricing is not None
    per_node: list[int] = problem.allowed.sum(axis=0).tolist()
    return sum(len(rates) * lines for rates, lines in zip(problem.pricing, per_node, strict=True))


def buildable(problem: Problem, time_ms: int | None = None) -> bool:
    """Whether the model for ``problem`` is small enough to build within a decision's time, and,
    with ``time_ms``, to build in half of it."""
    units = unit_variables(problem)
    if time_ms is not None and units * BUILD_US_PER_UNIT > time_ms * 500.0:
        return False
    return units <= MAX_UNITS


def solve_priced_milp(problem: Problem, time_limit_ms: int, backend: str, force: int | None = None) -> MilpResult:
    """The cheapest plan over every candidate under ``problem.pricing``; ``force`` (a column) must ship."""
    assert problem.pricing is not None and problem.volume is not None
    deadline = Deadline.after_ms(time_limit_ms)
    solver = new_solver(backend)
    inf = solver.infinity()
    terms = problem.terms
    bo = terms.backorder_penalty
    weight, volume = problem.weight.tolist(), problem.volume.tolist()

    def add(row: _Terms, lb: float, ub: float) -> None:
        constraint = solver.Constraint(lb, ub)
        for var, coefficient in row:
            constraint.SetCoefficient(var, coefficient)

    ys: list[pywraplp.Variable] = []
    cost: _Terms = []
    # The order is late by its latest shipment and pays for it once: late >= each chosen option's days.
    penalty = terms.late_penalty_per_day
    late = solver.NumVar(0.0, inf, "") if penalty > 0 else None
    if late is not None:
        cost.append((late, penalty))
    by_line: list[_Terms] = [[] for _ in range(problem.n_lines)]
    x: dict[tuple[int, int], list[pywraplp.Variable]] = {}
    for n, rates in enumerate(problem.pricing):
        if deadline.passed():  # the build is Python, which the solver's time limit does not bound
            return MilpResult(None, SolveStatus.FEASIBLE, -np.inf)
        node_ys = []
        by_sku: dict[int, _Terms] = {}
        node_units: _Terms = []
        cap = int(problem.max_units[n])
        for rate in rates:
            y = solver.BoolVar("")
            node_ys.append(y)
            ys.append(y)
            cost.append((y, float(problem.fixed[n]) + rate.fixed))
            if late is not None and rate.late_days > 0:
                add([(late, 1.0), (y, -float(rate.late_days))], 0.0, inf)
            divisor = rate.dim_divisor
            billed = solver.NumVar(0.0, inf, "") if divisor is not None else None
            pounds: _Terms = []
            cubic: _Terms = []
            for line in np.flatnonzero(problem.allowed[:, n]).tolist():
                k = int(problem.sku_row[line])
                per = int(min(problem.qty[line], problem.avail[k, n], cap))
                if per <= 0:
                    continue
                var = solver.IntVar(0, per, "")
                x.setdefault((line, n), []).append(var)
                add([(var, 1.0), (y, -float(per))], -inf, 0.0)
                by_line[line].append((var, 1.0))
                by_sku.setdefault(k, []).append((var, 1.0))
                node_units.append((var, 1.0))
                unit = float(problem.unit[line, n]) - bo
                if billed is None:
                    unit += rate.per_lb * weight[line]
                else:
                    pounds.append((var, weight[line]))
                    cubic.append((var, volume[line] / divisor))
                cost.append((var, unit))
            if billed is not None:
                cost.append((billed, rate.per_lb))
                add([(billed, 1.0), *((v, -c) for v, c in pounds)], 0.0, inf)
                add([(billed, 1.0), *((v, -c) for v, c in cubic)], 0.0, inf)
        add([(y, 1.0) for y in node_ys], -inf, 1.0)  # one box, one service
        if force == n:
            add([(y, 1.0) for y in node_ys], 1.0, 1.0)
        for k, row in by_sku.items():
            if len(row) > 1:
                add(row, -inf, float(problem.avail[k, n]))
        if len(node_units) > 1:
            add(node_units, -inf, float(cap))
    for line, row in enumerate(by_line):
        add(row, -inf, float(problem.qty[line]))
        if problem.least is not None and problem.least[line] > 0:
            add(row, float(problem.least[line]), inf)
    shipments: _Terms = [(y, 1.0) for y in ys]
    if terms.max_shipments is not None:
        add(shipments, -inf, float(terms.max_shipments))
    if terms.all_or_nothing:
        filled_all = solver.BoolVar("")
        for line, row in enumerate(by_line):
            add([*row, (filled_all, -float(problem.qty[line]))], 0.0, 0.0)
    extra = solver.NumVar(0.0, inf, "")
    add([(extra, 1.0), *((y, -1.0) for y in ys)], -1.0, inf)  # extra >= Σy - 1
    cost.append((extra, terms.split_penalty))
    offset = bo * float(problem.qty.sum())

    def objective(row: _Terms, constant: float = 0.0, maximize: bool = False) -> None:
        goal = solver.Objective()
        goal.Clear()
        for var, coefficient in row:
            goal.SetCoefficient(var, coefficient)
        goal.SetOffset(constant)
        if maximize:
            goal.SetMaximization()
        else:
            goal.SetMinimization()

    if terms.objective is ObjectiveMode.FEWEST_SHIPMENTS:
        # Lexicographic, as the linear model: most units filled, then fewest shipments, then least cost.
        filled: _Terms = [term for row in by_line for term in row]
        for row, maximize in ((filled, True), (shipments, False)):
            objective(row, maximize=maximize)
            if solve_exactly(solver, deadline.remaining_ms()) != pywraplp.Solver.OPTIMAL:
                return MilpResult(None, SolveStatus.FEASIBLE, -np.inf)
            best = float(round(solver.Objective().Value()))
            add(row, best, inf) if maximize else add(row, -inf, best)
    if deadline.passed():  # a solve given no time still presolves and solves the root
        return MilpResult(None, SolveStatus.FEASIBLE, -np.inf)
    objective(cost, offset)
    status = solve_exactly(solver, deadline.remaining_ms())
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return MilpResult(None, SolveStatus.FEASIBLE, -np.inf)
    plan_x = np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64)
    for (line, n), vars_ in x.items():
        plan_x[line, n] = sum(round(v.solution_value()) for v in vars_)
    plan = Plan(plan_x)
    if status == pywraplp.Solver.OPTIMAL:
        return MilpResult(plan, SolveStatus.OPTIMAL, plan.objective(problem))
    return MilpResult(plan, SolveStatus.FEASIBLE, float(solver.Objective().BestBound()))
