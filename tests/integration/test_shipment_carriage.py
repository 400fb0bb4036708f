"""ConfirmShipment with carrier, service, tracking number and hand-over time, over real gRPC on
both stores: stored with the shipment, shown by GetOrder, carried in the SHIPPED event the outbox
relays; a hand-over time in the future or malformed is INVALID_ARGUMENT naming the field and
changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2

from server.api.convert import timestamp_to_proto
from server.api.proto import orders_pb2
from server.relay.messages import Destination, order_message
from server.store.base import Store
from server.store.outbox import OutboxStoreMixin
from tests.integration.conftest import ServerFactory
from tests.integration.helpers import detail_of
from tests.integration.orders_helpers import Client, FakeClock, allocate, order, payload_of, serve_orders, state


@pytest.fixture
def client(start_server: ServerFactory, store: Store) -> Iterator[Client]:
    client = serve_orders(start_server, store, [("NEAR", "A", 5)], FakeClock())
    yield client
    client.channel.close()


def _confirm(key: str, **fields: Any) -> orders_pb2.ConfirmShipmentRequest:
    return orders_pb2.ConfirmShipmentRequest(request_key=key, order_id="O-1", node_id="NEAR", **fields)


def _bad_fields(call: Any) -> list[str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return [v.field for v in detail_of(raised.value, error_details_pb2.BadRequest).field_violations]


def test_carriage_is_stored_shown_and_carried_in_the_event(client: Client, store: Store) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 2))))
    handed_over = client.clock() - timedelta(minutes=20)
    shipped = client.orders.ConfirmShipment(
        _confirm(
            "s1",
            carrier="UPS",
            carrier_service="GROUND",
            tracking_number="1Z999AA10123456784",
            shipped_at=timestamp_to_proto(handed_over),
        )
    ).order
    assert state(shipped) == "SHIPPED"
    view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    (shipment,) = view.shipments
    assert (shipment.carrier, shipment.carrier_service, shipment.tracking_number) == (
        "UPS",
        "GROUND",
        "1Z999AA10123456784",
    )
    assert shipment.shipped_at.ToDatetime().replace(tzinfo=handed_over.tzinfo) == handed_over
    event = payload_of(view.events[-1])
    assert view.events[-1].type == "SHIPPED"
    assert event["carrier"] == "UPS" and event["tracking_number"] == "1Z999AA10123456784"
    assert event["shipped_at"] == handed_over.isoformat(timespec="microseconds").replace("+00:00", "Z")
    # What the relay publishes for it: the same data, read back from the outbox.
    outbox = cast(OutboxStoreMixin, store)
    outbox.sequence_events()
    shipped_event = next(e for e in outbox.outbox_after(0, 100) if e.type == "SHIPPED")
    body = json.loads(order_message(Destination(), shipped_event).body)
    assert body["data"]["carrier_service"] == "GROUND" and body["data"]["shipment_id"] == shipment.shipment_id


def test_without_a_hand_over_time_the_shipment_left_when_confirmed(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    client.orders.ConfirmShipment(_confirm("s1", carrier="FedEx"))
    (shipment,) = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order.shipments
    assert shipment.shipped_at.ToDatetime().replace(tzinfo=client.clock().tzinfo) == client.clock()
    assert (shipment.carrier, shipment.tracking_number) == ("FedEx", "")


def test_a_hand_over_time_a_little_ahead_of_the_server_clock_is_taken(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 1))))
    ahead = client.clock() + timedelta(minutes=2)  # the node's clock runs ahead: within the skew
    client.orders.ConfirmShipment(_confirm("s1", shipped_at=timestamp_to_proto(ahead)))
    (shipment,) = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order.shipments
    assert shipment.shipped_at.ToDatetime().replace(tzinfo=ahead.tzinfo) == ahead


def test_a_future_or_malformed_hand_over_time_or_overlong_text_changes_nothing(client: Client) -> None:
    client.orders.Allocate(allocate(order("O-1", ("A", 2))))
    future = timestamp_to_proto(client.clock() + timedelta(minutes=6))
    assert _bad_fields(lambda: client.orders.ConfirmShipment(_confirm("s1", shipped_at=future))) == ["shipped_at"]
    malformed = timestamp_pb2.Timestamp(seconds=1_800_000_000, nanos=-5)
    assert _bad_fields(lambda: client.orders.ConfirmShipment(_confirm("s2", shipped_at=malformed))) == ["shipped_at"]
    year_10000 = timestamp_pb2.Timestamp(seconds=253_402_300_800)
    assert _bad_fields(lambda: client.orders.ConfirmShipment(_confirm("s3", shipped_at=year_10000))) == ["shipped_at"]
    assert _bad_fields(
        lambda: client.orders.ConfirmShipment(_confirm("s4", carrier="U" * 513, tracking_number="1Z\x00"))
    ) == ["carrier", "tracking_number"]
    view = client.orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert state(view) == "ALLOCATED" and not view.shipments
    assert [e.type for e in view.events] == ["ALLOCATED"]
    assert client.available("A", "NEAR") == 3
