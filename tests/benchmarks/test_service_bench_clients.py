"""The service benchmark's load generators against real gRPC servers: what they count is what happened."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2

from benchmarks.service_bench import _client, _open_loop, run_case
from server.app import create_server
from server.store.base import Store
from tests.integration.conftest import make_config

LABELS = {"store": "sqlite", "network": "none", "workers": 1, "threads": 4}


@pytest.fixture
def target(sqlite_store: Store) -> Iterator[str]:
    """The real service (its health check is the benchmark's trivial call) on an ephemeral port."""
    running = create_server(make_config(), sqlite_store)
    yield running.target
    running.stop(grace=0)


def test_open_loop_sends_on_schedule_and_counts_every_answer(target: str) -> None:
    latencies, errors = _open_loop(target, [], seconds=1.0, rate=200.0)
    assert errors == 0
    assert len(latencies) == 200, "one call per scheduled instant, each answered"
    assert all(value > 0 for value in latencies)


class _StallFirst:
    """A Health.Check whose first call waits until three more calls have arrived (or 10 s pass)."""

    def __init__(self) -> None:
        self.arrived = 0
        self.lock = threading.Lock()
        self.others = threading.Semaphore(0)
        self.released_by_arrivals = False

    def check(self, request: Any, context: grpc.ServicerContext) -> health_pb2.HealthCheckResponse:
        with self.lock:
            self.arrived += 1
            first = self.arrived == 1
        if first:
            self.released_by_arrivals = all(self.others.acquire(timeout=10) for _ in range(3))
        else:
            self.others.release()
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def test_open_loop_keeps_sending_while_an_answer_stalls() -> None:
    """A client that waited for each answer would never send the calls that release the first."""
    stall = _StallFirst()
    server = grpc.server(futures.ThreadPoolExecutor(8))
    handler = grpc.unary_unary_rpc_method_handler(
        stall.check,
        request_deserializer=health_pb2.HealthCheckRequest.FromString,
        response_serializer=health_pb2.HealthCheckResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        latencies, errors = _open_loop(f"127.0.0.1:{port}", [], seconds=0.5, rate=40.0)
    finally:
        server.stop(grace=0)
    assert stall.released_by_arrivals
    assert errors == 0 and len(latencies) == 20


def test_closed_loop_client_reports_its_calls(target: str) -> None:
    out: queue.Queue[tuple[list[int], int]] = queue.Queue()
    _client(target, [], 0.5, 2, 0.0, out)
    latencies, errors = out.get_nowait()
    assert errors == 0 and len(latencies) > 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_case_counts_the_cpu_of_the_process_serving_the_port(target: str) -> None:
    """Here the server is this test process; the clients are processes of their own."""
    result = run_case(target, "Health.Check", [], 0.5, processes=1, client_threads=2, **LABELS)
    assert result.calls > 10 and result.errors == 0
    assert 0 < result.server_cpu_us < 100_000, "a health check costs microseconds, not nothing, not 0.1 s"


def test_without_explanations_sets_the_flag_and_keeps_each_order() -> None:
    from benchmarks.service_bench import source_requests, without_explanations
    from server.proto import sourcing_pb2

    payloads = source_requests(seed=3, count=5)
    for payload, bare in zip(payloads, without_explanations(payloads), strict=True):
        request, changed = (sourcing_pb2.SourceRequest.FromString(p) for p in (payload, bare))
        assert changed.skip_explanations and not request.skip_explanations
        assert changed.order == request.order
