"""Service throughput over real gRPC: the trivial-RPC ceiling and Source, in the same run.

Starts `oms-sourcing serve` (SQLite, the sample network) with 1 and with 2 worker
processes, drives it from client processes on the same machine for a fixed time per
case, and writes benchmarks/results/<date>-service.{json,md}. The ratio of Source to
the trivial call (a health check) is the headline: absolute numbers drift on a shared
machine, the ratio much less.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hdrh.histogram import HdrHistogram

from benchmarks.load.run import wait_serving
from benchmarks.networks.sample_network import us_cities

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = REPO / "benchmarks" / "results"


@dataclass(frozen=True)
class CaseResult:
    name: str
    workers: int
    clients: int
    calls: int
    errors: int
    seconds: float
    calls_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


def _orders(seed: int, count: int) -> list[bytes]:
    """Serialized SourceRequests for 1-5 line orders to real cities, over the sample catalogue."""
    from server.proto import common_pb2, sourcing_pb2

    skus = sorted({i["sku"] for i in json.loads((REPO / "data" / "sample-network.json").read_text())["items"]})
    cities = us_cities()[:300]
    weights = [c.population for c in cities]
    rng = random.Random(seed)
    requests = []
    for n in range(count):
        city = rng.choices(cities, weights=weights)[0]
        lines = [
            common_pb2.OrderLine(line_id=str(i), sku=sku, qty=rng.choice([1, 1, 1, 2]))
            for i, sku in enumerate(rng.sample(skus, k=rng.choice([1, 1, 2, 2, 3, 4, 5])))
        ]
        order = common_pb2.Order(order_id=f"B{n}", ship_to=common_pb2.GeoPoint(lat=city.lat, lon=city.lon), lines=lines)
        requests.append(sourcing_pb2.SourceRequest(order=order).SerializeToString())
    return requests


def _client(target: str, method: str, seconds: float, threads: int, seed: int, out: Any) -> None:
    """One client process: ``threads`` threads calling back to back; returns encoded latencies (µs)."""
    from server.proto import sourcing_pb2

    payloads = _orders(seed, 500) if method == "Source" else []
    latencies: list[int] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run(k: int) -> None:
        nonlocal errors
        channel = grpc.insecure_channel(target)
        if method == "Source":
            call = channel.unary_unary(
                "/oms.sourcing.v1.SourcingService/Source",
                request_serializer=lambda b: b,
                response_deserializer=sourcing_pb2.SourceResponse.FromString,
            )
        else:
            call = health_pb2_grpc.HealthStub(channel).Check
        mine: list[int] = []
        i = k
        while time.perf_counter() < deadline:
            request = payloads[i % len(payloads)] if payloads else health_pb2.HealthCheckRequest()
            i += threads
            started = time.perf_counter()
            try:
                call(request, timeout=10)
            except grpc.RpcError:
                with lock:
                    errors += 1
                continue
            mine.append(int((time.perf_counter() - started) * 1e6))
        channel.close()
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, errors))


def run_case(target: str, method: str, workers: int, processes: int, threads: int, seconds: float) -> CaseResult:
    queue: Any = mp.get_context("spawn").Queue()
    procs = [
        mp.get_context("spawn").Process(target=_client, args=(target, method, seconds, threads, 100 + p, queue))
        for p in range(processes)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    histogram = HdrHistogram(1, 60_000_000, 3)
    calls = errors = 0
    for latencies, errs in results:
        errors += errs
        calls += len(latencies)
        for value in latencies:
            histogram.record_value(max(1, value))
    measured = max(seconds, 1e-9)  # the clients call for ``seconds``; start-up is not throughput
    return CaseResult(
        name=method,
        workers=workers,
        clients=processes * threads,
        calls=calls,
        errors=errors,
        seconds=round(elapsed, 2),
        calls_per_second=round(calls / measured, 1),
        p50_ms=histogram.get_value_at_percentile(50) / 1000,
        p90_ms=histogram.get_value_at_percentile(90) / 1000,
        p99_ms=histogram.get_value_at_percentile(99) / 1000,
        max_ms=histogram.get_max_value() / 1000,
    )


def serve(port: int, workers: int, db_dir: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(BIN / "oms-sourcing"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--database",
            f"sqlite:///{db_dir}/bench-{workers}.db",
            "--load-sample-if-empty",
            "--metrics-port",
            "0",
            "--log-level",
            "WARNING",
        ],
        cwd=REPO,
    )


def render(report: dict[str, Any]) -> str:
    rows = report["cases"]
    ceiling = {r["workers"]: r["calls_per_second"] for r in rows if r["name"] == "Health.Check"}
    out = [
        f"# Service benchmark, {report['date']}",
        "",
        f"Real gRPC over loopback, clients on the same {report['machine']['cpus']}-CPU machine "
        f"({report['machine']['python']}); SQLite store, sample network, no rules; "
        f"{report['seconds_per_case']} s per case.",
        "",
        "| call | server workers | clients | calls/s | vs trivial call | p50 ms | p90 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["calls_per_second"] / ceiling[r["workers"]] if ceiling.get(r["workers"]) else float("nan")
        out.append(
            f"| {r['name']} | {r['workers']} | {r['clients']} | {r['calls_per_second']:,.0f} | {ratio:.0%} | "
            f"{r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |"
        )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.service_bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per case (default: %(default)s)")
    parser.add_argument("--workers", default="1,2", help="server worker counts (default: %(default)s)")
    parser.add_argument("--port", type=int, default=50071)
    args = parser.parse_args(argv)
    cases: list[CaseResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (int(w) for w in args.workers.split(",")):
            server = serve(args.port, workers, tmp)
            target = f"127.0.0.1:{args.port}"
            try:
                wait_serving(target, 90)
                for method, name in (("Check", "Health.Check"), ("Source", "Source")):
                    result = run_case(target, method, workers, processes=2, threads=4, seconds=args.seconds)
                    cases.append(CaseResult(**{**asdict(result), "name": name}))
                    print(
                        f"{name:<14} workers={workers} {result.calls_per_second:>8,.0f}/s p99 {result.p99_ms:.2f} ms",
                        file=sys.stderr,
                    )
            finally:
                server.terminate()
                server.wait(timeout=30)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    report = {
        "date": date,
        "seconds_per_case": args.seconds,
        "machine": {"python": platform.python_version(), "cpus": mp.cpu_count(), "platform": platform.platform()},
        "cases": [asdict(c) for c in cases],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{date}-service.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render(report)
    (RESULTS / f"{date}-service.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
