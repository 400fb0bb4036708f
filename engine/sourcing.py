"""The engine's front door: an order and the state of the network in, a decision out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from engine.availability import Availability, StockLevels
from engine.cost import plan_cost
from engine.decision import AllocationLine, Decision, DecisionPath, SolveStatus
from engine.directives import NO_DIRECTIVES, Directives
from engine.errors import FieldViolation, InvalidInputError
from engine.explain import node_notes, unfilled_lines
from engine.model import DeliveryMethod, ObjectiveMode, Order
from engine.network import NetworkSnapshot
from engine.optimizer.deadline import Deadline
from engine.optimizer.milp import solve_milp
from engine.optimizer.plan import Plan
from engine.optimizer.priced_milp import buildable, solve_priced_milp
from engine.optimizer.search import SolverSettings, optimize
from engine.problem import Problem, build_problem
from engine.promise.per_line import held_lines, held_lines_from_levels, keep_line_promises
from engine.small_orders import decide_small
from engine.terms import resolve_terms

DEFAULT_SETTINGS = SolverSettings()
# EARLIEST_DELIVERY's answer, decided again with its notes, gets at least this fraction of the limit.
FINAL_SHARE = 4


def decide(
    order: Order,
    snapshot: NetworkSnapshot,
    availability: Availability,
    directives: Directives = NO_DIRECTIVES,
    settings: SolverSettings = DEFAULT_SETTINGS,
    why_not: Sequence[str] = (),
    explain: bool = True,
    at: int | None = None,
    region: str = "",
    arrive_by: int | None = None,
) -> Decision:
    """Source ``order`` optimally. ``why_not`` names nodes whose extra cost, if forced in, to report;
    ``explain=False`` leaves out the per-node notes (which carry those extra costs), nothing else.

    ``settings.time_limit_ms`` bounds the whole decision, problem build and why-not solves included.
    ``at`` (epoch seconds, the caller's clock) and ``region`` (the ship-to's): see ``resolve_terms``;
    with ``at`` the shipments are dated and the order's promise, if any, is kept.
    """
    deadline = Deadline.after_ms(settings.time_limit_ms)
    if why_not and not explain:
        raise InvalidInputError(FieldViolation("why_not", "needs explanations: their answers are node notes"))
    for i, node_id in enumerate(why_not):
        if node_id not in snapshot.index:
            raise InvalidInputError(FieldViolation(f"why_not[{i}]", f"unknown node {node_id!r}"))
    try:
        terms = resolve_terms(order, directives, snapshot, at, region, arrive_by)
    except InvalidInputError as error:
        # Its fields are the order's (service_level, pickup_node_id): named as the caller sent them.
        raise error.prefixed("order") from None
    if terms.ship_options is not None and terms.ship_options.per_line:
        held = held_lines(order, snapshot.ids, availability.skus, availability.units)
        directives = keep_line_promises(order, snapshot, terms.ship_options, directives, held)
    problem = build_problem(order, snapshot, availability, directives, terms)
    solution = optimize(problem, settings, deadline)
    return assemble_decision(
        problem,
        solution.plan,
        snapshot,
        directives,
        status=solution.status,
        path=solution.path,
        bound=solution.bound,
        candidates=solution.candidates,
        explain=explain,
        extra_costs=lambda chosen: _why_not(problem, solution.plan, settings, deadline, why_not, chosen),
    )


def decide_from_levels(
    order: Order,
    snapshot: NetworkSnapshot,
    skus: Sequence[str],
    levels: StockLevels,
    directives: Directives = NO_DIRECTIVES,
    settings: SolverSettings = DEFAULT_SETTINGS,
    why_not: Sequence[str] = (),
    explain: bool = True,
    at: int | None = None,
    region: str = "",
    arrive_by: int | None = None,
) -> Decision:
    """``decide`` from stock levels as a store reads them (``skus``: the order's). Small orders
    (engine/small_orders.py: few lines, few nodes holding them) are decided in plain Python, the
    same decision without numpy's fixed cost per call; every other order by ``decide``.
    ``arrive_by``: a day every shipment must also arrive by (the earliest-delivery objective's)."""
    if order.objective is ObjectiveMode.EARLIEST_DELIVERY:
        plain = replace(order, objective=ObjectiveMode.COST)
        if at is None or order.delivery_method is not DeliveryMethod.SHIP:
            return decide_from_levels(plain, snapshot, skus, levels, directives, settings, why_not, explain)
        return _earliest_delivery(plain, snapshot, skus, levels, directives, settings, why_not, explain, at, region)
    if not why_not:
        try:
            terms = resolve_terms(order, directives, snapshot, at, region, arrive_by)
        except InvalidInputError as error:
            raise error.prefixed("order") from None
        ruled = directives
        if terms.ship_options is not None and terms.ship_options.per_line:
            held = held_lines_from_levels(order, levels)
            ruled = keep_line_promises(order, snapshot, terms.ship_options, directives, held)
        small = decide_small(order, snapshot, levels, ruled, terms, explain=explain)
        if small is not None:
            return small
    availability = Availability.from_levels(snapshot, skus, levels)
    return decide(order, snapshot, availability, directives, settings, why_not, explain, at, region, arrive_by)


def _earliest_delivery(
    order: Order,
    snapshot: NetworkSnapshot,
    skus: Sequence[str],
    levels: StockLevels,
    directives: Directives,
    settings: SolverSettings,
    why_not: Sequence[str],
    explain: bool,
    at: int,
    region: str,
) -> Decision:
    """The objective EARLIEST_DELIVERY: the cheapest plan (``order`` decided by cost, within its
    own promise if any) sets how many units ship and the latest day to try; each earlier day D,
    first to last, is tried as a day to arrive by, and the first whose cheapest plan ships as many units
    is the answer: the earliest delivery of the whole order, cost breaking ties. The nodes'
    ship days can fall on the day before the instant's UTC date (zones west of UTC), so the
    trials start there. Each trial is an ordinary decision, exact as any.

    ``settings.time_limit_ms`` bounds them all together, as it bounds any decision: trials are
    decided without notes (a 200-line order's notes cost more than its solve), and the day found
    is decided once more with them. When time runs out before a day is found, the cheapest plan
    is the answer, FEASIBLE: no earlier day was proven impossible."""
    deadline = Deadline.after_ms(settings.time_limit_ms)

    def trial(arrive_by: int | None, noted: bool = False) -> Decision:
        left = replace(settings, time_limit_ms=max(1, deadline.remaining_ms()))
        if noted:  # the answer's own decision: never starved by the trials before it
            left = replace(settings, time_limit_ms=max(left.time_limit_ms, settings.time_limit_ms // FINAL_SHARE))
        return decide_from_levels(
            order,
            snapshot,
            skus,
            levels,
            directives,
            left,
            why_not if noted else (),
            explain and noted,
            at,
            region,
            arrive_by,
        )

    def answer(found: Decision, arrive_by: int | None) -> Decision:
        if not explain and not why_not:
            return found
        noted = trial(arrive_by, noted=True)
        # Decided again on the same stock: the same cost unless its solve ran out of time, when the
        # trial's plan (without notes) is the better answer.
        return noted if noted.cost.total <= found.cost.total + 1e-9 else found

    cheapest = trial(None)
    latest = cheapest.cost.delivery_day
    shipped = sum(a.qty for a in cheapest.allocations)
    if not latest or not shipped:
        return answer(cheapest, None)
    first = datetime.fromtimestamp(at, UTC).date().toordinal() - 1
    for day in range(first, latest):
        if deadline.passed():
            found = answer(cheapest, None)
            return replace(found, status=SolveStatus.FEASIBLE) if found.status is SolveStatus.OPTIMAL else found
        decision = trial(day)
        if sum(a.qty for a in decision.allocations) >= shipped:
            return answer(decision, day)
    return answer(cheapest, None)


def assemble_decision(
    problem: Problem,
    plan: Plan,
    snapshot: NetworkSnapshot,
    directives: Directives,
    *,
    status: SolveStatus,
    path: DecisionPath,
    bound: float,
    candidates: int,
    explain: bool = True,
    extra_costs: Callable[[float], dict[str, float]] | None = None,
) -> Decision:
    """The Decision for ``plan``: allocations, the reference cost, unfilled lines and node notes read
    off ``problem`` (a batch passes the problem as other orders left it, so notes say so).
    ``extra_costs`` maps the chosen plan's cost to the why-not nodes' extra costs."""
    allocations = to_allocations(problem, plan)
    cost = plan_cost(problem.order, allocations, snapshot, problem.terms)
    extra = extra_costs(cost.total) if extra_costs is not None else {}
    return Decision(
        order_id=problem.order.order_id,
        allocations=allocations,
        unfilled=unfilled_lines(problem, plan, snapshot),
        cost=cost,
        status=status,
        path=path,
        bound=min(bound, cost.total),
        candidates=candidates,
        node_notes=node_notes(problem, plan, snapshot, extra, cost) if explain else (),
        rule_set_version=directives.rule_set_version,
        fired_rules=directives.fired_rules,
        holds=directives.holds,
    )


def to_allocations(problem: Problem, plan: Plan) -> tuple[AllocationLine, ...]:
    """Allocation rows in line order, then node id order (node ids are sorted in the snapshot)."""
    rows = []
    lines = problem.order.lines
    for line_index, j in zip(*np.nonzero(plan.x), strict=True):
        line = lines[int(line_index)]
        rows.append(AllocationLine(line.line_id, problem.node_ids[int(j)], line.sku, int(plan.x[line_index, j])))
    return tuple(rows)


def _why_not(
    problem: Problem, plan: Plan, settings: SolverSettings, deadline: Deadline, node_ids: Sequence[str], chosen: float
) -> dict[str, float]:
    """For each named candidate not used: the best plan's extra cost when it must ship (when found in time)."""
    extra: dict[str, float] = {}
    if not node_ids:
        return extra
    used = {problem.node_ids[j] for j in plan.used().tolist()}
    column = {node_id: j for j, node_id in enumerate(problem.node_ids)}
    for node_id in node_ids:
        if node_id in used:
            extra[node_id] = 0.0
        elif node_id in column and (problem.pricing is None or buildable(problem)):
            cols = np.arange(problem.n_nodes)
            forced = (
                solve_milp(problem, cols, deadline.remaining_ms(), settings.backend, force=column[node_id])
                if problem.pricing is None
                else solve_priced_milp(problem, deadline.remaining_ms(), settings.backend, force=column[node_id])
            )
            if forced.plan is not None:
                extra[node_id] = forced.plan.objective(problem) - chosen
    return extra
