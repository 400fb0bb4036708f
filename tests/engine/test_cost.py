"""The cost model's formula, zones and distances (docs/cost-model.md)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cost import plan_cost
from engine.decision import AllocationLine
from engine.directives import Directives, Penalty
from engine.geo import haversine_miles
from engine.model import DeliveryMethod, GeoPoint, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rates import STANDARD_RATES
from engine.terms import resolve_terms


def test_haversine_matches_a_known_distance() -> None:
    # New York (40.7128, -74.0060) to Los Angeles (34.0522, -118.2437): about 2,445 miles.
    d = haversine_miles(40.7128, -74.0060, np.array([34.0522]), np.array([-118.2437]))
    assert d[0] == pytest.approx(2445.6, abs=1.0)


@pytest.mark.parametrize(
    ("miles", "zone"), [(0.0, 1), (50.0, 1), (50.01, 2), (150.0, 2), (600.0, 4), (1800.0, 7), (1800.01, 8), (9e3, 8)]
)
def test_a_distance_on_a_band_limit_belongs_to_the_lower_zone(miles: float, zone: int) -> None:
    assert STANDARD_RATES.zones(np.array([miles]))[0] == zone


def _network() -> NetworkSnapshot:
    return NetworkSnapshot(
        (
            Node("A", NodeType.DC, GeoPoint(40.0, -95.0), pick_pack_cost=1.5, unit_handling_cost=0.25),
            Node("B", NodeType.STORE, GeoPoint(45.0, -95.0), pick_pack_cost=4.0, unit_handling_cost=0.8),
        )
    )


def test_breakdown_follows_the_formula() -> None:
    snapshot = _network()
    order = Order("O", GeoPoint(40.0, -95.0), (OrderLine("L1", "S", 3, 2.0), OrderLine("L2", "T", 2, 0.5)))
    terms = resolve_terms(
        order, Directives(penalties=(Penalty("r", frozenset({"B"}), per_unit=0.1, per_shipment=1.0),)), snapshot
    )
    allocations = [AllocationLine("L1", "A", "S", 3), AllocationLine("L2", "B", "T", 1)]
    cost = plan_cost(order, allocations, snapshot, terms)
    a, b = cost.shipments
    assert (a.zone, a.units, a.weight_lb) == (1, 3, 6.0)
    assert a.total == pytest.approx(1.5 + 5.00 + 0.30 * 6.0 + 0.25 * 3)
    # B is 5 degrees of latitude north: about 345.5 miles, zone 4.
    assert b.zone == 4
    assert b.total == pytest.approx(4.0 + 6.80 + 0.60 * 0.5 + 0.8 + 1.0 + 0.1)
    assert cost.split_penalty == pytest.approx(3.0)
    assert cost.backordered_units == 1
    assert cost.backorder_penalty == pytest.approx(100.0)
    assert cost.total == pytest.approx(a.total + b.total + 3.0 + 100.0)


def test_pickup_pays_no_carrier_rate() -> None:
    snapshot = NetworkSnapshot((Node("S1", NodeType.STORE, GeoPoint(45.0, -95.0), 4.0, 0.8, can_pickup=True),))
    order = Order(
        "O",
        GeoPoint(40.0, -95.0),
        (OrderLine("L1", "S", 2, 5.0),),
        delivery_method=DeliveryMethod.PICKUP,
        pickup_node_id="S1",
    )
    terms = resolve_terms(order, Directives(), snapshot)
    cost = plan_cost(order, [AllocationLine("L1", "S1", "S", 2)], snapshot, terms)
    (shipment,) = cost.shipments
    assert (shipment.zone, shipment.carrier_base, shipment.carrier_weight) == (0, 0.0, 0.0)
    assert cost.total == pytest.approx(4.0 + 0.8 * 2)
