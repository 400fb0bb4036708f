"""kill -9 the server while clients allocate with keys; restart; retry every key.

Nothing acknowledged may be lost (the retry replays the acknowledged bytes), nothing may be
done twice (one ALLOCATED event per order), and stock is conserved. The short version runs in
the normal suite; the long one (more kills, both stores) is marked slow.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import grpc
import pytest

from server.api.proto import network_pb2, network_pb2_grpc, orders_pb2, orders_pb2_grpc
from tests.conftest import PostgresDatabases
from tests.integration.helpers import ServerProcess, count, item, node
from tests.integration.orders_helpers import allocate, order

NODES = ("N1", "N2", "N3")
SKUS = tuple(f"X{i}" for i in range(8))
UNITS = 40  # per SKU and node: scarce enough that some orders backorder
CLIENTS = 4


def _serve(database: str) -> ServerProcess:
    return ServerProcess(["--port", "0", "--metrics-port", "0", "--database", database, "--threads", "4"])


def _load(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        network = network_pb2_grpc.NetworkServiceStub(channel)
        network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node(n) for n in NODES]))
        network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item(s) for s in SKUS]))
        network.UpdateInventory(
            network_pb2.UpdateInventoryRequest(updates=[count(n, s, UNITS) for n in NODES for s in SKUS])
        )


def _request(seq: int) -> orders_pb2.AllocateRequest:
    rng = random.Random(seq)
    lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(SKUS, rng.randint(1, 3))]
    return allocate(order(f"C-{seq}", *lines), key=f"key-{seq}")


def run_crash_cycles(database: str, kills: int) -> None:
    server = _serve(database)
    _load(server.target)
    attempted: dict[int, orders_pb2.AllocateRequest] = {}
    acked: dict[int, bytes] = {}
    next_seq = iter(range(10**9))
    lock = threading.Lock()
    try:
        for _ in range(kills):
            stop = threading.Event()

            def client(target: str = server.target, stop: threading.Event = stop) -> None:
                with grpc.insecure_channel(target) as channel:
                    stub = orders_pb2_grpc.OrderServiceStub(channel)
                    while not stop.is_set():
                        with lock:
                            seq = next(next_seq)
                            attempted[seq] = request = _request(seq)
                        try:
                            response = stub.Allocate(request, timeout=10)
                        except grpc.RpcError:
                            continue  # the server died under this call: the retry below settles it
                        acked[seq] = response.SerializeToString()

            threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
            for thread in threads:
                thread.start()
            time.sleep(random.uniform(0.4, 1.0))
            server.kill()  # SIGKILL: no shutdown hooks, no flush
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            server = _serve(database)
        assert acked, "no allocation was acknowledged before the kills"
        with grpc.insecure_channel(server.target) as channel:
            orders = orders_pb2_grpc.OrderServiceStub(channel)
            network = network_pb2_grpc.NetworkServiceStub(channel)
            lost = []
            reserved_by_orders = 0
            for seq, request in sorted(attempted.items()):
                replayed = orders.Allocate(request, timeout=30)
                if seq in acked and replayed.SerializeToString() != acked[seq]:
                    lost.append(seq)
                view = orders.GetOrder(orders_pb2.GetOrderRequest(order_id=request.order.order_id)).order
                assert [e.type for e in view.events].count("ALLOCATED") == 1, f"order {seq} allocated twice"
                reserved_by_orders += sum(r.qty for r in view.reservations)
            assert lost == [], f"{len(lost)} acknowledged allocations lost or changed: {lost[:5]}"
            problems = orders.CheckConservation(orders_pb2.CheckConservationRequest())
            assert problems.ok, list(problems.problems)[:5]
            positions = network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=list(SKUS))).positions
            assert sum(p.on_hand for p in positions) == UNITS * len(NODES) * len(SKUS)  # nothing shipped
            assert sum(p.reserved for p in positions) == reserved_by_orders
    finally:
        assert server.stop() == 0, server.logs


def test_kill_9_loses_nothing_acknowledged_short(tmp_path: Path) -> None:
    run_crash_cycles(f"sqlite:///{tmp_path / 'crash.db'}", kills=2)


@pytest.mark.slow
def test_kill_9_repeatedly_sqlite(tmp_path: Path) -> None:
    run_crash_cycles(f"sqlite:///{tmp_path / 'crash.db'}", kills=8)


@pytest.mark.slow
@pytest.mark.postgres
def test_kill_9_repeatedly_postgres(postgres_databases: PostgresDatabases) -> None:
    url = postgres_databases.create()
    try:
        run_crash_cycles(url, kills=6)
    finally:
        postgres_databases.drop(url)


@pytest.mark.postgres
def test_kill_9_loses_nothing_acknowledged_short_postgres(postgres_databases: PostgresDatabases) -> None:
    url = postgres_databases.create()
    try:
        run_crash_cycles(url, kills=1)
    finally:
        postgres_databases.drop(url)
