"""Orders of a batch decided apart, coordinated by prices on the stock they compete for.

A batch is each order's own problem plus what they share. Pricing the shared stock (a Lagrangian
relaxation: a price per unit at each contested (SKU, node) position) separates it again: every
order is decided alone, exactly, by the single-order optimizer, with each unit it takes at a
position costing that position's price more; then

    L(prices) = Σ_o (order o's least priced cost) - Σ_p price_p · supply_p

is a lower bound on every batch plan (a plan within the supply pays no more in prices than the
supply is worth). Prices rise where the orders' priced plans want more than the supply and fall
where they want less (subgradient steps towards the best plan known), and each round's priced
plans are repaired into a batch plan: the orders at an over-asked position are decided again one
by one, on what the others leave, at their real costs.

What is relaxed, so the bound stays a bound: the supply of a position is the most any one order may
take there (the nested protection constraints of engine/optimizer/joint_milp.py keep every order
together within it, and each order keeps its own cap), and node capacities shared by orders are
dropped. Nothing here needs a MIP solver: it scales with orders, and a general solver never sees
that the orders are separate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.network import IntArray, NetworkSnapshot
from engine.optimizer.deadline import Deadline
from engine.optimizer.plan import Plan
from engine.optimizer.search import COST_EPSILON, Solution, SolverSettings, optimize
from engine.optimizer.shared import Ledger, per_sku, shares_fit, widen
from engine.problem import Problem

MAX_ROUNDS = 60
_STALL_ROUNDS = 4  # rounds without a better bound before the step halves


@dataclass(frozen=True)
class Priced:
    plans: tuple[Plan, ...]  # a batch plan that fits the shared stock and capacity
    total: float
    bound: float  # a proven lower bound on every batch plan
    rounds: int


class _Positions:
    """Global ids of the (SKU, snapshot node) positions the orders may take from, and their supply."""

    def __init__(self, problems: Sequence[Problem], movable: Sequence[bool], fixed_plans: Sequence[Plan]) -> None:
        ids: dict[tuple[str, int], int] = {}
        self.at: list[IntArray] = []  # per order: [K, N] position id of each (SKU row, column), -1: none
        supply: list[int] = []
        for problem in problems:
            at = np.full(problem.avail.shape, -1, dtype=np.int64)
            for k, j in zip(*np.nonzero(problem.avail > 0), strict=True):
                key = (problem.skus[int(k)], int(problem.nodes[j]))
                p = ids.setdefault(key, len(ids))
                if p == len(supply):
                    supply.append(0)
                supply[p] = max(supply[p], int(problem.avail[k, j]))  # the largest cap: see the docstring
                at[k, j] = p
            self.at.append(at)
        self.supply = np.array(supply, dtype=np.int64)
        # What orders held at their plans take is gone for the others.
        for o, problem in enumerate(problems):
            if not movable[o]:
                self.supply -= self.takes(o, problem, fixed_plans[o])

    def takes(self, o: int, problem: Problem, plan: Plan) -> IntArray:
        """[positions] units ``plan`` takes at each position."""
        units = np.zeros(self.supply.shape[0], dtype=np.int64)
        by_sku = per_sku(problem, plan)
        where = self.at[o] >= 0
        np.add.at(units, self.at[o][where], by_sku[where])
        return units


def priced_problem(problem: Problem, at: IntArray, prices: np.ndarray) -> Problem:
    """``problem`` with each unit at a priced position costing its price more."""
    extra = np.where(at >= 0, prices[np.maximum(at, 0)], 0.0)[problem.sku_row]  # [L, N]
    return replace(problem, unit=problem.unit + extra)


def coordinate(
    problems: Sequence[Problem],
    snapshot: NetworkSnapshot,
    start: Sequence[Plan],
    alone: Sequence[Solution],
    movable: Sequence[bool],
    settings: SolverSettings,
    deadline: Deadline,
    order_of_repair: Sequence[int],
    good_enough: Callable[[float, float], bool],
) -> Priced:
    """The best batch plan found and the best bound, from ``start`` (a batch plan that fits) and
    each order's decision alone on all the stock (``alone``: the priced problem at price 0).
    Orders not ``movable`` keep their ``start`` plan. Stops when ``good_enough(total, bound)``,
    after MAX_ROUNDS, or at ``deadline``."""
    positions = _Positions(problems, movable, start)
    prices = np.zeros(positions.supply.shape[0])
    fixed_cost = sum(p.objective(problem) for p, problem, m in zip(start, problems, movable, strict=True) if not m)
    best_plans = list(start)
    best_total = sum(plan.objective(problem) for plan, problem in zip(start, problems, strict=True))
    best_bound = -np.inf
    current = [alone[o] if movable[o] else None for o in range(len(problems))]
    touched = [positions.at[o][positions.at[o] >= 0] for o in range(len(problems))]
    step_scale, stall, rounds = 1.0, 0, 0
    while rounds < MAX_ROUNDS:
        rounds += 1
        takes = np.zeros_like(prices)
        value = fixed_cost - float(prices @ positions.supply)
        for o in range(len(problems)):
            solution = current[o]
            if solution is None:
                continue
            value += solution.bound  # at most its priced plan's cost
            takes += positions.takes(o, problems[o], solution.plan)
        if value > best_bound + COST_EPSILON * max(1.0, abs(value)):
            best_bound, stall = value, 0
        else:
            stall += 1
            if stall >= _STALL_ROUNDS:
                step_scale, stall = step_scale / 2.0, 0
        over = takes - positions.supply
        if (over > 0).any():
            plans = _repair(problems, snapshot, current, start, movable, positions, over, order_of_repair, settings,
                            deadline)  # fmt: skip
        else:
            plans = [s.plan if s is not None else start[o] for o, s in enumerate(current)]
        if plans is not None and shares_fit(snapshot, problems, plans):
            total = sum(plan.objective(problem) for plan, problem in zip(plans, problems, strict=True))
            if total < best_total - COST_EPSILON * max(1.0, abs(best_total)):
                best_plans, best_total = plans, total
        if good_enough(best_total, best_bound) or deadline.passed() or step_scale < 1e-3:
            break
        gradient = over.astype(np.float64)
        gradient[(prices <= 0.0) & (gradient < 0.0)] = 0.0  # a price at zero cannot fall
        norm = float(gradient @ gradient)
        if norm == 0.0:
            break  # the priced plans fit exactly: the bound meets their cost
        step = step_scale * max(best_total - value, COST_EPSILON) / norm
        new_prices = np.maximum(0.0, prices + step * gradient)
        changed = np.flatnonzero(new_prices != prices)
        prices = new_prices
        moved = np.zeros(prices.shape[0], dtype=np.bool_)
        moved[changed] = True
        for o in range(len(problems)):
            if current[o] is None or not moved[touched[o]].any():
                continue
            if deadline.passed():
                break
            current[o] = optimize(priced_problem(problems[o], positions.at[o], prices), settings, deadline)
        if deadline.passed():
            break
    return Priced(tuple(best_plans), best_total, best_bound, rounds)


def _repair(
    problems: Sequence[Problem],
    snapshot: NetworkSnapshot,
    current: Sequence[Solution | None],
    start: Sequence[Plan],
    movable: Sequence[bool],
    positions: _Positions,
    over: np.ndarray,
    order_of_repair: Sequence[int],
    settings: SolverSettings,
    deadline: Deadline,
) -> list[Plan] | None:
    """The priced plans made to fit: every order taking units at an over-asked position is decided
    again, in ``order_of_repair``, on what all the others leave (at its real costs)."""
    plans = [s.plan if s is not None else start[o] for o, s in enumerate(current)]
    crowded = over > 0
    redo = [o for o in order_of_repair if movable[o] and crowded[positions.takes(o, problems[o], plans[o]) > 0].any()]
    ledger = Ledger(snapshot, problems)
    waiting = set(redo)
    for o, (problem, plan) in enumerate(zip(problems, plans, strict=True)):
        if o not in waiting:
            ledger.add(problem, plan)
    for o in redo:
        if deadline.passed():
            return None
        residual, cols = ledger.residual(problems[o], snapshot)
        plans[o] = widen(problems[o], cols, optimize(residual, settings, deadline).plan)
        ledger.add(problems[o], plans[o])
    return plans
