"""The cost of a plan, by part: the one formula every other module agrees with.

cost = Σ_shipments (pick_pack + carrier charge + handling·U + rule penalties)
     + split_penalty · max(0, shipments − 1) + backorder_penalty · unfilled units
     + late_penalty_per_day · days the order's latest shipment is after its promise (a rule allowing lateness)

Anyone holding the network data can recompute a decision's cost from its
allocation with this function alone (docs/cost-model.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from engine.decision import AllocationLine, CostBreakdown, ShipmentCost
from engine.geo import haversine_miles
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.terms import Terms


def plan_cost(
    order: Order, allocations: Sequence[AllocationLine], snapshot: NetworkSnapshot, terms: Terms
) -> CostBreakdown:
    lines = {line.line_id: line for line in order.lines}
    units_by_node: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in allocations:
        if a.qty > 0:
            units_by_node[a.node_id][a.line_id] += a.qty
    node_ids = sorted(units_by_node)
    nodes = [snapshot.node(i) for i in node_ids]
    distances = haversine_miles(
        order.ship_to.lat,
        order.ship_to.lon,
        np.array([n.location.lat for n in nodes], dtype=np.float64),
        np.array([n.location.lon for n in nodes], dtype=np.float64),
    )
    pickup = terms.pickup_node_id is not None
    promised = terms.promised
    contents = []
    for k, node in enumerate(nodes):
        per_line = units_by_node[node.id]
        weight = sum(lines[line_id].unit_weight_lb * q for line_id, q in per_line.items())
        volume = sum(lines[line_id].unit_volume_in3 * q for line_id, q in per_line.items()) if promised else 0.0
        contents.append((node.id, float(distances[k]), weight, volume))
    # Each shipment by the cheapest eligible carrier service for its contents when the order
    # carries a promise (its lateness paid once, by the latest), else by the rate table of the
    # order's service level (terms.shipments).
    prices, late_days = ([(0, 0.0, 0.0, None)] * len(nodes), 0) if pickup else terms.shipments(contents)
    shipments = []
    for node, (_, distance, weight, _), (zone, base, carrier_weight, option) in zip(
        nodes, contents, prices, strict=True
    ):
        per_line = units_by_node[node.id]
        units = sum(per_line.values())
        rule_penalty = 0.0
        for p in terms.penalties:
            if node.id in p.node_ids:
                selected = sum(q for line_id, q in per_line.items() if not p.line_ids or line_id in p.line_ids)
                rule_penalty += p.per_shipment + p.per_unit * selected
        shipments.append(
            ShipmentCost(
                node_id=node.id,
                zone=zone,
                distance_miles=distance,
                units=units,
                weight_lb=weight,
                pick_pack=node.pick_pack_cost,
                carrier_base=base,
                carrier_weight=carrier_weight,
                handling=node.unit_handling_cost * units,
                rule_penalty=rule_penalty,
                carrier_service=option.carrier_service if option is not None else "",
                ship_day=option.ship_day if option is not None else 0,
                delivery_day=option.delivery_day if option is not None else 0,
            )
        )
    allocated = sum(a.qty for a in allocations)
    backordered = order.units - allocated
    return CostBreakdown(
        shipments=tuple(shipments),
        split_penalty=terms.split_penalty * max(0, len(shipments) - 1),
        backorder_penalty=terms.backorder_penalty * backordered,
        backordered_units=backordered,
        by_carrier_services=terms.promised and terms.pickup_node_id is None,
        late_days=late_days,
        late_penalty=terms.late_penalty_per_day * late_days,
    )
