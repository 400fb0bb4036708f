"""balanced_connections against a real two-worker server: each worker gets its share."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.connections import _accepted_by, _own_ports, balanced_connections, balanced_sockets, own_connection
from tests.integration.helpers import ServerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="traces connections through /proc")


def _worker_pids(server: ServerProcess) -> list[int]:
    return [int(p) for p in re.search(r"pids ([\d,]+)", "".join(server.stdout)).group(1).split(",")]  # type: ignore[union-attr]


def _workers_of(channels: list[grpc.Channel], server: ServerProcess) -> Counter[int]:
    pids = _worker_pids(server)
    port = int(server.target.rsplit(":", 1)[1])
    spread: Counter[int] = Counter()
    for client_port in _own_ports(port):
        worker = _accepted_by(port, client_port, pids)
        assert worker is not None
        spread[worker] += 1
    for channel in channels:  # every channel still answers
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return spread


def test_connections_are_spread_evenly_over_the_workers(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'w.db'}"
    server = ServerProcess(
        ["--workers", "2", "--port", "0", "--metrics-port", "0", "--database", database, "--load-sample-if-empty"],
        timeout=60,
    )
    try:
        for count in (2, 7, 16):
            channels = balanced_connections(server.target, count)
            assert len(channels) == count
            spread = _workers_of(channels, server)
            assert sorted(spread.values()) == [count // 2, count - count // 2], spread
            for channel in channels:
                channel.close()
        # What the kernel does alone, for contrast: a fair coin per connection (not asserted).
        plain = [own_connection(server.target) for _ in range(16)]
        for channel in plain:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert sum(_workers_of(plain, server).values()) == 16
        for channel in plain:
            channel.close()
    finally:
        assert server.stop() == 0, server.logs


def test_plain_sockets_are_spread_evenly_over_the_workers(tmp_path: Path) -> None:
    """What h2gen is handed: TCP connections, each accepted by the worker it was counted for."""
    database = f"sqlite:///{tmp_path / 'w.db'}"
    server = ServerProcess(
        ["--workers", "2", "--port", "0", "--metrics-port", "0", "--database", database, "--load-sample-if-empty"],
        timeout=60,
    )
    try:
        pids = _worker_pids(server)
        port = int(server.target.rsplit(":", 1)[1])
        for count in (2, 9):
            sockets = balanced_sockets(server.target, count)
            spread = Counter(_accepted_by(port, s.getsockname()[1], pids) for s in sockets)
            assert None not in spread and sorted(spread.values()) == [count // 2, count - count // 2], spread
            for sock in sockets:
                sock.close()
    finally:
        assert server.stop() == 0, server.logs
