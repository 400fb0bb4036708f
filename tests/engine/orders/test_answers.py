"""The answer a request key keeps: exact, so a replay's response is the first call's byte for byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from engine.orders import answers
from engine.orders.lifecycle import OrderState
from engine.orders.records import EventRecord, LineRecord, OrderRecord, ReservationRecord, ShipmentRecord

T0 = datetime(2026, 12, 7, 9, 0, 0, 123456, tzinfo=UTC)

RECORD = OrderRecord(
    order_id="O-ünï",
    state=OrderState.PARTIALLY_SHIPPED,
    version=7,
    hold_ms=900_000,
    request='{"order_id": "O-ünï"}',
    lines=(LineRecord("a", "SKU-A", 5, 2, 2, 1, 1, ("dc-9", "st-2")), LineRecord("b", "SKU-B", 1, 0, 0, 0, 0)),
    reservations=(ReservationRecord("a", "dc-1", "SKU-A", 2, T0 + timedelta(minutes=15), "RELEASED"),),
    shipments=(ShipmentRecord("s-1", "dc-1", "SHIPPED", (("a", 2),), T0),),
    events=(
        EventRecord(41, "O-ünï", "ALLOCATED", '{"from": "CREATED", "to": "ALLOCATED"}', T0),
        EventRecord(57, "O-ünï", "SHIPPED", '{"lines": [["a", 2]], "note": "\\u00e9"}', T0 + timedelta(seconds=1)),
    ),
    created_at=T0,
    updated_at=T0 + timedelta(seconds=1),
    holds=(("fraud", "score 91"),),
    released_at=T0 + timedelta(milliseconds=5),
)


def test_an_answer_comes_back_exactly_without_the_request_text() -> None:
    stored = bytes(answers.pack(RECORD, b"\x0a\x03abc"))  # as a store reads it back: parsed
    back = answers.unpack(stored)
    assert back is not None
    assert back.record == replace(RECORD, request="")
    assert back.attachment == b"\x0a\x03abc"
    assert answers.pack(back.record, back.attachment) == stored


def test_times_in_another_zone_stay_the_same_instant() -> None:
    elsewhere = replace(RECORD, created_at=T0.astimezone(timezone(timedelta(hours=-5))), released_at=None)
    back = answers.unpack(answers.pack(elsewhere))
    assert back is not None and back.record.created_at == T0 and back.record.released_at is None


def test_a_response_stored_whole_is_not_an_answer() -> None:
    assert answers.unpack(b"\x0a\x05order") is None
    assert answers.unpack(b"") is None


def test_the_packed_bytes_carry_what_parsing_them_would_give() -> None:
    packed = answers.pack(RECORD, b"\x0a\x03abc")
    assert answers.unpack(packed) is packed.answer  # the call that packed them parses nothing
    parsed = answers.unpack(bytes(packed))
    assert parsed == packed.answer and bytes(answers.pack(parsed.record, parsed.attachment)) == packed
