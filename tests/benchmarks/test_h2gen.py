"""The benchmarks' load generator (h2gen) against real gRPC servers: what it counts is what happened."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2

from benchmarks.h2gen import HEALTH_CHECK, framed, generate
from benchmarks.service_bench import SOURCE, run_case, source_requests, without_explanations
from server.api.app import create_server
from server.store.base import Store
from tests.integration.conftest import make_config

LABELS = {"store": "sqlite", "network": "none", "workers": 1, "threads": 4}
ECHO = "/test.Echo/Call"


@pytest.fixture
def target(sqlite_store: Store) -> Iterator[str]:
    """The real service (its health check is the benchmark's trivial call) on an ephemeral port."""
    running = create_server(make_config(), sqlite_store)
    yield running.target
    running.stop(grace=0)


@contextmanager
def _serving(behaviour: Callable[[bytes, grpc.ServicerContext], Any], threads: int = 8) -> Iterator[str]:
    """The address of a gRPC server whose one method (``ECHO``) takes and returns raw bytes."""
    server = grpc.server(futures.ThreadPoolExecutor(threads))
    handler = grpc.unary_unary_rpc_method_handler(behaviour)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {"Call": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=0)


def test_framing_is_grpcs_length_prefix() -> None:
    assert framed([b"", b"ab"]) == b"\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x00\x02ab"


def test_open_loop_sends_on_schedule_and_counts_every_answer(target: str) -> None:
    load = generate(target, HEALTH_CHECK, [], 1.0, connections=4, rate=200.0)
    assert load.sent == 200 and not load.errors
    assert len(load.latencies_us) == 200, "one call per scheduled instant, each answered"
    assert all(value > 0 for value in load.latencies_us)


def test_open_loop_keeps_sending_while_an_answer_stalls() -> None:
    """A generator that waited for each answer would never send the calls that release the first."""
    arrived = 0
    lock = threading.Lock()
    others = threading.Semaphore(0)
    released: list[bool] = []

    def stall_first(request: bytes, context: grpc.ServicerContext) -> bytes:
        nonlocal arrived
        with lock:
            arrived += 1
            first = arrived == 1
        if first:
            released.append(all(others.acquire(timeout=10) for _ in range(3)))
        else:
            others.release()
        return request

    with _serving(stall_first) as address:
        load = generate(address, ECHO, [b"x"], 0.5, connections=1, rate=40.0)
    assert released == [True]
    assert load.sent == 20 and len(load.latencies_us) == 20 and not load.errors
    assert max(load.latencies_us) >= min(load.latencies_us) * 2, "the stalled call waited for three later sends"


def test_closed_loop_keeps_one_call_in_flight_per_connection() -> None:
    in_flight = most = 0
    lock = threading.Lock()

    def slow(request: bytes, context: grpc.ServicerContext) -> bytes:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        threading.Event().wait(0.005)
        with lock:
            in_flight -= 1
        return request

    with _serving(slow) as address:
        load = generate(address, ECHO, [b"x"], 0.5, connections=3, per_connection=1)
    assert most == 3, "three callers, each waiting for its answer before the next call"
    assert not load.errors and load.sent == len(load.latencies_us) > 3 * 20
    assert min(load.latencies_us) >= 5_000


def _recorder() -> tuple[Callable[[bytes, grpc.ServicerContext], bytes], list[bytes]]:
    """A method that keeps every request it is sent, in arrival order (serve it on one thread)."""
    seen: list[bytes] = []

    def record(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen.append(request)
        return b""

    return record, seen


def test_messages_are_sent_in_turn_as_given() -> None:
    record, seen = _recorder()
    messages = [b"first", b"", b"third" * 1000]
    with _serving(record, threads=1) as address:
        load = generate(address, ECHO, messages, 0.3, connections=1, per_connection=1)
    assert load.sent == len(seen) > 3
    assert seen == [messages[i % 3] for i in range(len(seen))]


def test_each_once_sends_every_message_at_most_once_and_says_when_they_ran_out() -> None:
    record, seen = _recorder()
    messages = [str(i).encode() for i in range(30)]
    with _serving(record, threads=1) as address:
        used_up = generate(address, ECHO, messages, 5.0, connections=2, per_connection=1, each_once=True)
        enough = generate(address, ECHO, messages, 0.05, connections=1, rate=100.0, each_once=True)
    assert used_up.exhausted and used_up.sent == 30 and len(used_up.latencies_us) == 30
    assert sorted(seen[:30]) == sorted(messages), "each once, none repeated"
    assert not enough.exhausted and enough.sent == 5 and seen[30:] == messages[:5]


def test_answers_other_than_ok_are_counted_by_status() -> None:
    def refuse_odd(request: bytes, context: grpc.ServicerContext) -> Any:
        if request == b"odd":
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "busy")
        return request

    with _serving(refuse_odd) as address:
        load = generate(address, ECHO, [b"odd", b"even"], 0.5, connections=2, rate=100.0)
        unknown = generate(address, "/test.Echo/Nope", [b"x"], 0.2, connections=1, rate=50.0)
    assert load.sent == 50
    assert load.errors == {"RESOURCE_EXHAUSTED": 25} and len(load.latencies_us) == 25
    assert unknown.errors == {"UNIMPLEMENTED": 10} and not unknown.latencies_us


def test_an_answer_later_than_the_timeout_is_counted_not_waited_for() -> None:
    def hang(request: bytes, context: grpc.ServicerContext) -> bytes:
        threading.Event().wait(2)
        return request

    with _serving(hang) as address:
        load = generate(address, ECHO, [b"x"], 0.1, connections=1, rate=20.0, timeout_s=0.3)
    assert load.sent == 2 and not load.latencies_us
    assert load.error_count == 2 and set(load.errors) <= {"DEADLINE_EXCEEDED", "unanswered"}


def test_exactly_one_mode_is_asked_for(target: str) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        generate(target, HEALTH_CHECK, [], 0.1, connections=1)
    with pytest.raises(ValueError, match="exactly one"):
        generate(target, HEALTH_CHECK, [], 0.1, connections=1, per_connection=1, rate=10.0)


def test_source_requests_are_answered(target: str) -> None:
    """The service's real Source, as the benchmark calls it (empty store: every order unfillable)."""
    load = generate(target, SOURCE, source_requests(seed=1, count=5), 0.3, connections=1, per_connection=1)
    assert load.sent > 0 and load.sent == len(load.latencies_us) + load.error_count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_case_counts_the_cpu_of_the_process_serving_the_port_and_of_the_generator(target: str) -> None:
    """Here the server is this test process; the generator is a process of its own."""
    result = run_case(target, "Health.Check", [], 0.5, clients=2, **LABELS)
    assert result.calls > 10 and result.errors == 0
    assert 0 < result.server_cpu_us < 100_000, "a health check costs microseconds, not nothing, not 0.1 s"
    assert 0 < result.client_cpu_us < 100_000


def test_without_explanations_sets_the_flag_and_keeps_each_order() -> None:
    from server.api.proto import sourcing_pb2

    payloads = source_requests(seed=3, count=5)
    for payload, bare in zip(payloads, without_explanations(payloads), strict=True):
        request, changed = (sourcing_pb2.SourceRequest.FromString(p) for p in (payload, bare))
        assert changed.skip_explanations and not request.skip_explanations
        assert changed.order == request.order


def test_health_check_requests_are_empty() -> None:
    assert health_pb2.HealthCheckRequest().SerializeToString() == b""
