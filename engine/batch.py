"""Many orders decided together over the stock and node capacity they share (AllocateBatch).

The objective is the sum of each order's own objective (docs/cost-model.md), each order under
its own terms and rule directives. Three steps, each keeping the best plan so far:

1. **Sequential**: the orders one by one, highest priority first, then in the order given (the
   caller lists older orders first), each decided exactly (engine/optimizer/search.py) on what
   the ones before it left. Always feasible: the answer when time runs out.
2. **A lower bound**: each order decided alone on all the stock. No batch plan can cost less
   than the sum; when the sequential total meets it, no order's choice cost another anything
   and the sequential plan is optimal without a solver.
3. **The joint model** (engine/optimizer/joint_milp.py): every order's own model in one solver,
   with the stock and capacity they share, started from the sequential plan. Columns are pruned
   exactly: an order's node whose lower bound, plus the other orders' bounds, exceeds the
   sequential total is in no better batch plan. Taken only when it costs less than the
   sequential plan and passes an independent feasibility check.

An order whose objective is FEWEST_SHIPMENTS keeps its sequential plan (a lexicographic
objective does not add up with costs); the others are optimized around it, and OPTIMAL and the
bound are over the plans that keep it.

An order whose objective is EARLIEST_DELIVERY (with an instant) is decided lexicographically, its
day before any cost: these orders come first (by priority, then as given), each finds its earliest
day D on what the ones before it left as it would alone (``_earliest_delivery``), and its problem in
every later step is the order with every box arriving by D and no line below what that plan ships
of it. The batch's cost then breaks the ties; OPTIMAL and the bound are over the plans keeping them.
A re-plan (``held``) decides such an order by cost, as it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np

from engine import limits
from engine.availability import Availability
from engine.cost import plan_cost
from engine.decision import AllocationLine, Decision, DecisionPath, NodeNote, NodeVerdict, SolveStatus
from engine.directives import NO_DIRECTIVES, Directives
from engine.errors import InvalidInputError, Violations
from engine.explain import MAX_NODE_NOTES
from engine.model import DeliveryMethod, ObjectiveMode, Order
from engine.network import IntArray, NetworkSnapshot
from engine.optimizer.bounds import node_bounds, unit_floor
from engine.optimizer.columns import generate
from engine.optimizer.components import merge, over_asked
from engine.optimizer.deadline import CpuStretch, Deadline
from engine.optimizer.joint_milp import solve_joint
from engine.optimizer.plan import Plan, is_feasible
from engine.optimizer.prices import coordinate
from engine.optimizer.search import COST_EPSILON, Solution, SolverSettings, optimize
from engine.optimizer.shared import Ledger, shares_fit, widen
from engine.optimizer.single_node import full_fill_nodes
from engine.problem import Elimination, Problem, build_problem
from engine.promise.per_line import held_lines, keep_line_promises
from engine.sourcing import DEFAULT_SETTINGS, assemble_decision, to_allocations
from engine.terms import Terms, resolve_terms

# The joint model (its building counted: engine/optimizer/joint_milp.py) gets this share of what is
# left. CBC can still overrun its limit on large models (a 1.9 s limit once took 2.9 s on 100
# orders, 5,000 variables); the rest covers that and the answer's notes.
JOINT_SOLVER_SHARE = 0.6
# Pricing (engine/optimizer/prices.py) may use this share of what is left after one by one; the MIP
# gets the rest when a gap remains, and only for batches small enough to build in time.
PRICING_SHARE = 0.7
# Prices stop this close to their bound: the last tenths of a percent take them many rounds (each
# re-deciding the orders whose prices moved), where the MIP over the columns they leave takes ms;
# a batch too large for the MIP ends FEASIBLE this close (benchmarks/batch_bench.py).
PRICING_GAP = 0.002
JOINT_MODEL_MAX_ORDERS = limits.MAX_ORDERS_PER_BATCH
# Writing out one order's decision (its residual problem, cost and notes) takes about 0.3 ms of CPU
# without explanations (10,000 orders of a re-plan: 3 s); the search stops this much per order early.
DECISION_MS_PER_ORDER = 0.6
# Each round of groups gets this share of what is left; the rest is for repairing what their plans
# over-ask together (a few orders decided again).
GROUPS_SHARE = 0.85
# Over this many orders (a re-plan), the batch is split into the groups that actually compete
# (engine/optimizer/components.py) and each is improved on its own: prices over 10,000 orders
# coordinate thousands that compete for nothing, and their bound stays far from the optimum.
DECOMPOSE_MIN_ORDERS = JOINT_MODEL_MAX_ORDERS + 1


@dataclass(frozen=True)
class BatchOrder:
    """One order of a batch with the directives its rules gave it (evaluated by the caller)."""

    order: Order
    directives: Directives = NO_DIRECTIVES
    # The instant (epoch seconds) the order's promise is judged and priced at, and the ship-to's
    # region (engine.terms.resolve_terms): as a single decision at that instant would. None: by cost.
    at: int | None = None
    region: str = ""


class BatchPath(StrEnum):
    SEQUENTIAL = "SEQUENTIAL"  # one by one in priority order; no joint plan found that costs less
    JOINT = "JOINT"  # the joint model found a plan that costs less than one by one


@dataclass(frozen=True)
class BatchDecision:
    """One Decision per order, in the order given, and the batch's totals.

    Each order's Decision has the batch's status; its bound is its cost when the batch is OPTIMAL
    (it is part of a proven optimal batch plan), else the least it could cost alone.
    """

    decisions: tuple[Decision, ...]
    total: float  # the sum of the orders' costs
    sequential_total: float  # what deciding them one by one costs
    status: SolveStatus
    bound: float  # a proven lower bound on the total of any batch plan
    path: BatchPath
    candidates: int  # columns of the joint model (0 when it did not run)

    @property
    def gap(self) -> float:
        """Relative distance to the bound: 0 when OPTIMAL."""
        return 0.0 if self.total <= 0 else max(0.0, (self.total - self.bound) / self.total)


def decide_batch(
    orders: Sequence[BatchOrder],
    snapshot: NetworkSnapshot,
    availability: Availability,
    settings: SolverSettings = DEFAULT_SETTINGS,
    explain: bool = True,
    max_orders: int = limits.MAX_ORDERS_PER_BATCH,
    held: Sequence[tuple[AllocationLine, ...]] | None = None,
    after_ms_per_order: float = 0.0,
) -> BatchDecision:
    """Decide ``orders`` jointly; ``settings.time_limit_ms`` bounds the whole batch. Over
    JOINT_MODEL_MAX_ORDERS orders (a re-plan may pass up to ``max_orders``), prices alone coordinate
    them: a model of them all would not be built in time. ``held`` (a re-plan's current holds, one
    per order) is the incumbent in place of one by one when it fits ``availability`` together.
    ``after_ms_per_order``: CPU the caller needs per order once this returns, within the same limit."""
    deadline = Deadline.after_ms(settings.time_limit_ms)
    stretch = CpuStretch.start()
    problems = _problems(orders, snapshot, availability, max_orders, held)
    priority = sorted(range(len(orders)), key=lambda o: (-orders[o].order.priority, o))
    # Earliest-delivery orders first (their day outranks any cost), by priority, then as given.
    earliest = [o for o in priority if held is None and _earliest_first(orders[o])]
    priority = [*earliest, *(o for o in priority if o not in set(earliest))]
    sequence = priority[len(earliest) :]
    ledger = Ledger(snapshot, problems)
    plans: list[Plan] = [Plan.empty(problem) for problem in problems]
    alone: list[Solution | None] = [None] * len(problems)
    paths: list[DecisionPath] = [DecisionPath.SOLVER] * len(problems)
    start = _held_plans(problems, held) if held is not None else None
    if held is not None:
        # No line below its holds: a re-plan refuses an order that would lose units
        # (engine/reoptimize.py), so a plan that takes them is no plan for it.
        problems = [_keeping_holds(problem, h) for problem, h in zip(problems, held, strict=True)]
    if start is not None and shares_fit(snapshot, problems, start):
        # Deciding 10,000 orders one by one again costs seconds and gives back about what they hold.
        plans, sequence = start, []
    for o in earliest:
        problems[o], plans[o] = _earliest_delivery(orders[o], problems[o], ledger, snapshot, availability, settings,
                                                   deadline)  # fmt: skip
        ledger.add(problems[o], plans[o])
    for o in sequence:
        residual, cols = ledger.residual(problems[o], snapshot)
        solution = optimize(residual, settings, deadline)
        plans[o] = widen(problems[o], cols, solution.plan)
        if _untouched(ledger, problems[o]):  # nothing taken before it: also its decision alone
            alone[o] = replace(solution, plan=plans[o])
        paths[o] = solution.path
        ledger.add(problems[o], plans[o])
    sequential = [plan.objective(problem) for problem, plan in zip(problems, plans, strict=True)]
    movable = [p.terms.objective is not ObjectiveMode.FEWEST_SHIPMENTS for p in problems]
    for o, problem in enumerate(problems):
        if alone[o] is None and movable[o]:
            alone[o] = optimize(problem, settings, deadline)
    bounds = [_alone_bound(problem, alone[o], plans[o]) for o, problem in enumerate(problems)]
    upper, lower = sum(sequential), sum(bounds)
    path, candidates, status = BatchPath.SEQUENTIAL, 0, SolveStatus.OPTIMAL
    if upper > lower + _tolerance(upper):
        status = SolveStatus.FEASIBLE
        work = _Work(problems, snapshot, alone, bounds, movable, priority, settings)
        # What is left once every order's decision is written out (and the caller's work after) is
        # not the search's to spend; that work is measured in CPU, so stretched as the decisions so
        # far were on a busy machine (10,000 orders at 4.5x: 60 s limit overrun by 9 s without it).
        reserve_ms = len(problems) * (DECISION_MS_PER_ORDER + after_ms_per_order) * stretch.factor()
        search = Deadline(deadline.at - reserve_ms / 1000.0)
        if len(problems) >= DECOMPOSE_MIN_ORDERS:
            better = _by_groups(work, plans, upper, lower, search)
        else:
            better = _improve(work, list(range(len(problems))), plans, upper, lower, search)
        lower, candidates = max(lower, better.lower), better.candidates
        if better.total < upper - _tolerance(upper):
            plans, upper, path = list(better.plans), better.total, BatchPath.JOINT
            paths = [DecisionPath.SOLVER] * len(problems)
        if upper <= lower + _tolerance(upper):
            status, lower = SolveStatus.OPTIMAL, upper  # proven within the tolerance ties have
    ledger = Ledger(snapshot, problems)
    for problem, plan in zip(problems, plans, strict=True):
        ledger.add(problem, plan)
    decisions = tuple(
        _decision(orders[o], problems[o], plans[o], ledger, snapshot, status, paths[o], bounds[o], candidates, explain)
        for o in range(len(orders))
    )
    return BatchDecision(
        decisions=decisions,
        total=sum(d.cost.total for d in decisions),
        sequential_total=sum(sequential),
        status=status,
        bound=min(lower, upper),
        path=path,
        candidates=candidates,
    )


@dataclass(frozen=True)
class _Work:
    """What every part of the search reads: the batch's orders and their decisions alone."""

    problems: Sequence[Problem]
    snapshot: NetworkSnapshot
    alone: Sequence[Solution | None]
    bounds: Sequence[float]  # each order's least cost in any batch plan
    movable: Sequence[bool]
    priority: Sequence[int]  # who gives way last when plans are repaired: highest priority, oldest
    settings: SolverSettings


