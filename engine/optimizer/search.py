"""The decision procedure: fast paths first, then pruning, then the LP, subset search, the solver.

After the LP relaxation's reduced-cost fixing, orders whose lines do not interact (each SKU on one
line, no binding capacity) go to an exact branch and bound over node subsets
(engine/optimizer/subset_search.py) before CBC: on 30-line orders over 2,000 nodes it proves in
5-130 ms what CBC took 30-400 ms for. CBC remains the fallback (other structures, or a search that
needs more than its work budget).

Every path is exact unless the solver's time runs out, in which case the best
plan found (never nothing: backordering everything is always a plan) is
returned as FEASIBLE with a proven lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.decision import DecisionPath, SolveStatus
from engine.model import ObjectiveMode
from engine.optimizer.bounds import (
    bound_without_single_full_shipment,
    max_useful_shipments,
    node_bounds,
    unit_floor,
)
from engine.optimizer.deadline import Deadline
from engine.optimizer.dominance import undominated
from engine.optimizer.enumeration import best_by_enumeration, enumerable
from engine.optimizer.greedy import greedy_plan
from engine.optimizer.milp import DEFAULT_BACKEND, LpResult, solve_lp, solve_milp
from engine.optimizer.plan import Plan, is_feasible, keeps_least
from engine.optimizer.priced_milp import buildable, solve_priced_milp
from engine.optimizer.shared import widen
from engine.optimizer.single_node import best_single_node_plan, full_fill_costs, full_fill_nodes
from engine.optimizer.subset_search import LpView, best_by_search, local_search, searchable
from engine.problem import Problem, late_levels, select_columns, within_lateness

# Costs are sums of a few dozen money amounts; anything closer than this is a tie.
COST_EPSILON = 1e-7
DEFAULT_TIME_LIMIT_MS = 2_000
LP_FIXING_MIN_COLUMNS = 16  # below this, the solver's own root LP does the same work
IMPROVE_POOL = 12  # nodes beyond the incumbent's searched exactly for a better upper bound
LOCAL_SEARCH = True  # engine/optimizer/subset_search.local_search (a switch for measuring what it buys)
# Local search runs before the relaxation only when less than this is left (a checkout budget);
# otherwise after it, on the orders it did not settle: typical orders of 30 lines paid 4-5 ms for it
# (the 500-node x 30-line cell's regression after it landed, docs/decisions.md).
LOCAL_SEARCH_FIRST_MS = 300
IMPROVE_MAX_WORK = 100_000  # a few ms: it runs on every order that gets this far, and only bounds
# Subset search runs this much work (a few ms) before it asks for the relaxation's bounds by number
# of nodes (a few more LP solves, worth it only where the search is long): most searches end before.
REFINE_AFTER = 30_000


@dataclass(frozen=True)
class SolverSettings:
    time_limit_ms: int = DEFAULT_TIME_LIMIT_MS
    backend: str = DEFAULT_BACKEND


@dataclass(frozen=True)
class Solution:
    plan: Plan
    status: SolveStatus
    path: DecisionPath
    bound: float
    candidates: int  # columns left for the solver after pruning (or considered by a fast path)


def optimize(problem: Problem, settings: SolverSettings, deadline: Deadline | None = None) -> Solution:
    """``deadline`` (default: ``settings.time_limit_ms`` from now) bounds every step below.

    With ``problem.least`` (a re-plan: no line below its holds), see _keeping_least."""
    deadline = deadline or Deadline.after_ms(settings.time_limit_ms)
    if problem.least is None:
        return _optimize(problem, settings, deadline)
    return _keeping_least(problem, settings, deadline)


def _keeping_least(problem: Problem, settings: SolverSettings, deadline: Deadline) -> Solution:
    """The best plan keeping every line at its least (``problem.least``).

    The paths below decide without it first; their plan, when it keeps every least, is optimal with
    it too (a restriction the optimum meets). Otherwise, when each line must keep all of its units
    or none (a re-plan of orders holding whole lines, the usual case), they decide again with every
    unit of those lines M cheaper, M above what any plan saves by leaving one unit out (the best
    plan keeping them, topped up from the first, less the bound on every plan): the optimum then
    ships them whole, and costs M per unit less than it does. Else the model decides with the rows
    Σ_n x[l,n] >= least[l] (engine/optimizer/milp.py). When no plan keeps them (others took the
    stock) or none is found in time, the plan without it is returned, for the caller's own check
    (engine/optimizer/plan.is_feasible) to refuse."""
    assert problem.least is not None
    free = replace(problem, least=None)
    solution = _optimize(free, settings, deadline)
    if keeps_least(problem, solution.plan):
        return solution
    topped = _topped_up(problem, solution.plan)
    upper = topped.objective(problem) if is_feasible(problem, topped) else np.inf
    whole = (problem.least == problem.qty) & (problem.least > 0)
    partial = (problem.least > 0) & ~whole
    margin = upper - solution.bound + 1.0
    if not partial.any() and np.isfinite(margin) and problem.terms.objective is ObjectiveMode.COST:
        shifted = _optimize(replace(free, unit=problem.unit - margin * whole[:, None]), settings, deadline)
        plan = shifted.plan
        if is_feasible(problem, plan):
            cost = plan.objective(problem)
            shift = margin * float(problem.qty[whole].sum())
            bound = (
                cost if shifted.status is SolveStatus.OPTIMAL else min(cost, max(shifted.bound + shift, solution.bound))
            )
            return Solution(plan, shifted.status, shifted.path, bound, shifted.candidates)
    start = topped if np.isfinite(upper) else None
    result = solve_milp(problem, np.arange(problem.n_nodes), deadline.remaining_ms(), settings.backend, start=start)
    if result.plan is not None and is_feasible(problem, result.plan):
        plan = result.plan
        # The bound without the least stays a bound with it.
        bound = plan.objective(problem) if result.status is SolveStatus.OPTIMAL else max(result.bound, solution.bound)
        return Solution(plan, result.status, DecisionPath.SOLVER, bound, problem.n_nodes)
    if start is not None:
        return Solution(topped, SolveStatus.FEASIBLE, DecisionPath.SOLVER, solution.bound, problem.n_nodes)
    return solution


def _topped_up(problem: Problem, plan: Plan) -> Plan:
    """``plan`` with each line short of its least given the units it lacks, cheapest first (a
    node the plan does not ship from pays its shipment and a split); may still fall short."""
    assert problem.least is not None
    x = plan.x.copy()
    taken = np.zeros_like(problem.avail)
    np.add.at(taken, problem.sku_row, x)
    capacity = problem.max_units - x.sum(axis=0)
    limit = problem.terms.max_shipments or problem.n_nodes
    for line in np.flatnonzero(x.sum(axis=1) < problem.least).tolist():
        k = int(problem.sku_row[line])
        short = int(problem.least[line] - x[line].sum())
        while short > 0:
            used = x.sum(axis=0) > 0
            room = np.minimum(problem.avail[k] - taken[k], capacity)
            room = np.where(problem.allowed[line] & (used | (used.sum() < limit)), room, 0)
            if not room.any():
                break
            price = problem.unit[line] + np.where(used, 0.0, problem.fixed + problem.terms.split_penalty)
            n = int(np.argmin(np.where(room > 0, price, np.inf)))
            take = int(min(short, room[n]))
            x[line, n] += take
            taken[k, n] += take
            capacity[n] -= take
            short -= take
    return Plan(x)


def _optimize(problem: Problem, settings: SolverSettings, deadline: Deadline) -> Solution:
    if problem.n_nodes == 0:
        empty = Plan.empty(problem)
        return Solution(empty, SolveStatus.OPTIMAL, DecisionPath.NOTHING_AVAILABLE, empty.objective(problem), 0)
    if problem.pricing is not None:
        if problem.terms.objective is ObjectiveMode.COST and late_levels(problem):
            return _by_lateness(problem, settings, deadline)
        return _priced(problem, settings, deadline)
    if problem.terms.objective is ObjectiveMode.FEWEST_SHIPMENTS:
        return _fewest_shipments(problem, settings, deadline)
    return _least_cost(problem, settings, deadline)


def _by_lateness(problem: Problem, settings: SolverSettings, deadline: Deadline) -> Solution:
    """A rule allows lateness and some option is late: the order pays penalty x the days its latest
    shipment is late, which is not per node. For each number of days T an option is late, the plans
    late by at most T, the lateness unpriced, are an ordinary problem (most often linear again, so
    the fast paths and searches decide it) plus penalty x T; the least over T is the optimum (a
    plan late by exactly T is priced truly at T, and at no T below what it pays), and the least of
    their bounds + penalty x T a bound. A handful of T per order, each far cheaper than the priced
    model with a lateness variable."""
    penalty = problem.terms.late_penalty_per_day
    levels = late_levels(problem)
    best = Plan.empty(problem)
    best_cost = best.objective(problem)
    bound, optimal, path = np.inf, True, DecisionPath.SOLVER
    for i, late_days in enumerate(levels):
        sub, cols = within_lateness(problem, late_days)
        share = Deadline.after_ms(deadline.remaining_ms() // (len(levels) - i))
        solution = _optimize(sub, settings, share)
        plan = widen(problem, cols, solution.plan)
        cost = plan.objective(problem)
        # A re-plan's plan must keep its holds (``least``): one that does wins over one that does not.
        better = (not keeps_least(problem, plan), cost) < (
            not keeps_least(problem, best),
            best_cost - COST_EPSILON * max(1.0, abs(best_cost)),
        )
        if better:
            best, best_cost, path = plan, cost, solution.path
        bound = min(bound, solution.bound + penalty * late_days)
        optimal = optimal and solution.status is SolveStatus.OPTIMAL
    bound = min(max(0.0, bound), best_cost)
    proven = optimal and best_cost <= bound + COST_EPSILON * max(1.0, best_cost)
    return Solution(best, SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE, path, bound, problem.n_nodes)


def _priced(problem: Problem, settings: SolverSettings, deadline: Deadline) -> Solution:
    """Carrier charges not linear in what a node ships (``Problem.pricing``): the fast paths and
    searches below assume they are, so the disaggregated model decides (engine/optimizer/priced_milp.py).

    First the same order at linear prices never above the true ones (``_priced_from_below``), decided
    by the usual procedure: its plan fits the true problem (the same units, only the prices differ)
    and its bound is a true bound, so the answer is never an empty plan with no bound. When that
    plan costs, at its true prices, no more than the bound, it is optimal and nothing more runs.
    Otherwise the exact model, when it can be built in half of the time left (``buildable``): the
    first solve then has half of the time, else all of it (30 lines over 2,000 nodes: far too
    large to build in a decision's time).
    """
    n = problem.n_nodes
    below = replace(_priced_from_below(problem), pricing=None)
    exact_fits = buildable(problem, deadline.remaining_ms())
    first_ms = deadline.remaining_ms() // 2 if exact_fits else deadline.remaining_ms()
    first = _optimize(below, settings, Deadline(min(deadline.at, Deadline.after_ms(first_ms).at)))
    plan, cost = first.plan, first.plan.objective(problem)
    bound = min(max(0.0, first.bound), cost)  # every cost term is non-negative
    if cost <= bound + COST_EPSILON:
        return Solution(plan, SolveStatus.OPTIMAL, DecisionPath.SOLVER, cost, n)
    if exact_fits and buildable(problem, deadline.remaining_ms()):
        result = solve_priced_milp(problem, deadline.remaining_ms(), settings.backend)
        if result.plan is not None:
            exact = result.plan.objective(problem)
            if result.status is SolveStatus.OPTIMAL:
                return Solution(result.plan, SolveStatus.OPTIMAL, DecisionPath.SOLVER, exact, n)
            if exact < cost:
                plan, cost = result.plan, exact
        if np.isfinite(result.bound):
            bound = max(bound, result.bound)
    bound = min(bound, cost)
    status = SolveStatus.OPTIMAL if cost <= bound + COST_EPSILON else SolveStatus.FEASIBLE
    return Solution(plan, status, DecisionPath.SOLVER, bound, n)


def _priced_from_below(problem: Problem) -> Problem:
    """``problem`` at linear prices never above its true ones: a shipment pays at least its node's
    smallest per-shipment charge, and each unit at least the smallest per-pound rate times its
    weight (billed weight is never below the actual weight)."""
    assert problem.pricing is not None
    fixed = np.array([min(r.fixed for r in rates) for rates in problem.pricing], dtype=np.float64)
    per_lb = np.array([min(r.per_lb for r in rates) for rates in problem.pricing], dtype=np.float64)
    return replace(problem, fixed=problem.fixed + fixed, unit=problem.unit + np.outer(problem.weight, per_lb))


def _least_cost(problem: Problem, settings: SolverSettings, deadline: Deadline) -> Solution:
    terms = problem.terms
    n = problem.n_nodes
    if terms.max_shipments == 1 or n == 1:
        plan = best_single_node_plan(problem)
        return Solution(plan, SolveStatus.OPTIMAL, DecisionPath.SINGLE_NODE_ENUMERATION, plan.objective(problem), n)

    floor = unit_floor(problem)
    full = full_fill_nodes(problem)
    incumbent = Plan.empty(problem)
    if full.any():
        costs = np.where(full, full_fill_costs(problem), np.inf)
        best = int(np.argmin(costs))  # argmin takes the first: ties go to the lowest node id
        incumbent = _single(problem, best)
        if costs[best] <= bound_without_single_full_shipment(problem, floor) + COST_EPSILON:
            return Solution(incumbent, SolveStatus.OPTIMAL, DecisionPath.SINGLE_NODE_BOUND, float(costs[best]), n)
    greedy = greedy_plan(problem)
    if greedy.objective(problem) < incumbent.objective(problem) - COST_EPSILON:
        incumbent = greedy
    lower_by_node = node_bounds(problem, floor, full)
    incumbent, searched = _improve(problem, incumbent, np.arange(problem.n_nodes), floor, lower_by_node)
    upper = incumbent.objective(problem)
    cols = np.nonzero(lower_by_node <= upper + COST_EPSILON)[0]
    # Every plan that could beat the incumbent ships from at most ``most`` of ``cols``: when
    # _improve already tried every such subset exactly, nothing is left to search.
    most = max_useful_shipments(problem, floor, upper)
    if cols.shape[0] > 1 and searched is not None and searched.covers(cols, most):
        return Solution(incumbent, SolveStatus.OPTIMAL, DecisionPath.SUBSET_ENUMERATION, upper, int(cols.shape[0]))
    # Dominance is pairwise; run it only on the nodes the bound leaves (a sub-problem over those columns).
    if cols.shape[0] > 1:
        cols = cols[undominated(select_columns(problem, cols))]
        # Some optimal plan avoids every dominated node: the same argument over what is left.
        if cols.shape[0] > 1 and searched is not None and searched.covers(cols, most):
            return Solution(incumbent, SolveStatus.OPTIMAL, DecisionPath.SUBSET_ENUMERATION, upper, int(cols.shape[0]))
    local = cols.shape[0] > IMPROVE_POOL and LOCAL_SEARCH and searchable(problem, cols)
    if local and deadline.remaining_ms() < LOCAL_SEARCH_FIRST_MS:
        # Many candidates left: a few exact add/drop/swap moves from the incumbent's nodes find a
        # far better plan in milliseconds (the checkout budget may end before any search does) and
        # a tighter bound for every step below.
        local = False
        better = local_search(problem, np.union1d(cols, incumbent.used()), incumbent, most)
        if better.objective(problem) < upper - COST_EPSILON:
            incumbent, upper = better, better.objective(problem)
            most = max_useful_shipments(problem, floor, upper)
            cols = cols[lower_by_node[cols] <= upper + COST_EPSILON]
    global_floor = float(min(terms.backorder_penalty * problem.qty.sum(), lower_by_node.min()))
    if cols.shape[0] == 0:
        return Solution(incumbent, SolveStatus.OPTIMAL, DecisionPath.SINGLE_NODE_BOUND, upper, 0)
    if cols.shape[0] == 1:
        return _least_cost_single(problem, int(cols[0]), incumbent)
    if deadline.passed():  # every step from here on can take tens of ms: the caller's time comes first
        return _out_of_time(incumbent, global_floor, int(cols.shape[0]))
    if enumerable(problem, cols, most):
        plan = best_by_enumeration(problem, cols, most)
        if incumbent.objective(problem) < plan.objective(problem) - COST_EPSILON:
            plan = incumbent  # never: enumeration is exact over every plan the incumbent could be
        cost = plan.objective(problem)
        return Solution(plan, SolveStatus.OPTIMAL, DecisionPath.SUBSET_ENUMERATION, cost, int(cols.shape[0]))
    lp_floor = -np.inf
    lp: LpResult | None = None
    if deadline.passed():
        return _out_of_time(incumbent, global_floor, int(cols.shape[0]))
    if cols.shape[0] > LP_FIXING_MIN_COLUMNS:
        lp = solve_lp(problem, cols, deadline.remaining_ms())
        if lp is not None:
            lp_floor = lp.bound
            if lp.plan is not None and is_feasible(problem, lp.plan):
                cost = lp.plan.objective(problem)
                # A feasible plan costing what the relaxation does is optimal.
                if cost <= lp.value + COST_EPSILON * max(1.0, abs(cost)) and cost <= upper + COST_EPSILON:
                    return Solution(lp.plan, SolveStatus.OPTIMAL, DecisionPath.SOLVER, cost, int(cols.shape[0]))
            # The relaxation's support is where good plans are: the best plan over it tightens the bound.
            pool = np.union1d(lp.support(), incumbent.used())
            if enumerable(problem, pool, most):
                rounded = best_by_enumeration(problem, pool, most)
                if rounded.objective(problem) < upper - COST_EPSILON:
                    incumbent, upper = rounded, rounded.objective(problem)
                    most = max_useful_shipments(problem, floor, upper)
            cols = lp.keep(upper)
            if upper <= lp.value + COST_EPSILON * max(1.0, abs(upper)):
                return Solution(incumbent, SolveStatus.OPTIMAL, DecisionPath.SOLVER, upper, int(cols.shape[0]))
    global_floor = max(global_floor, lp_floor)
    if deadline.passed():
        return _out_of_time(incumbent, global_floor, int(cols.shape[0]))
    if local and cols.shape[0] > IMPROVE_POOL and searchable(problem, cols):
        # With time to spare, local search waits for the orders the relaxation did not settle.
        better = local_search(problem, np.union1d(cols, incumbent.used()), incumbent, most)
        if better.objective(problem) < upper - COST_EPSILON:
            incumbent, upper = better, better.objective(problem)
            most = max_useful_shipments(problem, floor, upper)
            cols = lp.keep(upper) if lp is not None else cols[lower_by_node[cols] <= upper + COST_EPSILON]
    if searchable(problem, cols):
        view = None if lp is None else _lp_view(lp, cols)
        # Searches not settled within REFINE_AFTER go on with bounds by number of nodes: the
        # relaxation with Σ y = k (a few more LP solves; engine/optimizer/milp.LpResult.by_size).
        refine = None if lp is None else (lambda best, lp=lp, most=most: lp.by_size(best, most, deadline))
        outcome = best_by_search(
            problem, cols, most, incumbent, view, deadline.passed, refine=refine, refine_after=REFINE_AFTER
        )
        found = outcome.plan
        if outcome.proven:
            return Solution(found, SolveStatus.OPTIMAL, DecisionPath.SOLVER, found.objective(problem), len(cols))
        incumbent, upper = found, found.objective(problem)  # never worse than the incumbent
        # Every plan over ``cols`` with at most ``most`` nodes costs at least the search's bound;
        # every other plan costs more than the incumbent (the fixing and ``most`` above).
        global_floor = max(global_floor, min(outcome.bound, upper))
        if deadline.passed():
            return _out_of_time(incumbent, global_floor, int(cols.shape[0]))
    if lp is not None and enumerable(problem, cols, most):
        # After the LP's fixing (subset search first where it applies: it usually prunes far more).
        plan = best_by_enumeration(problem, cols, most)
        if incumbent.objective(problem) < plan.objective(problem) - COST_EPSILON:
            plan = incumbent
        return Solution(plan, SolveStatus.OPTIMAL, DecisionPath.SOLVER, plan.objective(problem), int(cols.shape[0]))
    result = solve_milp(problem, cols, deadline.remaining_ms(), settings.backend, start=incumbent)
    if result.plan is not None and result.plan.objective(problem) <= upper + COST_EPSILON:
        bound = result.bound if result.status is SolveStatus.FEASIBLE else result.plan.objective(problem)
        return Solution(result.plan, result.status, DecisionPath.SOLVER, max(bound, global_floor), int(cols.shape[0]))
    status = SolveStatus.OPTIMAL if result.status is SolveStatus.OPTIMAL else SolveStatus.FEASIBLE
    bound = upper if status is SolveStatus.OPTIMAL else max(result.bound, global_floor)
    return Solution(incumbent, status, DecisionPath.SOLVER, bound, int(cols.shape[0]))


def _lp_view(lp: LpResult, cols: np.ndarray) -> LpView:
    """The relaxation read at ``cols`` (a subset of its columns: fixing only ever removes some)."""
    at = np.searchsorted(lp.cols, cols)
    return LpView(lp.bound, lp.y[at], lp.reduced[at])


def _out_of_time(incumbent: Plan, floor: float, candidates: int) -> Solution:
    """Time ran out before the solver could run: the best plan so far, with the bound proven so far."""
    return Solution(incumbent, SolveStatus.FEASIBLE, DecisionPath.SOLVER, floor, candidates)


@dataclass(frozen=True)
class _Searched:
    """What an exact enumeration covered: every subset of at most ``most`` of ``pool``."""

    pool: np.ndarray
    most: int

    def covers(self, cols: np.ndarray, most: int) -> bool:
        return most <= self.most and bool(np.isin(cols, self.pool, assume_unique=True).all())


def _improve(
    problem: Problem, incumbent: Plan, cols: np.ndarray, floor: np.ndarray, lower: np.ndarray
) -> tuple[Plan, _Searched | None]:
    """A better upper bound: the best plan over the incumbent's nodes and the most promising others.

    Exact search over a small pool (the incumbent's nodes and those with the lowest bounds): a
    tighter bound prunes more columns and caps how many shipments an optimum can have. Also
    says what it searched (None: the pool was too large to enumerate), so that a caller whose
    pruned columns fall inside it knows the result is optimal.
    """
    pool = np.union1d(incumbent.used(), cols[np.argsort(lower[cols], kind="stable")[:IMPROVE_POOL]])
    most = max_useful_shipments(problem, floor, incumbent.objective(problem))
    if not enumerable(problem, pool, most, IMPROVE_MAX_WORK):
        return incumbent, None
    plan = best_by_enumeration(problem, pool, most)
    better = plan if plan.objective(problem) < incumbent.objective(problem) - COST_EPSILON else incumbent
    return better, _Searched(pool, most)


def _least_cost_single(problem: Problem, n: int, incumbent: Plan) -> Solution:
    """Pruning left one node: the best of its single-node plan and the incumbent is optimal."""
    only = replace(problem, allowed=problem.allowed & (np.arange(problem.n_nodes) == n)[None, :])
    plan = best_single_node_plan(only)
    if incumbent.objective(problem) < plan.objective(problem) - COST_EPSILON:
        plan = incumbent
    return Solution(plan, SolveStatus.OPTIMAL, DecisionPath.SINGLE_NODE_ENUMERATION, plan.objective(problem), 1)


def _fewest_shipments(problem: Problem, settings: SolverSettings, deadline: Deadline) -> Solution:
    full = full_fill_nodes(problem)
    if full.any():
        # Everything filled from one node: lexicographically best; then the cheapest such node.
        costs = np.where(full, full_fill_costs(problem), np.inf)
        plan = _single(problem, int(np.argmin(costs)))
        return Solution(plan, SolveStatus.OPTIMAL, DecisionPath.SINGLE_NODE_BOUND, plan.objective(problem), 1)
    cols = np.arange(problem.n_nodes)
    result = solve_milp(problem, cols, deadline.remaining_ms(), settings.backend)
    if result.plan is None:
        plan = greedy_plan(problem)
        # No bound was proven in time; costs are non-negative unless rules prefer nodes with negative penalties.
        bound = min(0.0, plan.objective(problem))
        return Solution(plan, SolveStatus.FEASIBLE, DecisionPath.SOLVER, bound, problem.n_nodes)
    bound = result.plan.objective(problem) if result.status is SolveStatus.OPTIMAL else result.bound
    return Solution(result.plan, result.status, DecisionPath.SOLVER, bound, problem.n_nodes)


def _single(problem: Problem, n: int) -> Plan:
    x = np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64)
    x[:, n] = problem.qty
    return Plan(x)
