"""Service throughput over real gRPC: the trivial-RPC ceiling and Source, in the same run.

Starts `oms-sourcing serve` (the sample network, the shipped rules) once per server
configuration: worker processes x handler threads, on SQLite, and on PostgreSQL for the
default configuration. Against each it measures, with load from h2gen (benchmarks/h2gen) on the
same machine:

- ``Health.Check``: the trivial call, this configuration's ceiling;
- ``Source``, 1-5 line orders, closed loop (each client calls back to back): peak throughput;
- ``Source`` open loop at 80% of that peak (calls sent on a fixed schedule without waiting for
  answers, latency counted from the scheduled instant, so a stall is not hidden by clients
  waiting): the p99 target.

Then a large case: 30-line orders on a generated 2,000-node network (its own server, with the
production decision budget of config/production.toml).
Writes benchmarks/results/<date>-service.{json,md}. Ratios to the trivial call are the
headline: absolute numbers drift on a shared machine, ratios much less.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from benchmarks.connections import listening_processes
from benchmarks.h2gen import HEALTH_CHECK, generate
from benchmarks.load.run import wait_serving
from benchmarks.networks.sample_network import make_network, us_cities
from benchmarks.reporting import write_results
from benchmarks.shipped import pinned_as_shipped

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = REPO / "benchmarks" / "results"
SAMPLE = REPO / "data" / "sample-network.json"
RULES = REPO / "rules" / "default.yaml"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
TYPICAL_LINES = (1, 1, 2, 2, 3, 4, 5)  # "typical orders, 1-5 lines", weighted to small ones
LARGE_NODES, LARGE_SKUS, LARGE_LINES = 2000, 300, 30
LARGE_BUDGET_MS = 90  # solver_time_limit_ms of config/production.toml
OPEN_LOOP_SHARE = 0.8  # the p99 target is at 80% of peak load
CLIENTS = 8  # closed loop: callers back to back, each on a connection of its own
# Workers behind SO_REUSEPORT get whole connections, so an open-loop load goes out over many,
# spread evenly (benchmarks/connections.py), and each worker draws its share of the rate.
OPEN_LOOP_CONNECTIONS = 16
SOURCE = "/oms.sourcing.v1.SourcingService/Source"


@dataclass(frozen=True)
class CaseResult:
    name: str
    store: str
    network: str
    workers: int
    threads: int
    clients: int
    target_rate: float  # calls/s asked of an open-loop case; 0 for closed loop
    calls: int
    errors: int
    seconds: float
    calls_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # CPU of the processes serving the port per answered call (user + system): steadier than
    # throughput when the load generator and other work share the cores. 0 where /proc is not.
    server_cpu_us: float
    client_cpu_us: float = 0.0  # the load generator's CPU per call sent
    max_send_lag_ms: float = 0.0  # open loop: how far behind its schedule the generator sent
    error_codes: dict[str, int] = field(default_factory=dict)  # errors by gRPC status (or "lost")


def source_requests(seed: int, count: int, lines: Sequence[int] = TYPICAL_LINES, network: Path = SAMPLE) -> list[bytes]:
    """Serialized SourceRequests to real cities (weighted by population), over ``network``'s catalogue."""
    from server.api.proto import common_pb2, sourcing_pb2

    skus = sorted({i["sku"] for i in json.loads(network.read_text())["items"]})
    cities = us_cities()[:300]
    weights = [c.population for c in cities]
    rng = random.Random(seed)
    requests = []
    for n in range(count):
        city = rng.choices(cities, weights=weights)[0]
        order_lines = [
            common_pb2.OrderLine(line_id=str(i), sku=sku, qty=rng.choice([1, 1, 1, 2]))
            for i, sku in enumerate(rng.sample(skus, k=rng.choice(lines)))
        ]
        order = common_pb2.Order(
            order_id=f"B{n}", ship_to=common_pb2.GeoPoint(lat=city.lat, lon=city.lon), lines=order_lines
        )
        requests.append(sourcing_pb2.SourceRequest(order=order).SerializeToString())
    return requests


def without_explanations(payloads: Sequence[bytes]) -> list[bytes]:
    """The same Source requests with skip_explanations set."""
    from server.api.proto import sourcing_pb2

    bare = []
    for payload in payloads:
        request = sourcing_pb2.SourceRequest.FromString(payload)
        request.skip_explanations = True
        bare.append(request.SerializeToString())
    return bare


