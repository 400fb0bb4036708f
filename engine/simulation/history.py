"""Order-history records (one JSON object per order, docs/order-history.md) <-> engine orders.

A record carries what a real export holds: id, creation time, ship-to point, channel, service
level, delivery method, customer and lines. Fields the engine's Order has no slot for go into
its attributes under the keys the rules read (engine/rules/facts.py): ``customer_<field>``,
``ship_to_country`` / ``ship_to_region`` / ``ship_to_postal_code``, ``currency``, and per line
``unit_price``. A line without ``unit_weight_lb`` or ``hazmat`` takes them from the catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from engine.errors import InvalidInputError, SourcingError
from engine.model import DeliveryMethod, GeoPoint, Item, Order, OrderLine
from engine.promise.model import parse_date

FORMAT = "oms-sourcing/order-history@1"


class HistoryError(SourcingError, ValueError):
    """A record that cannot be read; the message names the field."""


@dataclass(frozen=True, slots=True)
class HistoryOrder:
    created_at: datetime  # timezone-aware UTC
    order: Order


def parse_time(value: object, field: str = "created_at") -> datetime:
    """An ISO 8601 timestamp with an offset (``Z`` allowed), as UTC."""
    if not isinstance(value, str):
        raise HistoryError(f"{field}: must be an ISO 8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryError(f"{field}: {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise HistoryError(f"{field}: {value!r} needs a UTC offset (e.g. Z)")
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _get(record: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = record.get(key, default)
    if value is None and default is None:
        raise HistoryError(f"{key}: is required")
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise HistoryError(f"{key}: has the wrong type ({type(value).__name__})")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _text_map(value: object, field: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise HistoryError(f"{field}: must be an object")
    return {str(k): _text(v) for k, v in value.items()}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def order_from_record(record: Mapping[str, Any], catalogue: Mapping[str, Item]) -> HistoryOrder:
    """One history record as an order; HistoryError names the first bad field."""
    if not isinstance(record, Mapping):
        raise HistoryError("a record must be a JSON object")
    order_id = _get(record, "order_id", str)
    try:
        created_at = parse_time(record.get("created_at"))
        ship_to = _get(record, "ship_to", Mapping)
        attributes = _text_map(record.get("attributes", {}), "attributes")
        for key in ("country", "region", "postal_code"):
            if ship_to.get(key):
                attributes[f"ship_to_{key}"] = str(ship_to[key])
        for key, value in _text_map(record.get("customer", {}), "customer").items():
            attributes[f"customer_{key}"] = value
        if record.get("currency"):
            attributes["currency"] = str(record["currency"])
        raw_lines = _get(record, "lines", list)
        lines = tuple(_line(raw, i, catalogue) for i, raw in enumerate(raw_lines))
        method = str(record.get("delivery_method", "SHIP")).upper()
        if method not in DeliveryMethod.__members__:
            raise HistoryError(f"delivery_method: {method!r} is not SHIP or PICKUP")
        order = Order(
            order_id=order_id,
            ship_to=GeoPoint(float(_get(ship_to, "lat", (int, float))), float(_get(ship_to, "lon", (int, float)))),
            lines=lines,
            channel=str(record.get("channel", "")),
            service_level=str(record.get("service_level", "STANDARD")).upper(),
            delivery_method=DeliveryMethod(method),
            pickup_node_id=str(record.get("pickup_node_id", "")),
            attributes=attributes,
            carrier_service=str(record.get("carrier_service", "")).upper(),
            promised_date=_promised_date(record.get("promised_date")),
        )
    except InvalidInputError as error:
        raise HistoryError(f"order {order_id}: {error}") from None
    except HistoryError as error:
        raise HistoryError(f"order {order_id}: {error}") from None
    return HistoryOrder(created_at, order)


def _promised_date(value: object) -> date | None:
    """A record's optional promised_date, YYYY-MM-DD."""
    if value is None or value == "":
        return None
    try:
        return parse_date(str(value))
    except ValueError as error:
        raise HistoryError(f"promised_date: {error}") from None


def _line(raw: object, i: int, catalogue: Mapping[str, Item]) -> OrderLine:
    if not isinstance(raw, Mapping):
        raise HistoryError(f"lines[{i}]: must be an object")
    try:
        sku = _get(raw, "sku", str)
        item = catalogue.get(sku)
        weight = raw.get("unit_weight_lb", item.unit_weight_lb if item is not None else None)
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            raise HistoryError(f"unit_weight_lb: is required (the catalogue has no item {sku!r})")
        attributes = _text_map(raw.get("attributes", {}), "attributes")
        if raw.get("unit_price") is not None:
            attributes["unit_price"] = _text(raw["unit_price"])
        return OrderLine(
            line_id=str(raw.get("line_id", i + 1)),
            sku=sku,
            qty=_get(raw, "qty", int),
            unit_weight_lb=float(weight),
            hazmat=bool(raw.get("hazmat", item.hazmat if item is not None else False)),
            attributes=attributes,
        )
    except (HistoryError, InvalidInputError) as error:
        raise HistoryError(f"lines[{i}].{error}") from None


def record_from_order(entry: HistoryOrder) -> dict[str, Any]:
    """The record ``order_from_record`` reads back into the same order."""
    order = entry.order
    attributes = dict(order.attributes)
    ship_to: dict[str, Any] = {"lat": order.ship_to.lat, "lon": order.ship_to.lon}
    for key in ("country", "region", "postal_code"):
        if f"ship_to_{key}" in attributes:
            ship_to[key] = attributes.pop(f"ship_to_{key}")
    customer = {k.removeprefix("customer_"): attributes.pop(k) for k in sorted(attributes) if k.startswith("customer_")}
    record: dict[str, Any] = {
        "order_id": order.order_id,
        "created_at": format_time(entry.created_at),
        "ship_to": ship_to,
        "channel": order.channel,
        "service_level": order.service_level,
        "delivery_method": order.delivery_method.value,
    }
    if order.pickup_node_id:
        record["pickup_node_id"] = order.pickup_node_id
    if order.carrier_service:
        record["carrier_service"] = order.carrier_service
    if order.promised_date is not None:
        record["promised_date"] = order.promised_date.isoformat()
    if customer:
        record["customer"] = customer
    if "currency" in attributes:
        record["currency"] = attributes.pop("currency")
    if attributes:
        record["attributes"] = attributes
    record["lines"] = [_line_record(line) for line in order.lines]
    return record


def _line_record(line: OrderLine) -> dict[str, Any]:
    out: dict[str, Any] = {
        "line_id": line.line_id,
        "sku": line.sku,
        "qty": line.qty,
        "unit_weight_lb": line.unit_weight_lb,
    }
    if line.hazmat:
        out["hazmat"] = True
    attributes = dict(line.attributes)
    if "unit_price" in attributes:
        out["unit_price"] = attributes.pop("unit_price")
    if attributes:
        out["attributes"] = attributes
    return out
