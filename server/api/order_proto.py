"""Order records to protobuf, and the normalized hash that idempotency keys are checked with."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from google.protobuf.message import Message

from engine import limits
from engine.orders.lifecycle import OrderState
from engine.orders.records import Carriage, OrderRecord
from server.api.convert import Collector, check_text, timestamp_from_proto, timestamp_to_proto
from server.api.proto import orders_pb2

_STATE_TO_PROTO = {state: orders_pb2.OrderState.Value(f"ORDER_STATE_{state.value}") for state in OrderState}
_STATE_FROM_PROTO = {value: state for state, value in _STATE_TO_PROTO.items()}


def state_to_proto(state: OrderState) -> int:
    return _STATE_TO_PROTO[state]


def state_from_proto(value: int) -> OrderState | None:
    return _STATE_FROM_PROTO.get(value)


def request_hash(method: str, request: Message) -> str:
    """SHA-256 of the request's deterministic serialization without its key.

    Deterministic serialization sorts map entries, so two encodings of one request (maps in
    another order, fields in another order on the wire) hash the same.
    """
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("request_key")  # type: ignore[arg-type]
    digest = hashlib.sha256(method.encode() + b"\x00" + copy.SerializeToString(deterministic=True))
    return digest.hexdigest()


def hold_reason(holds: Sequence[tuple[str, str]]) -> str:
    """Why a HELD order waits, in words: the rules and their reasons; nothing is reserved."""
    rules = ", ".join(f"{rule_id} ({why})" if why else rule_id for rule_id, why in holds)
    return f"held for review by rule{'s' if len(holds) > 1 else ''} {rules}: nothing reserved"


def order_view(record: OrderRecord) -> orders_pb2.OrderView:
    view = orders_pb2.OrderView(
        order_id=record.order_id,
        state=state_to_proto(record.state),  # type: ignore[arg-type]
        version=record.version,
        created_at=timestamp_to_proto(record.created_at),
        updated_at=timestamp_to_proto(record.updated_at),
    )
    if record.released_at is not None:
        view.released_at.CopyFrom(timestamp_to_proto(record.released_at))
    line_promises: dict[str, tuple[str, str]] = {}
    if "carrierService" in record.request or "promisedDate" in record.request:  # most orders carry none
        accepted = json.loads(record.request)
        view.carrier_service = accepted.get("carrierService", "")
        view.promised_date = accepted.get("promisedDate", "")
        line_promises = {
            line.get("lineId", ""): (line.get("carrierService", ""), line.get("promisedDate", ""))
            for line in accepted.get("lines", ())
            if "carrierService" in line or "promisedDate" in line
        }
    held = record.state is OrderState.HELD  # its units await review, not stock
    for line in record.lines:
        line_service, line_date = line_promises.get(line.line_id, ("", ""))
        view.lines.add(
            carrier_service=line_service,
            promised_date=line_date,
            line_id=line.line_id,
            sku=line.sku,
            qty=line.qty,
            reserved=line.reserved,
            shipped=line.shipped,
            cancelled=line.cancelled,
            returned=line.returned,
            backordered=0 if held else line.quantities.backordered,
            awaiting_review=line.quantities.open if held else 0,
            excluded_node_ids=line.excluded_nodes,
        )
    for hold in record.reservations:
        view.reservations.add(
            line_id=hold.line_id,
            node_id=hold.node_id,
            sku=hold.sku,
            qty=hold.qty,
            expires_at=timestamp_to_proto(hold.expires_at),
            state=hold.state,
        )
    for shipment in record.shipments:
        view.shipments.add(
            shipment_id=shipment.shipment_id,
            node_id=shipment.node_id,
            state=shipment.state,
            created_at=timestamp_to_proto(shipment.created_at),
            lines=[orders_pb2.LineUnits(line_id=line_id, qty=qty) for line_id, qty in shipment.lines],
            carrier=shipment.carriage.carrier,
            carrier_service=shipment.carriage.carrier_service,
            tracking_number=shipment.carriage.tracking_number,
        )
        if shipment.carriage.shipped_at is not None:
            view.shipments[-1].shipped_at.CopyFrom(timestamp_to_proto(shipment.carriage.shipped_at))
    for event in record.events:
        fill_event(view.events.add(), event.id, event.type, event.payload, event.created_at)
    return view


def fill_event(into: orders_pb2.OrderEvent, event_id: int, kind: str, payload: str, at: datetime) -> None:
    """An event as callers get it: its stored JSON payload as a structured value, not a string."""
    into.id = event_id
    into.type = kind
    into.created_at.CopyFrom(timestamp_to_proto(at))
    into.payload.update(json.loads(payload))


# A node's clock may run a little ahead of the server's: a hand-over time this far in the server's
# future is taken as given, beyond it refused (a wrong year, a local time sent as UTC).
SHIPPED_AT_SKEW = timedelta(minutes=5)


def carriage_from_proto(c: Collector, request: orders_pb2.ConfirmShipmentRequest, now: datetime) -> Carriage:
    """How the shipment left, checked (bad fields go to ``c``); ``shipped_at`` unset: ``now``."""
    check_text(c, "carrier", request.carrier, limits.MAX_TEXT_LENGTH)
    check_text(c, "carrier_service", request.carrier_service, limits.MAX_TEXT_LENGTH)
    check_text(c, "tracking_number", request.tracking_number, limits.MAX_TEXT_LENGTH)
    shipped_at: datetime | None = now
    if request.HasField("shipped_at"):
        shipped_at = timestamp_from_proto(c, "shipped_at", request.shipped_at, not_after=now + SHIPPED_AT_SKEW)
    return Carriage(request.carrier, request.carrier_service, request.tracking_number, shipped_at)
