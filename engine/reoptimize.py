"""Re-planning orders that already hold stock (ReoptimizePending): what to change, and what not.

Orders are allocated one at a time as they arrive; later arrivals, restocks and cancels can leave
their reservations short of the cheapest joint plan. Here the pending orders are decided again
jointly (engine/batch.py) over the free stock plus what they themselves hold, and the joint plan
is compared with what they hold now, both costed by the one cost model (engine/cost.py).

What may be applied comes in **groups**: the changed orders linked by a stock position whose
units one of them gives up or takes where another also changes (and by a capped node both
change their use of). A group is applied whole or not at all: A may move to a dearer node only
so that B can have A's unit, and A's move alone would raise the total. Each group stands on its
own: its orders' new takes at a position fit in the free stock plus what the group gives up
there, because every other order keeps its holds. A group is offered only when it lowers the
total cost, and only when none of its orders loses units on any line nor, under FEWEST_SHIPMENTS,
gains a shipment. The joint decision already keeps every line at its holds (engine/batch.py gives
each order's problem its ``least``); the check stays, for an order no plan lets keep them.

Promises are kept: given the instant (``at``), an order carrying a promise (or that rules about time
fire on) is decided by the joint model as a single decision at ``at`` would (its promise kept, each
shipment priced by the cheapest eligible carrier service for what it carries, lines promised
differently kept per line), and its holds are costed the same way (``engine.batch.order_terms``),
except that the nodes it already holds at stay its candidates even where its promise would now
break: keeping its own holds never makes it later than it is. Such a node's shipments go by the
services it ships with that deliver earliest (``ShipOptions.keep``). Only an order holding at a node
that ships with none of its services any more (or that rules about time close) is re-planned by its
level's rate table, the nodes breaking its promise other than its own excluded (``_keeping_promise``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from engine import limits
from engine.availability import Availability
from engine.batch import BatchOrder, decide_batch, order_terms
from engine.cost import plan_cost
from engine.decision import AllocationLine, SolveStatus
from engine.directives import Directives, Exclusion
from engine.errors import InvalidInputError
from engine.geo import haversine_miles
from engine.model import ObjectiveMode, Order
from engine.network import UNLIMITED, NetworkSnapshot
from engine.optimizer.deadline import Deadline
from engine.optimizer.search import COST_EPSILON, SolverSettings
from engine.promise.per_line import held_lines, keep_line_promises
from engine.sourcing import DEFAULT_SETTINGS
from engine.terms import resolve_terms

# Costing one order's holds and comparing its plans takes about 0.2 ms of CPU.
COMPARE_MS_PER_ORDER = 0.3


@dataclass(frozen=True)
class PendingOrder:
    """An order holding stock, to be re-planned: ``order`` has only its open units (cancelled ones
    gone), ``directives`` its rules' plus its lasting exclusions, ``held`` its live holds."""

    order: Order
    directives: Directives
    held: tuple[AllocationLine, ...]
    region: str = ""  # the ship-to's (US-AK...), for carriers zoning Alaska and Hawaii apart


class SkipReason(StrEnum):
    RULE_HOLD = "RULE_HOLD"  # a rule would now hold the order: a person decides, not a re-plan
    UNKNOWN_NODE = "UNKNOWN_NODE"  # it holds units at a node the network no longer has
    INVALID = "INVALID"  # its terms no longer resolve (a service level gone from the rate tables)
    LOSES_UNITS = "LOSES_UNITS"  # the joint plan gives a line fewer units than it holds
    MORE_SHIPMENTS = "MORE_SHIPMENTS"  # a FEWEST_SHIPMENTS order would ship in more boxes
    GROUP_SKIPPED = "GROUP_SKIPPED"  # its change depends on another order's that is not applied
    CHANGED = "CHANGED"  # (applying) the order changed since it was read: version, state or holds
    STOCK_TAKEN = "STOCK_TAKEN"  # (applying) the free stock the group needs is gone


@dataclass(frozen=True)
class Skip:
    order_id: str
    reason: SkipReason
    detail: str


@dataclass(frozen=True)
class OrderChange:
    order_id: str
    before: tuple[AllocationLine, ...]
    after: tuple[AllocationLine, ...]
    cost_before: float
    cost_after: float
    rule_set_version: str


@dataclass(frozen=True)
class Reoptimization:
    """``groups``: the changes worth applying, each cheaper in total, to apply each whole or not
    at all. Totals are over the orders decided jointly: what they hold now, and the best plan."""

    groups: tuple[tuple[OrderChange, ...], ...]
    skipped: tuple[Skip, ...]
    total_before: float
    total_after: float  # when every group is applied
    joint_total: float  # the joint plan's, every change taken (groups not worth it included)
    status: SolveStatus
    bound: float  # a proven lower bound on any plan of the orders decided jointly


@dataclass(frozen=True)
class Candidate:
    """One order's current and proposed plan, costed by the same terms (``choose_changes``' input)."""

    order: Order
    before: tuple[AllocationLine, ...]
    after: tuple[AllocationLine, ...]
    cost_before: float
    cost_after: float
    objective: ObjectiveMode = ObjectiveMode.COST
    rule_set_version: str = ""


def reoptimize(
    pending: Sequence[PendingOrder],
    snapshot: NetworkSnapshot,
    free: Availability,
    settings: SolverSettings = DEFAULT_SETTINGS,
    at: int | None = None,
) -> Reoptimization:
    """Decide ``pending`` jointly over ``free`` (stock nobody holds) plus their own holds; ``free``
    covers every SKU of theirs. Orders are taken oldest first (as given) within each priority.
    ``settings.time_limit_ms`` bounds the whole re-plan, reading and comparing the orders included.
    ``at``: the instant (epoch seconds) promises are judged at; None re-plans by cost alone."""
    deadline = Deadline.after_ms(settings.time_limit_ms)
    skipped: list[Skip] = []
    planned: list[PendingOrder] = []
    for item in pending:
        why = _unplannable(item, snapshot)
        if why is None:
            planned.append(item)
        else:
            skipped.append(why)
    if not planned:
        return Reoptimization((), tuple(skipped), 0.0, 0.0, 0.0, SolveStatus.OPTIMAL, 0.0)
    pool = _with_holds(free, planned, snapshot)
    # Costing every order's holds and choosing the groups comes after the joint decision: the batch
    # keeps time for it (stretched as its own work is on a busy machine).
    judged = [_judged_at(p, snapshot, pool, at) for p in planned]
    items = [
        BatchOrder(p.order, p.directives, at=when, region=p.region)
        if when is not None
        else BatchOrder(p.order, _keeping_promise(p, snapshot, pool, at))
        for p, when in zip(planned, judged, strict=True)
    ]
    batch = decide_batch(
        items,
        snapshot,
        pool,
        replace(settings, time_limit_ms=max(1, deadline.remaining_ms())),
        explain=False,
        max_orders=limits.MAX_ORDERS_PER_REOPTIMIZE,
        held=[p.held for p in planned],
        after_ms_per_order=COMPARE_MS_PER_ORDER,
    )
    candidates = []
    for item, batch_item, decision in zip(planned, items, batch.decisions, strict=True):
        # Its holds costed as its new plan is: by the terms the batch decided it under.
        terms, _ = order_terms(batch_item, snapshot, pool, item.held)
        candidates.append(
            Candidate(
                order=item.order,
                before=item.held,
                after=decision.allocations,
                cost_before=plan_cost(item.order, item.held, snapshot, terms).total,
                cost_after=decision.cost.total,
                objective=terms.objective,
                rule_set_version=item.directives.rule_set_version,
            )
        )
    groups, refused = choose_changes(candidates, snapshot)
    before = sum(c.cost_before for c in candidates)
    saved = sum(c.cost_before - c.cost_after for group in groups for c in group)
    return Reoptimization(
        groups=groups,
        skipped=(*skipped, *refused),
        total_before=before,
        total_after=before - saved,
        joint_total=batch.total,
        status=batch.status,
        bound=batch.bound,
    )


