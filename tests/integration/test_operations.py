"""Operations: health, reflection per config file, metrics, internal errors, overload, shutdown."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from engine.model import InventoryPosition
from server.api.proto import network_pb2, network_pb2_grpc
from server.api.services import ServiceDeps, service_names
from server.config import Config
from server.store.base import Store
from tests.integration.conftest import Api, ServerFactory, make_config
from tests.integration.helpers import detail_of, free_port, node

NETWORK = "oms.sourcing.v1.NetworkService"
# How gRPC core refuses a call during shutdown: UNAVAILABLE once the listener is closed, CANCELLED
# for a call that raced in on an open connection as shutdown began.
REFUSED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


def health_of(target: str, service: str = "") -> int:
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return int(reply.status)


def test_health_is_serving_overall_and_per_service(api: Api) -> None:
    assert health_of(api.running.target) == health_pb2.HealthCheckResponse.SERVING
    assert health_of(api.running.target, NETWORK) == health_pb2.HealthCheckResponse.SERVING
    assert NETWORK in service_names()


def test_reflection_lists_the_services_in_development(config_file_server: Any) -> None:
    running = config_file_server("development.toml")
    with grpc.insecure_channel(running.target) as channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert NETWORK in services and "grpc.health.v1.Health" in services


def test_reflection_is_absent_in_production(config_file_server: Any) -> None:
    running = config_file_server("production.toml")
    with grpc.insecure_channel(running.target) as channel, pytest.raises(grpc.RpcError) as caught:
        ProtoReflectionDescriptorDatabase(channel).get_services()
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert health_of(running.target) == health_pb2.HealthCheckResponse.SERVING


def test_metrics_count_handled_calls_by_code(start_server: ServerFactory, sqlite_store: Store) -> None:
    running = start_server(sqlite_store, make_config(metrics_port=free_port()))
    assert running.metrics_endpoint is not None
    with grpc.insecure_channel(running.target) as channel:
        stub = network_pb2_grpc.NetworkServiceStub(channel)
        stub.ListNodes(network_pb2.ListNodesRequest())
        with pytest.raises(grpc.RpcError):
            stub.UpsertNodes(network_pb2.UpsertNodesRequest())
    url = f"http://127.0.0.1:{running.metrics_endpoint.port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    labels = f'grpc_method="ListNodes",grpc_service="{NETWORK}",grpc_type="unary"'
    assert f'grpc_server_handled_total{{grpc_code="OK",{labels}}} 1.0' in text
    assert 'grpc_code="INVALID_ARGUMENT",grpc_method="UpsertNodes"' in text
    assert f"grpc_server_started_total{{{labels}}} 1.0" in text
    assert f"grpc_server_handling_seconds_count{{{labels}}} 1.0" in text
    assert "oms_sourcing_inflight_requests 0.0" in text


class _BrokenStore:
    """A store whose reads fail the way a bug would."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def get_availability(
        self, skus: Sequence[str], node_ids: Sequence[str] = (), now: Any = None
    ) -> list[InventoryPosition]:
        raise RuntimeError("secret connection string postgresql://admin:hunter2@db")


