"""Orders of a large batch coordinated by column generation over the stock they share.

The same relaxation as engine/optimizer/prices.py (a price per unit at each (SKU, node) position,
the supply of a position the most any one order may take there, shared node capacities dropped),
but the prices come from a linear program instead of subgradient steps. Each order's plans found
so far are its columns; the restricted master

    min Σ_o Σ_c cost_oc λ_oc   s.t.   Σ_c λ_oc = 1 (each order),   Σ_oc takes_oc[p] λ_oc <= supply_p

is solved by GLOP, its stock rows' duals are the prices, and every order whose prices moved is
decided again, exactly, by the single-order optimizer at its priced unit costs (a new column when
it is cheaper at those prices than the order's columns). At any prices

    L(prices) = Σ_o (order o's least priced cost) - Σ_p price_p · supply_p

bounds every batch plan from below (prices.py's argument), so each completed round's L is a true
bound; the master's prices reach the best such bound in a few rounds (Dantzig-Wolfe: the bound of
the convex hull of each order's plans), where subgradient steps over thousands of orders did not
(the 1,816-order group of the 10,000-order re-plan benchmark: 66,312 in 5 rounds, prices 62k in
their whole time). The batch plan is the master with whole λ (one column per order, a small
set-partitioning MIP), checked against the shared stock and capacity by shares_fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from engine.network import IntArray, NetworkSnapshot
from engine.optimizer.deadline import Deadline
from engine.optimizer.milp import GLOP_PARAMETERS, LP_BACKEND, new_solver, solve_exactly
from engine.optimizer.plan import Plan, is_feasible
from engine.optimizer.prices import Positions, priced_problem
from engine.optimizer.search import COST_EPSILON, Solution, SolverSettings, optimize
from engine.optimizer.shared import shares_fit
from engine.problem import Problem

MAX_ROUNDS = 40
# The rounds' share of the time; the rest is for the master with whole λ (0.3 s of CBC for the
# 1,816-order group above) and what the caller does after.
ROUNDS_SHARE = 0.75
# Rounds stop when the master's value is this close to the bound: no column can lower it much more.
CONVERGED = 1e-5


@dataclass(frozen=True)
class Column:
    cost: float  # the plan's real cost (unpriced)
    ids: IntArray  # positions it takes from
    units: IntArray
    plan: Plan


@dataclass(frozen=True)
class Generated:
    plans: tuple[Plan, ...]  # the best batch plan found; fits the shared stock and capacity
    total: float
    bound: float  # a proven lower bound on every batch plan
    rounds: int


def generate(
    problems: Sequence[Problem],
    snapshot: NetworkSnapshot,
    start: Sequence[Plan],
    alone: Sequence[Solution | None],
    movable: Sequence[bool],
    settings: SolverSettings,
    deadline: Deadline,
) -> Generated:
    """The best batch plan found and the best bound, from ``start`` (a batch plan that fits; its
    plans are the first columns, so the master is always feasible) and each movable order's decision
    alone (its least cost at price 0). Orders not ``movable`` keep their ``start`` plan."""
    positions = Positions(problems, movable, start)
    supply = positions.supply.astype(np.float64)
    members = [o for o, m in enumerate(movable) if m and alone[o] is not None]
    fixed_cost = sum(p.objective(problem) for p, problem, m in zip(start, problems, movable, strict=True) if not m)
    columns: dict[int, dict[bytes, Column]] = {o: {} for o in members}

    def add(o: int, plan: Plan) -> bool:
        key = plan.x.tobytes()
        if key in columns[o] or not is_feasible(problems[o], plan):
            return False
        ids, units = positions.takes(o, problems[o], plan)
        columns[o][key] = Column(plan.objective(problems[o]), ids, units, plan)
        return True

    least = {}  # each member's least priced cost at the prices it was last decided at
    for o in members:
        solution = alone[o]
        assert solution is not None
        add(o, start[o])
        add(o, solution.plan)
        least[o] = min(solution.bound, solution.plan.objective(problems[o]))
    candidate_ids = {o: positions.at[o][positions.at[o] >= 0] for o in members}
    decided_at = {o: np.zeros(candidate_ids[o].shape[0]) for o in members}
    best_bound = fixed_cost + sum(least.values())  # L at price 0
    best_total = sum(plan.objective(problem) for plan, problem in zip(start, problems, strict=True))
    best_plans = list(start)
    rounds_end = Deadline(deadline.at - (deadline.at - Deadline.after_ms(0).at) * (1.0 - ROUNDS_SHARE))
    rounds = 0
    while rounds < MAX_ROUNDS and members and not rounds_end.passed():
        rounds += 1
        master = _master(members, columns, supply, rounds_end, whole=False)
        if master is None:
            break
        value, prices = master
        added, complete = 0, True
        for o in members:
            at_prices = prices[candidate_ids[o]]
            if np.array_equal(at_prices, decided_at[o]):
                continue  # the same priced problem as last time: its least cost stands
            if rounds_end.passed():
                complete = False
                break
            priced = priced_problem(problems[o], positions.at[o], prices)
            solution = optimize(priced, settings, rounds_end)
            least[o] = min(solution.bound, solution.plan.objective(priced))
            decided_at[o] = at_prices
            added += add(o, solution.plan)
        if not complete:
            break  # some orders' least costs are still at older prices: no bound from this round
        bound = fixed_cost + sum(least.values()) - float(prices @ supply)
        best_bound = max(best_bound, bound)
        if added == 0 or value - best_bound <= CONVERGED * max(1.0, abs(value)):
            break
    if members and not deadline.passed():
        whole = _master(members, columns, supply, deadline, whole=True, backend=settings.backend)
        if whole is not None:
            chosen = whole[1]
            plans = list(start)
            for i, o in enumerate(members):
                plans[o] = list(columns[o].values())[int(chosen[i])].plan
            total = sum(plan.objective(problem) for plan, problem in zip(plans, problems, strict=True))
            if total < best_total - COST_EPSILON * max(1.0, abs(best_total)) and shares_fit(snapshot, problems, plans):
                best_plans, best_total = plans, total
    return Generated(tuple(best_plans), best_total, min(best_bound, best_total), rounds)


def _master(
    members: Sequence[int],
    columns: dict[int, dict[bytes, Column]],
    supply: np.ndarray,
    deadline: Deadline,
    *,
    whole: bool,
    backend: str = LP_BACKEND,
) -> tuple[float, np.ndarray] | None:
    """The restricted master over the columns: (its value, the positions' prices) as an LP, or
    (its value, each member's chosen column index) with whole λ, by ``backend``; None when not
    solved in time."""
    solver = new_solver(backend if whole else LP_BACKEND)
    if not whole:
        solver.SetSolverSpecificParametersAsString(GLOP_PARAMETERS)
    infinity = solver.infinity()
    rows: dict[int, pywraplp.Constraint] = {}
    variables: list[list[pywraplp.Variable]] = []
    objective = solver.Objective()
    for o in members:
        convexity = solver.Constraint(1.0, 1.0)
        own = []
        for column in columns[o].values():
            var = solver.BoolVar("") if whole else solver.NumVar(0.0, infinity, "")
            own.append(var)
            convexity.SetCoefficient(var, 1.0)
            objective.SetCoefficient(var, column.cost)
            for p, units in zip(column.ids.tolist(), column.units.tolist(), strict=True):
                row = rows.get(p)
                if row is None:
                    row = rows[p] = solver.Constraint(-infinity, float(supply[p]))
                row.SetCoefficient(var, float(units))
        variables.append(own)
        if deadline.passed():
            return None
    objective.SetMinimization()
    remaining = deadline.remaining_ms()
    if whole:
        status = solve_exactly(solver, remaining)
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            return None
        chosen = np.array([int(np.argmax([v.solution_value() for v in own])) for own in variables])
        return float(objective.Value()), chosen
    solver.SetTimeLimit(max(1, remaining))
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    prices = np.zeros(supply.shape[0])
    for p, row in rows.items():
        prices[p] = max(0.0, -row.dual_value())  # a <= row of a minimization has a dual <= 0
    return float(objective.Value()), prices