@dataclass(frozen=True)
class _Better:
    plans: tuple[Plan, ...]  # over the orders asked about, in their order; they fit the shared stock
    total: float
    lower: float  # a proven lower bound on those orders' total in any batch plan
    candidates: int


def _improve(work: _Work, members: Sequence[int], start: Sequence[Plan], upper: float, lower: float,
             deadline: Deadline) -> _Better:  # fmt: skip
    """Prices, then (for a small enough set) the joint model, over the orders ``members`` from
    ``start`` (their plans, fitting all the stock together; ``upper`` their total, ``lower`` a bound)."""
    problems = [work.problems[o] for o in members]
    plans = list(start)
    alone = [work.alone[o] for o in members]
    bounds = [work.bounds[o] for o in members]
    movable = [work.movable[o] for o in members]
    index = {o: i for i, o in enumerate(members)}
    order_of_repair = [index[o] for o in work.priority if o in index]
    candidates = 0
    joint_follows = len(problems) <= JOINT_MODEL_MAX_ORDERS
    if not deadline.passed() and joint_follows:
        # Prices first (engine/optimizer/prices.py): no model to build, each order decided by the
        # single-order optimizer, and a bound that the sum of the alone bounds is not. They stop near
        # their bound: the MIP over the columns they leave proves the rest in ms.
        priced = coordinate(
            problems,
            work.snapshot,
            plans,
            alone,
            movable,
            work.settings,
            Deadline(min(deadline.at, Deadline.after_ms(int(deadline.remaining_ms() * PRICING_SHARE)).at)),
            order_of_repair,
            lambda total, bound: total <= bound + max(_tolerance(total), PRICING_GAP * total),
        )
        lower = max(lower, min(priced.bound, upper))
        if priced.total < upper - _tolerance(upper):
            plans, upper = list(priced.plans), priced.total
    elif not deadline.passed():
        # Too many orders for the joint model (a re-plan's large group): column generation
        # (engine/optimizer/columns.py) gives the bound subgradient prices do not reach over
        # thousands of orders, and its master with whole columns the plan.
        generated = generate(problems, work.snapshot, plans, alone, movable, work.settings, deadline)
        lower = max(lower, min(generated.bound, upper))
        if generated.total < upper - _tolerance(upper):
            plans, upper = list(generated.plans), generated.total
    if upper > lower + _tolerance(upper) and not deadline.passed() and len(problems) <= JOINT_MODEL_MAX_ORDERS:
        # Pruned against the alone bounds' sum, never against ``lower`` once prices raised it: a
        # Lagrangian bound does not split by order, so lower - bounds[o] can exceed what the
        # other orders can cost, and pruning with it cut the optimum's columns.
        alone_total = sum(bounds)
        columns = [_joint_columns(p, plans[o], bounds[o], alone_total, upper) for o, p in enumerate(problems)]
        candidates = sum(len(c) for c in columns)
        result = solve_joint(
            problems,
            columns,
            work.snapshot.max_units,
            work.snapshot.max_shipments,
            int(deadline.remaining_ms() * JOINT_SOLVER_SHARE),
            start=plans,
            fixed=[not m for m in movable],
            backend=work.settings.backend,
        )
        lower = max(lower, min(result.bound, upper))  # a pruned column is in no plan below upper
        found = result.plans
        if found is not None and shares_fit(work.snapshot, problems, found):
            total = sum(plan.objective(problem) for problem, plan in zip(problems, found, strict=True))
            if total < upper - _tolerance(upper):
                plans, upper = list(found), total
            if result.status is SolveStatus.OPTIMAL:
                lower = max(lower, upper)
    return _Better(tuple(plans), upper, min(lower, upper), candidates)


