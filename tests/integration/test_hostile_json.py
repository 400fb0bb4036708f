"""JSON a caller or a file hands the service: refused cleanly, never a traceback or INTERNAL.

The server parses JSON from a request only in ListExceptions' page token (its own tokens are
base64 of a small JSON array); network files are parsed by `oms-sourcing load-network` (and by
`serve --load-sample-if-empty`) before anything is sent.
"""

from __future__ import annotations

import base64
from pathlib import Path

import grpc
import pytest

from server.api.proto import orders_pb2, orders_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import free_port, run_cli, violations


def _token(payload: str) -> str:
    return base64.urlsafe_b64encode(("n1:" + payload).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        _token("[" * 100_000 + "]" * 100_000),  # json.loads raised RecursionError: INTERNAL
        _token("[" * 300 + "]" * 300),
        _token('["2026-11-24T00:00:00+00:00", ' * 50 + '"x"' + "]" * 50),
    ],
)
def test_a_forged_page_token_of_nested_json_is_invalid_argument(api: Api, token: str) -> None:
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)  # type: ignore[no-untyped-call]
    with pytest.raises(grpc.RpcError) as caught:
        orders.ListExceptions(orders_pb2.ListExceptionsRequest(page_token=token), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in violations(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests arrays and objects too deep"),
        ('{"format": "oms-sourcing/network@1", "nodes": [' + "1" * 5000 + "]}", "holds a value JSON cannot carry"),
    ],
)
def test_load_network_refuses_a_hostile_file_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hostile.json"
    path.write_text(text)
    # Nothing listens there: the file is refused before any connection is made.
    result = run_cli("load-network", str(path), "--target", f"127.0.0.1:{free_port()}", "--timeout", "2")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