def choose_changes(
    candidates: Sequence[Candidate], snapshot: NetworkSnapshot
) -> tuple[tuple[tuple[OrderChange, ...], ...], tuple[Skip, ...]]:
    """The groups (module docstring) worth applying, and the orders refused with why.

    An order whose plan does not change is in neither. A group with an order that would lose
    units is refused whole: its other orders' plans count on what that order would give up."""
    changed = [c for c in candidates if _units(c.before) != _units(c.after)]
    groups = _groups(changed, snapshot)
    chosen: list[tuple[OrderChange, ...]] = []
    refused: list[Skip] = []
    for group in groups:
        faults = {c.order.order_id: why for c in group if (why := _worse_off(c)) is not None}
        if faults:
            for c in group:
                fault = faults.get(c.order.order_id)
                refused.append(
                    fault
                    if fault is not None
                    else Skip(
                        c.order.order_id,
                        SkipReason.GROUP_SKIPPED,
                        f"its new plan needs stock that {', '.join(sorted(faults))} would have to give up",
                    )
                )
            continue
        before = sum(c.cost_before for c in group)
        after = sum(c.cost_after for c in group)
        if after < before - COST_EPSILON * max(1.0, abs(before)):
            chosen.append(
                tuple(
                    OrderChange(c.order.order_id, c.before, c.after, c.cost_before, c.cost_after, c.rule_set_version)
                    for c in group
                )
            )
    return tuple(chosen), tuple(refused)


def _unplannable(item: PendingOrder, snapshot: NetworkSnapshot) -> Skip | None:
    order_id = item.order.order_id
    if item.directives.holds:
        rule_ids = ", ".join(h.rule_id for h in item.directives.holds)
        return Skip(order_id, SkipReason.RULE_HOLD, f"rules {rule_ids} would hold it: left as it is")
    gone = sorted({a.node_id for a in item.held if a.node_id not in snapshot.index})
    if gone:
        return Skip(order_id, SkipReason.UNKNOWN_NODE, f"holds units at {', '.join(gone)}, not in the network")
    try:
        resolve_terms(item.order, item.directives, snapshot)
    except InvalidInputError as error:
        return Skip(order_id, SkipReason.INVALID, str(error))
    return None


def _judged_at(item: PendingOrder, snapshot: NetworkSnapshot, pool: Availability, at: int | None) -> int | None:
    """``at`` when the joint model decides ``item`` at ``at`` (its promise or rules about time
    restrict it, and every node it holds at ships with one of its services: ``ShipOptions.keep``).
    None otherwise: re-planned by its level's rates, late nodes other than its own excluded
    (``_keeping_promise``)."""
    if at is None:
        return None
    batch_item = BatchOrder(item.order, item.directives, at=at, region=item.region)
    terms, _ = order_terms(batch_item, snapshot, pool, item.held)
    if not terms.restricted:
        return None
    held = sorted({a.node_id for a in item.held})
    rows = np.array([snapshot.index[node_id] for node_id in held], dtype=np.int64)
    ship_to = item.order.ship_to
    miles = haversine_miles(ship_to.lat, ship_to.lon, snapshot.lat[rows], snapshot.lon[rows])
    if any(terms.late(node_id, d) for node_id, d in zip(held, miles.tolist(), strict=True)):
        return None
    return at


def _keeping_promise(item: PendingOrder, snapshot: NetworkSnapshot, pool: Availability, at: int | None) -> Directives:
    """``item``'s directives, plus an exclusion of the nodes holding its SKUs that would break its
    promise (or that rules about time rule out) and that it does not already hold at; lines
    promised differently, each line left out where its own promise would break, except where it
    already holds."""
    if at is None:
        return item.directives
    terms = resolve_terms(item.order, item.directives, snapshot, at=at, region=item.region)
    if not terms.restricted:
        return item.directives
    directives = item.directives
    if terms.ship_options is not None and terms.ship_options.per_line:  # lines promised differently
        held_lines_at = held_lines(item.order, snapshot.ids, pool.skus, pool.units)
        ruled = keep_line_promises(item.order, snapshot, terms.ship_options, directives, held_lines_at)
        # A line keeps the node it holds at, as an order does (never later than it is).
        holding = {(a.line_id, a.node_id) for a in item.held}
        added = [
            e
            for e in ruled.exclusions[len(directives.exclusions) :]
            if not any((line_id, node_id) in holding for line_id in e.line_ids for node_id in e.node_ids)
        ]
        directives = replace(directives, exclusions=(*directives.exclusions, *added))
    rows = [k for k, sku in enumerate(pool.skus) if sku in {line.sku for line in item.order.lines}]
    stocked = np.flatnonzero((pool.units[rows] > 0).any(axis=0)) if rows else np.zeros(0, dtype=np.int64)
    held = {a.node_id for a in item.held}
    ship_to = item.order.ship_to
    miles = haversine_miles(ship_to.lat, ship_to.lon, snapshot.lat[stocked], snapshot.lon[stocked])
    late = frozenset(
        snapshot.ids[n]
        for n, d in zip(stocked.tolist(), miles.tolist(), strict=True)
        if snapshot.ids[n] not in held and terms.late(snapshot.ids[n], d)
    )
    if not late:
        return directives
    keep = Exclusion("PROMISE", late, reason="would break the order's promise")
    return replace(directives, exclusions=(*directives.exclusions, keep))


