"""Where a return is received: the cheapest open node that takes returns and the rules allow.

Returns travel from the customer (the order's ship-to) to a node that can receive and inspect
them: distribution centres and stores. Third-party and drop-ship nodes do not take returns.
Planner rules for returns (``applies_to: returns``, docs/rules.md) shape the choice for the
units returned: ``exclude`` and ``require`` say which nodes may receive them, ``penalize`` and
``prefer`` add or take off cost. Each allowed node costs the parcel's carrier rate from the
ship-to (the zone by distance, the returned units' weight) plus its rule penalties; the
cheapest receives, ties going to the nearer node, then to the smaller id, so the choice is
deterministic. With no rules for returns that is the nearest node, bar a difference of zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from engine.directives import NO_DIRECTIVES, Directives
from engine.geo import haversine_miles
from engine.model import NodeType, Order
from engine.network import NetworkSnapshot

ACCEPTS_RETURNS = frozenset({NodeType.DC, NodeType.STORE})
# Returns travel ground: priced at these rates when the network has them, else at the order's.
RETURN_SERVICE_LEVEL = "STANDARD"


@dataclass(frozen=True, slots=True)
class ReturnRoute:
    node_id: str
    miles: float  # from the order's ship-to
    cost: float  # carrier rate plus rule penalties, in the network's currency
    fired_rules: tuple[str, ...] = ()  # the rules for returns that applied, highest priority first
    rule_set_version: str = ""


def receiving_node(
    snapshot: NetworkSnapshot, returned: Order, directives: Directives = NO_DIRECTIVES
) -> ReturnRoute | None:
    """Where ``returned`` (the order with its returned units as lines) is received; None when the
    rules, or the network, leave no open node that takes returns."""
    lines = frozenset(line.line_id for line in returned.lines)

    def applies(line_ids: frozenset[str]) -> bool:
        return not line_ids or bool(line_ids & lines)

    allowed = np.array([n.is_open and n.type in ACCEPTS_RETURNS for n in snapshot.nodes], dtype=bool)
    for exclusion in directives.exclusions:
        if applies(exclusion.line_ids):
            allowed[_positions(snapshot, exclusion.node_ids)] = False
    for requirement in directives.requirements:
        if applies(requirement.line_ids):
            required = np.zeros_like(allowed)
            required[_positions(snapshot, requirement.node_ids)] = True
            allowed &= required
    at = np.nonzero(allowed)[0]
    if at.size == 0:
        return None
    origin = returned.ship_to
    miles = haversine_miles(origin.lat, origin.lon, snapshot.lat[at], snapshot.lon[at])
    cost = np.zeros(at.size, dtype=np.float64)
    rates = snapshot.rate_table(RETURN_SERVICE_LEVEL) or snapshot.rate_table(returned.service_level)
    if rates is not None:
        weight = sum(line.unit_weight_lb * line.qty for line in returned.lines)
        zones = rates.zones(miles)
        cost += rates.base_for(zones) + rates.per_lb_for(zones) * weight
    where = {int(n): k for k, n in enumerate(at)}
    for penalty in directives.penalties:  # negative for a preference
        units = sum(line.qty for line in returned.lines if not penalty.line_ids or line.line_id in penalty.line_ids)
        for n in _positions(snapshot, penalty.node_ids):
            if n in where:
                cost[where[n]] += penalty.per_shipment + penalty.per_unit * units
    best = min(range(at.size), key=lambda k: (round(float(cost[k]), 9), float(miles[k]), snapshot.nodes[at[k]].id))
    return ReturnRoute(
        node_id=snapshot.nodes[at[best]].id,
        miles=float(miles[best]),
        cost=float(cost[best]),
        fired_rules=directives.fired_rules,
        rule_set_version=directives.rule_set_version,
    )


def _positions(snapshot: NetworkSnapshot, node_ids: Iterable[str]) -> list[int]:
    index = snapshot.index
    return [index[node_id] for node_id in node_ids if node_id in index]
