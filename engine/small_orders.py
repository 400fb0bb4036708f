"""Small orders in plain Python: availability, build, an exact decision and its cost, with notes.

A typical order (1-3 lines, a few dozen nodes holding its SKUs) spends most of the general path's
time in numpy's fixed cost per call, not in arithmetic: dozens of tiny arrays per decision. This
path does the same work over Python lists and dicts for orders small enough, and says so by
returning None for anything it does not handle, which then takes the general path
(``engine.sourcing.decide``). It follows the general path step for step (engine/problem.py's
build, engine/optimizer/search.py's fast paths, enumeration's order of subsets, engine/cost.py,
engine/explain.py's notes), so a decision it takes is the general path's: same plan cost, same
status and bound, same notes; ``tests/engine/test_small_orders.py`` pins the two together over
generated orders with every directive shape, and over the reference instances.

What it takes: at most ``SMALL_MAX_LINES`` lines and ``SMALL_MAX_NODES`` nodes holding an ordered
SKU, no why-not nodes. What it hands back (None): fewest-shipments orders no single node fills, and
orders a single node does not settle when a SKU is on two lines, a capacity could bind, or more
than ``SMALL_MAX_SUBSETS`` node subsets are left to try after pruning.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from engine.availability import StockLevels
from engine.decision import (
    AllocationLine,
    CostBreakdown,
    Decision,
    DecisionPath,
    NodeNote,
    NodeVerdict,
    ShipmentCost,
    SolveStatus,
    Unfilled,
)
from engine.directives import Directives, Protection
from engine.geo import haversine_miles
from engine.model import ObjectiveMode, Order
from engine.network import NetworkSnapshot
from engine.problem import Elimination
from engine.promise.shipping import many
from engine.rates import RateTable
from engine.terms import Terms

SMALL_MAX_LINES = 3  # lines of an order this path takes
SMALL_MAX_NODES = 64  # nodes holding any ordered SKU (before rules), on the network snapshot
SMALL_MAX_SUBSETS = 200  # node subsets left to price exactly after pruning; beyond: the general path
SMALL_PATH = True  # a switch for measuring what this path buys (benchmarks/profile_source.py)

COST_EPSILON = 1e-7  # engine.optimizer.search.COST_EPSILON
MAX_NODE_NOTES = 25  # engine.explain.MAX_NODE_NOTES
MAX_CAUSES = 4  # engine.explain.MAX_CAUSES
MAX_NAMED_NODES = 3  # engine.explain.MAX_NAMED_NODES

_VERDICT = {
    Elimination.CLOSED: NodeVerdict.CLOSED,
    Elimination.NO_CAPACITY: NodeVerdict.NO_CAPACITY,
    Elimination.EXCLUDED: NodeVerdict.EXCLUDED,
    Elimination.NOT_REQUIRED: NodeVerdict.NOT_REQUIRED,
    Elimination.NOT_PICKUP_NODE: NodeVerdict.NOT_REQUIRED,
    Elimination.PROTECTED: NodeVerdict.PROTECTED,
    Elimination.LATE: NodeVerdict.LATE,
}


CANDIDATE = int(Elimination.CANDIDATE)
EXCLUDED = int(Elimination.EXCLUDED)
NOT_REQUIRED = int(Elimination.NOT_REQUIRED)
NOT_PICKUP_NODE = int(Elimination.NOT_PICKUP_NODE)
PROTECTED = int(Elimination.PROTECTED)
LATE = int(Elimination.LATE)


class _View:
    """What one Directives object says of each node, worked out once per node and kept while the
    same object comes back (engine/rules/cache.py hands one object to every order of a shape)."""

    def __init__(self, snapshot: NetworkSnapshot, directives: Directives) -> None:
        self.snapshot = snapshot
        self.directives = directives
        protections = [(p, p.node_ids) for p in directives.protections]
        known = snapshot.index
        # A protection naming no node of the network, or none of the order's SKUs, is skipped per order.
        self.protected_by_all = [(p, m) for p, m in protections if any(i in known for i in m)]
        self.all_sku = [(p, m) for p, m in self.protected_by_all if not p.skus]
        self.sku_protections = [(p, m) for p, m in self.protected_by_all if p.skus]
        self.excluded_by = [(e.rule_id, e.node_ids) for e in directives.exclusions if not e.line_ids]
        self.required_by = [(r.rule_id, r.node_ids) for r in directives.requirements if not r.line_ids]
        # (True: an exclusion, False: a requirement; its lines; its nodes), in the general path's order.
        self.by_line = [(True, e.line_ids, e.node_ids) for e in directives.exclusions if e.line_ids] + [
            (False, r.line_ids, r.node_ids) for r in directives.requirements if r.line_ids
        ]
        self.penalized = bool(directives.penalties)
        # node -> (reason by the rules, units kept of every SKU in order, penalties (per shipment,
        # per unit, lines), unused)
        self.nodes: dict[int, tuple[int, tuple[int, ...], tuple[tuple[float, float, frozenset[str]], ...], None]] = {}
        self.notes: dict[tuple[int, int, str | None], NodeNote] = {}

    def node(self, n: int) -> tuple[int, tuple[int, ...], tuple[tuple[float, float, frozenset[str]], ...], None]:
        node_id = self.snapshot.ids[n]
        reason = 0
        if any(node_id in members for _, members in self.excluded_by):
            reason = EXCLUDED
        elif any(node_id not in members for _, members in self.required_by):
            reason = NOT_REQUIRED
        kept = tuple(p.units for p, members in self.all_sku if node_id in members)
        penalties = tuple(
            (p.per_shipment, p.per_unit, p.line_ids) for p in self.directives.penalties if node_id in p.node_ids
        )
        info = (reason, kept, penalties, None)
        self.nodes[n] = info
        return info


PLACE_CACHE_MAX_NODES = 512  # networks up to this size keep distances per ship-to point
PLACE_CACHE_VALUES = 250_000  # distances kept per snapshot, at most (then the cache starts again)


class _Place:
    """Distances (and zones, per rate table) from one ship-to point to the snapshot's nodes."""

    def __init__(self, snapshot: NetworkSnapshot, lat: float, lon: float, nodes: list[int] | None) -> None:
        self.snapshot = snapshot
        self.lat, self.lon = lat, lon
        # Every node, or only ``nodes`` (a large network): numpy's haversine gives each element the
        # same value whatever the array around it (the general path computes it over its own nodes).
        if nodes is None:
            self.all: list[float] | None = haversine_miles(lat, lon, snapshot.lat, snapshot.lon).tolist()
            self.some: dict[int, float] = {}
        else:
            self.all = None
            picked = np.array(nodes, dtype=np.int64)
            values = haversine_miles(lat, lon, snapshot.lat[picked], snapshot.lon[picked]).tolist()
            self.some = dict(zip(nodes, values, strict=True))
        self.tables: dict[str, tuple[dict[int, int], dict[int, float], dict[int, float]]] = {}

    def distances(self, nodes: list[int]) -> list[float]:
        if self.all is not None:
            every = self.all
            return [every[n] for n in nodes]
        return [self.some[n] for n in nodes]

    def rates(
        self, table: RateTable, nodes: list[int], distances: list[float]
    ) -> tuple[dict[int, int], dict[int, float], dict[int, float]]:
        """Zone, per-shipment cost (pick-pack and carrier base) and per-pound rate by node."""
        found = self.tables.get(table.service_level)
        if found is None:
            found = ({}, {}, {})
            self.tables[table.service_level] = found
        zone, fixed, per_lb = found
        missing = [(n, d) for n, d in zip(nodes, distances, strict=True) if n not in zone]
        if missing:
            pick_pack = _lists(self.snapshot).pick_pack
            limits, base, rate = table.zone_limits_miles, table.base, table.per_lb
            for n, d in missing:
                z = bisect_left(limits, d) + 1
                zone[n] = z
                fixed[n] = pick_pack[n] + base[z - 1]
                per_lb[n] = rate[z - 1]
        return found