def _with_holds(free: Availability, planned: Sequence[PendingOrder], snapshot: NetworkSnapshot) -> Availability:
    """``free`` plus every planned order's holds: their units are being re-planned."""
    skus = tuple(dict.fromkeys((*free.skus, *(a.sku for p in planned for a in p.held))))
    units = np.zeros((len(skus), len(snapshot)), dtype=np.int64)
    units[: len(free.skus)] = free.units
    row = {sku: k for k, sku in enumerate(skus)}
    for item in planned:
        for a in item.held:
            units[row[a.sku], snapshot.index[a.node_id]] += a.qty
    return Availability(skus, units)


def _units(allocations: Sequence[AllocationLine]) -> dict[tuple[str, str], int]:
    """Units per (line, node), zeros left out: two listings of one plan compare equal."""
    units: dict[tuple[str, str], int] = defaultdict(int)
    for a in allocations:
        if a.qty > 0:
            units[(a.line_id, a.node_id)] += a.qty
    return dict(units)


def _per_position(allocations: Sequence[AllocationLine]) -> dict[tuple[str, str], int]:
    units: dict[tuple[str, str], int] = defaultdict(int)
    for a in allocations:
        units[(a.sku, a.node_id)] += a.qty
    return units


def _per_node(allocations: Sequence[AllocationLine]) -> dict[str, int]:
    units: dict[str, int] = defaultdict(int)
    for a in allocations:
        units[a.node_id] += a.qty
    return units


def _groups(changed: Sequence[Candidate], snapshot: NetworkSnapshot) -> list[list[Candidate]]:
    """Changed orders linked by a position (SKU, node) both change their units at, or a node
    with a cap both change their use of; in the given order, within and across groups."""
    parent = list(range(len(changed)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_at: dict[object, int] = {}
    for i, c in enumerate(changed):
        before, after = _per_position(c.before), _per_position(c.after)
        touched: set[object] = {p for p in before.keys() | after.keys() if before.get(p, 0) != after.get(p, 0)}
        nodes_before, nodes_after = _per_node(c.before), _per_node(c.after)
        for node_id in nodes_before.keys() | nodes_after.keys():
            j = snapshot.index.get(node_id)
            capped = j is not None and (snapshot.max_units[j] < UNLIMITED or snapshot.max_shipments[j] < UNLIMITED)
            if capped and nodes_before.get(node_id, 0) != nodes_after.get(node_id, 0):
                touched.add(node_id)
        for key in touched:
            other = first_at.setdefault(key, i)
            parent[find(i)] = find(other)
    by_root: dict[int, list[Candidate]] = defaultdict(list)
    for i, c in enumerate(changed):  # a dict keeps its keys in first-seen order: groups come in order
        by_root[find(i)].append(c)
    return list(by_root.values())


def _worse_off(c: Candidate) -> Skip | None:
    held: dict[str, int] = defaultdict(int)
    for a in c.before:
        held[a.line_id] += a.qty
    given: dict[str, int] = defaultdict(int)
    for a in c.after:
        given[a.line_id] += a.qty
    short = sorted(line_id for line_id, qty in held.items() if given[line_id] < qty)
    if short:
        detail = ", ".join(f"line {line_id!r} {held[line_id]} -> {given[line_id]}" for line_id in short)
        return Skip(c.order.order_id, SkipReason.LOSES_UNITS, f"the joint plan would give fewer units: {detail}")
    if c.objective is ObjectiveMode.FEWEST_SHIPMENTS:
        ships_before = len({a.node_id for a in c.before if a.qty > 0})
        ships_after = len({a.node_id for a in c.after if a.qty > 0})
        if ships_after > ships_before:
            return Skip(
                c.order.order_id,
                SkipReason.MORE_SHIPMENTS,
                f"it ships in as few boxes as it can: {ships_before} -> {ships_after}",
            )
    return None
