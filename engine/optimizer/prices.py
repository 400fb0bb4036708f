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


class Positions:
    """Global ids of the (SKU, snapshot node) positions the orders may take from, and their supply."""

    def __init__(self, problems: Sequence[Problem], movable: Sequence[bool], fixed_plans: Sequence[Plan]) -> None:
        # Keyed by (global SKU number, snapshot node) in one array pass: a Python loop per position
        # took seconds over 10,000 orders.
        sku_number: dict[str, int] = {}
        keys, caps, where = [], [], []
        for problem in problems:
            rows, cols = np.nonzero(problem.avail > 0)
            numbers = np.array([sku_number.setdefault(sku, len(sku_number)) for sku in problem.skus], dtype=np.int64)
            keys.append(numbers[rows] * (1 << 32) + problem.nodes[cols])
            caps.append(problem.avail[rows, cols])
            where.append((rows, cols))
        unique, inverse = np.unique(np.concatenate(keys) if keys else np.zeros(0, np.int64), return_inverse=True)
        self.supply = np.zeros(unique.shape[0], dtype=np.int64)
        np.maximum.at(self.supply, inverse, np.concatenate(caps) if caps else np.zeros(0, np.int64))  # the largest cap
        names = list(sku_number)
        self.sku = [names[int(k)] for k in (unique >> 32).tolist()]  # per position
        self.node = unique & ((1 << 32) - 1)
        self.at: list[IntArray] = []  # per order: [K, N] position id of each (SKU row, column), -1: none
        offset = 0
        for problem, (rows, cols) in zip(problems, where, strict=True):
            at = np.full(problem.avail.shape, -1, dtype=np.int64)
            at[rows, cols] = inverse[offset : offset + rows.shape[0]]
            offset += rows.shape[0]
            self.at.append(at)
        # What orders held at their plans take is gone for the others.
        for o, problem in enumerate(problems):
            if not movable[o]:
                ids_, units = self.takes(o, problem, fixed_plans[o])
                np.subtract.at(self.supply, ids_, units)

    def takes(self, o: int, problem: Problem, plan: Plan) -> tuple[IntArray, IntArray]:
        """(position ids, units) ``plan`` takes."""
        by_sku = per_sku(problem, plan)
        where = (by_sku > 0) & (self.at[o] >= 0)
        return self.at[o][where], by_sku[where]


@dataclass
class _Order:
    """One movable order's current priced decision and what its plan takes."""

    solution: Solution
    ids: IntArray  # positions its plan takes from
    units: IntArray
    nodes: IntArray  # snapshot nodes it ships from


def priced_problem(problem: Problem, at: IntArray, prices: np.ndarray) -> Problem:
    """``problem`` with each unit at a priced position costing its price more."""
    extra = np.where(at >= 0, prices[np.maximum(at, 0)], 0.0)[problem.sku_row]  # [L, N]
    return replace(problem, unit=problem.unit + extra)


