"""The exact model, solved with OR-Tools' MIP interface.

Variables: x[l,n] integer units of line l from node n (only where allowed), y[n]
binary "ships from n", s >= 0 extra shipments, f binary "filled" (all-or-nothing).
The backend is CBC by default: it proved optimality fastest on our hardest
reference instances (docs/decisions.md); SCIP is selectable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from engine.decision import SolveStatus
from engine.model import ObjectiveMode
from engine.optimizer.plan import Plan
from engine.problem import IntArray, Problem

DEFAULT_BACKEND = "CBC"


@dataclass(frozen=True)
class MilpResult:
    plan: Plan | None  # None when no solution was found in time
    status: SolveStatus
    bound: float  # a proven lower bound on the cost objective


class _Model:
    """One model over the candidate columns ``cols``; phases re-use it with extra constraints."""

    def __init__(self, problem: Problem, cols: IntArray, backend: str, force: int | None = None) -> None:
        solver = pywraplp.Solver.CreateSolver(backend)
        if solver is None:
            raise RuntimeError(f"OR-Tools backend {backend!r} is not available")
        solver.SetNumThreads(1)  # deterministic
        self.solver = solver
        self.problem = problem
        self.cols = cols
        terms = problem.terms
        avail = problem.avail[:, cols]
        allowed = problem.allowed[:, cols]
        self.y = [solver.BoolVar(f"y{j}") for j in range(len(cols))]
        if force is not None:
            self.y[int(np.nonzero(cols == force)[0][0])].SetLb(1)
        self.x: dict[tuple[int, int], pywraplp.Variable] = {}
        rows: list[list[pywraplp.Variable]] = [[] for _ in range(problem.n_lines)]
        for line in range(problem.n_lines):
            k = int(problem.sku_row[line])
            for j in np.nonzero(allowed[line])[0].tolist():
                ub = int(min(problem.qty[line], avail[k, j], problem.max_units[cols[j]]))
                if ub > 0:
                    var = solver.IntVar(0, ub, f"x{line}_{j}")
                    self.x[line, j] = var
                    rows[line].append(var)
                    solver.Add(var <= ub * self.y[j])
        for line, row in enumerate(rows):
            if len(row) > 1:
                solver.Add(solver.Sum(row) <= int(problem.qty[line]))
        by_sku_node: dict[tuple[int, int], list[pywraplp.Variable]] = {}
        for (line, j), var in self.x.items():
            by_sku_node.setdefault((int(problem.sku_row[line]), j), []).append(var)
        for (k, j), vars_ in by_sku_node.items():
            if len(vars_) > 1:
                solver.Add(solver.Sum(vars_) <= int(avail[k, j]) * self.y[j])
        by_node: dict[int, list[pywraplp.Variable]] = {}
        for (_, j), var in self.x.items():
            by_node.setdefault(j, []).append(var)
        for j, vars_ in by_node.items():
            cap = int(problem.max_units[cols[j]])
            if cap < int(problem.qty.sum()):
                solver.Add(solver.Sum(vars_) <= cap * self.y[j])
        self.shipments = solver.Sum(self.y)
        if terms.max_shipments is not None:
            solver.Add(self.shipments <= terms.max_shipments)
        self.filled = solver.Sum(list(self.x.values()))
        if terms.all_or_nothing:
            f = solver.BoolVar("filled")
            for line, row in enumerate(rows):
                solver.Add(solver.Sum(row) == int(problem.qty[line]) * f)
        self.s = solver.NumVar(0, solver.infinity(), "extra_shipments")
        solver.Add(self.s >= self.shipments - 1)
        bo = terms.backorder_penalty
        self.units_total = int(problem.qty.sum())
        self.cost = (
            solver.Sum(float(problem.fixed[cols[j]]) * self.y[j] for j in range(len(cols)))
            + solver.Sum((float(problem.unit[line, cols[j]]) - bo) * v for (line, j), v in self.x.items())
            + terms.split_penalty * self.s
            + bo * self.units_total
        )

    def hint(self, plan: Plan) -> None:
        """Start the search from a known plan (an upper bound prunes the tree from the first node)."""
        variables = list(self.x.values()) + self.y
        used = plan.x.sum(axis=0) > 0
        values = [float(plan.x[line, self.cols[j]]) for (line, j) in self.x] + [
            1.0 if used[c] else 0.0 for c in self.cols.tolist()
        ]
        self.solver.SetHint(variables, values)

    def solve(self, time_limit_ms: int) -> int:
        self.solver.SetTimeLimit(max(1, time_limit_ms))
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
        status: int = self.solver.Solve(params)
        return status

    def plan(self) -> Plan:
        x = np.zeros((self.problem.n_lines, self.problem.n_nodes), dtype=np.int64)
        for (line, j), var in self.x.items():
            x[line, self.cols[j]] = round(var.solution_value())
        return Plan(x)


def solve_milp(
    problem: Problem,
    cols: IntArray,
    time_limit_ms: int,
    backend: str = DEFAULT_BACKEND,
    force: int | None = None,
    start: Plan | None = None,
) -> MilpResult:
    """Solve over candidate columns ``cols``; ``force`` (a column index) must ship (for "why not X")."""
    model = _Model(problem, cols, backend, force)
    if start is not None:
        model.hint(start)
    solver = model.solver
    if problem.terms.objective is ObjectiveMode.FEWEST_SHIPMENTS:
        # Lexicographic: most units filled, then fewest shipments, then least cost.
        for expression, sense in ((model.filled, "max"), (model.shipments, "min")):
            if sense == "max":
                solver.Maximize(expression)
            else:
                solver.Minimize(expression)
            status = model.solve(time_limit_ms)
            if status != pywraplp.Solver.OPTIMAL:
                return MilpResult(None, SolveStatus.FEASIBLE, -np.inf)
            best = round(solver.Objective().Value())
            solver.Add(expression >= best if sense == "max" else expression <= best)
    solver.Minimize(model.cost)
    status = model.solve(time_limit_ms)
    if status == pywraplp.Solver.OPTIMAL:
        plan = model.plan()
        return MilpResult(plan, SolveStatus.OPTIMAL, plan.objective(problem))
    if status == pywraplp.Solver.FEASIBLE:
        return MilpResult(model.plan(), SolveStatus.FEASIBLE, float(solver.Objective().BestBound()))
    return MilpResult(None, SolveStatus.FEASIBLE, -np.inf)