def _by_groups(work: _Work, start: Sequence[Plan], upper: float, lower: float, deadline: Deadline) -> _Better:
    """The batch split into its contested groups (engine/optimizer/components.py), each improved
    on its own with a share of the time by its size; orders in no group keep their decision alone.

    The bound is the sum of the ungrouped orders' bounds and each group's bound over all the stock.
    When the groups' plans, put together, over-ask a position, what clashes is repaired one order at
    a time (the best fitting plan so far), and the groups sharing it are merged and improved again
    from that plan while time remains."""
    problems, n = work.problems, len(work.problems)
    # Each order's wish: its decision alone; an order that keeps its plan (FEWEST_SHIPMENTS) wishes that.
    wish = [a.plan if m and a is not None else p for a, m, p in zip(work.alone, work.movable, start, strict=True)]
    groups = merge(n, over_asked(work.snapshot, problems, wish))
    solved: dict[tuple[int, ...], _Better] = {}
    known: dict[tuple[int, ...], float] = {}  # a bound on each group: its parts' bounds, once merged
    best, best_total = list(start), upper  # the best plan of the whole batch that fits
    while True:
        todo = [g for g in groups if tuple(g) not in solved]
        left = sum(len(g) for g in todo)
        # The groups' time ends early enough to repair what their plans over-ask together.
        rounds_end = Deadline(deadline.at - (deadline.at - Deadline.after_ms(0).at) * (1.0 - GROUPS_SHARE))
        for g in sorted(todo, key=len):  # the small ones first: the large one takes what they leave
            part = Deadline(min(rounds_end.at, Deadline.after_ms(int(rounds_end.remaining_ms() * len(g) / left)).at))
            left -= len(g)
            own = [best[o] for o in g]
            upper_g = sum(p.objective(problems[o]) for o, p in zip(g, own, strict=True))
            lower_g = known.get(tuple(g), sum(work.bounds[o] for o in g))
            solved[tuple(g)] = _improve(work, g, own, upper_g, min(lower_g, upper_g), part)
        plans = list(wish)
        for g in groups:
            for o, plan in zip(g, solved[tuple(g)].plans, strict=True):
                plans[o] = plan
        clashes = over_asked(work.snapshot, problems, plans)
        fitted = _repaired(work, plans, clashes, deadline) if clashes else plans
        if fitted is not None and shares_fit(work.snapshot, problems, fitted):
            total = sum(plan.objective(problem) for problem, plan in zip(problems, fitted, strict=True))
            if total < best_total - _tolerance(best_total):
                best, best_total = fitted, total
        if not clashes or deadline.passed():
            break
        before = groups
        groups = merge(n, [*groups, *clashes])
        # A merged group's parts were each bounded over all the stock: their sum bounds it too.
        part_of = {o: tuple(g) for g in before for o in g}
        for g in groups:
            parts = {part_of[o] for o in g if o in part_of}
            known[tuple(g)] = sum(solved[p].lower for p in parts) + sum(work.bounds[o] for o in g if o not in part_of)
    grouped = {o for g in groups for o in g}
    bound = sum(work.bounds[o] for o in range(n) if o not in grouped) + sum(solved[tuple(g)].lower for g in groups)
    candidates = sum(solved[tuple(g)].candidates for g in groups)
    return _Better(tuple(best), best_total, max(lower, min(bound, best_total)), candidates)


