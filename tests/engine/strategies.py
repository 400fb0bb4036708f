"""Hypothesis strategies: tiny random networks and orders with directives, for exhaustive comparison."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from engine.availability import Availability
from engine.batch import BatchOrder
from engine.directives import Directives, Exclusion, Penalty, Protection
from engine.model import GeoPoint, InventoryPosition, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot

SHIP_TO = GeoPoint(40.0, -95.0)


@dataclass(frozen=True)
class Case:
    order: Order
    snapshot: NetworkSnapshot
    availability: Availability
    directives: Directives


@st.composite
def tiny_cases(draw: st.DrawFn, max_nodes: int = 3, max_lines: int = 3, max_qty: int = 2) -> Case:
    n_nodes = draw(st.integers(1, max_nodes))
    nodes = []
    for i in range(n_nodes):
        nodes.append(
            Node(
                id=f"N{i}",
                type=draw(st.sampled_from(list(NodeType))),
                # Offsets up to ~25 degrees span every zone band.
                location=GeoPoint(SHIP_TO.lat + draw(st.floats(-15, 15)), SHIP_TO.lon + draw(st.floats(-25, 25))),
                pick_pack_cost=draw(st.sampled_from([0.0, 1.2, 3.5, 4.8])),
                unit_handling_cost=draw(st.sampled_from([0.2, 0.3, 0.75])),
                max_units=draw(st.one_of(st.none(), st.integers(0, 4))),
                is_open=draw(st.booleans().map(lambda b: b or draw(st.booleans()))),
            )
        )
    skus = [f"S{k}" for k in range(draw(st.integers(1, 2)))]
    n_lines = draw(st.integers(1, max_lines))
    lines = tuple(
        OrderLine(
            f"L{i}", draw(st.sampled_from(skus)), draw(st.integers(1, max_qty)), draw(st.sampled_from([0.2, 1.5, 12.0]))
        )
        for i in range(n_lines)
    )
    order = Order(
        order_id="O",
        ship_to=SHIP_TO,
        lines=lines,
        max_shipments=draw(st.one_of(st.none(), st.integers(1, 2))),
        all_or_nothing=draw(st.booleans()),
        split_penalty=draw(st.sampled_from([0.0, 3.0, 10.0])),
        backorder_penalty=draw(st.sampled_from([4.0, 25.0, 100.0])),
    )
    snapshot = NetworkSnapshot(tuple(nodes))
    positions = [InventoryPosition(node.id, sku, on_hand=draw(st.integers(0, 3))) for node in nodes for sku in skus]
    availability = Availability.from_positions(snapshot, skus, positions)
    node_ids = [n.id for n in nodes]
    exclusions = tuple(
        Exclusion("test-exclude", frozenset(draw(st.sets(st.sampled_from(node_ids), max_size=1))))
        for _ in range(draw(st.integers(0, 1)))
    )
    penalties = tuple(
        Penalty(
            "test-penalty",
            frozenset(draw(st.sets(st.sampled_from(node_ids), min_size=1, max_size=2))),
            per_unit=draw(st.sampled_from([-0.1, 0.0, 0.5])),
            per_shipment=draw(st.sampled_from([0.0, 2.0])),
        )
        for _ in range(draw(st.integers(0, 1)))
    )
    return Case(order, snapshot, availability, Directives(exclusions=exclusions, penalties=penalties))


@dataclass(frozen=True)
class BatchCase:
    orders: tuple[BatchOrder, ...]
    snapshot: NetworkSnapshot
    availability: Availability


@st.composite
def tiny_batches(draw: st.DrawFn, max_orders: int = 3, max_nodes: int = 3, max_lines: int = 2) -> BatchCase:
    """A few orders over one small network that is short of stock, with node capacities (units and
    shipments) they share and rule directives of their own (exclusions, penalties, protections)."""
    nodes = []
    for i in range(draw(st.integers(1, max_nodes))):
        nodes.append(
            Node(
                id=f"N{i}",
                type=NodeType.DC,
                location=GeoPoint(SHIP_TO.lat + draw(st.floats(-10, 10)), SHIP_TO.lon + draw(st.floats(-20, 20))),
                pick_pack_cost=draw(st.sampled_from([0.0, 1.2, 4.8])),
                unit_handling_cost=draw(st.sampled_from([0.2, 0.75])),
                max_units=draw(st.one_of(st.none(), st.none(), st.integers(1, 3))),
                max_shipments=draw(st.one_of(st.none(), st.none(), st.integers(1, 2))),
            )
        )
    node_ids = [n.id for n in nodes]
    skus = [f"S{k}" for k in range(draw(st.integers(1, 2)))]
    snapshot = NetworkSnapshot(tuple(nodes))
    positions = [InventoryPosition(n, sku, on_hand=draw(st.integers(0, 2))) for n in node_ids for sku in skus]
    availability = Availability.from_positions(snapshot, skus, positions)
    orders = []
    for o in range(draw(st.integers(2, max_orders))):
        lines = tuple(
            OrderLine(f"L{i}", draw(st.sampled_from(skus)), draw(st.integers(1, 2)), draw(st.sampled_from([0.5, 8.0])))
            for i in range(draw(st.integers(1, max_lines)))
        )
        order = Order(
            order_id=f"O{o}",
            ship_to=GeoPoint(SHIP_TO.lat + draw(st.floats(-8, 8)), SHIP_TO.lon + draw(st.floats(-15, 15))),
            lines=lines,
            max_shipments=draw(st.one_of(st.none(), st.integers(1, 2))),
            all_or_nothing=draw(st.booleans()),
            split_penalty=draw(st.sampled_from([0.0, 3.0])),
            backorder_penalty=draw(st.sampled_from([6.0, 25.0, 100.0])),
            priority=draw(st.sampled_from([0, 0, 500])),
        )
        exclusions = tuple(
            Exclusion("test-exclude", frozenset(draw(st.sets(st.sampled_from(node_ids), min_size=1, max_size=1))))
            for _ in range(draw(st.integers(0, 1)))
        )
        penalties = tuple(
            Penalty("test-penalty", frozenset(draw(st.sets(st.sampled_from(node_ids), min_size=1, max_size=2))), 0.5)
            for _ in range(draw(st.integers(0, 1)))
        )
        protections = tuple(
            Protection("test-protect", frozenset(draw(st.sets(st.sampled_from(node_ids), min_size=1, max_size=2))), 1)
            for _ in range(draw(st.integers(0, 1)))
        )
        directives = Directives(exclusions=exclusions, penalties=penalties, protections=protections)
        orders.append(BatchOrder(order, directives))
    return BatchCase(tuple(orders), snapshot, availability)
