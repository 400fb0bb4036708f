"""Row <-> model mapping and time helpers shared by both SQL adapters.

Column order here is the one every SELECT and INSERT in ``common.py`` uses, so
the adapters never map a row themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.model import GeoPoint, InventoryPosition, Item, Node, NodeType
from engine.promise.model import (
    CarrierService,
    Cutoff,
    NodeSchedule,
    Weekday,
    ZoneRate,
    format_time_of_day,
    parse_date,
    parse_time_of_day,
)
from engine.rates import RateTable
from server.errors import InvalidRequestError

Row = Sequence[Any]

NODE_COLUMNS = (
    "id",
    "type",
    "name",
    "region",
    "lat",
    "lon",
    "pick_pack_cost",
    "unit_handling_cost",
    "max_shipments",
    "max_units",
    "can_ship",
    "can_pickup",
    "is_open",
    "tags",
)

ITEM_COLUMNS = (
    "sku",
    "unit_weight_lb",
    "length_in",
    "width_in",
    "height_in",
    "hazmat",
    "tags",
    "attributes",
)

POSITION_COLUMNS = ("node_id", "sku", "on_hand", "reserved", "protected", "as_of")

RATE_TABLE_COLUMNS = ("service_level", "zone_limits_miles", "base", "per_lb")


def require_utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; naive datetimes are refused because their zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequestError(f"{what} must be timezone-aware", what)
    return value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def encode_text_timestamp(value: datetime) -> str:
    """Fixed-width ISO-8601 in UTC with microseconds: sorts as text in the order of time."""
    return require_utc(value, "timestamp").replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def decode_text_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=UTC)


def _tags_json(tags: frozenset[str]) -> str:
    # Sorted so equal sets store equal text (diffs, dumps and tests stay stable).
    return json.dumps(sorted(tags), ensure_ascii=False)


def node_to_row(node: Node) -> tuple[Any, ...]:
    return (
        node.id,
        node.type.value,
        node.name,
        node.region,
        node.location.lat,
        node.location.lon,
        node.pick_pack_cost,
        node.unit_handling_cost,
        node.max_shipments,
        node.max_units,
        node.can_ship,
        node.can_pickup,
        node.is_open,
        _tags_json(node.tags),
    )


def row_to_node(row: Row) -> Node:
    (id_, type_, name, region, lat, lon, pick_pack, unit_handling, max_ship, max_units, ship, pickup, open_, tags) = row
    return Node(
        id=id_,
        type=NodeType(type_),
        location=GeoPoint(lat=float(lat), lon=float(lon)),
        pick_pack_cost=float(pick_pack),
        unit_handling_cost=float(unit_handling),
        name=name,
        region=region,
        max_shipments=None if max_ship is None else int(max_ship),
        max_units=None if max_units is None else int(max_units),
        can_ship=bool(ship),  # SQLite hands back 0/1
        can_pickup=bool(pickup),
        is_open=bool(open_),
        tags=frozenset(json.loads(tags)),
    )


def item_to_row(item: Item) -> tuple[Any, ...]:
    return (
        item.sku,
        item.unit_weight_lb,
        item.length_in,
        item.width_in,
        item.height_in,
        item.hazmat,
        _tags_json(item.tags),
        json.dumps(dict(sorted(item.attributes.items())), ensure_ascii=False),
    )


def row_to_item(row: Row) -> Item:
    sku, weight, length, width, height, hazmat, tags, attributes = row
    attrs: Mapping[str, str] = json.loads(attributes)
    return Item(
        sku=sku,
        unit_weight_lb=float(weight),
        length_in=float(length),
        width_in=float(width),
        height_in=float(height),
        hazmat=bool(hazmat),
        tags=frozenset(json.loads(tags)),
        attributes=dict(attrs),
    )


def row_to_position(row: Row, as_of: datetime | None) -> InventoryPosition:
    """``as_of`` comes decoded by the adapter: its timestamp type is the one dialect-specific column."""
    node_id, sku, on_hand, reserved, protected, _ = row
    return InventoryPosition(
        node_id=node_id,
        sku=sku,
        on_hand=int(on_hand),
        reserved=int(reserved),
        protected=int(protected),
        as_of=as_of,
    )


def rate_table_to_row(table: RateTable) -> tuple[Any, ...]:
    # JSON floats round-trip exactly (repr), so a table reads back equal to what was written.
    return (
        table.service_level,
        json.dumps(list(table.zone_limits_miles)),
        json.dumps(list(table.base)),
        json.dumps(list(table.per_lb)),
    )


def row_to_rate_table(row: Row) -> RateTable:
    return RateTable(
        service_level=row[0],
        zone_limits_miles=tuple(float(x) for x in json.loads(row[1])),
        base=tuple(float(x) for x in json.loads(row[2])),
        per_lb=tuple(float(x) for x in json.loads(row[3])),
    )


# --- promise data: one JSON document per row, in the network file's own field names -------------


def _days(days: frozenset[Weekday]) -> list[str]:
    return [day.name for day in sorted(days)]


def _dates(days: frozenset[Any]) -> list[str]:
    return [day.isoformat() for day in sorted(days)]


def node_schedule_to_row(schedule: NodeSchedule) -> tuple[Any, ...]:
    body: dict[str, Any] = {
        "time_zone": schedule.time_zone,
        "working_days": _days(schedule.working_days),
        "opens": format_time_of_day(schedule.opens),
        "closes": format_time_of_day(schedule.closes),
        "holidays": _dates(schedule.holidays),
        "processing_days": schedule.processing_days,
        "pickup_ready_minutes": schedule.pickup_ready_minutes,
    }
    if schedule.cutoffs is not None:  # absent: no cut-off data, every service at the default
        body["cutoffs"] = [
            {"carrier_service": c.carrier_service, "time": format_time_of_day(c.time)} for c in schedule.cutoffs
        ]
    return (schedule.node_id, json.dumps(body, sort_keys=True))


def row_to_node_schedule(row: Row) -> NodeSchedule:
    body = json.loads(row[1])
    cutoffs = body.get("cutoffs")
    return NodeSchedule(
        node_id=row[0],
        time_zone=body["time_zone"],
        working_days=frozenset(Weekday[d] for d in body["working_days"]),
        opens=parse_time_of_day(body["opens"]),
        closes=parse_time_of_day(body["closes"]),
        holidays=frozenset(parse_date(d) for d in body["holidays"]),
        processing_days=int(body["processing_days"]),
        cutoffs=None
        if cutoffs is None
        else tuple(Cutoff(c["carrier_service"], parse_time_of_day(c["time"])) for c in cutoffs),
        pickup_ready_minutes=int(body["pickup_ready_minutes"]),
    )


def carrier_service_to_row(service: CarrierService) -> tuple[Any, ...]:
    # JSON floats round-trip exactly (repr), so a service reads back equal to what was written.
    body = {
        "carrier": service.carrier,
        "service_level": service.service_level,
        "zones": [
            {
                "zone": z.zone,
                "transit_days": z.transit_days,
                "base": z.base,
                "per_lb": z.per_lb,
                "up_to_miles": z.up_to_miles,
            }
            for z in service.zones
        ],
        "pickup_days": _days(service.pickup_days),
        "delivery_days": _days(service.delivery_days),
        "holidays": _dates(service.holidays),
        "dim_divisor": service.dim_divisor,
        "residential_surcharge": service.residential_surcharge,
        "non_contiguous_surcharge": service.non_contiguous_surcharge,
        "remote_area_surcharge": service.remote_area_surcharge,
        "remote_area_zip3": sorted(service.remote_area_zip3),
    }
    return (service.id, json.dumps(body, sort_keys=True))


def row_to_carrier_service(row: Row) -> CarrierService:
    body = json.loads(row[1])
    return CarrierService(
        id=row[0],
        carrier=body["carrier"],
        service_level=body["service_level"],
        zones=tuple(
            ZoneRate(z["zone"], int(z["transit_days"]), float(z["base"]), float(z["per_lb"]), z["up_to_miles"])
            for z in body["zones"]
        ),
        pickup_days=frozenset(Weekday[d] for d in body["pickup_days"]),
        delivery_days=frozenset(Weekday[d] for d in body["delivery_days"]),
        holidays=frozenset(parse_date(d) for d in body["holidays"]),
        dim_divisor=body["dim_divisor"],
        residential_surcharge=float(body["residential_surcharge"]),
        non_contiguous_surcharge=float(body["non_contiguous_surcharge"]),
        remote_area_surcharge=float(body["remote_area_surcharge"]),
        remote_area_zip3=frozenset(body["remote_area_zip3"]),
    )


def holiday_calendar_to_row(calendar_id: str, dates: frozenset[Any]) -> tuple[Any, ...]:
    return (calendar_id, json.dumps(_dates(dates)))


def row_to_holiday_calendar(row: Row) -> tuple[str, frozenset[Any]]:
    return row[0], frozenset(parse_date(d) for d in json.loads(row[1]))
