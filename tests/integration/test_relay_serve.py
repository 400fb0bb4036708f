"""``serve --relay-nats``: an order allocated over gRPC with a bearer token reaches JetStream, its
message naming the credential that caused it (``by``), on both stores."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from oms.sourcing.v1 import network_pb2, network_pb2_grpc, orders_pb2, orders_pb2_grpc

from server.api.auth import new_token, token_digest
from server.relay.messages import Destination
from server.store.base import Store
from tests.integration.helpers import ServerProcess, count
from tests.integration.orders_helpers import allocate, load_network, order
from tests.server.relay.helpers import all_published, committed_events, delete_streams, outbox, read_stream, wait_for


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
        wait_for(lambda: all_published(store), "every event published")
    finally:
        assert server.stop() == 0, server.logs
    received = read_stream(nats_url, Destination(prefix))
    assert [r.subject.rsplit(".", 1)[1] for r in received] == ["allocated", "cancelled"]
    assert [r.body["by"] for r in received] == ["wms-east", "wms-east"]
    assert [r.headers["Oms-Order-Id"] for r in received] == ["O-1", "O-1"]
    assert [int(r.msg_id) for r in received] == [event_id for event_id, order_id in committed_events(store) if order_id]
    state = outbox(store).relay_state("nats")
    assert state is not None and state[2] == 0  # serve's stop gave the lease up


class _Bearer(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        details = details._replace(metadata=tuple(details.metadata or ()) + self._metadata)
        return continuation(details, request)


def test_a_release_sends_each_node_its_ship_instruction_and_a_reallocation_its_cancel(
    store: Store, store_url: str, nats_url: str, prefix: str
) -> None:
    server = ServerProcess(["--database", store_url, "--port", "0", "--relay-nats", nats_url, "--relay-prefix", prefix])
    try:
        with grpc.insecure_channel(server.target) as channel:
            load_network(channel, [("NEAR", "A", 5), ("MID", "B", 5), ("FAR", "A", 5)])
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            stub.Allocate(allocate(order("O-1", ("A", 2), ("B", 1))))
            stub.Release(orders_pb2.ReleaseRequest(request_key="r1", order_id="O-1"))
            # NEAR cannot pick line L0: it goes to FAR, which must be told to ship, and NEAR to stop.
            stub.Reallocate(
                orders_pb2.ReallocateRequest(request_key="m1", order_id="O-1", node_id="NEAR", reason="damaged")
            )
        wait_for(lambda: all_published(store), "every event published")
    finally:
        assert server.stop() == 0, server.logs
    instructions = read_stream(nats_url, Destination(prefix), fulfillment=True)
    seen = [(r.body["instruction"], r.headers["Oms-Node-Id"], r.body["lines"]) for r in instructions]
    assert seen == [
        ("SHIP", "MID", [{"line_id": "L1", "sku": "B", "qty": 1}]),
        ("SHIP", "NEAR", [{"line_id": "L0", "sku": "A", "qty": 2}]),
        ("CANCEL", "NEAR", [{"line_id": "L0", "sku": "A", "qty": 2}]),
        ("SHIP", "FAR", [{"line_id": "L0", "sku": "A", "qty": 2}]),
    ]
    assert [r.subject for r in instructions][:2] == [
        f"{prefix}.oms.v1.fulfillment.MID",
        f"{prefix}.oms.v1.fulfillment.NEAR",
    ]
    assert instructions[0].body["ship_to"]["location"] == {"lat": 40.0, "lon": -95.0}
    assert instructions[2].body["reason"] == "damaged"
    assert len({r.msg_id for r in instructions}) == 4


def test_network_changes_and_stock_shortfalls_go_out_on_the_operations_stream(
    store: Store, store_url: str, nats_url: str, prefix: str
) -> None:
    server = ServerProcess(["--database", store_url, "--port", "0", "--relay-nats", nats_url, "--relay-prefix", prefix])
    try:
        with grpc.insecure_channel(server.target) as channel:
            load_network(channel, [("NEAR", "A", 5)])  # nodes, items, then stock: two network changes
            stub = orders_pb2_grpc.OrderServiceStub(channel)
            stub.Allocate(allocate(order("O-1", ("A", 3))))
            network_pb2_grpc.NetworkServiceStub(channel).UpdateInventory(
                network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 1)])  # a count below the 3 held
            )
        wait_for(lambda: all_published(store), "every event published")
    finally:
        assert server.stop() == 0, server.logs
    operations = read_stream(nats_url, Destination(prefix), operations=True)
    assert [r.subject.split(".", 3)[3] for r in operations] == ["network.changed", "network.changed", "stock.shortfall"]
    assert [r.body["data"]["what"] for r in operations[:2]] == ["nodes", "items"]
    assert operations[0].body["data"]["ids"] == ["FAR", "MID", "NEAR"] and operations[0].body["order_id"] is None
    shortfall = operations[2].body["data"]
    assert (shortfall["sku"], shortfall["node_id"], shortfall["short_units"]) == ("A", "NEAR", 2)
    assert shortfall["holds"] == [["O-1", "L0", 2]]
    orders_side = read_stream(nats_url, Destination(prefix))
    assert [r.body["type"] for r in orders_side] == ["ALLOCATED", "SHORTED"]


def _pids(server: ServerProcess) -> tuple[int, int]:
    """(the handler process, the integrations process) from serve's first line."""
    line = "".join(server.stdout)
    worker = re.search(r"pids (\d+)", line)
    integrations = re.search(r"integrations pid (\d+)", line)
    assert worker and integrations, line
    return int(worker.group(1)), int(integrations.group(1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_runs_its_relay_in_a_process_beside_the_handlers_and_stops_it_with_them(
    store: Store, store_url: str, nats_url: str, prefix: str
) -> None:
    """Not a thread of the handler process: it would share their GIL (docs/integrations.md)."""
    server = ServerProcess(["--database", store_url, "--port", "0", "--relay-nats", nats_url, "--relay-prefix", prefix])
    try:
        worker, integrations = _pids(server)
        wait_for(lambda: (outbox(store).relay_state("nats") or (0, "", 0))[2] > 0, "the relay leads")
        state = outbox(store).relay_state("nats")
        assert state is not None
        holder_pid = int(state[1].split(":")[1])  # the holder is host:pid:nonce
        assert holder_pid == integrations != worker
    finally:
        assert server.stop() == 0, server.logs
    assert not _alive(integrations) and not _alive(worker)
    state = outbox(store).relay_state("nats")
    assert state is not None and state[2] == 0  # given up on the way out


def test_an_integrations_process_killed_stops_the_group_with_exit_1(store_url: str, nats_url: str, prefix: str) -> None:
    """Supervised like a handler process: the group stops, for the service manager to restart it."""
    server = ServerProcess(["--database", store_url, "--port", "0", "--relay-nats", nats_url, "--relay-prefix", prefix])
    worker, integrations = _pids(server)
    try:
        os.kill(integrations, signal.SIGKILL)
        code = server.wait(timeout=30)
    finally:
        server.kill()
    assert code == 1
    assert "the integrations process exited unexpectedly; stopping the workers" in server.logs
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)
