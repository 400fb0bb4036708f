"""Conversions between protobuf messages and engine/store types.

Every ``*_from_proto`` function checks everything it is given and raises one
:class:`~engine.errors.InvalidInputError` carrying every violation, each with its full
request path (``nodes[2].location.lat``, ``order.lines[1].qty``): the caller can fix a whole
request from one answer. The engine constructors do the domain checks; this module adds what
only the wire can get wrong (missing messages, UNSPECIFIED enums, currencies, timestamps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf import timestamp_pb2

from engine import limits
from engine.errors import FieldViolation, InvalidInputError
from engine.model import (
    DeliveryMethod,
    GeoPoint,
    InventoryPosition,
    Item,
    Node,
    NodeType,
    ObjectiveMode,
    Order,
    OrderLine,
    attribute_problems,
    id_problem,
    text_problem,
)
from engine.network import NetworkSnapshot
from engine.rates import RateTable
from server.api.proto import common_pb2, network_pb2
from server.geocode import SUPPORTED_COUNTRIES, postal_code_place
from server.served_area import ServedArea
from server.store.base import InventoryUpdate, InventoryUpdateResult, UpdateKind, UpdateOutcome

T = TypeVar("T")

MICROS_PER_UNIT = 1_000_000
MAX_ADDRESS_LINES = 5
# Timestamps a datetime can hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_TIMESTAMP_SECONDS = -62_135_596_800
_MAX_TIMESTAMP_SECONDS = 253_402_300_799
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

NODE_TYPE_FROM_PROTO: dict[int, NodeType] = {
    common_pb2.NODE_TYPE_DC: NodeType.DC,
    common_pb2.NODE_TYPE_STORE: NodeType.STORE,
    common_pb2.NODE_TYPE_THIRD_PARTY_LOGISTICS: NodeType.THREE_PL,
    common_pb2.NODE_TYPE_DROP_SHIP: NodeType.DROP_SHIP,
}
NODE_TYPE_TO_PROTO: dict[NodeType, int] = {v: k for k, v in NODE_TYPE_FROM_PROTO.items()}
_DELIVERY_FROM_PROTO: dict[int, DeliveryMethod] = {
    common_pb2.DELIVERY_METHOD_UNSPECIFIED: DeliveryMethod.SHIP,
    common_pb2.DELIVERY_METHOD_SHIP: DeliveryMethod.SHIP,
    common_pb2.DELIVERY_METHOD_PICKUP: DeliveryMethod.PICKUP,
}
_OBJECTIVE_FROM_PROTO: dict[int, ObjectiveMode] = {
    common_pb2.OBJECTIVE_MODE_UNSPECIFIED: ObjectiveMode.COST,
    common_pb2.OBJECTIVE_MODE_COST: ObjectiveMode.COST,
    common_pb2.OBJECTIVE_MODE_FEWEST_SHIPMENTS: ObjectiveMode.FEWEST_SHIPMENTS,
}
_OUTCOME_TO_PROTO: dict[UpdateOutcome, int] = {
    UpdateOutcome.APPLIED: network_pb2.UPDATE_OUTCOME_APPLIED,
    UpdateOutcome.STALE_IGNORED: network_pb2.UPDATE_OUTCOME_STALE_IGNORED,
}


class Collector:
    """Violations gathered across a whole request, raised together at the end."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, path: str, description: str) -> None:
        self.items.append(FieldViolation(path, description))

    def check(self, ok: bool, path: str, description: str) -> None:
        if not ok:
            self.add(path, description)

    def build(self, path: str, factory: Callable[[], T]) -> T | None:
        """``factory()``, or None with its violations recorded under ``path``."""
        try:
            return factory()
        except InvalidInputError as error:
            self.items.extend(error.prefixed(path).violations if path else error.violations)
            return None

    def mark(self) -> int:
        return len(self.items)

    def clean_since(self, mark: int) -> bool:
        return len(self.items) == mark

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInputError(self.items)


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def check_count(c: Collector, path: str, count: int, low: int, high: int, what: str) -> bool:
    """The bound on a repeated field; False (and a violation) when it is broken."""
    if count < low:
        c.add(path, f"must have at least {low} {what}")
        return False
    if count > high:
        c.add(path, f"has {count} {what}; at most {high} are allowed in one call")
        return False
    return True