def test_an_internal_error_has_a_request_id_and_no_traceback(
    start_server: ServerFactory, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config()
    broken: Any = _BrokenStore(sqlite_store)
    running = start_server(sqlite_store, config, deps=ServiceDeps.build(config, broken))
    with grpc.insecure_channel(running.target) as channel, pytest.raises(grpc.RpcError) as caught:
        network_pb2_grpc.NetworkServiceStub(channel).GetAvailability(network_pb2.GetAvailabilityRequest(skus=["A"]))
    error = caught.value
    assert error.code() == grpc.StatusCode.INTERNAL
    request_id = detail_of(error, error_details_pb2.RequestInfo).request_id
    assert request_id and request_id in error.details()
    assert "hunter2" not in error.details() and "Traceback" not in error.details()
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert logged and logged[0].exc_info is not None  # the traceback is in the server's log


class _BlockingStore:
    """GetAvailability waits until released: a call held in flight, no test hook in the server."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_availability(
        self, skus: Sequence[str], node_ids: Sequence[str] = (), now: Any = None
    ) -> list[InventoryPosition]:
        self.entered.set()
        self.release.wait(10)
        return list(self._inner.get_availability(skus, node_ids, now=now))


def _blocked_server(start_server: ServerFactory, store: Store, **overrides: Any) -> tuple[Any, _BlockingStore]:
    config: Config = make_config(**overrides)
    blocking = _BlockingStore(store)
    deps = ServiceDeps.build(config, blocking)  # type: ignore[arg-type]
    return start_server(store, config, deps=deps), blocking


def test_beyond_max_concurrent_rpcs_calls_are_resource_exhausted_while_health_answers(
    start_server: ServerFactory, sqlite_store: Store
) -> None:
    # Two handler threads block in the store and two more calls queue behind them: the limit.
    running, blocking = _blocked_server(start_server, sqlite_store, threads=2, max_concurrent_rpcs=4)
    with grpc.insecure_channel(running.target) as channel:
        stub = network_pb2_grpc.NetworkServiceStub(channel)
        held = [
            stub.GetAvailability.future(network_pb2.GetAvailabilityRequest(skus=["A"]), timeout=15) for _ in range(4)
        ]
        try:
            assert blocking.entered.wait(5)
            pool = running.business_pool
            assert pool is not None
            for _ in range(250):  # all four held calls reach the server, in their own time
                if pool.pending == 4:
                    break
                threading.Event().wait(0.02)
            assert pool.pending == 4
            refused = None
            for _ in range(100):
                try:
                    stub.ListNodes(network_pb2.ListNodesRequest(), timeout=0.5)
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        refused = error
                        break
                threading.Event().wait(0.02)
            assert refused is not None, "a fifth business call was not refused"
            assert detail_of(refused, error_details_pb2.RetryInfo).retry_delay.ToNanoseconds() > 0
            with pytest.raises(grpc.RpcError) as junk:  # refused before its bytes are read
                channel.unary_unary("/oms.sourcing.v1.NetworkService/ListNodes")(b"\xff" * 32, timeout=0.5)
            assert junk.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(20):  # quickly, every time, while every handler thread is blocked
                started = time.perf_counter()
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
                assert time.perf_counter() - started < 0.5
        finally:
            blocking.release.set()
        assert all(list(call.result().positions) == [] for call in held)  # the admitted calls complete
        stub.ListNodes(network_pb2.ListNodesRequest(), timeout=5)  # and the slots were given back


def test_stop_lets_an_in_flight_call_finish_and_refuses_new_ones(
    start_server: ServerFactory, sqlite_store: Store
) -> None:
    running, blocking = _blocked_server(start_server, sqlite_store)
    with grpc.insecure_channel(running.target) as channel:
        stub = network_pb2_grpc.NetworkServiceStub(channel)
        stub.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("DC-01")]))
        held = stub.GetAvailability.future(network_pb2.GetAvailabilityRequest(skus=["A"]), timeout=10)
        assert blocking.entered.wait(5)
        stopper = threading.Thread(target=running.stop, args=(5.0,))
        stopper.start()
        try:
            health = health_pb2.HealthCheckResponse
            # Health flips first; the listener then closes, so a new call may also just be refused.
            for _ in range(50):
                try:
                    if health_of(running.target) == health.NOT_SERVING:
                        break
                except grpc.RpcError as error:
                    assert error.code() in REFUSED
                    break
                threading.Event().wait(0.02)
            else:
                pytest.fail("health never stopped answering SERVING")
            with pytest.raises(grpc.RpcError) as caught:
                stub.ListNodes(network_pb2.ListNodesRequest(), timeout=2)
            assert caught.value.code() in REFUSED
        finally:
            blocking.release.set()
        assert held.result().positions is not None  # the in-flight call completed with OK
        stopper.join(10)
        assert not stopper.is_alive()


def _connections_used(start_server: ServerFactory, store: Store, age_seconds: float) -> int:
    """Calls for ~1.5 s on one channel; how many connections it went through (times it became READY)."""
    running = start_server(store, make_config(max_connection_age_seconds=age_seconds))
    readies: list[grpc.ChannelConnectivity] = []
    with grpc.insecure_channel(running.target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        channel.subscribe(lambda state: readies.append(state) if state is grpc.ChannelConnectivity.READY else None)
        stub = network_pb2_grpc.NetworkServiceStub(channel)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            stub.ListNodes(network_pb2.ListNodesRequest(page_size=1), timeout=5)  # none may fail
            time.sleep(0.02)
    return len(readies)


def test_max_connection_age_makes_callers_reconnect_without_failing_calls(
    start_server: ServerFactory, sqlite_store: Store
) -> None:
    """So SO_REUSEPORT deals connections over the workers again (docs/decisions.md)."""
    assert _connections_used(start_server, sqlite_store, 0.0) == 1
    assert _connections_used(start_server, sqlite_store, 0.3) >= 3


def test_max_connection_age_never_cuts_a_running_stream(start_server: ServerFactory, sqlite_store: Store) -> None:
    """GOAWAY moves new calls to a new connection; a stream on the old one runs on past the age."""
    running = start_server(sqlite_store, make_config(max_connection_age_seconds=0.2))
    with grpc.insecure_channel(running.target) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=10)
        assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
        time.sleep(1.0)  # five ages
        assert health_of(running.target) == health_pb2.HealthCheckResponse.SERVING  # new calls still served
        running.set_serving(False)
        assert next(stream).status == health_pb2.HealthCheckResponse.NOT_SERVING  # the same stream, still open
        stream.cancel()
