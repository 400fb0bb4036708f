"""Single-order instances with proven optima, in the reference format (nodes, inventory, order,
penalties, ``optimal_cost``; tests/data/sourcing-optimal.jsonl), read into engine types.

Used by the reference tests and by the hard-orders benchmark (benchmarks/hard_orders.py).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.availability import Availability
from engine.directives import Directives
from engine.model import GeoPoint, InventoryPosition, Node, NodeType, Order, OrderLine
from engine.network import NetworkSnapshot

_TYPES = {"dc": NodeType.DC, "store": NodeType.STORE, "3pl": NodeType.THREE_PL}


@dataclass(frozen=True)
class Instance:
    name: str
    kind: str
    order: Order
    snapshot: NetworkSnapshot
    availability: Availability
    directives: Directives
    optimal_cost: float


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The documents of a .jsonl file, gzip-compressed when its name ends in .gz."""
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


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
    return Instance(name, doc["kind"], order, snapshot, availability, Directives(), doc["optimal_cost"])
