"""Fulfillment instructions without a broker: which events carry them, per node, what they hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from server.relay.messages import Destination, fulfillment_messages, needs_order
from server.store.outbox import OutboxEvent

AT = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
ORDER = json.dumps(
    {
        "orderId": "SO-1",
        "lines": [{"lineId": "L0", "sku": "A", "qty": 3}, {"lineId": "L1", "sku": "B", "qty": 1}],
        "shipTo": {"lat": 40.0, "lon": -95.0},
        "shipToAddress": {"countryCode": "US", "postalCode": "66502", "addressLines": ["1 Main St"]},
        "serviceLevel": "NEXT_DAY",
    }
)


def _event(type_: str, payload: dict[str, object]) -> OutboxEvent:
    return OutboxEvent(9, 77, "SO-1", 2, type_, json.dumps(payload, sort_keys=True), AT)


def _bodies(event: OutboxEvent) -> list[dict[str, object]]:
    return [json.loads(m.body) for m in fulfillment_messages(Destination(), event, ORDER)]


def test_a_release_is_one_ship_instruction_per_node_with_what_to_pick_and_where_to_ship() -> None:
    event = _event(
        "RELEASED", {"holds": [["L0", "DC.EAST", 2], ["L1", "DC.EAST", 1], ["L0", "STORE 7", 1]], "by": "oms"}
    )
    assert needs_order(event)
    messages = fulfillment_messages(Destination(), event, ORDER)
    assert [m.subject for m in messages] == ["oms.v1.fulfillment.DC_EAST", "oms.v1.fulfillment.STORE_7"]
    assert [m.headers["Oms-Node-Id"] for m in messages] == ["DC.EAST", "STORE 7"]
    assert [m.msg_id for m in messages] == ["77:SHIP:DC.EAST", "77:SHIP:STORE 7"]
    assert {m.stream for m in messages} == {"OMS_FULFILLMENT"}
    first = json.loads(messages[0].body)
    assert first["instruction"] == "SHIP" and first["node_id"] == "DC.EAST"
    assert first["lines"] == [{"line_id": "L0", "sku": "A", "qty": 2}, {"line_id": "L1", "sku": "B", "qty": 1}]
    assert first["ship_to"]["address"]["postalCode"] == "66502"
    assert first["ship_to"]["location"] == {"lat": 40.0, "lon": -95.0}
    assert first["service_level"] == "NEXT_DAY"
    assert first["order_id"] == "SO-1" and first["order_seq"] == 2 and first["event_id"] == 77
    assert first["by"] == "oms" and first["ship_by"] is None


def test_units_reserved_for_a_released_order_are_shipped_and_a_reallocation_cancels_the_old_node() -> None:
    event = _event(
        "REALLOCATED",
        {"hold_state": "RELEASED", "excluded_node": "DC1", "moved": [["L0", 2]], "allocations": [["L0", "DC2", 2]]},
    )
    assert needs_order(event)
    bodies = _bodies(event)
    assert [(b["instruction"], b["node_id"], b["lines"]) for b in bodies] == [
        ("CANCEL", "DC1", [{"line_id": "L0", "sku": "A", "qty": 2}]),
        ("SHIP", "DC2", [{"line_id": "L0", "sku": "A", "qty": 2}]),
    ]


def test_events_that_hand_nothing_to_fulfillment_carry_no_instruction() -> None:
    for event in (
        _event("ALLOCATED", {"allocations": [["L0", "DC1", 2]]}),  # held, not released
        _event("REALLOCATED", {"hold_state": "HELD", "excluded_node": "DC1", "moved": [["L0", 2]]}),
        _event("CANCELLED", {"lines": [["L0", 1]]}),  # a released order cannot be cancelled
        _event("SHIPPED", {"node_id": "DC1", "lines": [["L0", 2]]}),
    ):
        assert _bodies(event) == [], event.type
    assert not needs_order(_event("ALLOCATED", {"allocations": [["L0", "DC1", 2]]}))
    assert fulfillment_messages(Destination(), _event("RELEASED", {"holds": [["L0", "DC1", 1]]}), "") == []
