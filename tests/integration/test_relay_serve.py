"""``serve --relay-nats``: an order allocated over gRPC with a bearer token reaches JetStream, its
message naming the credential that caused it (``by``), on both stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from oms.sourcing.v1 import orders_pb2, orders_pb2_grpc

from server.api.auth import new_token, token_digest
from server.relay.messages import Destination
from server.store.base import Store
from tests.integration.helpers import ServerProcess
from tests.integration.orders_helpers import allocate, load_network, order
from tests.server.relay.helpers import committed_events, delete_streams, outbox, read_stream, wait_for


@pytest.fixture
def prefix(nats_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    delete_streams(nats_url, Destination(name))


def test_serve_with_a_relay_publishes_what_its_calls_commit(
    store: Store, store_url: str, nats_url: str, prefix: str, tmp_path: Path
) -> None:
    token = new_token()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"operator wms-east {token_digest(token)}\n")
    server = ServerProcess(
        [
            "--database",
            store_url,
            "--port",
            "0",
            "--auth-tokens-file",
            str(tokens),
            "--relay-nats",
            nats_url,
            "--relay-prefix",
            prefix,
        ]
    )
    try:
        channel = grpc.intercept_channel(grpc.insecure_channel(server.target), _Bearer(token))
        with channel:
            load_network(channel, [("NEAR", "A", 5)])
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            stub.Allocate(allocate(order("O-1", ("A", 2))))
            stub.Cancel(orders_pb2.CancelRequest(request_key="c1", order_id="O-1"))
        wait_for(lambda: (outbox(store).relay_state("nats") or (0,))[0] == 2, "both events published")
    finally:
        assert server.stop() == 0, server.logs
    received = read_stream(nats_url, Destination(prefix))
    assert [r.subject.rsplit(".", 1)[1] for r in received] == ["allocated", "cancelled"]
    assert [r.body["by"] for r in received] == ["wms-east", "wms-east"]
    assert [r.headers["Oms-Order-Id"] for r in received] == ["O-1", "O-1"]
    assert [int(r.msg_id) for r in received] == [event_id for event_id, _ in committed_events(store)]
    state = outbox(store).relay_state("nats")
    assert state is not None and state[2] == 0  # serve's stop gave the lease up


class _Bearer(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        details = details._replace(metadata=tuple(details.metadata or ()) + self._metadata)
        return continuation(details, request)
