"""An order turned into numbers: candidate nodes, per-shipment and per-unit costs, availability.

Built with numpy over all nodes at once; the optimizer only ever sees this.
Costs here follow engine/cost.py exactly (tests/test_problem.py checks that they agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from engine.availability import Availability
from engine.directives import Directives
from engine.geo import FloatArray, haversine_miles
from engine.model import Order
from engine.network import BoolArray, IntArray, NetworkSnapshot

__all__ = ["BoolArray", "Elimination", "IntArray", "Problem", "build_problem"]
from engine.terms import Terms


class Elimination(IntEnum):
    """Why a node holding stock is not a candidate (0: it is one)."""

    CANDIDATE = 0
    CLOSED = 1
    NO_CAPACITY = 2
    EXCLUDED = 3
    NOT_REQUIRED = 4
    NOT_PICKUP_NODE = 5


@dataclass(frozen=True)
class Problem:
    """L lines, K distinct SKUs, N candidate nodes (a subset of the snapshot)."""

    order: Order
    terms: Terms
    skus: tuple[str, ...]
    sku_row: IntArray  # [L] row of each line's SKU in ``avail``
    qty: IntArray  # [L]
    weight: FloatArray  # [L] unit weight, lb
    nodes: IntArray  # [N] snapshot index of each candidate
    node_ids: tuple[str, ...]  # [N]
    distance: FloatArray  # [N] miles
    zone: IntArray  # [N] 0 for pickup
    fixed: FloatArray  # [N] money per shipment
    unit: FloatArray  # [L, N] money per unit
    allowed: BoolArray  # [L, N] line may take units from node
    avail: IntArray  # [K, N] units that may be promised, net of protections
    max_units: IntArray  # [N] units the node can still handle
    stocked: IntArray  # snapshot indices of every node holding an ordered SKU
    elimination: IntArray  # [len(stocked)] an Elimination per stocked node
    rule_ids: dict[int, tuple[str, ...]]  # snapshot index -> rules that excluded or protected it

    @property
    def n_lines(self) -> int:
        return int(self.qty.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.nodes.shape[0])

    def line_avail(self) -> IntArray:
        """[L, N] units each line could take alone (its SKU's availability where allowed)."""
        return np.where(self.allowed, self.avail[self.sku_row], 0)


def build_problem(
    order: Order, snapshot: NetworkSnapshot, availability: Availability, directives: Directives, terms: Terms
) -> Problem:
    skus = tuple(dict.fromkeys(line.sku for line in order.lines))
    sku_pos = {sku: k for k, sku in enumerate(skus)}
    sku_row = np.array([sku_pos[line.sku] for line in order.lines], dtype=np.int64)
    line_pos = {line.line_id: i for i, line in enumerate(order.lines)}
    avail_all = np.stack([availability.for_sku(sku) for sku in skus]).astype(np.int64, copy=True)

    rule_ids: dict[int, list[str]] = {}
    for protection in directives.protections:
        cols = np.flatnonzero(snapshot.membership(protection.node_ids))
        if not len(cols):
            continue
        if protection.skus:
            rows = np.array([sku_pos[s] for s in skus if s in protection.skus], dtype=np.int64)
            if not len(rows):
                continue
            avail_all[np.ix_(rows, cols)] = np.maximum(0, avail_all[np.ix_(rows, cols)] - protection.units)
        else:  # every SKU: plain column slicing, no index grid
            avail_all[:, cols] = np.maximum(0, avail_all[:, cols] - protection.units)
        for c in cols.tolist():
            rule_ids.setdefault(c, []).append(protection.rule_id)

    stocked = np.nonzero((avail_all > 0).any(axis=0))[0].astype(np.int64)
    elimination = np.zeros(stocked.shape[0], dtype=np.int64)

    def in_set(node_ids: frozenset[str]) -> BoolArray:
        return snapshot.membership(node_ids)[stocked]

    def eliminate(mask: BoolArray, why: Elimination, rule_id: str = "") -> None:
        """The first reason a node is eliminated is the one reported."""
        hit = mask & (elimination == Elimination.CANDIDATE)
        elimination[hit] = why
        if rule_id:
            for n in stocked[hit].tolist():
                rule_ids.setdefault(n, []).append(rule_id)

    if terms.pickup_node_id is not None:
        eliminate(~in_set(frozenset({terms.pickup_node_id})), Elimination.NOT_PICKUP_NODE)
        eliminate(~snapshot.can_pickup[stocked], Elimination.CLOSED)
    else:
        eliminate(~snapshot.can_fulfil[stocked], Elimination.CLOSED)
    eliminate((snapshot.max_units[stocked] <= 0) | (snapshot.max_shipments[stocked] <= 0), Elimination.NO_CAPACITY)
    for exclusion in directives.exclusions:
        if not exclusion.line_ids:
            eliminate(in_set(exclusion.node_ids), Elimination.EXCLUDED, exclusion.rule_id)
    for requirement in directives.requirements:
        if not requirement.line_ids:
            eliminate(~in_set(requirement.node_ids), Elimination.NOT_REQUIRED, requirement.rule_id)

    live = stocked[elimination == Elimination.CANDIDATE]
    avail = avail_all[:, live]
    allowed: BoolArray = avail[sku_row] > 0
    for exclusion in directives.exclusions:
        if exclusion.line_ids:
            rows = _line_rows(line_pos, exclusion.line_ids)
            allowed[np.ix_(rows, snapshot.membership(exclusion.node_ids)[live])] = False
    for requirement in directives.requirements:
        if requirement.line_ids:
            rows = _line_rows(line_pos, requirement.line_ids)
            allowed[np.ix_(rows, ~snapshot.membership(requirement.node_ids)[live])] = False

    keep = allowed.any(axis=0)
    nodes: IntArray = live[keep]
    allowed = allowed[:, keep]
    avail = avail[:, keep]

    lat, lon = order.ship_to.lat, order.ship_to.lon
    distance = haversine_miles(lat, lon, snapshot.lat[nodes], snapshot.lon[nodes])
    weight = np.array([line.unit_weight_lb for line in order.lines], dtype=np.float64)
    if terms.pickup_node_id is not None:
        zone = np.zeros(nodes.shape[0], dtype=np.int64)
        fixed = snapshot.pick_pack[nodes].copy()
        unit = np.broadcast_to(snapshot.handling[nodes], (len(order.lines), nodes.shape[0])).copy()
    else:
        table = terms.rate_table
        zone = table.zones(distance)
        fixed = snapshot.pick_pack[nodes] + table.base_for(zone)
        unit = snapshot.handling[nodes][None, :] + weight[:, None] * table.per_lb_for(zone)[None, :]
    for penalty in terms.penalties:
        hit = snapshot.membership(penalty.node_ids)[nodes]
        if not hit.any():
            continue
        fixed[hit] += penalty.per_shipment
        if penalty.line_ids:
            unit[np.ix_(_line_rows(line_pos, penalty.line_ids), hit)] += penalty.per_unit
        else:
            unit[:, hit] += penalty.per_unit

    return Problem(
        order=order,
        terms=terms,
        skus=skus,
        sku_row=sku_row,
        qty=np.array([line.qty for line in order.lines], dtype=np.int64),
        weight=weight,
        nodes=nodes,
        node_ids=tuple(snapshot.nodes[i].id for i in nodes.tolist()),
        distance=distance,
        zone=zone,
        fixed=fixed,
        unit=unit,
        allowed=allowed,
        avail=avail,
        max_units=snapshot.max_units[nodes],
        stocked=stocked,
        elimination=elimination,
        rule_ids={n: tuple(dict.fromkeys(r)) for n, r in rule_ids.items()},
    )


def _line_rows(line_pos: dict[str, int], line_ids: frozenset[str]) -> IntArray:
    return np.array(sorted(line_pos[i] for i in line_ids if i in line_pos), dtype=np.int64)