def check_id(c: Collector, path: str, value: str, *, required: bool = True) -> None:
    """An id: the engine's one definition (1-128 characters, no control characters)."""
    problem = id_problem(value, required=required)
    if problem is not None:
        c.add(path, problem)


def check_text(c: Collector, path: str, value: str, max_length: int) -> None:
    """Free text: the engine's one definition (bounded; tabs and line breaks the only controls)."""
    problem = text_problem(value, max_length)
    if problem is not None:
        c.add(path, problem)


def check_attributes(c: Collector, path: str, attributes: Mapping[str, str]) -> None:
    """The engine's one definition (engine.model.attribute_problems), named by field path."""
    for key, problem in attribute_problems(attributes):
        c.add(path if key is None else f"{path}[{key[:40]!r}]", problem)


# --- money and time -------------------------------------------------------------------------


def micros_to_units(micros: int) -> float:
    return micros / MICROS_PER_UNIT


def units_to_micros(units: float) -> int:
    # round(), not int(): 0.1 + 0.2 units must come back as 300000 micros, not 299999.
    return round(units * MICROS_PER_UNIT)


def money_from_proto(c: Collector, path: str, money: common_pb2.Money, currency: str) -> float | None:
    """Major units as a float (what the engine computes with); None when the currency is wrong."""
    if money.currency_code and money.currency_code != currency:
        c.add(join(path, "currency_code"), f"must be {currency} (the service's currency) or empty")
        return None
    value = micros_to_units(money.amount_micros)
    if not 0 <= value <= limits.MAX_MONEY:
        c.add(join(path, "amount_micros"), f"must be between 0 and {limits.MAX_MONEY:g} units")
        return None
    return value


def set_money(into: common_pb2.Money, value: float, currency: str) -> None:
    """``value`` in ``currency`` into a message's own Money field: nothing built and copied in."""
    into.currency_code = currency
    into.amount_micros = units_to_micros(value)


def money_to_proto(value: float, currency: str) -> common_pb2.Money:
    money = common_pb2.Money()
    set_money(money, value, currency)
    return money


def timestamp_from_proto(
    c: Collector, path: str, ts: timestamp_pb2.Timestamp, not_after: datetime | None = None
) -> datetime | None:
    """An aware UTC datetime (microsecond precision); None with a violation when out of range."""
    if not _MIN_TIMESTAMP_SECONDS <= ts.seconds <= _MAX_TIMESTAMP_SECONDS or not 0 <= ts.nanos < 1_000_000_000:
        c.add(path, "is not a valid timestamp (years 1-9999, nanos 0-999999999)")
        return None
    value = _EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)
    if not_after is not None and value > not_after:
        c.add(path, f"is in the future (after {not_after.isoformat()})")
        return None
    return value