def coordinate(
    problems: Sequence[Problem],
    snapshot: NetworkSnapshot,
    start: Sequence[Plan],
    alone: Sequence[Solution | None],
    movable: Sequence[bool],
    settings: SolverSettings,
    deadline: Deadline,
    order_of_repair: Sequence[int],
    good_enough: Callable[[float, float], bool],
) -> Priced:
    """The best batch plan found and the best bound, from ``start`` (a batch plan that fits) and
    each movable order's decision alone on all the stock (``alone``: the priced problem at price 0).
    Orders not ``movable`` keep their ``start`` plan. Stops when ``good_enough(total, bound)``,
    after MAX_ROUNDS, or at ``deadline``."""
    positions = Positions(problems, movable, start)
    n_positions = positions.supply.shape[0]
    prices = np.zeros(n_positions)
    fixed_cost = sum(p.objective(problem) for p, problem, m in zip(start, problems, movable, strict=True) if not m)
    best_plans = list(start)
    best_total = sum(plan.objective(problem) for plan, problem in zip(start, problems, strict=True))
    best_bound = -np.inf
    takes = np.zeros(n_positions, dtype=np.int64)
    state: dict[int, _Order] = {}

    def record(o: int, solution: Solution) -> None:
        old = state.get(o)
        if old is not None:
            np.subtract.at(takes, old.ids, old.units)
        ids, units = positions.takes(o, problems[o], solution.plan)
        np.add.at(takes, ids, units)
        state[o] = _Order(solution, ids, units, problems[o].nodes[solution.plan.used()])

    for o, solution in enumerate(alone):
        if movable[o] and solution is not None:
            record(o, solution)
    candidate_ids = {o: positions.at[o][positions.at[o] >= 0] for o in state}
    step_scale, stall, rounds = 1.0, 0, 0
    while rounds < MAX_ROUNDS:
        rounds += 1
        value = fixed_cost - float(prices @ positions.supply) + sum(x.solution.bound for x in state.values())
        if value > best_bound + COST_EPSILON * max(1.0, abs(value)):
            best_bound, stall = value, 0
        else:
            stall += 1
            if stall >= _STALL_ROUNDS:
                step_scale, stall = step_scale / 2.0, 0
        over = takes - positions.supply
        plans = _repair(problems, snapshot, state, start, positions, over, order_of_repair, settings, deadline)
        if plans is not None:
            total = sum(plan.objective(problem) for plan, problem in zip(plans, problems, strict=True))
            if total < best_total - COST_EPSILON * max(1.0, abs(best_total)) and shares_fit(snapshot, problems, plans):
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
        rose, fell = new_prices > prices, new_prices < prices
        prices = new_prices
        for o, x in list(state.items()):
            # Its plan is still its best unless a price it pays rose, or one it could pay fell.
            if not (rose[x.ids].any() or fell[candidate_ids[o]].any()):
                continue
            if deadline.passed():
                break
            record(o, optimize(priced_problem(problems[o], positions.at[o], prices), settings, deadline))
        if deadline.passed():
            break
    return Priced(tuple(best_plans), best_total, best_bound, rounds)


def _repair(
    problems: Sequence[Problem],
    snapshot: NetworkSnapshot,
    state: dict[int, _Order],
    start: Sequence[Plan],
    positions: Positions,
    over: np.ndarray,
    order_of_repair: Sequence[int],
    settings: SolverSettings,
    deadline: Deadline,
) -> list[Plan] | None:
    """The priced plans made to fit: every order taking units at an over-asked position is decided
    again, in ``order_of_repair``, on what all the others leave (at its real costs)."""
    plans = [state[o].solution.plan if o in state else start[o] for o in range(len(problems))]
    if not (over > 0).any():
        return plans
    # Only as many orders as the excess needs give way: the last in repair order first.
    excess = np.maximum(over, 0)
    redo = []
    for o in reversed(order_of_repair):
        x = state.get(o)
        if x is not None and (excess[x.ids] > 0).any():
            redo.append(o)
            np.subtract.at(excess, x.ids, x.units)
    redo.reverse()
    ledger = Ledger(snapshot, problems)
    # Everyone else's takes, from the positions' totals (one vectorized pass, not one per order).
    kept = np.zeros(positions.supply.shape[0], dtype=np.int64)
    shipments = np.zeros(len(snapshot), dtype=np.int64)
    waiting = set(redo)
    for o in range(len(problems)):
        if o in waiting:
            continue
        if o in state:
            x = state[o]
            np.add.at(kept, x.ids, x.units)
            shipments[x.nodes] += 1
        else:
            ledger.add(problems[o], plans[o])
    rows = np.array([ledger.row[sku] for sku in positions.sku], dtype=np.int64)
    np.add.at(ledger.taken, (rows, positions.node), kept)
    np.add.at(ledger.units, positions.node, kept)
    ledger.shipments += shipments
    for o in redo:
        if deadline.passed():
            return None
        residual, cols = ledger.residual(problems[o], snapshot)
        plans[o] = widen(problems[o], cols, optimize(residual, settings, deadline).plan)
        ledger.add(problems[o], plans[o])
    return plans
