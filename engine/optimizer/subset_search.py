"""Exact branch and bound over node subsets, for the orders the LP leaves a few dozen columns.

Under the conditions of subset enumeration (each SKU on one line, no capacity can bind, not
all-or-nothing) a node set S costs its fixed costs, s - 1 split penalties and, per line, its
cheapest units from S (the rest backordered). The saving a line gets from S, the best q units'
(backorder - cost), is a weighted uniform-matroid rank over S's units, so it is submodular in S:
a node's marginal saving only shrinks as S grows. Hence for I and any extra nodes A,

    cost(I + A) >= cost(I) - Σ_{a in A} max(0, gain(a | I))

with gain the net improvement of adding one node alone (its saving less its fixed cost and a
split penalty). A best-first search over subsets (each set visited once, members in a fixed
order) prunes every subtree whose bound reaches the best known cost, and when stopped early
proves the least bound of the subtrees it left. Each visit evaluates all
single-node extensions at once in numpy: CBC spends 30-350 ms on these models, mostly in its
heuristics, even when the greedy plan is already optimal.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.optimizer.enumeration import best_by_enumeration
from engine.optimizer.plan import Plan
from engine.optimizer.twins import previous_twin, twin_groups
from engine.problem import IntArray, Problem

# Work (lines x later candidates, summed over the subsets expanded) before giving up: the caller falls
# back to the solver. Searches that end in a proof mostly need little (at most 90,000 on the reference
# instances); ones that fail spent 1-3 s on the old budget of 2,000 visits before CBC took over. At
# 300,000 one 2,000-node order fell to CBC (420-580 ms instead of about 150): docs/decisions.md.
MAX_WORK = 1_000_000
_LOCAL_MAX_SET = 14  # a local search's set is turned into a plan by enumerating its subsets
_CLOCK_EVERY = 16  # expansions between deadline checks
_TIE = 1e-7  # costs closer than this are ties (search.COST_EPSILON)
# Weights of the submodular bound against the LP's in the child bound (1: submodular only). Mixes in
# between are valid too, but on the 2,000-node benchmark's hardest orders they pruned no more.
_ALPHAS = (1.0, 0.0)


def searchable(problem: Problem, cols: IntArray) -> bool:
    """Whether the subset costs above are exact for this problem (as for subset enumeration)."""
    if problem.terms.all_or_nothing or problem.terms.split_penalty < 0 or len(problem.skus) != problem.n_lines:
        return False
    return not (problem.max_units[cols] < problem.qty.sum()).any()


@dataclass(frozen=True)
class _Lines:
    """Per line and candidate (in search order): unit cost and units offered (0 when dearer than backorder)."""

    cost: np.ndarray  # [L, C]
    held: np.ndarray  # [L, C]
    fixed: np.ndarray  # [C]
    qty: np.ndarray  # [L]
    backorder: float
    split: float


def _lines(problem: Problem, cols: IntArray) -> _Lines:
    bo = problem.terms.backorder_penalty
    cost = problem.unit[:, cols]
    held = np.where(problem.allowed[:, cols], problem.avail[problem.sku_row][:, cols], 0)
    held = np.where(cost < bo, held, 0)
    return _Lines(cost, held, problem.fixed[cols], problem.qty, bo, problem.terms.split_penalty)


def _extensions(lines: _Lines, members: list[int], rest: IntArray) -> tuple[float, np.ndarray]:
    """cost(I) and [len(rest)] cost(I + r) for each r in ``rest``, I = ``members``.

    Per line, G(k) is the cost of the k cheapest units of I (backorders beyond them). Adding r with
    h units at cost c takes t = min(h, units of the q that I serves dearer than c) of them:
    cost = G(q - t) + c * t, G convex piecewise linear.
    """
    big = float(lines.qty.sum() + 1)  # the backorder "node" offers more than any line needs
    n_lines = lines.qty.shape[0]
    cost = np.concatenate([lines.cost[:, members], np.full((n_lines, 1), lines.backorder)], axis=1)
    amount = np.concatenate([lines.held[:, members], np.full((n_lines, 1), big)], axis=1).astype(np.float64)
    order = np.argsort(cost, axis=1, kind="stable")
    cost = np.take_along_axis(cost, order, axis=1)  # [L, P] ascending
    amount = np.take_along_axis(amount, order, axis=1)
    before = np.cumsum(amount, axis=1) - amount  # units of I cheaper than each piece
    qty = lines.qty[:, None].astype(np.float64)

    def g(k: np.ndarray) -> np.ndarray:  # k: [L, R] -> [L, R] cost of the k cheapest units
        taken = np.clip(k[:, :, None] - before[:, None, :], 0.0, amount[:, None, :])
        result: np.ndarray = (taken * cost[:, None, :]).sum(axis=2)
        return result

    base = g(qty)[:, 0]  # [L]
    c = lines.cost[:, rest]  # [L, R]
    h = lines.held[:, rest].astype(np.float64)
    cheaper = ((cost[:, None, :] < c[:, :, None]) * amount[:, None, :]).sum(axis=2)  # units of I below c
    t = np.minimum(h, np.maximum(0.0, qty - cheaper))
    with_r = g(qty - t) + c * t  # [L, R]
    size = len(members)
    fixed_i = float(lines.fixed[members].sum()) + lines.split * max(0, size - 1)
    cost_i = fixed_i + float(base.sum())
    extended = fixed_i + lines.fixed[rest] + (lines.split if size else 0.0) + with_r.sum(axis=0)
    return cost_i, extended


@dataclass(frozen=True)
class _Floors:
    """Bound on adding later nodes from what every one of them could offer at best, all at once.

    A set child + A (A nonempty, after the child) pays the child's fixed costs, at least
    |A| * (the least fixed cost after the child + a split penalty), and for each line at least
    qty * its cheapest unit among the child and everything after it (or the backorder).
    Strong deep in the search, where few nodes remain after a child.
    """

    lines: _Lines
    unit: np.ndarray  # [L, C] unit cost where the node offers the line, else inf
    unit_after: np.ndarray  # [L, C + 1] the least unit cost at positions >= p
    fixed_after: np.ndarray  # [C + 1] the least fixed cost at positions >= p

    @classmethod
    def of(cls, lines: _Lines) -> _Floors:
        unit = np.where(lines.held > 0, lines.cost, np.inf)
        tail = np.full((unit.shape[0], 1), np.inf)
        unit_after = np.minimum.accumulate(np.concatenate([unit, tail], axis=1)[:, ::-1], axis=1)[:, ::-1]
        fixed_after = np.minimum.accumulate(np.append(lines.fixed, np.inf)[::-1])[::-1]
        return cls(lines, unit, unit_after, fixed_after)

    def children(self, members: list[int], rest: IntArray) -> np.ndarray:
        """[len(rest)] a lower bound on every set members + rest[i] + at least one position after it."""
        lines = self.lines
        own = self.unit[:, members].min(axis=1) if members else np.full(self.unit.shape[0], np.inf)
        cheapest = np.minimum(np.minimum(own[:, None], self.unit_after[:, rest]), lines.backorder)  # [L, R]
        units = lines.qty @ cheapest
        size = len(members) + 1
        fixed = float(lines.fixed[members].sum()) + lines.fixed[rest] + lines.split * (size - 1)
        extra = self.fixed_after[rest + 1] + lines.split  # one more node at least; more only when it pays
        more = np.where(extra >= 0.0, extra, -np.inf)  # preferred nodes (negative fixed costs): no bound
        result: np.ndarray = fixed + units + more
        return result


@dataclass(frozen=True)
class _LpBound:
    """The LP relaxation's bound on a node set S (positions in search order): its value, plus the
    reduced cost of each member the LP leaves at 0 (``use``), plus that of each non-member it
    sets to 1 (``skip``), from LP sensitivity: every plan with these y costs at least that."""

    value: float
    use: np.ndarray
    skip_before: np.ndarray  # [C + 1] skip costs of all positions before each one
    skip: np.ndarray

    @classmethod
    def of(cls, lp: tuple[float, np.ndarray] | None, positions: IntArray) -> _LpBound | None:
        if lp is None:
            return None
        reduced = lp[1][positions]
        skip = np.maximum(-reduced, 0.0)
        return cls(lp[0], np.maximum(reduced, 0.0), np.concatenate([[0.0], np.cumsum(skip)]), skip)


def _child_bounds(
    lp: _LpBound | None, members: list[int], rest: IntArray, cost: np.ndarray, gains: np.ndarray, slots: int
) -> np.ndarray:
    """[len(rest)] a lower bound on every set: members + rest[i] + up to ``slots`` positions after i.

    Two bounds hold for such a set S = child + A: cost(child) - Σ_A gain (submodularity; gains
    against the parent only overstate those against the child) and lp(child) + Σ_A use (the LP's).
    So does any convex combination of the two (see _ALPHAS).
    """
    later = rest[None, :] > rest[:, None]  # [R, R] positions after each child
    if lp is None:
        alphas: tuple[float, ...] = (1.0,)
        lp_child = np.zeros(rest.shape[0])
        use = np.zeros(rest.shape[0])
    else:
        alphas = _ALPHAS
        skipped = lp.skip_before[rest] - float(lp.skip[members].sum())
        lp_child = lp.value + float(lp.use[members].sum()) + lp.use[rest] + skipped
        use = lp.use[rest]
    k = min(slots, rest.shape[0])
    result = np.full(rest.shape[0], -np.inf)
    for alpha in alphas:
        worth = np.maximum(0.0, alpha * gains - (1.0 - alpha) * use)  # [R]
        ahead = np.where(later, worth[None, :], 0.0)
        top = -np.partition(-ahead, k - 1, axis=1)[:, :k].sum(axis=1) if k < rest.shape[0] else ahead.sum(axis=1)
        result = np.maximum(result, alpha * cost + (1.0 - alpha) * lp_child - top)
    return result


@dataclass(frozen=True)
class LpView:
    """The LP relaxation over (a superset of) the searched columns, read at those columns."""

    bound: float  # a safe lower bound on its value
    y: np.ndarray  # [C] the relaxation's y
    reduced: np.ndarray  # [C] reduced costs of y


@dataclass(frozen=True)
class SearchResult:
    """What a search found: the best plan (at worst the incumbent), whether it is proven best, and
    a lower bound on every plan shipping from at most ``max_size`` of the columns (the plan's own
    cost when proven; -inf when the search stopped before its first expansion)."""

    plan: Plan
    proven: bool
    bound: float


def best_by_search(
    problem: Problem,
    cols: IntArray,
    max_size: int,
    incumbent: Plan,
    lp: LpView | None = None,
    out_of_time: Callable[[], bool] = lambda: False,
    max_work: int = MAX_WORK,
    refine: Callable[[float], np.ndarray] | None = None,
    refine_after: int = 0,
) -> SearchResult:
    """The best plan shipping from at most ``max_size`` of ``cols`` (callers prove no optimum uses
    more), proven; or, after MAX_WORK of work or once ``out_of_time()``, the best plan found so far
    (at worst ``incumbent``) with the least bound of the subtrees not yet searched.

    Best first: the open set whose subtree has the least bound is expanded next, so the bound the
    search proves rises with every expansion and an interrupted search still narrows the gap (a
    depth-first one leaves the weakest subtrees, near the root, for last). With the incumbent
    already optimal, as local search usually makes it, both expand the same sets: those whose
    bound is below the optimum. Ties go to the earlier set in branching order: nodes in order of
    the LP's y (most open first), then of their cost alone.

    ``refine(upper)``, called once after ``refine_after`` work when the search is still open,
    gives [max_size + 1] a lower bound on every plan shipping from exactly k of the columns: from
    then on a subtree is bounded by the least over the sizes its sets can have, sizes that cannot
    beat ``upper`` are left out, and the least over all sizes bounds everything.
    """
    upper = incumbent.objective(problem)
    if max_size < 1:
        return SearchResult(incumbent, True, upper)
    _, alone = _extensions(_lines(problem, cols), [], np.arange(len(cols)))
    positions = np.lexsort((alone, -lp.y)) if lp is not None else np.argsort(alone, kind="stable")
    ranked = cols[positions]
    previous_twin = _previous_twin(problem, ranked)
    lines = _lines(problem, ranked)
    floors = _Floors.of(lines)
    view = (lp.bound, lp.reduced) if lp is not None else None
    bounds = _LpBound.of(view, positions)
    by_range: np.ndarray | None = None
    floor = -np.inf  # a bound on every plan (from ``refine``)
    best_set: list[int] | None = None
    # (bound on the subtree below the set, tie-break, set): each set in it was priced when pushed.
    heap: list[tuple[float, int, list[int]]] = []
    dive: tuple[float, list[int]] | None = (-np.inf, [])  # the set expanded next, outside the heap
    pushed = visits = work = 0
    while True:
        if dive is None or dive[0] >= upper - _TIE:  # a plunge ends where the best plan prunes it
            if not heap:
                break
            bound_at, _, members_at = heapq.heappop(heap)
            dive = (bound_at, members_at)
            continue
        if refine is not None and work >= refine_after:
            sizes, refine = refine(upper), None
            floor = float(sizes[1:].min(initial=np.inf))
            within = np.flatnonzero(sizes[: max_size + 1] < upper - _TIE)
            if within.shape[0] == 0:
                break  # no plan of any size beats the best one (nor does the empty plan)
            max_size = int(within[-1])
            by_range = _range_minima(sizes, max_size)
        least = max(min(dive[0], heap[0][0]) if heap else dive[0], floor)
        if least >= upper - _TIE:
            break  # every open subtree is bounded at or above the best plan: it is optimal
        visits += 1
        if work > max_work or (visits % _CLOCK_EVERY == 0 and out_of_time()):
            return SearchResult(_plan(problem, ranked, best_set, incumbent), False, min(upper, least))
        parent, members, dive = dive[0], dive[1], None
        rest = np.arange(members[-1] + 1 if members else 0, len(ranked))
        if rest.shape[0] == 0:
            continue
        work += rest.shape[0] * problem.n_lines
        cost_i, extended = _extensions(lines, members, rest)
        best = int(np.argmin(extended))
        if extended[best] < upper - _TIE:
            upper, best_set = float(extended[best]), [*members, int(rest[best])]
        slots = max_size - len(members) - 1  # left for a child's own children
        if slots <= 0:
            continue
        bound = _child_bounds(bounds, members, rest, extended, np.maximum(0.0, cost_i - extended), slots)
        # A child's subtree lies in its parent's: the parent's bound holds for it too.
        bound = np.maximum(np.maximum(bound, floors.children(members, rest)), parent)
        if by_range is not None:
            # A child's subtree: sets of the child and 1 to ``slots`` of the positions after it.
            low = len(members) + 2
            high = np.minimum(len(members) + 1 + np.minimum(slots, len(ranked) - 1 - rest), max_size)
            bound = np.maximum(bound, np.where(high >= low, by_range[low, np.maximum(high, low)], np.inf))
        # Of a group of twins, a set takes the first ones in rank order (engine/optimizer/twins.py).
        twin_before = previous_twin[rest]
        canonical = (twin_before < 0) | np.isin(twin_before, members)
        open_ = np.nonzero((bound < upper - _TIE) & canonical)[0]
        if open_.shape[0] == 0:
            continue
        # Plunge: the first open child (the most promising in branching order) is expanded next,
        # reaching full plans fast; its siblings wait in the heap by bound.
        first = int(open_[0])
        dive = (float(bound[first]), [*members, int(rest[first])])
        for i in open_[1:].tolist():
            pushed += 1
            heapq.heappush(heap, (float(bound[i]), pushed, [*members, int(rest[i])]))
    plan = _plan(problem, ranked, best_set, incumbent)
    return SearchResult(plan, True, plan.objective(problem))


def _range_minima(sizes: np.ndarray | None, max_size: int) -> np.ndarray | None:
    """[K, K] the least of ``sizes`` over k = low..high at [low, high] (K = max_size + 2; +inf
    where high < low or beyond ``sizes``)."""
    if sizes is None:
        return None
    count = max_size + 2
    padded = np.full(count, np.inf)
    padded[: min(count, sizes.shape[0])] = sizes[:count]
    result = np.full((count, count), np.inf)
    for low in range(count):
        result[low, low:] = np.minimum.accumulate(padded[low:])
    return result


def _previous_twin(problem: Problem, ranked: IntArray) -> IntArray:
    """[C] for each position, the last position before it holding a twin of its node (-1: none)."""
    return previous_twin(twin_groups(problem, ranked))


def _plan(problem: Problem, ranked: IntArray, best_set: list[int] | None, incumbent: Plan) -> Plan:
    """The allocation of the best set found (the incumbent when none beat it)."""
    if best_set is None:
        return incumbent
    chosen = np.sort(ranked[best_set])
    plan = best_by_enumeration(problem, chosen, len(chosen))
    return plan if plan.objective(problem) < incumbent.objective(problem) - _TIE else incumbent


def local_search(problem: Problem, cols: IntArray, incumbent: Plan, max_size: int, max_rounds: int = 20) -> Plan:
    """A better plan near ``incumbent``'s node set: the best single node added, dropped or swapped
    for another, repeated while it pays (each move priced exactly, for all candidates at once, as
    in the search above). Only a plan: nothing is proven. Under the conditions of ``searchable``."""
    lines = _lines(problem, cols)
    position = {int(c): p for p, c in enumerate(cols.tolist())}
    members = sorted(position[int(n)] for n in incumbent.used().tolist() if int(n) in position)
    if len(members) != incumbent.used().shape[0]:
        return incumbent  # it ships from a column outside ``cols``
    everyone = np.arange(len(cols))
    best, _ = _set_cost(lines, members)
    for _ in range(max_rounds):
        move: list[int] | None = None
        outside = np.setdiff1d(everyone, members)
        if outside.shape[0] and len(members) < max_size:
            _, added = _extensions(lines, members, outside)
            i = int(np.argmin(added))
            if added[i] < best - _TIE:
                best, move = float(added[i]), sorted([*members, int(outside[i])])
        for m in members:
            rest = [x for x in members if x != m]
            dropped, swapped = _extensions(lines, rest, outside)
            if rest and dropped < best - _TIE:
                best, move = dropped, rest
            if swapped.shape[0]:
                i = int(np.argmin(swapped))
                if swapped[i] < best - _TIE:
                    best, move = float(swapped[i]), sorted([*rest, int(outside[i])])
        if move is None:
            break
        members = move
    chosen = np.sort(cols[members])
    if not 0 < len(chosen) <= _LOCAL_MAX_SET:
        return incumbent
    plan = best_by_enumeration(problem, chosen, len(chosen))
    return plan if plan.objective(problem) < incumbent.objective(problem) - _TIE else incumbent


def _set_cost(lines: _Lines, members: list[int]) -> tuple[float, np.ndarray]:
    return _extensions(lines, members, np.zeros(0, dtype=np.int64))