def _promised_rates(
    terms: Terms, pick_pack: list[float], nodes: list[int], node_ids: list[str], distances: list[float]
) -> tuple[list[int], list[float], list[float]]:
    """Zone, per-shipment cost and per-pound rate of each candidate by its own carrier service's
    rates (engine.problem._promised_rates over lists)."""
    zone, fixed, per_lb = [], [], []
    for n, node_id, d in zip(nodes, node_ids, distances, strict=True):
        table = terms.shipping(node_id, d)[0]
        z = bisect_left(table.zone_limits_miles, d) + 1
        zone.append(z)
        fixed.append(pick_pack[n] + table.base[z - 1])
        per_lb.append(table.per_lb[z - 1])
    return zone, fixed, per_lb


def _place(snapshot: NetworkSnapshot, lat: float, lon: float, stocked: list[int]) -> _Place:
    if len(snapshot) > PLACE_CACHE_MAX_NODES:
        return _Place(snapshot, lat, lon, stocked)
    places: dict[tuple[float, float], _Place] = snapshot.derived("small_orders.places", dict)
    found = places.get((lat, lon))
    if found is None:
        if len(places) * len(snapshot) >= PLACE_CACHE_VALUES:
            places.clear()
        found = _Place(snapshot, lat, lon, None)
        places[(lat, lon)] = found
    return found


