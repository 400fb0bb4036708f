"""Plain helpers for the integration tests: requests, status details, subprocess servers."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from server.api.proto import common_pb2, network_pb2

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def usd(units: float) -> common_pb2.Money:
    return common_pb2.Money(currency_code="USD", amount_micros=round(units * 1_000_000))


def node(node_id: str, **overrides: Any) -> common_pb2.Node:
    fields: dict[str, Any] = {
        "id": node_id,
        "type": common_pb2.NODE_TYPE_DC,
        "location": common_pb2.GeoPoint(lat=35.1, lon=-90.0),
        "pick_pack_cost": usd(1.25),
        "unit_handling_cost": usd(0.25),
        "name": f"node {node_id}",
        "region": "US-TN",
    }
    fields.update(overrides)
    return common_pb2.Node(**fields)


def item(sku: str, **overrides: Any) -> common_pb2.Item:
    fields: dict[str, Any] = {"sku": sku, "unit_weight_lb": 1.5}
    fields.update(overrides)
    return common_pb2.Item(**fields)


def count(node_id: str, sku: str, quantity: int, as_of: datetime = T0) -> network_pb2.InventoryUpdate:
    update = network_pb2.InventoryUpdate(node_id=node_id, sku=sku)
    update.count.count = quantity
    update.count.as_of.FromDatetime(as_of)
    return update


def delta(node_id: str, sku: str, quantity: int) -> network_pb2.InventoryUpdate:
    return network_pb2.InventoryUpdate(node_id=node_id, sku=sku, delta=quantity)


def violations(error: grpc.RpcError) -> dict[str, str]:
    """field -> description from the google.rpc.BadRequest in an error's status."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no rich status on the error"
    found: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.update({v.field: v.description for v in bad.field_violations})
    return found


def detail_of(error: grpc.RpcError, kind: type[Any]) -> Any:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(kind.DESCRIPTOR):
            info = kind()
            detail.Unpack(info)
            return info
    raise AssertionError(f"no {kind.__name__} in the status details")


class ServerProcess:
    """``oms-sourcing serve`` in a subprocess, its output collected, its address parsed.

    Metrics are off unless ``args`` name a ``--metrics-port`` (tests never bind the default 9464).
    """

    def __init__(
        self, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 30.0, cwd: Path = REPO
    ) -> None:
        metrics = [] if "--metrics-port" in args else ["--metrics-port", "0"]
        command = [sys.executable, "-m", "server.cli.main", "serve", *args, *metrics]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.target = self._wait_for_address(timeout)

    @staticmethod
    def _pump(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def _wait_for_address(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.stdout):
                match = re.search(r"serving on (\S+:\d+)", line)
                if match:
                    return match.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"server did not start:\n{''.join(self.stdout)}\n{''.join(self.stderr)}")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                return self.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    @property
    def logs(self) -> str:
        return "".join(self.stderr)


def run_cli(
    *args: str, timeout: float = 60.0, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli.main", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )
