"""The exact decision for a small order (engine.optimizer.search.optimize's fast paths and
enumeration of node subsets, in the same order), or None for what this path hands back."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from engine.decision import (
    DecisionPath,
)
from engine.model import ObjectiveMode
from engine.small_orders.problem import SMALL_MAX_SUBSETS, _Small

COST_EPSILON = 1e-7  # engine.optimizer.search.COST_EPSILON


@dataclass(frozen=True)
class _Solved:
    plan: dict[int, list[int]]
    path: DecisionPath
    bound: float
    candidates: int


def _solve(p: _Small) -> _Solved | None:
    """engine.optimizer.search.optimize for what this path takes (None: the rest)."""
    n = p.n_nodes
    terms = p.terms
    if n == 0:
        return _Solved({}, DecisionPath.NOTHING_AVAILABLE, p.objective({}), 0)
    if terms.objective is ObjectiveMode.FEWEST_SHIPMENTS:
        full = p.full_fill()
        if not any(full):
            return None  # the general path's model
        best = _argmin([c if f else math.inf for c, f in zip(p.full_costs(), full, strict=True)])
        plan = {best: list(p.qty)}
        return _Solved(plan, DecisionPath.SINGLE_NODE_BOUND, p.objective(plan), 1)
    if terms.max_shipments == 1 or n == 1:
        plan = p.best_single_node(range(n))
        return _Solved(plan, DecisionPath.SINGLE_NODE_ENUMERATION, p.objective(plan), n)

    floor = p.unit_floor()
    full = p.full_fill()
    incumbent: dict[int, list[int]] = {}
    units_floor = sum(q * f for q, f in zip(p.qty, floor, strict=True))
    shortfall = min(terms.backorder_penalty - f for f in floor)
    may_split = terms.max_shipments is None or terms.max_shipments >= 2
    fixed_sorted = sorted(p.fixed)
    if any(full):
        costs = [c if f else math.inf for c, f in zip(p.full_costs(), full, strict=True)]
        best = _argmin(costs)
        incumbent = {best: list(p.qty)}
        # engine.optimizer.bounds.bound_without_single_full_shipment
        candidates = [terms.backorder_penalty * float(p.total_qty)]
        if may_split:
            candidates.append(terms.split_penalty + (fixed_sorted[0] + fixed_sorted[1]) + units_floor)
        candidates.append(fixed_sorted[0] + units_floor + shortfall)
        if costs[best] <= min(candidates) + COST_EPSILON:
            return _Solved(incumbent, DecisionPath.SINGLE_NODE_BOUND, costs[best], n)
    if len(p.skus) != len(p.qty):
        return None  # a SKU on two lines couples them: the general path's search
    if all(units >= p.total_qty for units in p.max_units):
        # A greedy plan (each line from its cheapest nodes, shipping charges shared out) bounds
        # the search when no single node fills the order: the bound that prunes columns below.
        greedy = _greedy(p)
        if greedy is not None and p.objective(greedy) < p.objective(incumbent) - COST_EPSILON:
            incumbent = greedy
    upper = p.objective(incumbent)
    # engine.optimizer.bounds.node_bounds: a lower bound on any plan shipping from each column.
    first = min(range(n), key=lambda c: (p.fixed[c], c))
    lower = []
    for c in range(n):
        other = p.fixed[first] if c != first else min(p.fixed[d] for d in range(n) if d != first)
        extra = 0.0 if full[c] else min(terms.split_penalty + other if may_split else math.inf, shortfall)
        lower.append(p.fixed[c] + units_floor + extra)
    cols = [c for c in range(n) if lower[c] <= upper + COST_EPSILON]
    if any(p.max_units[c] < p.total_qty for c in cols):
        return None  # a capacity could bind: lines interact
    if not cols:
        return _Solved(incumbent, DecisionPath.SINGLE_NODE_BOUND, upper, 0)
    if len(cols) == 1:
        (c,) = cols
        plan = p.best_single_node([c])
        if p.objective(incumbent) < p.objective(plan) - COST_EPSILON:
            plan = incumbent
        return _Solved(plan, DecisionPath.SINGLE_NODE_ENUMERATION, p.objective(plan), 1)
    found = _enumerate(p, cols, floor, upper, lower)
    if found is None:
        return None
    if p.objective(incumbent) < p.objective(found) - COST_EPSILON:
        found = incumbent
    return _Solved(found, DecisionPath.SUBSET_ENUMERATION, p.objective(found), len(cols))


def _greedy(p: _Small) -> dict[int, list[int]] | None:
    """A feasible plan (no capacity binds, each SKU on one line): each line takes units from its
    nodes in order of unit cost plus the node's shipping charge spread over what it can take.
    None when all-or-nothing and it leaves a unit short, or when it ships from more nodes than
    the order's maximum of shipments."""
    terms = p.terms
    bo = terms.backorder_penalty
    n_lines = len(p.qty)
    plan: dict[int, list[int]] = {}
    for i in range(n_lines):
        k = p.sku_row[i]
        left = p.qty[i]
        stock, allowed, unit = p.avail[k], p.allowed[i], p.unit[i]
        offers = []
        for c in range(len(p.nodes)):
            if allowed[c] and stock[c] > 0 and (terms.all_or_nothing or unit[c] < bo):
                offers.append((unit[c] + p.fixed[c] / min(left, stock[c]), c))
        offers.sort()
        for _, c in offers:
            if left <= 0:
                break
            take = min(left, stock[c])
            plan.setdefault(c, [0] * n_lines)[i] = take
            left -= take
        if left and terms.all_or_nothing:
            return None
    if terms.max_shipments is not None and len(plan) > terms.max_shipments:
        return None  # not a plan the order allows, so no bound for the search
    return plan