def run_case(
    target: str,
    name: str,
    payloads: list[bytes],
    seconds: float,
    *,
    clients: int = CLIENTS,
    rate: float = 0.0,
    method: str = "",
    **labels: Any,
) -> CaseResult:
    """Source (or ``method``) with ``payloads`` (the trivial call without), closed loop with ``clients`` callers
    back to back, or open loop at ``rate`` calls a second; ``h2gen`` generates the load."""
    servers = listening_processes(int(target.rsplit(":", 1)[1]))
    cpu_before = cpu_seconds(servers)
    started = time.perf_counter()
    method = method or (SOURCE if payloads else HEALTH_CHECK)
    if rate > 0:
        load = generate(target, method, payloads, seconds, connections=OPEN_LOOP_CONNECTIONS, rate=rate)
    else:
        load = generate(target, method, payloads, seconds, connections=clients, per_connection=1)
    elapsed = time.perf_counter() - started
    server_cpu = cpu_seconds(servers) - cpu_before
    histogram = HdrHistogram(1, 60_000_000, 3)
    for value in load.latencies_us:
        histogram.record_value(max(1, value))
    calls = len(load.latencies_us)
    result = CaseResult(
        name=name,
        clients=OPEN_LOOP_CONNECTIONS if rate > 0 else clients,
        target_rate=round(rate, 1),
        calls=calls,
        errors=load.error_count,
        seconds=round(elapsed, 2),
        calls_per_second=round(calls / max(seconds, 1e-9), 1),  # the generator calls for ``seconds``
        p50_ms=histogram.get_value_at_percentile(50) / 1000,
        p90_ms=histogram.get_value_at_percentile(90) / 1000,
        p99_ms=histogram.get_value_at_percentile(99) / 1000,
        max_ms=histogram.get_max_value() / 1000,
        server_cpu_us=round(server_cpu / calls * 1e6, 1) if calls else 0.0,
        client_cpu_us=round(load.client_cpu_s / max(1, load.sent) * 1e6, 1),
        max_send_lag_ms=round(load.max_send_lag_us / 1000, 2),
        error_codes=dict(load.errors),
        **labels,
    )
    print(
        f"{name:<22} {labels} {result.calls_per_second:>8,.0f}/s p50 {result.p50_ms:.2f} p99 {result.p99_ms:.2f} ms"
        f" errors {dict(load.errors) or 0} server CPU {result.server_cpu_us:,.0f} µs/call"
        f" generator {result.client_cpu_us:,.0f} µs/call",
        file=sys.stderr,
    )
    return result


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` (those still running)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def serve(
    port: int, workers: int, threads: int, database: str, network: Path, extra: Sequence[str] = (), canned: bool = False
) -> subprocess.Popen[bytes]:
    """``oms-sourcing serve``; ``canned``: with Source answering from a cache (benchmarks/canned_source.py)."""
    command = [sys.executable, "-m", "benchmarks.canned_source"] if canned else [str(BIN / "oms-sourcing"), "serve"]
    args = [
        *command,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--database",
        database,
        "--load-sample-if-empty",
        "--sample-network",
        str(network),
        "--rules-path",
        str(RULES),
        "--metrics-port",
        "0",
        "--log-level",
        "WARNING",
        *pinned_as_shipped(workers),
        *extra,
    ]
    return subprocess.Popen(args, cwd=REPO)


def bench_server(
    port: int,
    workers: int,
    threads: int,
    store: str,
    database: str,
    network: Path,
    cases: Any,
    extra: Sequence[str] = (),
    canned: bool = False,
) -> list[CaseResult]:
    """Start one server configuration and run ``cases(target, labels)`` against it."""
    server = serve(port, workers, threads, database, network, extra, canned)
    target = f"127.0.0.1:{port}"
    try:
        wait_serving(target, 300)
        labels = {"store": f"{store}, canned Source" if canned else store, "workers": workers, "threads": threads}
        labels["network"] = network.stem
        result: list[CaseResult] = cases(target, labels)
        return result
    finally:
        server.terminate()
        server.wait(timeout=60)


def readme_order(skip_explanations: bool = False) -> bytes:
    """The README tour's Chicago order (2 lines; without its why-not node, which skip_explanations refuses)."""
    from server.api.proto import common_pb2, sourcing_pb2

    order = common_pb2.Order(
        order_id="WEB-1001",
        ship_to=common_pb2.GeoPoint(lat=41.8781, lon=-87.6298),
        lines=[
            common_pb2.OrderLine(line_id="1", sku="ACC-00002", qty=2),
            common_pb2.OrderLine(line_id="2", sku="ACC-00005", qty=1),
        ],
    )
    return sourcing_pb2.SourceRequest(order=order, skip_explanations=skip_explanations).SerializeToString()


def target_payloads() -> dict[str, list[bytes]]:
    """The issue's target cases (#20): the README's Chicago order, the 1-3-line mix with and
    without explanations, 1-line orders with and without; each a ratio to the trivial call."""
    mix = source_requests(seed=100, count=500, lines=(1, 2, 3))
    single = source_requests(seed=102, count=500, lines=(1,))
    return {
        "Source, README Chicago order": [readme_order()],
        "Source, 1-3 lines": mix,
        "Source, 1-3 lines, skip_explanations": without_explanations(mix),
        "Source, 1 line": single,
        "Source, 1 line, skip_explanations": without_explanations(single),
    }


STANDARD = ("Source", "Source@80%", "Source, skip_explanations")


def standard_cases(seconds: float, payloads: list[bytes], only: Sequence[str] = ()) -> Any:
    """The trivial call, then Source (1-5 lines) closed loop, at 80% open loop, without explanations,
    and the target cases; ``only``: just the cases named (the trivial call always runs)."""
    targets = target_payloads()

    def wanted(name: str) -> bool:
        return not only or name in only

    def cases(target: str, labels: dict[str, Any]) -> list[CaseResult]:
        out = [run_case(target, "Health.Check", [], seconds, **labels)]
        if wanted("Source") or wanted("Source@80%"):
            peak = run_case(target, "Source", payloads, seconds, **labels)
            out.append(peak)
            if wanted("Source@80%"):
                rate = peak.calls_per_second * OPEN_LOOP_SHARE
                out.append(run_case(target, "Source@80%", payloads, seconds, rate=rate, **labels))
        if wanted("Source, skip_explanations"):
            # What a caller that never shows the per-node notes gets.
            bare = without_explanations(payloads)
            out.append(run_case(target, "Source, skip_explanations", bare, seconds, **labels))
        for name, case_payloads in targets.items():
            if wanted(name):
                out.append(run_case(target, name, case_payloads, seconds, **labels))
        return out

    return cases


def canned_cases(seconds: float) -> Any:
    """The trivial call and the target cases against a server whose Source answers from a cache,
    each case after a warm-up pass (not counted) that fills the cache."""
    targets = target_payloads()

    def cases(target: str, labels: dict[str, Any]) -> list[CaseResult]:
        out = [run_case(target, "Health.Check", [], seconds, **labels)]
        for name, case_payloads in targets.items():
            generate(target, SOURCE, case_payloads, max(2.0, seconds / 2), connections=CLIENTS, per_connection=1)
            out.append(run_case(target, name, case_payloads, seconds, **labels))
        return out

    return cases


def large_cases(seconds: float, payloads: list[bytes]) -> Any:
    def cases(target: str, labels: dict[str, Any]) -> list[CaseResult]:
        ceiling = run_case(target, "Health.Check", [], seconds, **labels)
        # End to end: one caller at a time, so the latency is the call's own, not a queue's.
        alone = run_case(
            target,
            f"Source {LARGE_LINES} lines, one caller",
            payloads,
            seconds,
            clients=1,
            **labels,
        )
        # Few clients: these are latency cases (p99 end to end), not a throughput race.
        peak = run_case(target, f"Source {LARGE_LINES} lines", payloads, seconds, clients=4, **labels)
        paced = run_case(
            target,
            f"Source {LARGE_LINES} lines@80%",
            payloads,
            seconds,
            rate=peak.calls_per_second * OPEN_LOOP_SHARE,
            **labels,
        )
        return [ceiling, alone, peak, paced]

    return cases


def _pairs(text: str) -> list[tuple[int, int]]:
    """``"1x4,2x8"`` → [(1, 4), (2, 8)]: worker processes x handler threads."""
    pairs = []
    for part in text.split(","):
        workers, _, threads = part.partition("x")
        pairs.append((int(workers), int(threads)))
    return pairs


def render(report: dict[str, Any]) -> str:
    rows = report["cases"]
    ceiling = {
        (r["store"], r["network"], r["workers"], r["threads"]): r["calls_per_second"]
        for r in rows
        if r["name"] == "Health.Check"
    }
    out = [
        f"# Service benchmark, {report['date']}",
        "",
        "Real gRPC over loopback, load from h2gen (C, benchmarks/h2gen) on the same "
        f"{report['machine']['cpus']}-CPU machine "
        f"({report['machine']['python']}); shipped rules (rules/default.yaml); {report['seconds_per_case']} s per "
        f"case; load average before/after {report['load_before']} / {report['load_after']}. `@80%` rows are open "
        "loop at 80% of the peak measured just before, latency counted from each call's scheduled send time. "
        f"The network-2000 server runs with the production decision budget ({LARGE_BUDGET_MS} ms).",
        "",
        "| call | store | network | workers x threads | clients | calls/s | vs trivial call | p50 ms | p90 ms "
        "| p99 ms | errors | server CPU µs/call | generator CPU µs/call |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        key = (r["store"], r["network"], r["workers"], r["threads"])
        ratio = r["calls_per_second"] / ceiling[key] if ceiling.get(key) else float("nan")
        out.append(
            f"| {r['name']} | {r['store']} | {r['network']} | {r['workers']} x {r['threads']} | {r['clients']} | "
            f"{r['calls_per_second']:,.0f} | {ratio:.0%} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['errors']} | {_cpu_cell(r, 'server_cpu_us')} | {_cpu_cell(r, 'client_cpu_us')} |"
        )
    return "\n".join(out) + "\n"


def _cpu_cell(row: dict[str, Any], column: str) -> str:
    cpu = row.get(column)  # absent from results written before it was measured
    return f"{cpu:,.0f}" if cpu else "-"


def _postgres_database(admin: str) -> str | None:
    from benchmarks.allocate_bench import _postgres_database as create

    return create(admin)


def bench_configs(
    port: int, tmp: str, configs: str, postgres_config: str, postgres_dsn: str, make_cases: Callable[[], Any]
) -> list[CaseResult]:
    """The cases on SQLite for each of ``configs`` ("2x4,..."), then on PostgreSQL for each of
    ``postgres_config`` in a database of their own (skipped when PostgreSQL is absent)."""
    from benchmarks.allocate_bench import _drop

    results: list[CaseResult] = []
    for n, (workers, threads) in enumerate(_pairs(configs)):
        database = f"sqlite:///{tmp}/bench-{n}.db"
        results += bench_server(port, workers, threads, "sqlite", database, SAMPLE, make_cases())
    if postgres_config:
        url = _postgres_database(postgres_dsn)
        if url is not None:
            try:
                for workers, threads in _pairs(postgres_config):
                    results += bench_server(port, workers, threads, "postgresql", url, SAMPLE, make_cases())
            finally:
                _drop(postgres_dsn, url)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.service_bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per case (default: %(default)s)")
    parser.add_argument(
        "--configs", default="1x1,1x2,1x4,2x2,2x4", help="worker processes x handler threads (default: %(default)s)"
    )
    parser.add_argument("--postgres-config", default="2x4", help="configuration also run on PostgreSQL ('' skips)")
    parser.add_argument("--postgres", default=os.environ.get("OMS_TEST_POSTGRES_DSN") or DEFAULT_POSTGRES)
    parser.add_argument("--large-config", default="2x4", help="configuration of the 2,000-node case ('' skips)")
    parser.add_argument("--port", type=int, default=50071)
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where to write results (default: %(default)s)")
    parser.add_argument(
        "--cases",
        default="",
        help="only these cases, comma-separated, by name as the results print them (the trivial call always"
        f" runs): {', '.join(STANDARD).replace('%', '%%')},"  # argparse formats help with %
        " 'Source, README Chicago order', 'Source, 1-3 lines', 'Source, 1 line', ...",
    )
    parser.add_argument(
        "--canned-config",
        default="",
        help="also run the target cases against a server whose Source answers from a cache, with this"
        " configuration (1 worker, e.g. '1x1'; default: skipped): gRPC's own share of a Source call",
    )
    parser.add_argument("--suffix", default="", help="added to the result files' names (e.g. '-before')")
    args = parser.parse_args(argv)
    only = [c.strip() for c in args.cases.split(",") if c.strip()]
    if args.canned_config and any(workers != 1 for workers, _ in _pairs(args.canned_config)):
        parser.error("--canned-config: one worker process (the cache is patched into the serving process)")
    payloads = source_requests(seed=100, count=500)
    load_before = round(os.getloadavg()[0], 2)
    cases: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="oms-service-bench-") as tmp:
        cases += bench_configs(
            args.port, tmp, args.configs, args.postgres_config, args.postgres,
            lambda: standard_cases(args.seconds, payloads, only),
        )  # fmt: skip
        for workers, threads in _pairs(args.canned_config) if args.canned_config else []:
            database = f"sqlite:///{tmp}/bench-canned.db"
            cases += bench_server(
                args.port, workers, threads, "sqlite", database, SAMPLE, canned_cases(args.seconds), canned=True
            )
        if args.large_config:
            network = Path(tmp) / f"network-{LARGE_NODES}.json"
            network.write_text(json.dumps(make_network(LARGE_NODES, LARGE_SKUS, seed=42)))
            large = source_requests(seed=101, count=200, lines=(LARGE_LINES,), network=network)
            for workers, threads in _pairs(args.large_config):
                database = f"sqlite:///{tmp}/bench-large.db"
                cases += bench_server(
                    args.port,
                    workers,
                    threads,
                    "sqlite",
                    database,
                    network,
                    large_cases(args.seconds, large),
                    # The production decision budget (config/production.toml), as a checkout path runs it.
                    extra=("--solver-time-limit-ms", str(LARGE_BUDGET_MS)),
                )
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    report = {
        "date": date,
        "seconds_per_case": args.seconds,
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "machine": {"python": platform.python_version(), "cpus": mp.cpu_count(), "platform": platform.platform()},
        "cases": [asdict(c) for c in cases],
    }
    markdown = render(report)
    write_results(args.out_dir, f"service{args.suffix}", report, markdown, date)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
