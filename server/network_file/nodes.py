"""A network file's nodes, items and stock counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.catalog.aliases import SkuAlias
from engine.catalog.units import ItemUnit
from engine.errors import InvalidInputError
from engine.model import GeoPoint, Item, Node, NodeType
from engine.promise.model import (
    NodeSchedule,
)
from server.network_file.catalogue import _counted_in, _item_aliases, _item_units
from server.network_file.fields import _REGION, _declared, _Fields, _json_type
from server.network_file.promise_data import _Calendars, _node_schedule
from server.store.base import InventoryUpdate, UpdateKind

_NODE_FIELDS = frozenset(
    {
        "id", "type", "name", "region", "lat", "lon", "pick_pack_cost", "unit_handling_cost",
        "max_shipments", "max_units", "can_ship", "can_pickup", "is_open", "tags",
        # the node's schedule (docs/promise.md)
        "time_zone", "working_days", "opens", "closes", "holidays", "holiday_calendars", "processing_days",
        "cutoffs", "pickup_ready_minutes",
    }
)  # fmt: skip


_ITEM_FIELDS = frozenset(
    {"sku", "unit_weight_lb", "length_in", "width_in", "height_in", "hazmat", "tags", "attributes", "aliases", "units"}
)


_INVENTORY_FIELDS = frozenset({"node_id", "sku", "on_hand", "unit"})


@dataclass(frozen=True, slots=True)
class _NodeEntry:
    node: Node
    schedule: NodeSchedule
    index: int  # its place in the file's nodes array, for problems found later


def _node(f: _Fields, calendars: _Calendars) -> tuple[str, _NodeEntry | None]:
    node_id, node = _node_itself(f)
    schedule = _node_schedule(f, node_id, calendars)
    if node is None or schedule is None or not f.ok:
        return node_id, None
    return node_id, _NodeEntry(node, schedule, int(f.path[len("nodes[") : -1]))  # f.path is "nodes[<i>]"


def _node_itself(f: _Fields) -> tuple[str, Node | None]:
    node_id = f.string("id")
    node_type = _node_type(f)
    region = f.string("region", default="")
    if "region" not in f.bad and region and not _REGION.fullmatch(region):
        f.problem("region", f"must be an ISO 3166 code such as 'US-TX' or 'DE', not {region[:40]!r}")
    location = _location(f)
    try:
        node = Node(
            id=node_id,
            type=node_type,
            location=location,
            pick_pack_cost=f.money("pick_pack_cost"),
            unit_handling_cost=f.money("unit_handling_cost"),
            name=f.string("name", default=""),
            region=region,
            max_shipments=f.count("max_shipments", optional=True),
            max_units=f.count("max_units", optional=True),
            can_ship=f.boolean("can_ship", default=True),
            can_pickup=f.boolean("can_pickup", default=False),
            is_open=f.boolean("is_open", default=True),
            tags=f.tags(),
        )
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return node_id, None
    return node_id, node


def _node_type(f: _Fields) -> NodeType:
    text = f.string("type")
    try:
        return NodeType(text)
    except ValueError:
        if "type" not in f.bad:
            choices = ", ".join(t.value for t in NodeType)
            f.problem("type", f"must be one of {choices}, not {text[:40]!r}")
        return NodeType.DC


def _location(f: _Fields) -> GeoPoint:
    lat, lon = f.number("lat"), f.number("lon")
    try:
        return GeoPoint(lat, lon)
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return GeoPoint(0.0, 0.0)


def _item(f: _Fields, aliases: list[tuple[str, SkuAlias]], units: list[ItemUnit]) -> tuple[str, Item | None]:
    sku = f.string("sku")
    _item_aliases(f, sku, aliases)
    _item_units(f, sku, units)
    try:
        item = Item(
            sku=sku,
            unit_weight_lb=f.number("unit_weight_lb"),
            length_in=f.number("length_in", default=0.0),
            width_in=f.number("width_in", default=0.0),
            height_in=f.number("height_in", default=0.0),
            hazmat=f.boolean("hazmat", default=False),
            tags=f.tags(),
            attributes=f.string_map("attributes"),
        )
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return sku, None
    return sku, (item if f.ok else None)


def _inventory(
    top: _Fields,
    nodes: Sequence[tuple[str, object]],
    items: Sequence[tuple[str, object]],
    as_of: datetime,
    units: Sequence[ItemUnit] = (),
) -> list[InventoryUpdate]:
    # Declared names count even when their object was bad: one bad node must not also flag all its stock.
    # When some id could not be read at all, references are not checked: they would only repeat that problem.
    node_ids = _declared(top, "nodes", nodes)
    skus = _declared(top, "items", items)
    first: dict[tuple[str, str], int] = {}
    updates: list[InventoryUpdate] = []
    for i, element in enumerate(top.array("inventory", required=False)):
        path = f"inventory[{i}]"
        if not isinstance(element, Mapping):
            top.problems.append((path, f"must be an object, not {_json_type(element)}"))
            continue
        f = _Fields(element, path, top.problems, _INVENTORY_FIELDS)
        node_id, sku, on_hand = f.string("node_id"), f.string("sku"), f.count("on_hand", optional=False) or 0
        on_hand = _counted_in(f, sku, on_hand, units)  # counted in cases, stored in eaches
        if "node_id" not in f.bad and node_ids is not None and node_id not in node_ids:
            f.problem("node_id", f"names unknown node {node_id[:60]!r}")
        if "sku" not in f.bad and skus is not None and sku not in skus:
            f.problem("sku", f"names unknown sku {sku[:60]!r}")
        if not f.ok:
            continue
        if (node_id, sku) in first:
            # Two absolute counts for one position: which one is right cannot be told from the file.
            top.problems.append(
                (path, f"repeats the position ({node_id!r}, {sku!r}) of inventory[{first[node_id, sku]}]")
            )
            continue
        first[(node_id, sku)] = i
        updates.append(InventoryUpdate(node_id, sku, UpdateKind.ABSOLUTE, on_hand, as_of))
    return updates