_VIEWS: dict[int, _View] = {}
MAX_VIEWS = 1024


def _view(snapshot: NetworkSnapshot, directives: Directives) -> _View:
    found = _VIEWS.get(id(directives))
    if found is not None and found.directives is directives and found.snapshot is snapshot:
        return found
    view = _View(snapshot, directives)
    if len(_VIEWS) >= MAX_VIEWS:
        _VIEWS.clear()
    _VIEWS[id(directives)] = view
    return view


@dataclass(frozen=True)
class _Lists:
    """A snapshot's node attributes as Python lists (once per snapshot): element reads cost a
    fraction of numpy scalar indexing."""

    pick_pack: list[float]
    handling: list[float]
    max_units: list[int]
    ship_reasons: list[int]
    pickup_reasons: list[int]


def _lists(snapshot: NetworkSnapshot) -> _Lists:
    def make() -> _Lists:
        no_capacity = ((snapshot.max_units <= 0) | (snapshot.max_shipments <= 0)).tolist()
        ship = [
            Elimination.CLOSED if not fulfil else Elimination.NO_CAPACITY if none else 0
            for fulfil, none in zip(snapshot.can_fulfil.tolist(), no_capacity, strict=True)
        ]
        pickup = [
            Elimination.CLOSED if not able else Elimination.NO_CAPACITY if none else 0
            for able, none in zip(snapshot.can_pickup.tolist(), no_capacity, strict=True)
        ]
        return _Lists(
            pick_pack=snapshot.pick_pack.tolist(),
            handling=snapshot.handling.tolist(),
            max_units=snapshot.max_units.tolist(),
            ship_reasons=[int(r) for r in ship],
            pickup_reasons=[int(r) for r in pickup],
        )

    return snapshot.derived("small_orders.lists", make)


