"""Request bytes that do not decode are the caller's mistake, on every method the server serves.

gRPC decodes a request before any handler runs, and used to answer bytes it could not decode with
INTERNAL and an ERROR traceback in the log. Now (server/api/request_decoding.py): random
bytes, 0xff x 32, a truncated message, a length past the end, invalid UTF-8 in a string field are
INVALID_ARGUMENT with a google.rpc.BadRequest, one WARNING line, and the server serves on.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.api.app import RunningServer, create_server
from server.api.auth import Role, new_token, token_digest
from server.api.proto import network_pb2
from server.store.base import Store
from tests.fuzz.wire import Rpc, served_rpcs, undecodable
from tests.integration.conftest import make_config
from tests.integration.helpers import ServerProcess, violations

RPCS = served_rpcs(reflection=True)
SERVING = health_pb2.HealthCheckResponse.SERVING


def send(channel: grpc.Channel, rpc: Rpc, payload: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> Any:
    """``payload`` as the request of ``rpc``, byte for byte (no serializer on either side)."""
    if rpc.client_streaming:
        return list(channel.stream_stream(rpc.path)(iter([payload]), timeout=10, metadata=metadata))
    if rpc.server_streaming:
        return list(channel.unary_stream(rpc.path)(payload, timeout=10, metadata=metadata))
    return channel.unary_unary(rpc.path)(payload, timeout=10, metadata=metadata)


def refusal(channel: grpc.Channel, rpc: Rpc, payload: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> Any:
    with pytest.raises(grpc.RpcError) as caught:
        send(channel, rpc, payload, metadata)
    return caught.value


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    database = tmp_path_factory.mktemp("wire") / "w.db"
    server = ServerProcess(
        ["--port", "0", "--metrics-port", "0", "--database", f"sqlite:///{database}", "--reflection"]
    )
    yield server
    assert server.stop() == 0, server.logs


def warnings_for(server: ServerProcess, rpc: Rpc) -> list[str]:
    return [
        line
        for line in server.logs.splitlines()
        if "level=warning" in line and 'msg="undecodable request"' in line and f"method={rpc.path} " in line + " "
    ]


@pytest.mark.parametrize("rpc", RPCS, ids=[rpc.path.lstrip("/") for rpc in RPCS])
def test_undecodable_bytes_are_invalid_argument_with_one_warning(served: ServerProcess, rpc: Rpc) -> None:
    cases = undecodable(rpc, random.Random(rpc.path))
    with grpc.insecure_channel(served.target) as channel:
        for kind, payload in cases.items():
            assert not rpc.parses(payload), kind
            error = refusal(channel, rpc, payload)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (kind, error.code(), error.details())
            assert f"not a valid {rpc.request.DESCRIPTOR.full_name}" in violations(error)[""], kind
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == SERVING
    deadline = time.monotonic() + 5  # the log arrives through a pipe, in its own time
    while len(warnings_for(served, rpc)) < len(cases) and time.monotonic() < deadline:
        time.sleep(0.02)
    logged = warnings_for(served, rpc)
    assert len(logged) == len(cases), "\n".join(logged)  # one line per call, no more
    assert all(re.search(r" bytes=\d+ ", line) for line in logged)
    assert "Traceback" not in served.logs and "level=error" not in served.logs, served.logs
    assert served.process.poll() is None


def test_a_payload_that_decodes_still_reaches_the_handler(served: ServerProcess) -> None:
    """The bytes go through as they came: a well-formed request is answered as before."""
    by_name = {rpc.name: rpc for rpc in RPCS}
    with grpc.insecure_channel(served.target) as channel:
        error = refusal(channel, by_name["Source"], by_name["Source"].request().SerializeToString())
        assert violations(error) == {"order": "is required"}  # the handler's own check of the decoded request
        page = send(channel, by_name["ListNodes"], by_name["ListNodes"].request(page_size=5).SerializeToString())
    assert list(network_pb2.ListNodesResponse.FromString(page).nodes) == []  # the store is empty


@pytest.fixture
def tokens_file(tmp_path: Path) -> tuple[Path, str]:
    token = new_token()
    path = tmp_path / "tokens"
    path.write_text(f"{Role.OPERATOR} ops {token_digest(token)}\n")
    return path, token


@pytest.fixture
def guarded(sqlite_store: Store, tokens_file: tuple[Path, str]) -> Iterator[RunningServer]:
    running = create_server(make_config(auth_tokens_file=str(tokens_file[0])), sqlite_store)
    yield running
    running.stop(grace=0)


def test_the_token_check_comes_first_and_metrics_count_the_method(
    guarded: RunningServer, tokens_file: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    junk = b"\xff" * 32
    by_name = {rpc.name: rpc for rpc in RPCS}
    authorized = (("authorization", f"Bearer {tokens_file[1]}"),)
    with grpc.insecure_channel(guarded.target) as channel:
        # Without a token, junk bytes are refused as any call is, never read.
        for name in ("Source", "WatchEvents"):
            assert refusal(channel, by_name[name], junk).code() == grpc.StatusCode.UNAUTHENTICATED
        assert "undecodable request" not in caplog.text
        for name in ("Source", "WatchEvents"):
            assert refusal(channel, by_name[name], junk, authorized).code() == grpc.StatusCode.INVALID_ARGUMENT
    sample = guarded.metrics_registry.get_sample_value
    for name, kind, service in (("Source", "unary", "Sourcing"), ("WatchEvents", "server_stream", "Order")):
        labels = {"grpc_type": kind, "grpc_service": f"oms.sourcing.v1.{service}Service", "grpc_method": name}
        assert sample("grpc_server_handled_total", {**labels, "grpc_code": "INVALID_ARGUMENT"}) == 1
        assert sample("grpc_server_handled_total", {**labels, "grpc_code": "UNAUTHENTICATED"}) == 1
        assert sample("grpc_server_handled_total", {**labels, "grpc_code": "INTERNAL"}) is None
