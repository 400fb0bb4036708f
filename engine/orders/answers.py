"""What a mutating order call keeps under its request key: the order as the call left it.

A retry with the same key must get the first call's answer byte for byte, so the answer is
stored in the call's own transaction. The store keeps plain data, never a response built by the
gRPC layer: the order record after the change (without the caller's original request text,
which no answer shows) and, opaque to it, whatever bytes the caller attached (Allocate's
decision, serialized). The gRPC layer builds the response from that, on the first call and on
every replay alike; the encoding is exact (``unpack(pack(r, a))`` gives back ``r`` and ``a``), so
equal answers serialize to equal bytes.

``pack`` returns ``PackedAnswer``: equal to those bytes, and still holding the answer it
encoded, so the call that stored them builds its response without parsing its own bytes back
(``unpack`` hands the answer over as it is; bytes read from a store are parsed).

Stored answers begin with ``MAGIC``, whose first byte (0) can begin no protobuf message: a
response stored whole by an earlier release is told apart and replayed as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from engine.orders.lifecycle import OrderState
from engine.orders.records import (
    NO_CARRIAGE,
    Carriage,
    EventRecord,
    LineRecord,
    OrderRecord,
    ReservationRecord,
    ShipmentRecord,
)

MAGIC = b"\x00order-answer/1\x00"
_LENGTH_BYTES = 4


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    record: OrderRecord  # its ``request`` is "": answers never show it
    attachment: bytes


class PackedAnswer(bytes):
    """The bytes ``pack`` made, carrying the answer they encode (as ``unpack`` would give it)."""

    answer: StoredAnswer


def pack(record: OrderRecord, attachment: bytes = b"") -> PackedAnswer:
    """``record`` and ``attachment`` as the bytes a request key keeps."""
    text = json.dumps(_record_data(record), separators=(",", ":")).encode()
    packed = PackedAnswer(MAGIC + len(text).to_bytes(_LENGTH_BYTES, "big") + text + attachment)
    packed.answer = StoredAnswer(replace(record, request=""), attachment)
    return packed


def unpack(stored: bytes) -> StoredAnswer | None:
    """The answer ``pack`` made; None for bytes it did not make (a response stored whole)."""
    if type(stored) is PackedAnswer:  # made in this process: no need to parse
        return stored.answer
    if not stored.startswith(MAGIC):
        return None
    start = len(MAGIC) + _LENGTH_BYTES
    length = int.from_bytes(stored[len(MAGIC) : start], "big")
    data = json.loads(stored[start : start + length])
    return StoredAnswer(_record_from(data), stored[start + length :])


def _at(value: datetime) -> str:
    return value.isoformat()


def _record_data(r: OrderRecord) -> dict[str, Any]:
    return {
        "order_id": r.order_id,
        "state": r.state.value,
        "version": r.version,
        "hold_ms": r.hold_ms,
        "lines": [
            [x.line_id, x.sku, x.qty, x.reserved, x.shipped, x.cancelled, x.returned, list(x.excluded_nodes)]
            for x in r.lines
        ],
        "holds_at": [[h.line_id, h.node_id, h.sku, h.qty, _at(h.expires_at), h.state] for h in r.reservations],
        "shipments": [
            [s.shipment_id, s.node_id, s.state, [list(x) for x in s.lines], _at(s.created_at), *_carriage_data(s)]
            for s in r.shipments
        ],
        "events": [[e.id, e.type, e.payload, _at(e.created_at)] for e in r.events],
        "created_at": _at(r.created_at),
        "updated_at": _at(r.updated_at),
        "rule_holds": [list(h) for h in r.holds],
        "released_at": None if r.released_at is None else _at(r.released_at),
    }


def _carriage_data(s: ShipmentRecord) -> list[Any]:
    """A shipment's carriage as a sixth element; none for one without (answers stored before
    carriages were kept read back the same)."""
    c = s.carriage
    if c == NO_CARRIAGE:
        return []
    return [[c.carrier, c.carrier_service, c.tracking_number, None if c.shipped_at is None else _at(c.shipped_at)]]


def _carriage(rest: list[Any]) -> Carriage:
    if not rest:
        return NO_CARRIAGE
    carrier, service, tracking, shipped_at = rest[0]
    return Carriage(carrier, service, tracking, None if shipped_at is None else datetime.fromisoformat(shipped_at))


def _record_from(d: dict[str, Any]) -> OrderRecord:
    at = datetime.fromisoformat
    return OrderRecord(
        order_id=d["order_id"],
        state=OrderState(d["state"]),
        version=d["version"],
        hold_ms=d["hold_ms"],
        request="",
        lines=tuple(LineRecord(x[0], x[1], x[2], x[3], x[4], x[5], x[6], tuple(x[7])) for x in d["lines"]),
        reservations=tuple(ReservationRecord(h[0], h[1], h[2], h[3], at(h[4]), h[5]) for h in d["holds_at"]),
        shipments=tuple(
            ShipmentRecord(s[0], s[1], s[2], tuple((str(x[0]), int(x[1])) for x in s[3]), at(s[4]), _carriage(s[5:]))
            for s in d["shipments"]
        ),
        events=tuple(EventRecord(e[0], d["order_id"], e[1], e[2], at(e[3])) for e in d["events"]),
        created_at=at(d["created_at"]),
        updated_at=at(d["updated_at"]),
        holds=tuple((h[0], h[1]) for h in d["rule_holds"]),
        released_at=None if d["released_at"] is None else at(d["released_at"]),
    )
