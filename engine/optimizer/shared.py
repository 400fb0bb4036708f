"""What the orders of a batch take from the stock and node capacity they share, and each
order's problem as the others leave it.

Every order's problem is built once against the full availability; what another order takes is
subtracted from it here rather than by building the problem again. That is exact, protections
included: a position holding a, protected by p for this order, offers it max(0, a - p); with t
taken by others it offers max(0, a - t - p) = max(0, max(0, a - p) - t).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from engine.network import IntArray, NetworkSnapshot
from engine.optimizer.plan import Plan, is_feasible
from engine.problem import Elimination, Problem, select_columns


class Ledger:
    """Units taken per (SKU, snapshot node), units and shipments per snapshot node."""

    def __init__(self, snapshot: NetworkSnapshot, problems: Sequence[Problem]) -> None:
        skus = dict.fromkeys(sku for problem in problems for sku in problem.skus)
        self.row = {sku: k for k, sku in enumerate(skus)}
        self.taken = np.zeros((len(skus), len(snapshot)), dtype=np.int64)
        self.units = np.zeros(len(snapshot), dtype=np.int64)
        self.shipments = np.zeros(len(snapshot), dtype=np.int64)

    def add(self, problem: Problem, plan: Plan, sign: int = 1) -> None:
        """Record (or with ``sign`` -1, remove) ``plan``, over ``problem``'s columns."""
        by_sku = per_sku(problem, plan)
        rows = np.array([self.row[sku] for sku in problem.skus], dtype=np.int64)
        self.taken[np.ix_(rows, problem.nodes)] += sign * by_sku
        units = plan.x.sum(axis=0)
        self.units[problem.nodes] += sign * units
        self.shipments[problem.nodes] += sign * (units > 0)

    def residual(
        self, problem: Problem, snapshot: NetworkSnapshot, own: Plan | None = None
    ) -> tuple[Problem, IntArray]:
        """``problem`` as the recorded plans leave it (``own``: the order's recorded plan, not
        subtracted), restricted to the columns still useful; and those columns' indices."""
        rows = np.array([self.row[sku] for sku in problem.skus], dtype=np.int64)
        taken = self.taken[np.ix_(rows, problem.nodes)]
        units = self.units[problem.nodes]
        shipments = self.shipments[problem.nodes]
        if own is not None:
            taken = taken - per_sku(problem, own)
            units = units - own.x.sum(axis=0)
            shipments = shipments - (own.x.sum(axis=0) > 0)
        avail = np.maximum(problem.avail - taken, 0)
        units_left = problem.max_units - units
        open_ = (units_left > 0) & (snapshot.max_shipments[problem.nodes] - shipments > 0)
        allowed = problem.allowed & (avail[problem.sku_row] > 0)
        if own is not None:
            # What the plan takes stays offered to it: with protections, a less protected order
            # may have taken a position's last units after this one (a possible order of takes).
            np.maximum(avail, per_sku(problem, own), out=avail)
            allowed |= own.x > 0
        cols: IntArray = np.flatnonzero(open_ & allowed.any(axis=0))
        elimination = problem.elimination.copy()
        full = np.isin(problem.stocked, problem.nodes[~open_]) & (elimination == Elimination.CANDIDATE)
        elimination[full] = Elimination.NO_CAPACITY
        left = replace(problem, avail=avail, allowed=allowed, max_units=units_left, elimination=elimination)
        return select_columns(left, cols), cols


def per_sku(problem: Problem, plan: Plan) -> IntArray:
    """[K, N] units ``plan`` takes per SKU and column."""
    by_sku = np.zeros((len(problem.skus), problem.n_nodes), dtype=np.int64)
    np.add.at(by_sku, problem.sku_row, plan.x)
    return by_sku


def widen(problem: Problem, cols: IntArray, plan: Plan) -> Plan:
    """A plan over ``cols`` of ``problem`` as a plan over all its columns."""
    x = np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64)
    x[:, cols] = plan.x
    return Plan(x)


def shares_fit(snapshot: NetworkSnapshot, problems: Sequence[Problem], plans: Sequence[Plan]) -> bool:
    """Each plan feasible for its order, and all of them together within the shared stock (in some
    order of takes, each within what its protections leave) and node capacity."""
    if not all(is_feasible(problem, plan) for problem, plan in zip(problems, plans, strict=True)):
        return False
    units = np.zeros(len(snapshot), dtype=np.int64)
    shipments = np.zeros(len(snapshot), dtype=np.int64)
    takes: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)  # position -> (cap, units)
    for problem, plan in zip(problems, plans, strict=True):
        by_sku = per_sku(problem, plan)
        for k, j in zip(*np.nonzero(by_sku), strict=True):
            takes[problem.skus[int(k)], int(problem.nodes[j])].append((int(problem.avail[k, j]), int(by_sku[k, j])))
        used = plan.x.sum(axis=0)
        units[problem.nodes] += used
        shipments[problem.nodes] += used > 0
    for at in takes.values():
        taken = 0
        for cap, qty in sorted(at):  # most protected (smallest cap) first
            taken += qty
            if taken > cap:
                return False
    return bool((units <= snapshot.max_units).all() and (shipments <= snapshot.max_shipments).all())
