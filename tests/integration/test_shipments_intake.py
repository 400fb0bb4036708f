"""Shipments in over real processes on both stores: a WMS publishes confirmations to JetStream,
``serve --shipments-intake`` applies them. The same confirmation delivered twice ships once; a
bad one is refused on ``oms.v1.shipments.rejected`` naming the field and changes nothing; the
SHIPPED event goes back out on the orders stream with the carrier and tracking number."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from server.api.proto import orders_pb2, orders_pb2_grpc
from server.relay.messages import Destination
from server.store.base import Store
from tests.integration.helpers import ServerProcess, free_port
from tests.integration.orders_helpers import allocate, load_network, order
from tests.server.relay.helpers import all_published, delete_streams, read_stream, wait_for


@pytest.fixture
def prefix(nats_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    delete_streams(nats_url, Destination(name))


def _publish(nats_url: str, subject: str, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Each (Nats-Msg-Id, body) to ``subject`` through JetStream (acknowledged by the stream)."""

    async def send() -> None:
        nc = await nats.connect(nats_url, connect_timeout=5)
        try:
            js = nc.jetstream()
            for msg_id, body in messages:
                await js.publish(subject, json.dumps(body).encode(), headers={"Nats-Msg-Id": msg_id}, timeout=5)
        finally:
            await nc.close()

    asyncio.run(send())


def _rejections(nats_url: str, destination: Destination) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        nc = await nats.connect(nats_url, connect_timeout=5)
        try:
            js = nc.jetstream()
            sub = await js.pull_subscribe(
                destination.shipments_rejected_subject,
                stream=destination.shipments_stream,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
            )
            try:
                return [json.loads(m.data) for m in await sub.fetch(10, timeout=2)]
            except (TimeoutError, nats.errors.TimeoutError):
                return []
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_wms_confirms_shipments_through_jetstream_once_each(
    store: Store, store_url: str, nats_url: str, prefix: str
) -> None:
    destination = Destination(prefix)
    metrics_port = free_port()
    server = ServerProcess(
        [
            "--database",
            store_url,
            "--port",
            "0",
            "--metrics-port",
            str(metrics_port),
            "--relay-nats",
            nats_url,
            "--relay-prefix",
            prefix,
            "--shipments-intake",
        ]
    )
    try:
        with grpc.insecure_channel(server.target) as channel:
            load_network(channel, [("NEAR", "A", 5)])
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            stub.Allocate(allocate(order("O-1", ("A", 2))))
            stub.Allocate(allocate(order("O-2", ("A", 1))))
            stub.Allocate(allocate(order("O-3", ("A", 1))))
            confirmation = {
                "requestKey": "wms-ship-O-1",
                "orderId": "O-1",
                "nodeId": "NEAR",
                "carrier": "UPS",
                "carrierService": "GROUND",
                "trackingNumber": "1Z999AA10123456784",
                "shippedAt": "2026-12-01T10:00:00Z",
            }
            unkeyed = {"orderId": "O-3", "nodeId": "NEAR"}
            bad = {"requestKey": "k2", "orderId": "O-2", "nodeId": "NEAR", "shippedAt": "2999-01-01T00:00:00Z"}
            # The same confirmation twice, under two message ids (past JetStream's own dedupe),
            # then one with no request key (its message id names it), then a bad one.
            _publish(
                nats_url,
                destination.shipments_confirm_subject,
                [("m1", confirmation), ("m2", confirmation), ("m3", unkeyed), ("m4", bad)],
            )

            def shipped() -> bool:
                view = stub.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
                return view.state == orders_pb2.ORDER_STATE_SHIPPED

            wait_for(shipped, "O-1 shipped through the intake", 30)
            wait_for(lambda: len(_rejections(nats_url, destination)) == 1, "the bad confirmation refused", 30)
            unkeyed_view = stub.GetOrder(orders_pb2.GetOrderRequest(order_id="O-3")).order
            assert unkeyed_view.state == orders_pb2.ORDER_STATE_SHIPPED  # applied before the bad one
            # Both copies were handled (the second a replay); nothing more happened to O-1.
            view = stub.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
            assert [e.type for e in view.events] == ["ALLOCATED", "SHIPPED"]
            (shipment,) = view.shipments
            assert (shipment.carrier, shipment.tracking_number) == ("UPS", "1Z999AA10123456784")
            assert view.events[-1].payload["by"] == "shipments-intake"
            other = stub.GetOrder(orders_pb2.GetOrderRequest(order_id="O-2")).order
            assert other.state == orders_pb2.ORDER_STATE_ALLOCATED and not other.shipments
        (rejection,) = _rejections(nats_url, destination)
        assert rejection["code"] == "INVALID_ARGUMENT" and rejection["order_id"] == "O-2"
        assert [v["field"] for v in rejection["field_violations"]] == ["shipped_at"]
        wait_for(lambda: all_published(store), "every event published")
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        counted = dict(re.findall(r'oms_sourcing_shipments_intake_total\{outcome="(\w+)"\} (\S+)', text))
        # m1 applied, m2 replayed (acknowledged: applied), m3 applied, m4 refused; nothing retried.
        assert {k: float(v) for k, v in counted.items()} == {"applied": 3.0, "refused": 1.0, "retried": 0.0}
    finally:
        assert server.stop() == 0, server.logs
    shipped_messages = [r for r in read_stream(nats_url, destination) if r.subject.endswith(".shipped")]
    assert sorted(r.headers["Oms-Order-Id"] for r in shipped_messages) == ["O-1", "O-3"]
    (message,) = [r for r in shipped_messages if r.headers["Oms-Order-Id"] == "O-1"]
    assert message.body["data"]["tracking_number"] == "1Z999AA10123456784"
    assert message.body["data"]["shipped_at"] == "2026-12-01T10:00:00.000000Z"