class _Small:
    """engine.problem.Problem's content as lists: L lines, K SKUs, N candidates (columns)."""

    def __init__(
        self,
        order: Order,
        snapshot: NetworkSnapshot,
        levels: StockLevels,
        directives: Directives,
        terms: Terms,
    ) -> None:
        self.order = order
        self.snapshot = snapshot
        self.directives = directives
        self.terms = terms
        lines = order.lines
        self.skus = skus = list(dict.fromkeys(line.sku for line in lines))
        sku_pos = {sku: k for k, sku in enumerate(skus)}
        self.sku_row = [sku_pos[line.sku] for line in lines]
        self.qty = [line.qty for line in lines]
        self.total_qty = sum(self.qty)
        index = snapshot.index
        # Held units per SKU row and snapshot node, before the rules (Availability.from_levels).
        held: list[dict[int, int]] = [{} for _ in skus]
        for sku, node_id, units in zip(levels.skus, levels.node_ids, levels.units, strict=True):
            k = sku_pos.get(sku)
            if k is None:
                continue
            n = index.get(node_id)
            if n is not None:
                held[k][n] = units if units > 0 else 0
        self.held = held
        self.stocked = sorted({n for row in held for n, units in row.items() if units > 0})
        self._full: list[bool] | None = None

    def too_large(self) -> bool:
        return len(self.stocked) > SMALL_MAX_NODES

    def build(self) -> None:
        """engine.problem.build_problem over lists: one pass over the nodes holding stock, reading
        what the directives say of each node from a view shared by every order they came with, and
        distances and zones from the ship-to point's (kept per snapshot: ship-to points repeat)."""
        snapshot, directives, terms = self.snapshot, self.directives, self.terms
        lists = _lists(snapshot)
        view = _view(snapshot, directives)
        protected_by = view.protected_by_all
        if view.sku_protections:  # one protecting none of the ordered SKUs is no protection here
            protected_by = [(p, m) for p, m in protected_by if not p.skus or any(sku in p.skus for sku in self.skus)]
        self.protected_by = protected_by
        self.excluded_by = view.excluded_by
        self.required_by = view.required_by
        ids = snapshot.ids
        stocked = self.stocked
        held = self.held
        skus = self.skus
        sku_protections = view.sku_protections
        pickup = terms.pickup_node_id
        static = lists.pickup_reasons if pickup is not None else lists.ship_reasons
        node_info = view.nodes
        avail: dict[int, list[int]] = {}
        elimination = []
        for n in stocked:
            row = [h.get(n, 0) for h in held]
            info = node_info.get(n) or view.node(n)
            for units in info[1]:  # protections of every SKU
                row = [u - units if u > units else 0 for u in row]
            if sku_protections:
                node_id = ids[n]
                for protection, members in sku_protections:
                    if node_id in members:
                        units = protection.units
                        row = [
                            (u - units if u > units else 0) if skus[k] in protection.skus else u
                            for k, u in enumerate(row)
                        ]
            avail[n] = row
            reason = static[n] or info[0]
            if pickup is not None and ids[n] != pickup:
                reason = NOT_PICKUP_NODE
            if not reason and protected_by and not any(row):
                reason = PROTECTED
            elimination.append(reason)
        self.elimination = elimination
        self.avail_all = avail

        place = _place(snapshot, self.order.ship_to.lat, self.order.ship_to.lon, stocked)
        self.stocked_distance = stocked_distance = place.distances(stocked)
        if terms.promised:  # nodes that cannot keep the order's promise (engine/promise/shipping.py)
            for at, n in enumerate(stocked):
                if not elimination[at] and terms.late(ids[n], stocked_distance[at]):
                    elimination[at] = LATE

        lines = self.order.lines
        n_lines = len(lines)
        sku_row = self.sku_row
        by_line = view.by_line
        line_ids = [line.line_id for line in lines]
        positions = []
        allowed_cols = []
        for p, reason in enumerate(elimination):
            if reason:
                continue
            n = stocked[p]
            row = avail[n]
            allowed = [row[k] > 0 for k in sku_row]
            if by_line:
                node_id = ids[n]
                for kind, rule_lines, members in by_line:
                    if (node_id in members) is kind:  # excluded here, or outside a requirement
                        for i in range(n_lines):
                            if line_ids[i] in rule_lines:
                                allowed[i] = False
            if True in allowed:
                positions.append(p)
                allowed_cols.append(allowed)
        self.positions = positions  # each candidate's position in ``stocked``
        self.nodes = nodes = [stocked[p] for p in positions]  # snapshot indices
        self.node_ids = [ids[n] for n in nodes]
        # [L][N] as rows per line.
        self.allowed = [[column[i] for column in allowed_cols] for i in range(n_lines)]
        self.avail = [[avail[n][k] for n in nodes] for k in range(len(skus))]
        self.distance = [stocked_distance[p] for p in positions]
        self.weight = weight = [line.unit_weight_lb for line in lines]
        handling = lists.handling
        if pickup is not None:
            self.zone = [0] * len(nodes)
            pick_pack = lists.pick_pack
            fixed = [pick_pack[n] for n in nodes]
            unit = [[handling[n] for n in nodes] for _ in range(n_lines)]
        elif terms.promised:
            self.zone, fixed, per_lb_of = _promised_rates(terms, lists.pick_pack, nodes, self.node_ids, self.distance)
            unit = [[handling[n] + w * rate for n, rate in zip(nodes, per_lb_of, strict=True)] for w in weight]
        else:
            zone, fixed_of, per_lb = place.rates(terms.rate_table, nodes, self.distance)
            self.zone = [zone[n] for n in nodes]
            fixed = [fixed_of[n] for n in nodes]
            unit = [[handling[n] + w * per_lb[n] for n in nodes] for w in weight]
        if view.penalized:
            # In the general path's order: each penalty's per-shipment part, then its per-unit part.
            for c, n in enumerate(nodes):
                for per_shipment, per_unit, rule_lines in node_info[n][2]:
                    if per_shipment:
                        fixed[c] += per_shipment
                    if per_unit:
                        for i in range(n_lines):
                            if not rule_lines or line_ids[i] in rule_lines:
                                unit[i][c] += per_unit
        self.fixed = fixed
        self.unit = unit
        max_units = lists.max_units
        self.max_units = [max_units[n] for n in nodes]

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    # -- plans: {column: [units per line]} ------------------------------------------------------

    def objective(self, plan: dict[int, list[int]]) -> float:
        """engine.optimizer.plan.Plan.objective over a plan's shipping columns."""
        terms = self.terms
        total = 0.0
        shipped = 0
        used = 0
        for c, take in plan.items():
            units = sum(take)
            if units <= 0:
                continue
            used += 1
            shipped += units
            total += self.fixed[c] + sum(q * self.unit[i][c] for i, q in enumerate(take) if q)
        return total + terms.split_penalty * max(0, used - 1) + terms.backorder_penalty * (self.total_qty - shipped)

    def full_fill(self) -> list[bool]:
        """[N] candidates that can ship the whole order alone (worked out once, a line at a time)."""
        if self._full is None:
            demand = [0] * len(self.skus)
            for i, k in enumerate(self.sku_row):
                demand[k] += self.qty[i]
            total = self.total_qty
            full = [units >= total for units in self.max_units]
            for k, wanted in enumerate(demand):
                full = [f and units >= wanted for f, units in zip(full, self.avail[k], strict=True)]
            for row in self.allowed:
                full = [f and a for f, a in zip(full, row, strict=True)]
            self._full = full
        return self._full

    def full_costs(self) -> list[float]:
        """[N] the cost of shipping everything from each candidate alone (meaningful where full)."""
        costs = [0.0] * len(self.nodes)
        for q, row in zip(self.qty, self.unit, strict=True):
            costs = [c + q * u for c, u in zip(costs, row, strict=True)]
        return [f + c for f, c in zip(self.fixed, costs, strict=True)]

    def full_cost(self, c: int) -> float:
        return self.fixed[c] + sum(q * self.unit[i][c] for i, q in enumerate(self.qty))

    def best_fill_at(self, c: int) -> list[int]:
        """engine.optimizer.single_node.best_fill_at."""
        n_lines = len(self.qty)
        take = [0] * n_lines
        bo = self.terms.backorder_penalty
        saving = [bo - self.unit[i][c] for i in range(n_lines)]
        left = [self.avail[k][c] for k in range(len(self.skus))]
        capacity = self.max_units[c]
        for i in sorted(range(n_lines), key=lambda i: (-saving[i], i)):
            if saving[i] <= 0 or capacity <= 0 or not self.allowed[i][c]:
                continue
            k = self.sku_row[i]
            units = min(self.qty[i], left[k], capacity)
            take[i] = units
            left[k] -= units
            capacity -= units
        return take

    def best_single_node(self, columns: Sequence[int]) -> dict[int, list[int]]:
        """engine.optimizer.single_node.best_single_node_plan over ``columns``."""
        best: dict[int, list[int]] = {}
        best_cost = self.objective(best)
        whole = self.full_fill() if self.terms.all_or_nothing else None
        for c in columns:
            take = self.best_fill_at(c) if whole is None else list(self.qty) if whole[c] else [0] * len(self.qty)
            if not any(take):
                continue
            plan = {c: take}
            cost = self.objective(plan)
            if cost < best_cost - 1e-9:
                best, best_cost = plan, cost
        return best

    def unit_floor(self) -> list[float]:
        bo = self.terms.backorder_penalty
        floor = []
        for i, row in enumerate(self.unit):
            allowed = self.allowed[i]
            cheapest = min((u for u, a in zip(row, allowed, strict=True) if a), default=math.inf)
            floor.append(min(bo, cheapest))
        return floor


