"""``serve --workers N`` when a process of the group dies: the parent (kill -9) or a worker.

Real processes, traced through /proc: which pids are alive, which processes listen on the port.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.connections import listening_processes
from tests.integration.helpers import ServerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="traces processes through /proc")

ORPHAN_DEADLINE_SECONDS = 2.0


def _serve(database: str, port: int = 0) -> ServerProcess:
    return ServerProcess(
        ["--workers", "2", "--port", str(port), "--metrics-port", "0", "--grace-seconds", "1", "--database", database],
        timeout=60,
    )


def _worker_pids(server: ServerProcess) -> list[int]:
    return [int(p) for p in re.search(r"pids ([\d,]+)", "".join(server.stdout)).group(1).split(",")]  # type: ignore[union-attr]


def _alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped by whoever adopted it, is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return re.search(r"^State:\s*Z", status, re.MULTILINE) is None


def _still_alive_after(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def test_workers_exit_when_their_parent_is_killed_and_a_restart_listens_alone(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'w.db'}"
    first = _serve(database)
    old = _worker_pids(first)
    port = int(first.target.rsplit(":", 1)[1])
    try:
        assert sorted(listening_processes(port)) == sorted(old)
        first.kill()  # SIGKILL: the parent runs no handler, forwards nothing
        orphans = _still_alive_after(old, ORPHAN_DEADLINE_SECONDS)
        assert orphans == [], f"workers {orphans} still running {ORPHAN_DEADLINE_SECONDS} s after their parent died"
        second = _serve(database, port)  # what a service manager does next: start the group again
        try:
            new = _worker_pids(second)
            assert sorted(listening_processes(port)) == sorted(new)  # two listeners, both its own
            assert _serving(second.target)
        finally:
            assert second.stop() == 0, second.logs
    finally:
        for pid in old:  # only where the test failed: orphans of this test, killed by their pid
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_worker_killed_stops_the_group_with_exit_1(tmp_path: Path) -> None:
    """Today's supervision: no restart of the one worker; the group stops, for the service manager to restart."""
    server = _serve(f"sqlite:///{tmp_path / 'w.db'}")
    pids = _worker_pids(server)
    try:
        os.kill(pids[0], signal.SIGKILL)
        code = server.wait(timeout=30)
    finally:
        server.kill()
    assert code == 1
    assert "a worker exited unexpectedly; stopping the others" in server.logs
    assert _still_alive_after(pids, 5.0) == []
