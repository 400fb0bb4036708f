"""Network messages: nodes, items, rate tables and inventory updates, to and from the engine's and
the store's types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine import limits
from engine.model import (
    GeoPoint,
    InventoryPosition,
    Item,
    Node,
    NodeType,
)
from engine.rates import RateTable
from server.api.convert.fields import (
    Collector,
    check_attributes,
    check_count,
    check_id,
    geo_from_proto,
    geo_to_proto,
    join,
    money_from_proto,
    money_to_proto,
    timestamp_from_proto,
    timestamp_to_proto,
)
from server.api.proto import common_pb2, network_pb2
from server.store.base import InventoryUpdate, InventoryUpdateResult, UpdateKind, UpdateOutcome

NODE_TYPE_FROM_PROTO: dict[int, NodeType] = {
    common_pb2.NODE_TYPE_DC: NodeType.DC,
    common_pb2.NODE_TYPE_STORE: NodeType.STORE,
    common_pb2.NODE_TYPE_THIRD_PARTY_LOGISTICS: NodeType.THREE_PL,
    common_pb2.NODE_TYPE_DROP_SHIP: NodeType.DROP_SHIP,
}


NODE_TYPE_TO_PROTO: dict[NodeType, int] = {v: k for k, v in NODE_TYPE_FROM_PROTO.items()}


_OUTCOME_TO_PROTO: dict[UpdateOutcome, int] = {
    UpdateOutcome.APPLIED: network_pb2.UPDATE_OUTCOME_APPLIED,
    UpdateOutcome.STALE_IGNORED: network_pb2.UPDATE_OUTCOME_STALE_IGNORED,
}


def node_from_proto(c: Collector, path: str, msg: common_pb2.Node, currency: str) -> Node | None:
    mark = c.mark()
    node_type = NODE_TYPE_FROM_PROTO.get(msg.type)
    c.check(
        node_type is not None, join(path, "type"), "is required (one of DC, STORE, THIRD_PARTY_LOGISTICS, DROP_SHIP)"
    )
    location: GeoPoint | None = None
    if msg.HasField("location"):
        location = geo_from_proto(c, join(path, "location"), msg.location)
    else:
        c.add(join(path, "location"), "is required")
    costs: dict[str, float | None] = {}
    for name in ("pick_pack_cost", "unit_handling_cost"):
        if msg.HasField(name):
            costs[name] = money_from_proto(c, join(path, name), getattr(msg, name), currency)
        else:
            c.add(join(path, name), "is required")
            costs[name] = None
    # Built even when a part failed (with harmless stand-ins) so the node's own checks still run.
    node = c.build(
        path,
        lambda: Node(
            id=msg.id,
            type=node_type or NodeType.DC,
            location=location or GeoPoint(0.0, 0.0),
            pick_pack_cost=costs["pick_pack_cost"] or 0.0,
            unit_handling_cost=costs["unit_handling_cost"] or 0.0,
            name=msg.name,
            region=msg.region,
            max_shipments=msg.max_shipments if msg.HasField("max_shipments") else None,
            max_units=msg.max_units if msg.HasField("max_units") else None,
            can_ship=msg.can_ship if msg.HasField("can_ship") else True,
            can_pickup=msg.can_pickup if msg.HasField("can_pickup") else False,
            is_open=msg.is_open if msg.HasField("is_open") else True,
            tags=frozenset(msg.tags),
        ),
    )
    return node if c.clean_since(mark) else None


def node_to_proto(node: Node, currency: str) -> common_pb2.Node:
    msg = common_pb2.Node(
        id=node.id,
        type=NODE_TYPE_TO_PROTO[node.type],  # type: ignore[arg-type]
        location=geo_to_proto(node.location),
        pick_pack_cost=money_to_proto(node.pick_pack_cost, currency),
        unit_handling_cost=money_to_proto(node.unit_handling_cost, currency),
        name=node.name,
        region=node.region,
        can_ship=node.can_ship,
        can_pickup=node.can_pickup,
        is_open=node.is_open,
        tags=sorted(node.tags),
    )
    if node.max_shipments is not None:
        msg.max_shipments = node.max_shipments
    if node.max_units is not None:
        msg.max_units = node.max_units
    return msg


def nodes_from_proto(msgs: Sequence[common_pb2.Node], currency: str, path: str = "nodes") -> list[Node]:
    c = Collector()
    nodes: list[Node] = []
    if check_count(c, path, len(msgs), 1, limits.MAX_NODES_PER_CALL, "nodes"):
        first_index: dict[str, int] = {}
        for i, msg in enumerate(msgs):
            node = node_from_proto(c, f"{path}[{i}]", msg, currency)
            if msg.id in first_index:
                c.add(f"{path}[{i}].id", f"duplicates {path}[{first_index[msg.id]}].id {msg.id[:40]!r}")
            first_index.setdefault(msg.id, i)
            if node is not None:
                nodes.append(node)
    c.raise_if_any()
    return nodes


def item_from_proto(c: Collector, path: str, msg: common_pb2.Item) -> Item | None:
    mark = c.mark()
    check_attributes(c, join(path, "attributes"), msg.attributes)
    item = c.build(
        path,
        lambda: Item(
            sku=msg.sku,
            unit_weight_lb=msg.unit_weight_lb,
            length_in=msg.length_in,
            width_in=msg.width_in,
            height_in=msg.height_in,
            hazmat=msg.hazmat,
            tags=frozenset(msg.tags),
            attributes=dict(msg.attributes),
        ),
    )
    return item if c.clean_since(mark) else None


def item_to_proto(item: Item) -> common_pb2.Item:
    return common_pb2.Item(
        sku=item.sku,
        unit_weight_lb=item.unit_weight_lb,
        length_in=item.length_in,
        width_in=item.width_in,
        height_in=item.height_in,
        hazmat=item.hazmat,
        tags=sorted(item.tags),
        attributes=dict(item.attributes),
    )


def items_from_proto(msgs: Sequence[common_pb2.Item], path: str = "items") -> list[Item]:
    c = Collector()
    items: list[Item] = []
    if check_count(c, path, len(msgs), 1, limits.MAX_ITEMS_PER_CALL, "items"):
        first_index: dict[str, int] = {}
        for i, msg in enumerate(msgs):
            item = item_from_proto(c, f"{path}[{i}]", msg)
            if msg.sku in first_index:
                c.add(f"{path}[{i}].sku", f"duplicates {path}[{first_index[msg.sku]}].sku {msg.sku[:40]!r}")
            first_index.setdefault(msg.sku, i)
            if item is not None:
                items.append(item)
    c.raise_if_any()
    return items


def rate_table_from_proto(c: Collector, path: str, msg: network_pb2.RateTable, currency: str) -> RateTable | None:
    mark = c.mark()
    # No table has more entries in a list than zones: a longer list is refused before any is read.
    for name in ("zone_limits_miles", "base", "per_lb"):
        if (count := len(getattr(msg, name))) > limits.MAX_RATE_ZONES:
            c.add(join(path, name), f"has {count} entries; a table has at most {limits.MAX_RATE_ZONES} zones")
    if not c.clean_since(mark):
        return None
    rates: dict[str, list[float]] = {}
    for name in ("base", "per_lb"):
        # A bad amount stands in as 0.0, so the table's own checks (one rate per zone) still run.
        rates[name] = [
            money_from_proto(c, f"{join(path, name)}[{i}]", money, currency) or 0.0
            for i, money in enumerate(getattr(msg, name))
        ]
    table = c.build(
        path,
        lambda: RateTable(
            # Orders match service levels in any case; tables are kept upper-cased.
            service_level=msg.service_level.upper(),
            zone_limits_miles=tuple(msg.zone_limits_miles),
            base=tuple(rates["base"]),
            per_lb=tuple(rates["per_lb"]),
        ),
    )
    return table if c.clean_since(mark) else None


def rate_table_to_proto(table: RateTable, currency: str) -> network_pb2.RateTable:
    return network_pb2.RateTable(
        service_level=table.service_level,
        zone_limits_miles=list(table.zone_limits_miles),
        base=[money_to_proto(x, currency) for x in table.base],
        per_lb=[money_to_proto(x, currency) for x in table.per_lb],
    )


def rate_tables_from_proto(
    msgs: Sequence[network_pb2.RateTable], currency: str, path: str = "rate_tables"
) -> list[RateTable]:
    c = Collector()
    tables: list[RateTable] = []
    if check_count(c, path, len(msgs), 1, limits.MAX_SERVICE_LEVELS, "rate tables"):
        first_index: dict[str, int] = {}
        for i, msg in enumerate(msgs):
            table = rate_table_from_proto(c, f"{path}[{i}]", msg, currency)
            level = msg.service_level.upper()
            if level in first_index:
                c.add(
                    f"{path}[{i}].service_level",
                    f"duplicates {path}[{first_index[level]}].service_level {level[:40]!r}",
                )
            first_index.setdefault(level, i)
            if table is not None:
                tables.append(table)
    c.raise_if_any()
    return tables


def inventory_updates_from_proto(
    msgs: Sequence[network_pb2.InventoryUpdate], not_after: datetime, path: str = "updates"
) -> list[InventoryUpdate]:
    """Store updates; absolute counts dated after ``not_after`` are refused (a clock gone wrong
    upstream would otherwise make every later, correct count look stale)."""
    c = Collector()
    updates: list[InventoryUpdate] = []
    if check_count(c, path, len(msgs), 1, limits.MAX_INVENTORY_UPDATES_PER_CALL, "updates"):
        for i, msg in enumerate(msgs):
            at = f"{path}[{i}]"
            mark = c.mark()
            check_id(c, f"{at}.node_id", msg.node_id)
            check_id(c, f"{at}.sku", msg.sku)
            kind = msg.WhichOneof("change")
            update: InventoryUpdate | None = None
            if kind == "count":
                count = msg.count.count
                c.check(
                    0 <= count <= limits.MAX_INVENTORY_COUNT,
                    f"{at}.count.count",
                    f"must be between 0 and {limits.MAX_INVENTORY_COUNT}",
                )
                as_of: datetime | None = None
                if msg.count.HasField("as_of"):
                    as_of = timestamp_from_proto(c, f"{at}.count.as_of", msg.count.as_of, not_after)
                else:
                    c.add(f"{at}.count.as_of", "is required with an absolute count")
                if as_of is not None:
                    update = InventoryUpdate(msg.node_id, msg.sku, UpdateKind.ABSOLUTE, count, as_of)
            elif kind == "delta":
                c.check(
                    abs(msg.delta) <= limits.MAX_INVENTORY_COUNT,
                    f"{at}.delta",
                    f"must be between -{limits.MAX_INVENTORY_COUNT} and {limits.MAX_INVENTORY_COUNT}",
                )
                update = InventoryUpdate(msg.node_id, msg.sku, UpdateKind.DELTA, msg.delta)
            else:
                c.add(f"{at}.change", "one of count or delta is required")
            if update is not None and c.clean_since(mark):
                updates.append(update)
    c.raise_if_any()
    return updates


def position_to_proto(position: InventoryPosition) -> common_pb2.InventoryPosition:
    msg = common_pb2.InventoryPosition(
        node_id=position.node_id,
        sku=position.sku,
        on_hand=position.on_hand,
        reserved=position.reserved,
        protected=position.protected,
        available=position.available,
    )
    if position.as_of is not None:
        msg.as_of.CopyFrom(timestamp_to_proto(position.as_of))
    return msg


def update_result_to_proto(result: InventoryUpdateResult) -> network_pb2.InventoryUpdateResult:
    msg = network_pb2.InventoryUpdateResult(
        outcome=_OUTCOME_TO_PROTO[result.outcome],  # type: ignore[arg-type]
        position=position_to_proto(result.position),
    )
    if result.position.as_of is not None:
        msg.stored_as_of.CopyFrom(timestamp_to_proto(result.position.as_of))
    msg.shorted_units = result.shorted_units
    for hold in result.shorted:
        msg.shorted.add(order_id=hold.order_id, line_id=hold.line_id, qty=hold.qty)
    return msg
