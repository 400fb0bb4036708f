"""``serve --config`` with a ``[[webhooks]]`` subscriber: an order allocated and cancelled over
gRPC reaches a local receiver signed, in order, filtered by subject, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from server.api.proto import orders_pb2, orders_pb2_grpc
from server.store.base import Store
from tests.integration.helpers import ServerProcess
from tests.integration.orders_helpers import allocate, load_network, order
from tests.server.relay.helpers import wait_for
from tests.server.relay.webhook_receiver import Receiver

SECRET = "serve-webhook-secret-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET).start()
    yield r
    r.stop()


def test_serve_delivers_its_committed_events_to_a_configured_subscriber(
    store: Store, store_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(
        f'database_url = "{store_url}"\nport = 0\n\n[[webhooks]]\nname = "notify"\nurl = "{receiver.url}"\n'
        f'secret_env = "NOTIFY_SECRET"\nsubjects = ["oms.v1.orders.allocated", "oms.v1.orders.cancelled"]\n'
        "from_beginning = true\n"
    )
    server = ServerProcess(["--config", str(config)], env={"NOTIFY_SECRET": SECRET})
    try:
        with grpc.insecure_channel(server.target) as channel:
            load_network(channel, [("NEAR", "A", 5)])
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            stub.Allocate(allocate(order("O-1", ("A", 2))))
            stub.Release(orders_pb2.ReleaseRequest(request_key="r1", order_id="O-1"))  # not subscribed
            stub.Allocate(allocate(order("O-2", ("A", 1))))
            stub.Cancel(orders_pb2.CancelRequest(request_key="c2", order_id="O-2"))
        wait_for(lambda: len(receiver.accepted) == 3, "three events delivered", 20)
    finally:
        assert server.stop() == 0, server.logs
    assert [(r.order_id, r.body["type"]) for r in receiver.accepted] == [
        ("O-1", "ALLOCATED"),
        ("O-2", "ALLOCATED"),
        ("O-2", "CANCELLED"),
    ]
    assert receiver.bad_signatures == 0 and receiver.duplicates == 0