def _repaired(
    work: _Work, plans: Sequence[Plan], clashes: Sequence[Sequence[int]], deadline: Deadline
) -> list[Plan] | None:
    """``plans`` made to fit: the orders at over-asked positions decided again one at a time, in
    priority order, on what all the others leave; None when time runs out first."""
    redo = {o for clash in clashes for o in clash}
    ledger = Ledger(work.snapshot, work.problems)
    fixed = list(plans)
    for o, (problem, plan) in enumerate(zip(work.problems, plans, strict=True)):
        if o not in redo:
            ledger.add(problem, plan)
    for o in work.priority:
        if o not in redo:
            continue
        if deadline.passed():
            return None
        problem = work.problems[o]
        if work.movable[o]:
            residual, cols = ledger.residual(problem, work.snapshot)
            fixed[o] = widen(problem, cols, optimize(residual, work.settings, deadline).plan)
        ledger.add(problem, fixed[o])
    return fixed


def _problems(
    orders: Sequence[BatchOrder],
    snapshot: NetworkSnapshot,
    availability: Availability,
    max_orders: int,
    held: Sequence[tuple[AllocationLine, ...]] | None = None,
) -> list[Problem]:
    """Every order's problem over the full stock; every bad field of the batch reported at once."""
    v = Violations()
    v.check(len(orders) >= 1, "orders", "must have at least one order")
    v.check(len(orders) <= max_orders, "orders", f"has more than {max_orders} orders")
    seen: set[str] = set()
    problems = []
    for i, item in enumerate(orders[:max_orders]):
        order_id = item.order.order_id
        v.check(order_id not in seen, f"orders[{i}].order_id", f"duplicates order id {order_id!r}")
        seen.add(order_id)
        try:
            if held is None and _earliest_first(item):  # its day is set before the joint decision
                item = replace(item, order=replace(item.order, objective=ObjectiveMode.COST))
            terms, directives = order_terms(item, snapshot, availability, held[i] if held is not None else ())
        except InvalidInputError as error:
            v.extend(error, f"orders[{i}]")
            continue
        problems.append(build_problem(item.order, snapshot, availability, directives, terms))
    v.raise_if_any()
    return problems


