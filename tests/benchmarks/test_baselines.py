"""The benchmark's greedy baselines (and the order generator that feeds them), on tiny hand-made networks.

Nodes sit on one parallel east of the ship-to, so "closest" is simply "smallest offset".
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import pytest

from benchmarks.baselines import (
    BASELINES,
    baseline_cost,
    check_allocations,
    closest_node_per_line,
    fewest_splits_then_closest,
)
from benchmarks.networks.sample_network import City
from benchmarks.orders import make_orders, sku_popularity
from engine.availability import Availability
from engine.decision import AllocationLine, SolveStatus
from engine.directives import NO_DIRECTIVES
from engine.model import DeliveryMethod, GeoPoint, InventoryPosition, Item, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rates import DEFAULT_BACKORDER_PENALTY
from engine.sourcing import decide
from engine.terms import resolve_terms

SHIP_TO = GeoPoint(40.0, -100.0)


def node(
    node_id: str,
    miles_east: float,
    *,
    is_open: bool = True,
    can_ship: bool = True,
    can_pickup: bool = False,
    max_units: int | None = None,
    max_shipments: int | None = None,
) -> Node:
    """A DC ``miles_east`` of the ship-to (about 53 miles per degree of longitude at 40°N)."""
    return Node(
        id=node_id,
        type=NodeType.DC,
        location=GeoPoint(40.0, -100.0 + miles_east / 53.0),
        pick_pack_cost=1.0,
        unit_handling_cost=0.2,
        is_open=is_open,
        can_ship=can_ship,
        can_pickup=can_pickup,
        max_units=max_units,
        max_shipments=max_shipments,
    )


def order(*lines: tuple[str, int], order_id: str = "O1") -> Order:
    return Order(
        order_id=order_id,
        ship_to=SHIP_TO,
        lines=tuple(OrderLine(f"L{i}", sku, qty, 1.0) for i, (sku, qty) in enumerate(lines, 1)),
    )


def setup(
    nodes: Sequence[Node], stock: Mapping[tuple[str, str], int], o: Order
) -> tuple[NetworkSnapshot, Availability]:
    snapshot = NetworkSnapshot(tuple(nodes))
    skus = [line.sku for line in o.lines]
    positions = [InventoryPosition(node_id, sku, qty) for (node_id, sku), qty in stock.items()]
    return snapshot, Availability.from_positions(snapshot, skus, positions)


def placed(rows: Sequence[AllocationLine]) -> list[tuple[str, str, int]]:
    return sorted((a.line_id, a.node_id, a.qty) for a in rows)


# --- fewest splits, then closest ----------------------------------------------------------------------------


def test_fewest_splits_takes_the_closest_of_the_nodes_that_ship_everything() -> None:
    o = order(("A", 1), ("B", 2))
    nodes = [node("FAR", 900), node("NEAR", 100), node("MID", 400)]
    stock = {("FAR", "A"): 5, ("FAR", "B"): 5, ("NEAR", "A"): 5, ("NEAR", "B"): 5, ("MID", "A"): 5, ("MID", "B"): 5}
    snapshot, availability = setup(nodes, stock, o)
    assert placed(fewest_splits_then_closest(o, snapshot, availability)) == [("L1", "NEAR", 1), ("L2", "NEAR", 2)]


def test_fewest_splits_prefers_one_far_box_over_splitting_from_a_near_node() -> None:
    o = order(("A", 1), ("B", 1))
    nodes = [node("NEAR", 10), node("FAR", 1500)]
    stock = {("NEAR", "A"): 9, ("FAR", "A"): 1, ("FAR", "B"): 1}
    snapshot, availability = setup(nodes, stock, o)
    assert placed(fewest_splits_then_closest(o, snapshot, availability)) == [("L1", "FAR", 1), ("L2", "FAR", 1)]


def test_fewest_splits_covers_the_most_units_first_and_breaks_ties_by_distance() -> None:
    # Nobody ships all of A:1, B:2, C:1. X covers 3 units (B, C), Y and Z 1 unit each (A), Z is closer.
    o = order(("A", 1), ("B", 2), ("C", 1))
    nodes = [node("X", 800), node("Y", 300), node("Z", 200), node("W", 50)]
    stock = {("X", "B"): 2, ("X", "C"): 1, ("Y", "A"): 4, ("Z", "A"): 4, ("W", "B"): 1}
    snapshot, availability = setup(nodes, stock, o)
    rows = fewest_splits_then_closest(o, snapshot, availability)
    assert placed(rows) == [("L1", "Z", 1), ("L2", "X", 2), ("L3", "X", 1)]
    assert [a.node_id for a in rows] == ["X", "X", "Z"]  # X was taken first: it covers the most


def test_fewest_splits_shares_a_skus_stock_across_its_lines() -> None:
    # Two lines of SKU A want 2 each; NEAR holds 3 A, so it cannot ship everything and covers 3 units.
    o = order(("A", 2), ("A", 2))
    nodes = [node("NEAR", 10), node("FAR", 700)]
    stock = {("NEAR", "A"): 3, ("FAR", "A"): 1}
    snapshot, availability = setup(nodes, stock, o)
    rows = fewest_splits_then_closest(o, snapshot, availability)
    assert placed(rows) == [("L1", "NEAR", 2), ("L2", "FAR", 1), ("L2", "NEAR", 1)]
    assert check_allocations(o, rows, snapshot, availability) == []


def test_fewest_splits_skips_closed_and_non_shipping_nodes_and_respects_unit_capacity() -> None:
    o = order(("A", 3))
    nodes = [
        node("CLOSED", 5, is_open=False),
        node("PICKUP", 6, can_ship=False, can_pickup=True),
        node("SMALL", 7, max_units=2),
        node("FULL", 8, max_shipments=0),
        node("OK", 900),
    ]
    stock = {(n.id, "A"): 10 for n in nodes}
    snapshot, availability = setup(nodes, stock, o)
    assert placed(fewest_splits_then_closest(o, snapshot, availability)) == [("L1", "OK", 3)]


def test_fewest_splits_stops_when_nothing_helps_and_the_rest_is_backordered() -> None:
    o = order(("A", 2), ("B", 1))
    nodes = [node("N1", 100)]
    stock = {("N1", "A"): 1}
    snapshot, availability = setup(nodes, stock, o)
    rows = fewest_splits_then_closest(o, snapshot, availability)
    assert placed(rows) == [("L1", "N1", 1)]
    terms = resolve_terms(o, NO_DIRECTIVES, snapshot)
    # pick-pack 1.00 + zone 2 (100 mi) base 5.50 + 0.35/lb + handling 0.20, and 2 units backordered
    assert baseline_cost(o, rows, snapshot, terms) == pytest.approx(
        1.0 + 5.5 + 0.35 + 0.2 + 2 * DEFAULT_BACKORDER_PENALTY
    )


# --- closest node per line ----------------------------------------------------------------------------------


def test_closest_per_line_sends_each_line_to_its_own_closest_full_node() -> None:
    o = order(("A", 1), ("B", 1))
    nodes = [node("N1", 100), node("N2", 200), node("N3", 300)]
    stock = {("N1", "A"): 1, ("N2", "B"): 1, ("N3", "A"): 5, ("N3", "B"): 5}
    snapshot, availability = setup(nodes, stock, o)
    # Two boxes, although N3 could ship both: this router never consolidates.
    assert placed(closest_node_per_line(o, snapshot, availability)) == [("L1", "N1", 1), ("L2", "N2", 1)]
    # ... which the other baseline does.
    assert placed(fewest_splits_then_closest(o, snapshot, availability)) == [("L1", "N3", 1), ("L2", "N3", 1)]


def test_closest_per_line_skips_a_closer_node_without_the_full_quantity() -> None:
    o = order(("A", 3))
    nodes = [node("NEAR", 10), node("FAR", 500)]
    stock = {("NEAR", "A"): 2, ("FAR", "A"): 3}
    snapshot, availability = setup(nodes, stock, o)
    assert placed(closest_node_per_line(o, snapshot, availability)) == [("L1", "FAR", 3)]


def test_closest_per_line_fills_from_the_closest_nodes_in_order_when_none_has_it_all() -> None:
    o = order(("A", 4))
    nodes = [node("N3", 300), node("N1", 100), node("N2", 200), node("N4", 400)]
    stock = {("N1", "A"): 1, ("N2", "A"): 2, ("N3", "A"): 1, ("N4", "A"): 3}
    snapshot, availability = setup(nodes, stock, o)
    rows = closest_node_per_line(o, snapshot, availability)
    assert [(a.node_id, a.qty) for a in rows] == [("N1", 1), ("N2", 2), ("N3", 1)]


def test_closest_per_line_shares_stock_between_lines_of_one_sku() -> None:
    o = order(("A", 2), ("A", 2))
    nodes = [node("NEAR", 10), node("FAR", 500)]
    stock = {("NEAR", "A"): 3, ("FAR", "A"): 5}
    snapshot, availability = setup(nodes, stock, o)
    rows = closest_node_per_line(o, snapshot, availability)
    assert placed(rows) == [("L1", "NEAR", 2), ("L2", "FAR", 2)]
    assert check_allocations(o, rows, snapshot, availability) == []


def test_closest_per_line_skips_nodes_that_cannot_ship() -> None:
    o = order(("A", 1))
    nodes = [node("CLOSED", 1, is_open=False), node("PICKUP", 2, can_ship=False), node("OK", 3)]
    stock = {(n.id, "A"): 1 for n in nodes}
    snapshot, availability = setup(nodes, stock, o)
    assert placed(closest_node_per_line(o, snapshot, availability)) == [("L1", "OK", 1)]


def test_ties_in_distance_go_to_the_lowest_node_id() -> None:
    o = order(("A", 1))
    nodes = [node("B-NODE", 100), node("A-NODE", 100)]
    stock = {("A-NODE", "A"): 1, ("B-NODE", "A"): 1}
    snapshot, availability = setup(nodes, stock, o)
    for router in BASELINES.values():
        assert placed(router(o, snapshot, availability)) == [("L1", "A-NODE", 1)]


def test_the_baselines_refuse_pickup_orders() -> None:
    line = OrderLine("L1", "A", 1, 1.0)
    o = Order("P", SHIP_TO, (line,), delivery_method=DeliveryMethod.PICKUP, pickup_node_id="N1")
    snapshot, availability = setup([node("N1", 1)], {("N1", "A"): 1}, o)
    for router in BASELINES.values():
        with pytest.raises(ValueError, match="ship orders only"):
            router(o, snapshot, availability)


# --- the checker, and the baselines against the optimizer ---------------------------------------------------


def test_check_allocations_names_every_broken_limit() -> None:
    o = order(("A", 2))
    nodes = [node("N1", 10, max_units=1), node("SHUT", 20, is_open=False)]
    snapshot, availability = setup(nodes, {("N1", "A"): 1, ("SHUT", "A"): 5}, o)
    rows = [
        AllocationLine("L1", "N1", "A", 2),
        AllocationLine("L1", "SHUT", "A", 1),
        AllocationLine("L9", "N1", "A", 1),
    ]
    problems = check_allocations(o, rows, snapshot, availability)
    assert "L9: unknown line" in problems
    assert "L1@SHUT: the node is closed or does not ship" in problems
    assert "L1: 3 units allocated, 2 ordered" in problems
    assert "A@N1: 2 units taken, 1 available" in problems
    assert "N1: 2 units, capacity 1" in problems
    assert check_allocations(o, [AllocationLine("L1", "N1", "A", 1)], snapshot, availability) == []


def _random_instance(rng: random.Random, i: int) -> tuple[Order, NetworkSnapshot, Availability]:
    nodes = [
        Node(
            id=f"N{j}",
            type=NodeType.STORE if j % 2 else NodeType.DC,
            location=GeoPoint(rng.uniform(30, 45), rng.uniform(-120, -75)),
            pick_pack_cost=round(rng.uniform(1, 5), 2),
            unit_handling_cost=round(rng.uniform(0.2, 0.9), 2),
            is_open=rng.random() > 0.1,
            max_units=rng.choice([None, None, 2]),
        )
        for j in range(rng.randint(2, 6))
    ]
    skus = ["A", "B", "C"]
    lines = tuple(
        OrderLine(f"L{j}", rng.choice(skus), rng.randint(1, 3), round(rng.uniform(0.2, 8.0), 2))
        for j in range(1, rng.randint(1, 4) + 1)
    )
    o = Order(f"R{i}", GeoPoint(rng.uniform(30, 45), rng.uniform(-120, -75)), lines)
    stock = {(n.id, s): rng.choice([0, 0, 1, 2, 3]) for n in nodes for s in skus}
    return (o, *setup(nodes, stock, o))


def test_an_optimal_decision_never_costs_more_than_a_baseline_and_every_baseline_plan_is_valid() -> None:
    rng = random.Random(20261124)
    for i in range(150):
        o, snapshot, availability = _random_instance(rng, i)
        decision = decide(o, snapshot, availability)
        assert decision.status is SolveStatus.OPTIMAL
        terms = resolve_terms(o, NO_DIRECTIVES, snapshot)
        for name, router in BASELINES.items():
            rows = router(o, snapshot, availability)
            assert check_allocations(o, rows, snapshot, availability) == [], (name, o)
            assert decision.cost.total <= baseline_cost(o, rows, snapshot, terms) + 1e-9, (name, o)


# --- the order generator ------------------------------------------------------------------------------------

_ITEMS = tuple(Item(f"S{k:03d}", unit_weight_lb=0.5 + k / 10, attributes={"velocity": "ABC"[k % 3]}) for k in range(40))
_CITIES = (
    City(1, "Big", "TX", 30.0, -97.0, 1_000_000, "America/Chicago"),
    City(2, "Small", "OH", 40.0, -83.0, 1_000, "America/New_York"),
)


def test_orders_are_deterministic_with_distinct_skus_and_catalogue_weights() -> None:
    a = make_orders(_ITEMS, 50, 5, seed=3, cities=_CITIES)
    assert a == make_orders(_ITEMS, 50, 5, seed=3, cities=_CITIES)
    assert a != make_orders(_ITEMS, 50, 5, seed=4, cities=_CITIES)
    weights = {item.sku: item.unit_weight_lb for item in _ITEMS}
    for o in a:
        assert len(o.lines) == 5
        assert len({line.sku for line in o.lines}) == 5
        assert all(1 <= line.qty <= 3 and line.unit_weight_lb == weights[line.sku] for line in o.lines)
    qty = [line.qty for o in a for line in o.lines]
    assert qty.count(1) > len(qty) / 2


def test_orders_ship_near_populous_cities_and_favour_popular_skus() -> None:
    orders = make_orders(_ITEMS, 400, 1, seed=11, cities=_CITIES, jitter_miles=5.0)
    near_big = sum(1 for o in orders if abs(o.ship_to.lat - 30.0) < 0.1 and abs(o.ship_to.lon + 97.0) < 0.1)
    assert near_big > 390  # 1000:1 by population; every point within 5 miles of its centre
    ranked = sku_popularity(_ITEMS, seed=0).items
    assert {item.attributes["velocity"] for item in ranked[:13]} == {"A"}  # A movers rank first
    counts: dict[str, int] = {}
    for o in orders:
        counts[o.lines[0].sku] = counts.get(o.lines[0].sku, 0) + 1
    top = max(counts.values())
    assert top > 400 / 40 * 3  # long-tailed: the favourite is far above a uniform share
