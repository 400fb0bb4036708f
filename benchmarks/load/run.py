"""`make load`: start a server with the sample network, run the locust test headless, keep its reports.

Reports (locust's CSV and HTML) go to benchmarks/load/reports/<timestamp>/; the summary is
printed. Point it at a deployment instead with --target HOST:PORT (no server is started); TLS
and a token come from the environment as for `oms-sourcing call` (docs/configuration.md, Clients).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.shipped import pinned_as_shipped
from server.cli.client import client_security, open_channel

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def wait_serving(target: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with open_channel(target, client_security(os.environ)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"load: server at {target} did not become SERVING within {timeout:.0f} s")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__)
    parser.add_argument("--target", help="an existing server HOST:PORT (default: start one on a free port)")
    parser.add_argument("--steps", default="4,8,16,32", help="users per step (default: %(default)s)")
    parser.add_argument("--step-seconds", type=float, default=10.0, help="seconds per step (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes when starting one")
    parser.add_argument("--port", type=int, default=50061, help="port for the server it starts")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = REPO / "benchmarks" / "load" / "reports" / stamp
    out.mkdir(parents=True, exist_ok=True)
    server: subprocess.Popen[bytes] | None = None
    target = args.target
    with tempfile.TemporaryDirectory() as tmp:
        if target is None:
            target = f"127.0.0.1:{args.port}"
            server = subprocess.Popen(
                [
                    str(BIN / "oms-sourcing"),
                    "serve",
                    "--port",
                    str(args.port),
                    "--workers",
                    str(args.workers),
                    "--database",
                    f"sqlite:///{tmp}/load.db",
                    "--load-sample-if-empty",
                    "--metrics-port",
                    "0",
                    *pinned_as_shipped(args.workers),
                ],
                cwd=REPO,
            )
            wait_serving(target, 60)
        env = dict(os.environ, OMS_LOAD_STEPS=args.steps, OMS_LOAD_STEP_SECONDS=str(args.step_seconds))
        try:
            result = subprocess.run(
                [
                    str(BIN / "locust"),
                    "-f",
                    str(REPO / "benchmarks" / "load" / "locustfile.py"),
                    "--headless",
                    "-H",
                    f"grpc://{target}",
                    "--csv",
                    str(out / "locust"),
                    "--html",
                    str(out / "report.html"),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=REPO,
                env=env,
                check=False,
            )
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    summary = summarize(out / "locust_stats.csv")
    print(summary)
    (out / "summary.txt").write_text(summary + "\n")
    print(f"reports: {out}")
    return result.returncode


def summarize(stats_csv: Path) -> str:
    rows = list(csv.DictReader(stats_csv.open()))
    lines = [f"{'name':<18} {'requests':>9} {'failures':>8} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"]
    for row in rows:
        lines.append(
            f"{row['Name']:<18} {row['Request Count']:>9} {row['Failure Count']:>8} "
            f"{float(row['Requests/s']):>8.0f} {row['50%']:>7} {row['95%']:>7} {row['99%']:>7}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
