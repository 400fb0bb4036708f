"""The relay's wire format without a broker: subjects, headers, body, windows, prefixes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from server.relay.messages import SCHEMA_VERSION, Destination, order_message, publish_window
from server.store.outbox import OutboxEvent

AT = datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC)


def _event(
    seq: int, order_id: str = "O-1", type_: str = "ALLOCATED", payload: str = '{"to": "ALLOCATED"}'
) -> OutboxEvent:
    return OutboxEvent(seq, 100 + seq, order_id, seq, type_, payload, AT)


def test_an_event_goes_to_its_types_subject_with_its_id_as_the_message_id() -> None:
    event = OutboxEvent(7, 42, "O-1", 3, "PARTIALLY_SHIPPED", '{"by": "wms-east", "to": "PARTIALLY_SHIPPED"}', AT)
    message = order_message(Destination(), event)
    assert message.subject == "oms.v1.orders.partially_shipped"
    assert message.msg_id == "42"
    assert message.headers == {
        "Nats-Msg-Id": "42",
        "Oms-Schema-Version": str(SCHEMA_VERSION),
        "Oms-Event-Type": "PARTIALLY_SHIPPED",
        "Oms-Event-Position": "7",
        "Oms-Order-Id": "O-1",
        "Oms-Order-Seq": "3",
    }
    assert json.loads(message.body) == {
        "schema_version": 1,
        "event_id": 42,
        "position": 7,
        "type": "PARTIALLY_SHIPPED",
        "order_id": "O-1",
        "order_seq": 3,
        "occurred_at": "2026-12-07T10:00:00.123456Z",
        "by": "wms-east",
        "data": {"by": "wms-east", "to": "PARTIALLY_SHIPPED"},
    }


def test_without_a_credential_by_is_null_and_without_an_order_no_order_header() -> None:
    message = order_message(Destination(), OutboxEvent(1, 1, "", 0, "RULES_ACTIVATED", "{}", AT))
    body = json.loads(message.body)
    assert body["by"] is None and body["order_id"] is None and body["order_seq"] is None
    assert "Oms-Order-Id" not in message.headers


def test_a_prefix_moves_subjects_and_streams_apart() -> None:
    destination = Destination("acme-test")
    assert destination.orders_stream == "ACME_TEST_OMS_ORDERS"
    assert destination.orders_subjects == "acme-test.oms.v1.orders.>"
    assert destination.order_subject("ALLOCATED") == "acme-test.oms.v1.orders.allocated"
    assert Destination().orders_stream == "OMS_ORDERS"
    assert Destination().orders_subjects == "oms.v1.orders.>"


@pytest.mark.parametrize("prefix", ["Acme", "a.b", "a b", "-a", "a*", ">"])
def test_a_prefix_that_would_break_a_subject_or_stream_name_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="relay prefix"):
        Destination(prefix)


def test_an_event_type_is_one_subject_token() -> None:
    assert Destination().order_subject("A.B *>") == "oms.v1.orders.a_b___"


def test_a_window_holds_one_event_per_order_and_stops_at_the_first_repeat() -> None:
    events = [_event(1, "A"), _event(2, "B"), _event(3, ""), _event(4, ""), _event(5, "A"), _event(6, "C")]
    assert [e.seq for e in publish_window(events, 100)] == [1, 2, 3, 4]
    assert [e.seq for e in publish_window(events, 2)] == [1, 2]
    assert [e.seq for e in publish_window(events[4:], 100)] == [5, 6]
    assert publish_window([], 10) == []