def order_terms(
    item: BatchOrder,
    snapshot: NetworkSnapshot,
    availability: Availability,
    held: Sequence[AllocationLine] = (),
    arrive_by: int | None = None,
) -> tuple[Terms, Directives]:
    """The order's terms at its instant and its directives with the exclusions keeping lines' own
    promises. ``held`` (a re-plan's holds): the nodes it holds at stay its candidates, priced by their
    carrier services, even where its promise would now break (``ShipOptions.keep``), and a line keeps
    the nodes it holds at (keeping its holds never makes it later than it is). ``arrive_by``: a day
    every shipment must also arrive by (the earliest-delivery objective's, engine.terms)."""
    terms = resolve_terms(item.order, item.directives, snapshot, at=item.at, region=item.region, arrive_by=arrive_by)
    directives = item.directives
    options = terms.ship_options
    if options is None:
        return terms, directives
    if held:
        options.keep(frozenset(a.node_id for a in held))
    if options.per_line:  # lines promised differently
        at = held_lines(item.order, snapshot.ids, availability.skus, availability.units)
        ruled = keep_line_promises(item.order, snapshot, options, directives, at)
        holding = {(a.line_id, a.node_id) for a in held}
        added = [
            e
            for e in ruled.exclusions[len(directives.exclusions) :]
            if not any((line_id, node_id) in holding for line_id in e.line_ids for node_id in e.node_ids)
        ]
        directives = replace(directives, exclusions=(*directives.exclusions, *added))
    return terms, directives