@dataclass(frozen=True)
class _Solved:
    plan: dict[int, list[int]]
    path: DecisionPath
    bound: float
    candidates: int


def decide_small(
    order: Order,
    snapshot: NetworkSnapshot,
    levels: StockLevels,
    directives: Directives,
    terms: Terms,
    *,
    why_not: Sequence[str] = (),
    explain: bool = True,
) -> Decision | None:
    """The general path's decision for a small order, or None when this path does not take it.

    ``terms``: ``engine.terms.resolve_terms(order, directives, snapshot)`` (its errors are the
    caller's to raise). Never out of time: what it takes is bounded by the constants above.
    """
    if not SMALL_PATH or len(order.lines) > SMALL_MAX_LINES or why_not:
        return None
    if any(p.units < 0 for p in directives.protections):  # rules never make one; its order would matter
        return None
    small = _Small(order, snapshot, levels, directives, terms)
    if small.too_large():
        return None
    small.build()
    solved = _solve(small)
    if solved is None:
        return None
    return _assemble(small, solved, explain)


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
    None when all-or-nothing and it leaves a unit short."""
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


# -- the decision ------------------------------------------------------------------------------


def _assemble(p: _Small, solved: _Solved, explain: bool) -> Decision:
    """engine.sourcing.assemble_decision."""
    plan = {c: take for c, take in sorted(solved.plan.items()) if any(take)}
    allocations = tuple(
        AllocationLine(line.line_id, p.node_ids[c], line.sku, plan[c][i])
        for i, line in enumerate(p.order.lines)
        for c in plan
        if plan[c][i] > 0
    )
    cost = _cost(p, plan)
    directives = p.directives
    return Decision(
        order_id=p.order.order_id,
        allocations=allocations,
        unfilled=_unfilled(p, plan),
        cost=cost,
        status=SolveStatus.OPTIMAL,
        path=solved.path,
        bound=min(solved.bound, cost.total),
        candidates=solved.candidates,
        node_notes=_notes(p, plan) if explain else (),
        rule_set_version=directives.rule_set_version,
        fired_rules=directives.fired_rules,
        holds=directives.holds,
    )


def _cost(p: _Small, plan: dict[int, list[int]]) -> CostBreakdown:
    """engine.cost.plan_cost (shipments in node id order, which is column order)."""
    terms = p.terms
    pickup = terms.pickup_node_id is not None
    lines = p.order.lines
    shipments = []
    allocated = 0
    for c, take in plan.items():
        node = p.snapshot.nodes[p.nodes[c]]
        units = sum(take)
        allocated += units
        weight = sum(lines[i].unit_weight_lb * q for i, q in enumerate(take) if q > 0)
        table, option = terms.shipping(node.id, p.distance[c])
        if pickup:
            zone = 0
            base = per_lb = 0.0
        else:
            zone = p.zone[c]
            base, per_lb = table.base[zone - 1], table.per_lb[zone - 1]
        rule_penalty = 0.0
        for penalty in terms.penalties:
            if node.id in penalty.node_ids:
                selected = sum(
                    q
                    for i, q in enumerate(take)
                    if q > 0 and (not penalty.line_ids or lines[i].line_id in penalty.line_ids)
                )
                rule_penalty += penalty.per_shipment + penalty.per_unit * selected
        shipments.append(
            ShipmentCost(
                node_id=node.id,
                zone=zone,
                distance_miles=p.distance[c],
                units=units,
                weight_lb=weight,
                pick_pack=node.pick_pack_cost,
                carrier_base=base,
                carrier_weight=per_lb * weight,
                handling=node.unit_handling_cost * units,
                rule_penalty=rule_penalty,
                carrier_service=option.carrier_service if option is not None else "",
                ship_day=option.ship_day if option is not None else 0,
                delivery_day=option.delivery_day if option is not None else 0,
            )
        )
    backordered = p.total_qty - allocated
    return CostBreakdown(
        shipments=tuple(shipments),
        split_penalty=terms.split_penalty * max(0, len(shipments) - 1),
        backorder_penalty=terms.backorder_penalty * backordered,
        backordered_units=backordered,
    )


# -- explanations: engine/explain.py over the lists ---------------------------------------------


def _nearest(distances: list[float], count: int) -> list[int]:
    """engine.explain._nearest (numpy's own selection, so ties at the cut fall the same way)."""
    if len(distances) <= count:
        return list(range(len(distances)))
    picked: list[int] = np.argpartition(np.array(distances, dtype=np.float64), count)[:count].tolist()
    return picked


def _notes(p: _Small, plan: dict[int, list[int]]) -> tuple[NodeNote, ...]:
    view = _view(p.snapshot, p.directives)
    shipped = [0] * p.n_nodes
    for c, take in plan.items():
        shipped[c] = sum(take)
    entries: list[tuple[bool, float, str, int, int]] = []
    wanted = {c for c in plan} | set(_nearest(p.distance, MAX_NODE_NOTES))
    for j in wanted:
        entries.append((shipped[j] <= 0, p.distance[j], p.node_ids[j], 0, j))
    gone_at = [q for q, reason in enumerate(p.elimination) if reason]
    if gone_at:
        ids = p.snapshot.ids
        for pick in _nearest([p.stocked_distance[q] for q in gone_at], MAX_NODE_NOTES):
            q = gone_at[pick]
            entries.append((True, p.stocked_distance[q], ids[p.stocked[q]], 1, q))
    entries.sort()  # by (not used, distance, node id): ids are unique, so the rest never decides
    chosen = entries[:MAX_NODE_NOTES]
    notes = []
    chosen_cost: float | None = None
    full: list[bool] | None = None
    for _, distance, node_id, kind, i in chosen:
        if kind == 0 and shipped[i] > 0:
            notes.append(NodeNote(node_id, NodeVerdict.USED, f"ships {shipped[i]} units, {distance:.0f} mi"))
        elif kind == 0:
            if full is None or chosen_cost is None:
                full, chosen_cost = p.full_fill(), p.objective(plan)
            zone = f"zone {p.zone[i]}, " if p.zone[i] else ""
            if full[i]:
                extra = p.full_cost(i) - chosen_cost
                detail = f"{zone}{distance:.0f} mi: shipping everything from here alone would cost {extra:.2f} more"
            else:
                serves = sum(1 for row in p.allowed if row[i])
                detail = f"{zone}{distance:.0f} mi: holds {serves} of {len(p.qty)} lines; the chosen plan costs less"
            notes.append(NodeNote(node_id, NodeVerdict.COSTLIER, detail))
        else:
            n = p.stocked[i]
            code = p.elimination[i]
            # The same words for the same node, reason and directives: kept with the directives'
            # view, except protections that depend on the order's SKUs.
            key = (n, code, p.terms.pickup_node_id)
            note = view.notes.get(key)
            if note is None:
                reason = Elimination(code)
                note = NodeNote(node_id, _VERDICT[reason], _elimination_detail(p, n, reason), _rule_ids(p, n, reason))
                if not (code == PROTECTED and view.sku_protections):
                    view.notes[key] = note
            notes.append(note)
    return tuple(notes)


def _rule_ids(p: _Small, n: int, why: Elimination) -> tuple[str, ...]:
    """engine.problem.Problem.rule_ids."""
    node_id = p.snapshot.ids[n]
    if why is Elimination.PROTECTED:
        return tuple(dict.fromkeys(pr.rule_id for pr, members in p.protected_by if node_id in members))
    if why is Elimination.EXCLUDED:
        return (next(rule_id for rule_id, members in p.excluded_by if node_id in members),)
    if why is Elimination.NOT_REQUIRED:
        return (next(rule_id for rule_id, members in p.required_by if node_id not in members),)
    return ()


def _kept_units(p: _Small, sku: str, n: int) -> tuple[int, tuple[Protection, ...]]:
    node_id = p.snapshot.ids[n]
    keeping = tuple(pr for pr, members in p.protected_by if node_id in members and (not pr.skus or sku in pr.skus))
    return sum(pr.units for pr in keeping), keeping


@dataclass(frozen=True)
class _Cause:
    prefix: str
    verb_one: str
    verb_many: str
    note: str


def _elimination_detail(p: _Small, n: int, why: Elimination) -> str:
    if why is Elimination.PROTECTED:
        node_id = p.snapshot.ids[n]
        return _protected(tuple(pr for pr, members in p.protected_by if node_id in members)).note
    return _elimination_cause(p, n, why).note


def _elimination_cause(p: _Small, n: int, why: Elimination) -> _Cause:
    node = p.snapshot.nodes[n]
    if why is Elimination.CLOSED:
        if not node.is_open:
            return _Cause("", "is closed", "are closed", "node closed")
        if p.terms.pickup_node_id is not None:
            return _Cause("", "does not take pickups", "do not take pickups", "does not take pickups")
        return _Cause("", "does not ship orders", "do not ship orders", "does not ship orders")
    if why is Elimination.NO_CAPACITY:
        words = "no shipment or unit capacity left today"
        return _Cause("", f"has {words}", f"have {words}", words)
    if why is Elimination.EXCLUDED:
        exclusion = next(e for e in p.directives.exclusions if not e.line_ids and node.id in e.node_ids)
        words = f"excluded by rule {exclusion.rule_id}" + (f" ({exclusion.reason})" if exclusion.reason else "")
        return _Cause("", f"is {words}", f"are {words}", words)
    if why is Elimination.NOT_REQUIRED:
        (rule_id,) = _rule_ids(p, n, why)
        words = f"left out by rule {rule_id}, which requires other nodes for this order"
        return _Cause("", f"is {words}", f"are {words}", words)
    if why is Elimination.NOT_PICKUP_NODE:
        words = f"not the pickup node ({p.terms.pickup_node_id})"
        return _Cause("", f"is {words}", f"are {words}", words)
    if why is Elimination.LATE and p.terms.ship_options is not None:
        words = p.terms.ship_options.why_late(node.id, p.stocked_distance[p.stocked.index(n)])
        return _Cause("", words, many(words), words)
    raise AssertionError(f"no cause for {why!r}")


def _protected(protections: tuple[Protection, ...]) -> _Cause:
    kept = list(
        dict.fromkeys(f"{pr.rule_id} ({pr.units} unit{'' if pr.units == 1 else 's'} kept)" for pr in protections)
    )
    rules = f"rule {kept[0]}" if len(kept) == 1 else f"rules {', '.join(kept[:-1])} and {kept[-1]}"
    return _Cause("stock at ", f"is protected by {rules}", f"is protected by {rules}", f"stock protected by {rules}")


def _line_cause(p: _Small, i: int, n: int, why: Elimination, held: int) -> _Cause:
    if why not in (Elimination.CANDIDATE, Elimination.PROTECTED):
        return _elimination_cause(p, n, why)
    line = p.order.lines[i]
    kept, keeping = _kept_units(p, line.sku, n)
    if held <= kept:
        return _protected(keeping)
    node_id = p.snapshot.ids[n]
    for e in p.directives.exclusions:
        if line.line_id in e.line_ids and node_id in e.node_ids:
            words = f"excluded for this line by rule {e.rule_id}" + (f" ({e.reason})" if e.reason else "")
            return _Cause("", f"is {words}", f"are {words}", words)
    for r in p.directives.requirements:
        if line.line_id in r.line_ids and node_id not in r.node_ids:
            words = f"left out for this line by rule {r.rule_id}, which requires other nodes"
            return _Cause("", f"is {words}", f"are {words}", words)
    words = "taken by other orders decided with this one"
    return _Cause("the stock at ", f"is {words}", f"is {words}", words)


def _unfilled(p: _Small, plan: dict[int, list[int]]) -> tuple[Unfilled, ...]:
    """engine.explain.unfilled_lines."""
    n_lines = len(p.qty)
    taken = [sum(take[i] for take in plan.values()) for i in range(n_lines)]
    missing = [p.qty[i] - taken[i] for i in range(n_lines)]
    if not any(m > 0 for m in missing):
        return ()
    terms = p.terms
    lines = p.order.lines
    own = {i: _line_shortage(p, i, taken) for i in range(n_lines) if missing[i] > 0}
    result = []
    for i, cause in own.items():
        line = lines[i]
        if cause is not None:
            reason = cause
        elif terms.all_or_nothing:
            short = [lines[j].line_id for j, c in own.items() if c is not None]
            reason = (
                f"all-or-nothing: line{'s' if len(short) > 1 else ''} {', '.join(short)} cannot be filled"
                " completely, so nothing ships"
                if short
                else "all-or-nothing: the order cannot be filled completely within its limits"
            )
        elif terms.max_shipments is not None and len(plan) >= terms.max_shipments:
            reason = f"the remaining stock is at other nodes and shipments are limited to {terms.max_shipments}"
        elif (
            min((u for u, a in zip(p.unit[i], p.allowed[i], strict=True) if a), default=math.inf)
            > terms.backorder_penalty
        ):
            reason = "shipping costs more per unit than the backorder penalty"
        else:
            reason = "node capacity or a cheaper backorder than another shipment"
        result.append(Unfilled(line.line_id, line.sku, missing[i], reason))
    return tuple(result)


def _line_shortage(p: _Small, i: int, taken: list[int]) -> str | None:
    if not any(p.allowed[i]):
        return _blocked(p, i)
    k = p.sku_row[i]
    sku = p.order.lines[i].sku
    same = [j for j, row in enumerate(p.sku_row) if row == k]
    supply = sum(p.avail[k][c] for c, a in enumerate(p.allowed[i]) if a)
    needed = sum(p.qty[j] for j in same) if p.terms.all_or_nothing else sum(taken[j] for j in same) + 1
    if supply >= needed:
        return None
    reason = f"only {supply} units of {sku} can be promised at the nodes this line may ship from"
    held = p.held[k]
    protected, rules = 0, {}
    for q, n in enumerate(p.stocked):
        units = held.get(n, 0)
        if units > 0 and p.elimination[q] in (Elimination.CANDIDATE, Elimination.PROTECTED):
            kept, keeping = _kept_units(p, sku, n)
            protected += min(units, kept)
            rules.update(dict.fromkeys(pr.rule_id for pr in keeping))
    if protected:
        reason += f"; {protected} more are protected by rule {', '.join(rules)}"
    return reason


def _blocked(p: _Small, i: int) -> str:
    sku = p.order.lines[i].sku
    k = p.sku_row[i]
    held = p.held[k]
    pickup = p.terms.pickup_node_id
    ids = p.snapshot.ids
    positions = [q for q, n in enumerate(p.stocked) if held.get(n, 0) > 0]
    if pickup is not None:
        positions = [q for q in positions if ids[p.stocked[q]] == pickup]
        if not positions:
            return f"pickup node {pickup} has no {sku} available"
    if not positions:
        return f"no node has {sku} available"
    nearest = sorted(positions, key=lambda q: p.stocked_distance[q])  # stable: ties keep node order
    groups: dict[_Cause, list[str]] = {}
    for q in nearest:
        n = p.stocked[q]
        why = Elimination(p.elimination[q])
        cause = _line_cause(p, i, n, why, held.get(n, 0))
        groups.setdefault(cause, []).append(ids[n] if pickup is None else f"pickup node {pickup}")
    phrases = []
    for cause, node_ids in list(groups.items())[:MAX_CAUSES]:
        named = ", ".join(node_ids[:MAX_NAMED_NODES])
        if len(node_ids) > MAX_NAMED_NODES:
            named += f" and {len(node_ids) - MAX_NAMED_NODES} more"
        phrases.append(f"{cause.prefix}{named} {cause.verb_one if len(node_ids) == 1 else cause.verb_many}")
    left = sum(len(node_ids) for node_ids in list(groups.values())[MAX_CAUSES:])
    if left:
        phrases.append(f"{left} more nodes holding it cannot serve it either")
    return "; ".join(phrases)
