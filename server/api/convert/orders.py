"""Order messages: lines, ship-tos and pickups, the order and the rule facts read from it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from engine import limits
from engine.errors import InvalidInputError
from engine.model import (
    DeliveryMethod,
    GeoPoint,
    Item,
    Node,
    ObjectiveMode,
    Order,
    OrderLine,
    id_problem,
)
from engine.network import NetworkSnapshot
from server.api.convert.addresses import check_postal_address, place_address
from server.api.convert.fields import (
    Collector,
    check_attributes,
    check_count,
    check_id,
    check_text,
    join,
    money_from_proto,
)
from server.api.convert.order_promise import promise_from_proto
from server.api.proto import common_pb2
from server.served_area import ServedArea

MAX_ADDRESS_LINES = 5


_DELIVERY_FROM_PROTO: dict[int, DeliveryMethod] = {
    common_pb2.DELIVERY_METHOD_UNSPECIFIED: DeliveryMethod.SHIP,
    common_pb2.DELIVERY_METHOD_SHIP: DeliveryMethod.SHIP,
    common_pb2.DELIVERY_METHOD_PICKUP: DeliveryMethod.PICKUP,
}


_OBJECTIVE_FROM_PROTO: dict[int, ObjectiveMode] = {
    common_pb2.OBJECTIVE_MODE_UNSPECIFIED: ObjectiveMode.COST,
    common_pb2.OBJECTIVE_MODE_COST: ObjectiveMode.COST,
    common_pb2.OBJECTIVE_MODE_FEWEST_SHIPMENTS: ObjectiveMode.FEWEST_SHIPMENTS,
    common_pb2.OBJECTIVE_MODE_EARLIEST_DELIVERY: ObjectiveMode.EARLIEST_DELIVERY,
}


def order_line_from_proto(
    c: Collector, path: str, msg: common_pb2.OrderLine, catalogue: Mapping[str, Item], currency: str
) -> OrderLine | None:
    # The common line (a catalogue SKU, no attributes, no price) costs no closure, no dict copy
    # and no attribute check; every check still runs, in the same order, where it can say anything.
    violations = c.items
    before = len(violations)
    sku = msg.sku
    item = catalogue.get(sku)
    weight = 0.0
    if msg.HasField("unit_weight_lb"):
        weight = msg.unit_weight_lb
    elif item is not None:
        weight = item.unit_weight_lb
    elif sku.strip():  # an empty SKU is the line's own violation ("is required")
        # The SKU is what is wrong (the weight is only how the catalogue would have been bypassed).
        c.add(
            join(path, "sku"),
            f"is not in the catalogue ({sku[:40]!r}) nor a known SKU alias: add it with UpsertItems"
            " (or map it with UpsertSkuAliases), or send unit_weight_lb",
        )
    hazmat = msg.hazmat if msg.HasField("hazmat") else (item.hazmat if item is not None else False)
    sent = msg.attributes
    attributes = dict(sent) if sent else {}
    if msg.HasField("unit_price"):
        price = money_from_proto(c, join(path, "unit_price"), msg.unit_price, currency)
        if price is not None and len(attributes) < limits.MAX_ATTRIBUTES:
            attributes["unit_price"] = repr(price)  # what value rules read (engine/rules/facts.py)
    if sent:  # an empty map has nothing to say
        check_attributes(c, join(path, "attributes"), sent)
    promised: tuple[str, date | None] = ("", None)
    if msg.carrier_service or msg.promised_date:  # the line's own promise; most lines have none
        promised = promise_from_proto(c, path, msg)
    try:
        line = OrderLine(
            line_id=msg.line_id,
            sku=sku,
            qty=msg.qty,
            unit_weight_lb=weight,
            hazmat=hazmat,
            attributes=attributes,
            carrier_service=promised[0],
            promised_date=promised[1],
            # The catalogue's dimensions: what dimensional weight bills (docs/promise.md, "Price").
            unit_volume_in3=item.length_in * item.width_in * item.height_in if item is not None else 0.0,
        )
    except InvalidInputError as error:
        violations.extend(error.prefixed(path).violations if path else error.violations)
        return None
    return line if len(violations) == before else None


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
    # Field paths are written only where a violation needs them; checks run in a fixed order, so
    # a bad request's violations come in the same order whatever is wrong.
    violations = c.items
    before = len(violations)
    delivery = _DELIVERY_FROM_PROTO.get(msg.delivery_method)
    if delivery is None:
        c.add(join(path, "delivery_method"), "is not a known delivery method")
    pickup = delivery is DeliveryMethod.PICKUP
    ship_to = _ship_to(c, path, msg, pickup, served)
    if pickup and id_problem(msg.pickup_node_id) is None:  # a malformed or missing id is the order's own check
        node = _pickup_node(c, join(path, "pickup_node_id"), msg.pickup_node_id, network, served)
        if ship_to is None and node is not None:
            ship_to = node.location  # collected there: no ship-to needed
    has_address = msg.HasField("ship_to_address")
    if has_address:
        _check_address(c, join(path, "ship_to_address"), msg.ship_to_address)
    lines: list[OrderLine] = []
    line_msgs = msg.lines
    lines_path = join(path, "lines")
    if check_count(c, lines_path, len(line_msgs), 1, limits.MAX_LINES_PER_ORDER, "lines"):
        for i, line_msg in enumerate(line_msgs):
            line = order_line_from_proto(c, f"{lines_path}[{i}]", line_msg, catalogue, currency)
            lines.append(line if line is not None else _stand_in_line(i, line_msg.line_id))
    objective = _OBJECTIVE_FROM_PROTO.get(msg.objective)
    if objective is None:
        c.add(join(path, "objective"), "is not a known objective mode")
    split_penalty = (
        money_from_proto(c, join(path, "split_penalty"), msg.split_penalty, currency)
        if msg.HasField("split_penalty")
        else None
    )
    backorder_penalty = (
        money_from_proto(c, join(path, "backorder_penalty"), msg.backorder_penalty, currency)
        if msg.HasField("backorder_penalty")
        else None
    )
    if msg.attributes:  # an empty map has nothing to say
        check_attributes(c, join(path, "attributes"), msg.attributes)
    if msg.customer_id:  # an empty optional id is fine
        check_id(c, join(path, "customer_id"), msg.customer_id, required=False)
    carrier_service, promised_date = promise_from_proto(c, path, msg)
    try:
        order = Order(
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
            split_penalty=split_penalty,
            backorder_penalty=backorder_penalty,
            attributes=rule_fact_attributes(msg, currency),
            priority=msg.priority,
            carrier_service=carrier_service,
            promised_date=promised_date,
            postal_code=msg.ship_to_address.postal_code.strip() if has_address else "",
            residential=msg.residential,
        )
    except InvalidInputError as error:
        violations.extend(error.prefixed(path).violations if path else error.violations)
        return None
    return order if len(violations) == before else None


def _ship_to(
    c: Collector, path: str, msg: common_pb2.Order, pickup: bool, served: ServedArea | None
) -> GeoPoint | None:
    """Where the order goes: its coordinates, else its postal code's centroid; None for a pickup
    order that sends neither (its node's location is used). For a new order that ships
    (``served`` given), the place must be in the served area: by the ZIP code's state when the
    address placed it, by the region outlines for coordinates."""
    state = None
    # A new order's address must be well formed for its country, coordinates or not.
    address_ok = not msg.HasField("ship_to_address") or served is None
    if not address_ok:
        address_ok = check_postal_address(c, join(path, "ship_to_address"), msg.ship_to_address)
    if msg.HasField("ship_to"):
        field = join(path, "ship_to")  # where a point outside the served area is said
        sent = msg.ship_to
        try:
            point: GeoPoint | None = GeoPoint(lat=sent.lat, lon=sent.lon)
        except InvalidInputError as error:
            c.items.extend(error.prefixed(field).violations)
            point = None
    elif msg.HasField("ship_to_address") and msg.ship_to_address.postal_code:
        if not address_ok:
            return None  # said once, as the malformed field
        field = join(path, "ship_to_address.postal_code")
        place = place_address(c, path, msg.ship_to_address)
        if place is None:
            return None
        # A US state is judged by the table's state; anywhere else by the centroid's region.
        point, state = place.point, (place.state if place.country == "US" else None)
    elif pickup:
        return None
    else:
        c.add(
            join(path, "ship_to"),
            "is required (coordinates, or ship_to_address with a postal code); a pickup order may leave it out",
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
    attributes = dict(msg.attributes) if msg.attributes else {}
    facts = [("customer_id", msg.customer_id)]
    if msg.HasField("ship_to_address"):
        address = msg.ship_to_address
        facts += [
            ("ship_to_country", address.country_code),
            ("ship_to_region", address.region),
            ("ship_to_postal_code", address.postal_code),
        ]
    for line in msg.lines:
        if line.HasField("unit_price"):
            facts.append(("currency", currency))  # unit prices arrive in the service's currency
            break
    for key, value in facts:
        if value and key not in attributes and len(attributes) < limits.MAX_ATTRIBUTES:
            attributes[key] = value
    return attributes
