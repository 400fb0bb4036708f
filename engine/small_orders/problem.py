"""A small order's problem as lists (engine.problem.Problem's content): lines, SKUs, candidate nodes,
their availability, terms and eliminations."""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.availability import StockLevels
from engine.directives import Directives
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.promise.shipping import linear_rate
from engine.small_orders.views import LATE, NOT_PICKUP_NODE, PROTECTED, _lists, _place, _view
from engine.terms import Terms

SMALL_MAX_LINES = 3  # lines of an order this path takes


SMALL_MAX_NODES = 64  # nodes holding any ordered SKU (before rules), on the network snapshot


SMALL_MAX_SUBSETS = 200  # node subsets left to price exactly after pruning; beyond: the general path


def _promised_rates(
    terms: Terms,
    pick_pack: list[float],
    nodes: list[int],
    node_ids: list[str],
    distances: list[float],
    weights: list[float],
    volumes: list[float],
) -> tuple[list[int], list[float], list[list[float]]] | None:
    """Zone, per-shipment cost and carrier cost per unit of each line ([L][N]) of each candidate
    by its own carrier services (engine.problem._promised_rates over lists); None when a
    candidate's price is not linear in what it ships (engine.promise.shipping.linear_rate)."""
    zone, fixed = [], []
    per_unit: list[list[float]] = [[] for _ in weights]
    for n, node_id, d in zip(nodes, node_ids, distances, strict=True):
        rates = terms.option_rates(node_id, d)
        linear = linear_rate(rates, weights, volumes)
        if linear is None:
            return None
        zone.append(rates[0].zone)
        fixed.append(pick_pack[n] + linear[0])
        for i, row in enumerate(per_unit):
            row.append(linear[i + 1])
    return zone, fixed, per_unit


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
        self.linear = True  # each candidate's price is per shipment + per unit (build)

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
        lines = self.order.lines
        n_lines = len(lines)
        sku_row = self.sku_row
        by_line = view.by_line
        line_ids = [line.line_id for line in lines]
        restricted = terms.restricted
        avail: dict[int, list[int]] = {}
        elimination = []
        # Candidates in one pass with the eliminations: each one's position in ``stocked``, the
        # lines it may serve and what the directives say of it (the promise's lateness, which needs
        # distances, is taken out after).
        positions = []
        allowed_cols = []
        infos = []
        for at, n in enumerate(stocked):
            row = [h.get(n, 0) for h in held]
            info = node_info.get(n) or view.node(n)
            kept = info[1]  # units every protection of all SKUs keeps here, together
            if kept:
                row = [u - kept if u > kept else 0 for u in row]
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
            if reason:
                continue
            allowed = [row[k] > 0 for k in sku_row]
            if by_line:
                node_id = ids[n]
                for kind, rule_lines, members in by_line:
                    if (node_id in members) is kind:  # excluded here, or outside a requirement
                        for i in range(n_lines):
                            if line_ids[i] in rule_lines:
                                allowed[i] = False
            if True in allowed:
                positions.append(at)
                allowed_cols.append(allowed)
                infos.append(info)
        self.elimination = elimination
        self.avail_all = avail

        place = _place(snapshot, self.order.ship_to.lat, self.order.ship_to.lon, stocked)
        self.stocked_distance = stocked_distance = place.distances(stocked)
        if restricted:  # nodes the promise or rules about time rule out (engine/promise/shipping.py)
            for at, n in enumerate(stocked):
                if not elimination[at] and terms.late(ids[n], stocked_distance[at]):
                    elimination[at] = LATE
            kept_at = [c for c, at in enumerate(positions) if not elimination[at]]
            positions = [positions[c] for c in kept_at]
            allowed_cols = [allowed_cols[c] for c in kept_at]
            infos = [infos[c] for c in kept_at]

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
            volumes = [line.unit_volume_in3 for line in lines]
            rated = _promised_rates(terms, lists.pick_pack, nodes, self.node_ids, self.distance, weight, volumes)
            if rated is None:  # a shipment's price depends on its mix: the general path's model
                self.linear = False
                return
            self.zone, fixed, carrier = rated
            unit = [[handling[n] + rate for n, rate in zip(nodes, row, strict=True)] for row in carrier]
        else:
            zone, fixed_of, per_lb = place.rates(terms.rate_table, nodes, self.distance)
            self.zone = [zone[n] for n in nodes]
            fixed = [fixed_of[n] for n in nodes]
            unit = [[handling[n] + w * per_lb[n] for n in nodes] for w in weight]
        if view.penalized:
            # In the general path's order: each penalty's per-shipment part, then its per-unit part.
            for c, info in enumerate(infos):
                for per_shipment, per_unit, rule_lines in info[2]:
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
