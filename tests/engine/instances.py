"""Reading the reference instances (tests/data/sourcing-optimal.jsonl) into engine types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.availability import Availability
from engine.directives import Directives
from engine.model import GeoPoint, InventoryPosition, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot

DATA = Path(__file__).resolve().parent.parent / "data" / "sourcing-optimal.jsonl"
_TYPES = {"dc": NodeType.DC, "store": NodeType.STORE, "3pl": NodeType.THREE_PL}


@dataclass(frozen=True)
class Instance:
    name: str
    order: Order
    snapshot: NetworkSnapshot
    availability: Availability
    directives: Directives
    optimal_cost: float


def load_instances() -> list[Instance]:
    return [instance_from_json(json.loads(line)) for line in DATA.read_text().splitlines() if line.strip()]


def instance_from_json(doc: dict[str, Any]) -> Instance:
    nodes = tuple(
        Node(
            id=n["id"],
            type=_TYPES[n["type"]],
            location=GeoPoint(n["lat"], n["lon"]),
            pick_pack_cost=n["pick_pack_cost"],
            unit_handling_cost=n["unit_cost"],
        )
        for n in doc["nodes"]
    )
    raw = doc["order"]
    order = Order(
        order_id=raw["order_id"],
        ship_to=GeoPoint(raw["ship_to"]["lat"], raw["ship_to"]["lon"]),
        lines=tuple(OrderLine(x["line_id"], x["sku"], x["qty"], x["unit_weight_lb"]) for x in raw["lines"]),
        max_shipments=raw.get("max_shipments"),
        split_penalty=doc["split_penalty"],
        backorder_penalty=doc["backorder_penalty"],
    )
    snapshot = NetworkSnapshot(nodes)
    positions = [InventoryPosition(i["node"], i["sku"], on_hand=i["available"]) for i in doc["inventory"]]
    availability = Availability.from_positions(snapshot, [line.sku for line in order.lines], positions)
    name = f"{doc['kind']}-{doc['seed']}-{len(nodes)}n-{len(order.lines)}l"
    return Instance(name, order, snapshot, availability, Directives(), doc["optimal_cost"])