def _earliest_first(item: BatchOrder) -> bool:
    """The order's objective is its earliest delivery and it has an instant to date it by (a pickup,
    or an order without one, is decided by cost, as alone: engine.sourcing)."""
    order = item.order
    return (
        order.objective is ObjectiveMode.EARLIEST_DELIVERY
        and item.at is not None
        and order.delivery_method is DeliveryMethod.SHIP
    )


def _earliest_delivery(
    item: BatchOrder,
    problem: Problem,
    ledger: Ledger,
    snapshot: NetworkSnapshot,
    availability: Availability,
    settings: SolverSettings,
    deadline: Deadline,
) -> tuple[Problem, Plan]:
    """An EARLIEST_DELIVERY order's problem in the joint decision and its plan on what the ledger
    leaves (the earliest-delivery orders before it), lexicographically: its day first, as a decision
    alone on that stock finds it (engine.sourcing: the cheapest plan sets how many units ship and
    the latest day; the first earlier day whose cheapest plan ships as many is its day D), then
    cost. Its problem is then the order with every shipment arriving by D and no line below what
    that plan ships of it (``least``): the joint model minimises the batch's cost among the plans
    keeping its day and its units. ``problem`` is the order's by cost (no day)."""
    plain = replace(item, order=problem.order)

    def placed(candidate: Problem) -> Plan:
        residual, cols = ledger.residual(candidate, snapshot)
        return widen(candidate, cols, optimize(residual, settings, deadline).plan)

    def by_day(day: int) -> Problem:
        terms, directives = order_terms(plain, snapshot, availability, arrive_by=day)
        return build_problem(plain.order, snapshot, availability, directives, terms)

    cheapest = placed(problem)
    shipped = int(cheapest.x.sum())
    allocations = to_allocations(problem, cheapest)
    latest = plan_cost(problem.order, allocations, snapshot, problem.terms).delivery_day
    if not latest or not shipped:
        return problem, cheapest
    assert item.at is not None
    chosen: tuple[Problem, Plan] | None = None
    for day in range(datetime.fromtimestamp(item.at, UTC).date().toordinal() - 1, latest):
        candidate = by_day(day)
        plan = placed(candidate)
        if int(plan.x.sum()) >= shipped:
            chosen = candidate, plan
            break
    if chosen is None:  # no earlier day: the cheapest plan's, kept as its day
        candidate = by_day(latest)
        chosen = candidate, placed(candidate)
    candidate, plan = chosen
    least = np.minimum(plan.x.sum(axis=1), candidate.qty)
    return replace(candidate, least=least if least.any() else None), plan


def _held_plans(problems: Sequence[Problem], held: Sequence[tuple[AllocationLine, ...]]) -> list[Plan] | None:
    """Each order's holds as a plan over its problem's columns; None when one does not map (a held
    node no longer a candidate, a line gone)."""
    plans = []
    for problem, allocations in zip(problems, held, strict=True):
        line_of = {line.line_id: i for i, line in enumerate(problem.order.lines)}
        column_of = {node_id: j for j, node_id in enumerate(problem.node_ids)}
        x = np.zeros((problem.n_lines, problem.n_nodes), dtype=np.int64)
        for a in allocations:
            if a.line_id not in line_of or a.node_id not in column_of:
                return None
            x[line_of[a.line_id], column_of[a.node_id]] += a.qty
        plans.append(Plan(x))
    return plans