def _most(p: _Small, floor: list[float], upper: float) -> int:
    """engine.optimizer.bounds.max_useful_shipments."""
    terms = p.terms
    limit = min(terms.max_shipments or p.n_nodes, p.n_nodes)
    units_floor = sum(q * f for q, f in zip(p.qty, floor, strict=True))
    most, running = 1, 0.0
    for s, fixed in enumerate(sorted(p.fixed)[:limit], start=1):
        running += fixed
        if running + terms.split_penalty * (s - 1) + units_floor <= upper + 1e-7:
            most = s
    return most


def _enumerate(
    p: _Small, cols: list[int], floor: list[float], upper: float, lower: list[float]
) -> dict[int, list[int]] | None:
    """engine.optimizer.enumeration.best_by_enumeration: the best plan over every subset of at most
    ``most`` of ``cols``, smallest subsets first, then in lexicographic order, the first minimum
    winning (each SKU on one line, no capacity binding: each line takes its cheapest units).

    Single nodes first: the best of them tightens the bound that prunes columns and caps the
    subset size before any pair is priced, and a subset whose fixed costs alone exceed the best
    so far is skipped unpriced (it cannot be a new minimum). None: too many subsets are left.
    """
    terms = p.terms
    bo = terms.backorder_penalty
    aon = terms.all_or_nothing
    n_lines = len(p.qty)
    split = terms.split_penalty
    units_floor = sum(q * f for q, f in zip(p.qty, floor, strict=True))
    # Per line and column: (cost, column, units offered).
    offers: list[dict[int, tuple[float, int, int]]] = []
    for i in range(n_lines):
        k = p.sku_row[i]
        row = {}
        for c in cols:
            units = p.avail[k][c] if p.allowed[i][c] else 0
            cost = p.unit[i][c]
            if not aon and cost >= bo:
                units = 0
            row[c] = (cost, c, units)
        offers.append(row)

    def price(subset: tuple[int, ...]) -> tuple[float, dict[int, list[int]]]:
        plan: dict[int, list[int]] = {}
        total = 0.0
        shipped = 0
        for i in range(n_lines):
            left = p.qty[i]
            line_offers = offers[i]
            # Cheapest first; ties to the lower column (numpy's stable argsort).
            for cost, c, units in sorted([line_offers[c] for c in subset], key=_first):
                if left <= 0:
                    break
                take = units if units < left else left
                if take <= 0:
                    continue
                left -= take
                shipped += take
                total += take * cost
                plan.setdefault(c, [0] * n_lines)[i] = take
        if aon and shipped < p.total_qty:
            return math.inf, plan
        total += bo * (p.total_qty - shipped)
        total += sum(p.fixed[c] for c in plan)
        total += split * max(0, len(plan) - 1)
        return total, plan

    most = min(_most(p, floor, upper), len(cols))
    best_total = math.inf
    best_plan: dict[int, list[int]] = {}
    for c in cols:
        total, plan = price((c,))
        if total < best_total:
            best_total, best_plan = total, plan
    if most >= 2:
        upper = min(upper, best_total)
        cols = [c for c in cols if lower[c] <= upper + COST_EPSILON]
        most = min(_most(p, floor, upper), len(cols))
        if sum(math.comb(len(cols), s) for s in range(2, most + 1)) > SMALL_MAX_SUBSETS:
            return None
        fixed = p.fixed
        for size in range(2, most + 1):
            least = units_floor + split * (size - 1)
            for subset in combinations(cols, size):
                if least + sum(fixed[c] for c in subset) > best_total + COST_EPSILON:
                    continue
                total, plan = price(subset)
                if total < best_total:
                    best_total, best_plan = total, plan
    if not (best_total < p.objective({})):
        return {}
    return best_plan


def _first(offer: tuple[float, int, int]) -> float:
    return offer[0]


def _argmin(values: Sequence[float]) -> int:
    best = 0
    for c in range(1, len(values)):
        if values[c] < values[best]:
            best = c
    return best