def timestamp_to_proto(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


# --- network --------------------------------------------------------------------------------


def geo_from_proto(c: Collector, path: str, msg: common_pb2.GeoPoint) -> GeoPoint | None:
    return c.build(path, lambda: GeoPoint(lat=msg.lat, lon=msg.lon))


def geo_to_proto(point: GeoPoint) -> common_pb2.GeoPoint:
    return common_pb2.GeoPoint(lat=point.lat, lon=point.lon)


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


# --- inventory ------------------------------------------------------------------------------


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


def ids_from_proto(c: Collector, path: str, values: Iterable[str], high: int, what: str) -> list[str]:
    ids = list(values)
    if check_count(c, path, len(ids), 0, high, what):
        for i, value in enumerate(ids):
            check_id(c, f"{path}[{i}]", value)
    return ids


# --- orders ---------------------------------------------------------------------------------


def order_line_from_proto(
    c: Collector, path: str, msg: common_pb2.OrderLine, catalogue: Mapping[str, Item], currency: str
) -> OrderLine | None:
    mark = c.mark()
    item = catalogue.get(msg.sku)
    weight = 0.0
    if msg.HasField("unit_weight_lb"):
        weight = msg.unit_weight_lb
    elif item is not None:
        weight = item.unit_weight_lb
    elif msg.sku.strip():  # an empty SKU is the line's own violation ("is required")
        # The SKU is what is wrong (the weight is only how the catalogue would have been bypassed).
        c.add(
            join(path, "sku"),
            f"is not in the catalogue ({msg.sku[:40]!r}) nor a known SKU alias: add it with UpsertItems"
            " (or map it with UpsertSkuAliases), or send unit_weight_lb",
        )
    hazmat = msg.hazmat if msg.HasField("hazmat") else (item.hazmat if item is not None else False)
    attributes = dict(msg.attributes)
    if msg.HasField("unit_price"):
        price = money_from_proto(c, join(path, "unit_price"), msg.unit_price, currency)
        if price is not None and len(attributes) < limits.MAX_ATTRIBUTES:
            attributes["unit_price"] = repr(price)  # what value rules read (engine/rules/facts.py)
    check_attributes(c, join(path, "attributes"), msg.attributes)
    line = c.build(
        path,
        lambda: OrderLine(
            line_id=msg.line_id,
            sku=msg.sku,
            qty=msg.qty,
            unit_weight_lb=weight,
            hazmat=hazmat,
            attributes=attributes,
        ),
    )
    return line if c.clean_since(mark) else None


def _stand_in_line(index: int, line_id: str) -> OrderLine:
    """A valid line in place of a bad one, so the order's own checks (duplicate ids) still run."""
    try:
        return OrderLine(line_id=line_id, sku="-", qty=1, unit_weight_lb=0.0)
    except InvalidInputError:
        # A valid id no caller sends (a word joiner, then the index): it duplicates nothing real.
        return OrderLine(line_id=f"\u2060{index}", sku="-", qty=1, unit_weight_lb=0.0)


def _check_address(c: Collector, path: str, msg: common_pb2.PostalAddress) -> None:
    for name in ("country_code", "postal_code", "region"):
        check_id(c, join(path, name), getattr(msg, name), required=False)
    check_text(c, join(path, "locality"), msg.locality, limits.MAX_TEXT_LENGTH)
    if check_count(c, join(path, "address_lines"), len(msg.address_lines), 0, MAX_ADDRESS_LINES, "lines"):
        for i, line in enumerate(msg.address_lines):
            check_text(c, f"{path}.address_lines[{i}]", line, limits.MAX_TEXT_LENGTH)


def order_from_proto(
    msg: common_pb2.Order,
    catalogue: Mapping[str, Item],
    currency: str,
    *,
    network: NetworkSnapshot,
    served: ServedArea | None = None,
    path: str = "order",
) -> Order:
    """An engine order; lines that leave out weight or hazmat take them from ``catalogue``.

    ``network`` locates a pickup order's node (its ship-to when it sends none). ``served`` is
    given for a new order (Source, Allocate, AllocateBatch), which must also ship to the served
    area and name a pickup node that takes pickups; an order read back from the store is not
    checked again, so a later setting or network change never makes it unreadable.
    """
    c = Collector()
    order = order_into(c, path, msg, catalogue, currency, network=network, served=served)
    c.raise_if_any()
    assert order is not None
    return order


def order_into(
    c: Collector,
    path: str,
    msg: common_pb2.Order,
    catalogue: Mapping[str, Item],
    currency: str,
    *,
    network: NetworkSnapshot,
    served: ServedArea | None = None,
) -> Order | None:
    """:func:`order_from_proto` collecting into ``c``, for requests that carry many orders."""
    mark = c.mark()
    delivery = _DELIVERY_FROM_PROTO.get(msg.delivery_method)
    c.check(delivery is not None, join(path, "delivery_method"), "is not a known delivery method")
    pickup = delivery is DeliveryMethod.PICKUP
    ship_to = _ship_to(c, path, msg, pickup, served)
    if pickup and id_problem(msg.pickup_node_id) is None:  # a malformed or missing id is the order's own check
        node = _pickup_node(c, join(path, "pickup_node_id"), msg.pickup_node_id, network, served)
        if ship_to is None and node is not None:
            ship_to = node.location  # collected there: no ship-to needed
    if msg.HasField("ship_to_address"):
        _check_address(c, join(path, "ship_to_address"), msg.ship_to_address)
    lines: list[OrderLine] = []
    if check_count(c, join(path, "lines"), len(msg.lines), 1, limits.MAX_LINES_PER_ORDER, "lines"):
        for i, line_msg in enumerate(msg.lines):
            line = order_line_from_proto(c, f"{join(path, 'lines')}[{i}]", line_msg, catalogue, currency)
            lines.append(line if line is not None else _stand_in_line(i, line_msg.line_id))
    objective = _OBJECTIVE_FROM_PROTO.get(msg.objective)
    c.check(objective is not None, join(path, "objective"), "is not a known objective mode")
    penalties: dict[str, float | None] = {}
    for name in ("split_penalty", "backorder_penalty"):
        penalties[name] = (
            money_from_proto(c, join(path, name), getattr(msg, name), currency) if msg.HasField(name) else None
        )
    check_attributes(c, join(path, "attributes"), msg.attributes)
    check_id(c, join(path, "customer_id"), msg.customer_id, required=False)
    order = c.build(
        path,
        lambda: Order(
            order_id=msg.order_id,
            ship_to=ship_to or GeoPoint(0.0, 0.0),  # a stand-in: no ship-to was reported as a bad field
            lines=tuple(lines) or (_stand_in_line(0, "-"),),
            channel=msg.channel,
            service_level=msg.service_level or "STANDARD",
            delivery_method=delivery or DeliveryMethod.SHIP,
            pickup_node_id=msg.pickup_node_id,
            max_shipments=msg.max_shipments if msg.HasField("max_shipments") else None,
            all_or_nothing=msg.all_or_nothing,
            objective=objective or ObjectiveMode.COST,
            split_penalty=penalties["split_penalty"],
            backorder_penalty=penalties["backorder_penalty"],
            attributes=rule_fact_attributes(msg, currency),
            priority=msg.priority,
        ),
    )
    return order if c.clean_since(mark) else None


def _ship_to(
    c: Collector, path: str, msg: common_pb2.Order, pickup: bool, served: ServedArea | None
) -> GeoPoint | None:
    """Where the order goes: its coordinates, else its postal code's centroid; None for a pickup
    order that sends neither (its node's location is used). For a new order that ships
    (``served`` given), the place must be in the served area: by the ZIP code's state when the
    address placed it, by the region outlines for coordinates."""
    field = join(path, "ship_to")
    state = None
    if msg.HasField("ship_to"):
        point = geo_from_proto(c, field, msg.ship_to)
    elif msg.HasField("ship_to_address") and msg.ship_to_address.postal_code:
        field = join(path, "ship_to_address.postal_code")
        address = msg.ship_to_address
        place = postal_code_place(address.country_code, address.postal_code)
        if place is None:
            covered = ", ".join(SUPPORTED_COUNTRIES)
            c.add(field, f"is not a known postal code (covered: {covered}); send ship_to coordinates")
            return None
        point, state = place.point, place.state
    elif pickup:
        return None
    else:
        c.add(
            field, "is required (coordinates, or ship_to_address with a postal code); a pickup order may leave it out"
        )
        return None
    if served is not None and not pickup and point is not None:
        inside = served.covers_state(state) if state is not None else served.covers_point(point.lat, point.lon)
        if not inside:
            c.add(
                field,
                f"is outside the area this service ships to ({served.describe()}, setting served_regions):"
                " rates there are not modelled",
            )
    return point


def _pickup_node(
    c: Collector, field: str, node_id: str, network: NetworkSnapshot, served: ServedArea | None
) -> Node | None:
    """The pickup node; an unknown one is a bad field, and for a new order (``served`` given) so
    is one that does not take pickups. A closed one is not: its order is decided (nothing can
    be collected there now, and the decision says so)."""
    index = network.index.get(node_id)
    if index is None:
        c.add(field, f"unknown node {node_id[:40]!r}")
        return None
    node = network.nodes[index]
    if served is not None and not node.can_pickup:
        c.add(field, f"node {node_id!r} does not take pickups (its can_pickup is off)")
    return node


def rule_fact_attributes(msg: common_pb2.Order, currency: str) -> dict[str, str]:
    """The order's attributes plus the request fields rules read that the engine Order has no slot
    for (customer_id, the ship-to address, the currency of unit prices); the caller's own win."""
    attributes = dict(msg.attributes)
    facts = {"customer_id": msg.customer_id}
    if msg.HasField("ship_to_address"):
        address = msg.ship_to_address
        facts |= {
            "ship_to_country": address.country_code,
            "ship_to_region": address.region,
            "ship_to_postal_code": address.postal_code,
        }
    if any(line.HasField("unit_price") for line in msg.lines):
        facts["currency"] = currency  # unit prices arrive in the service's currency
    for key, value in facts.items():
        if value and key not in attributes and len(attributes) < limits.MAX_ATTRIBUTES:
            attributes[key] = value
    return attributes