def _keeping_holds(problem: Problem, allocations: tuple[AllocationLine, ...]) -> Problem:
    """``problem`` whose lines must keep the units ``allocations`` hold; unchanged when the holds
    are no plan of it (a held node no longer a candidate: no plan could keep them, and the re-plan
    refuses the order's change if it loses units)."""
    plans = _held_plans([problem], [allocations])
    if plans is None or not is_feasible(problem, plans[0]):
        return problem
    return replace(problem, least=np.minimum(plans[0].x.sum(axis=1), problem.qty))


def _untouched(ledger: Ledger, problem: Problem) -> bool:
    """Nothing recorded yet at the problem's columns (its SKUs or its nodes' capacity)."""
    return not ledger.units[problem.nodes].any()


def _alone_bound(problem: Problem, alone: Solution | None, plan: Plan) -> float:
    """The least the order can cost in any batch plan: its decision alone on all the stock.

    A FEWEST_SHIPMENTS order keeps its plan, so its cost is fixed."""
    if problem.terms.objective is ObjectiveMode.FEWEST_SHIPMENTS or alone is None:
        return plan.objective(problem)
    return min(alone.bound, alone.plan.objective(problem))


def _joint_columns(problem: Problem, plan: Plan, bound: float, alone_total: float, upper: float) -> IntArray:
    """The order's columns that a batch plan costing less than ``upper`` may use, and its plan's.

    ``alone_total`` is the sum of every order's alone bound (``bound`` is this order's): each other
    order costs at least its own, so a column costing more than ``upper`` minus theirs is in no
    better plan."""
    used = plan.used()
    if problem.terms.objective is ObjectiveMode.FEWEST_SHIPMENTS or problem.n_nodes == 0:
        return used
    by_node = node_bounds(problem, unit_floor(problem), full_fill_nodes(problem))
    others = alone_total - bound
    keep: IntArray = np.union1d(np.flatnonzero(by_node + others <= upper + _tolerance(upper)), used)
    return keep


def _tolerance(total: float) -> float:
    return COST_EPSILON * max(1.0, abs(total))


def _decision(
    item: BatchOrder,
    problem: Problem,
    plan: Plan,
    ledger: Ledger,
    snapshot: NetworkSnapshot,
    status: SolveStatus,
    path: DecisionPath,
    bound: float,
    candidates: int,
    explain: bool,
) -> Decision:
    """The order's Decision, explained on its problem as the other orders left it."""
    residual, cols = ledger.residual(problem, snapshot, own=plan)
    narrowed = Plan(plan.x[:, cols])
    cost = narrowed.objective(residual)
    decision = assemble_decision(
        residual,
        narrowed,
        snapshot,
        problem.directives,  # with the exclusions keeping lines' own promises
        status=status,
        path=path,
        bound=cost if status is SolveStatus.OPTIMAL else bound,
        candidates=candidates if candidates else len(cols),
        explain=explain,
    )
    if not explain:
        return decision
    return replace(decision, node_notes=decision.node_notes + _taken_by_others(problem, residual, cols, decision))


def _taken_by_others(problem: Problem, residual: Problem, cols: IntArray, decision: Decision) -> tuple[NodeNote, ...]:
    """Notes on the nearest candidates whose stock other orders of the batch took (a node out of
    capacity already has its note from the residual problem)."""
    gone = np.setdiff1d(np.arange(problem.n_nodes), cols)
    newly = (residual.elimination == Elimination.NO_CAPACITY) & (problem.elimination == Elimination.CANDIDATE)
    full = set(problem.stocked[newly].tolist())
    room = MAX_NODE_NOTES - len(decision.node_notes)
    noted = {note.node_id for note in decision.node_notes}
    nearest = gone[np.argsort(problem.distance[gone], kind="stable")]
    notes: list[NodeNote] = []
    for j in nearest.tolist():
        if len(notes) >= room:
            break
        node_id = problem.node_ids[j]
        if node_id not in noted and int(problem.nodes[j]) not in full:
            notes.append(NodeNote(node_id, NodeVerdict.NO_STOCK, "other orders of this batch took its stock"))
    return tuple(notes)
