"""Source with a promised date (issue 19's speed targets), against the same calls without one and
the trivial call, in the same run:

- **end to end over gRPC**: 30-line orders on a generated 2,000-node network (its own server,
  ``oms-sourcing serve``, SQLite, the production decision budget), one caller at a time so the
  latency is the call's own: ``Health.Check``, ``Source`` and ``Source`` with a promised date
  (today + 2 or 3 days by the server's clock: some nodes then cannot make it). Target: p99 under
  150 ms.
- **in the engine** (``decide_from_levels``, the server's entry, in this process): 3-line orders
  on a generated 100-node network, without a promise, with one instant only (dated shipments),
  with a promised date, and with a day earlier under a rule allowing lateness (the order's
  penalty: the priced model whenever a late service is eligible); CPU time per decision, p50/p99.
  Target: p99 under 5 ms, optimal.

Writes benchmarks/results/<date>-promise-sourcing.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.networks.sample_network import make_network
from benchmarks.service_bench import LARGE_BUDGET_MS, RESULTS, bench_server, run_case, source_requests

LARGE_NODES, LARGE_SKUS, LARGE_LINES = 2000, 300, 30
SMALL_NODES, SMALL_SKUS, SMALL_LINES = 100, 200, 3


def with_promised_dates(payloads: Sequence[bytes], today: datetime, seed: int = 7) -> list[bytes]:
    """The same Source requests with a promised date two or three days after ``today``."""
    from server.api.proto import sourcing_pb2

    rng = random.Random(seed)
    out = []
    for payload in payloads:
        request = sourcing_pb2.SourceRequest.FromString(payload)
        request.order.promised_date = (today.date() + timedelta(days=rng.choice([2, 3]))).isoformat()
        out.append(request.SerializeToString())
    return out


def end_to_end(seconds: float, port: int, tmp: str) -> list[dict[str, Any]]:
    network = Path(tmp) / f"network-{LARGE_NODES}.json"
    network.write_text(json.dumps(make_network(LARGE_NODES, LARGE_SKUS, seed=42)))
    plain = source_requests(seed=101, count=200, lines=(LARGE_LINES,), network=network)
    promised = with_promised_dates(plain, datetime.now(UTC))

    def cases(target: str, labels: dict[str, Any]) -> list[Any]:
        return [
            run_case(target, "Health.Check", [], seconds, clients=1, **labels),
            run_case(target, f"Source {LARGE_LINES} lines", plain, seconds, clients=1, **labels),
            run_case(target, f"Source {LARGE_LINES} lines, promised date", promised, seconds, clients=1, **labels),
        ]

    results = bench_server(
        port,
        2,
        4,
        "sqlite",
        f"sqlite:///{tmp}/promise-large.db",
        network,
        cases,
        extra=("--solver-time-limit-ms", str(LARGE_BUDGET_MS)),
    )
    return [asdict(r) for r in results]


def in_engine(rounds: int) -> list[dict[str, Any]]:
    from engine.availability import StockLevels
    from engine.decision import SolveStatus
    from engine.directives import Directives
    from engine.model import GeoPoint, Order, OrderLine
    from engine.network import NetworkSnapshot
    from engine.promise.calculator import epoch_seconds
    from engine.sourcing import decide_from_levels
    from server.network_file import parse_network

    parsed = parse_network(make_network(SMALL_NODES, SMALL_SKUS, seed=43))
    snapshot = NetworkSnapshot(
        parsed.nodes,
        dict(parsed.rate_tables_in_force),
        node_schedules=parsed.node_schedules,
        carrier_services=parsed.carrier_services_in_force,
    )
    weights = {i.sku: i.unit_weight_lb for i in parsed.items}
    stock: dict[str, list[tuple[str, int]]] = {}
    for row in parsed.inventory:
        if row.quantity > 0:
            stock.setdefault(row.sku, []).append((row.node_id, row.quantity))
    skus = sorted(stock)
    now = datetime.now(UTC)
    at = epoch_seconds(now)
    rng = random.Random(5)
    orders = []
    for n in range(rounds):
        chosen = rng.sample(skus, SMALL_LINES)
        lines = tuple(OrderLine(str(i), sku, rng.choice([1, 1, 2]), weights[sku]) for i, sku in enumerate(chosen))
        ship_to = GeoPoint(rng.uniform(30.0, 47.0), rng.uniform(-120.0, -75.0))
        rows = [(sku, node_id, units) for sku in sorted(chosen) for node_id, units in stock[sku]]
        levels = StockLevels([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        promised = now.date() + timedelta(days=rng.choice([2, 3]))
        orders.append((Order(f"E{n}", ship_to, lines), promised, sorted(chosen), levels))

    def measure(name: str, promise: bool, dated: bool, late_penalty: float | None = None) -> dict[str, Any]:
        times, optimal, late, late_orders = [], 0, 0, 0
        directives = Directives(late_penalty_per_day=late_penalty)
        for order, promised, order_skus, levels in orders:
            if promise:
                order = replace(order, promised_date=promised - timedelta(days=1 if late_penalty else 0))
            started = time.process_time()
            decision = decide_from_levels(order, snapshot, order_skus, levels, directives, at=at if dated else None)
            times.append((time.process_time() - started) * 1000.0)
            optimal += decision.status is SolveStatus.OPTIMAL
            late += any(note.verdict.value == "LATE" for note in decision.node_notes)
            late_orders += any(s.delivery_day > promised.toordinal() - 1 for s in decision.cost.shipments)
        times.sort()

        def pick(q: float) -> float:
            return times[min(len(times) - 1, int(q * len(times)))]

        return {
            "name": name,
            "orders": len(times),
            "p50_ms": round(pick(0.50), 3),
            "p99_ms": round(pick(0.99), 3),
            "max_ms": round(times[-1], 3),
            "optimal": optimal,
            "with_late_nodes": late,
            "delivered_after_the_promise": late_orders if late_penalty else 0,
        }

    for order, promised, order_skus, levels in orders[:50]:  # warm the per-snapshot caches
        decide_from_levels(replace(order, promised_date=promised), snapshot, order_skus, levels, at=at)
    return [
        measure("3 lines, no promise (as before)", promise=False, dated=False),
        measure("3 lines, dated shipments", promise=False, dated=True),
        measure("3 lines, promised date", promise=True, dated=True),
        # A day earlier, so that more nodes are late, and a rule allowing lateness at 2.00 a day.
        measure("3 lines, promised date - 1, lateness 2.00/day", promise=True, dated=True, late_penalty=2.0),
    ]


def render(report: dict[str, Any]) -> str:
    out = [
        f"# Sourcing by promise, {report['date']}",
        "",
        f"{report['cpus']} CPUs shared with other work; load average before/after {report['load_before']} /"
        f" {report['load_after']}. Produced by `python -m benchmarks.promise_sourcing_bench`.",
        "",
        f"## End to end over gRPC: {LARGE_LINES}-line orders, {LARGE_NODES:,} nodes (SQLite, 2 x 4, one caller,"
        f" {LARGE_BUDGET_MS} ms decision budget)",
        "",
        "| call | calls/s | vs trivial call | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU µs/call |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = report["end_to_end"]
    trivial = next((r["calls_per_second"] for r in rows if r["name"] == "Health.Check"), 0.0)
    for r in rows:
        ratio = r["calls_per_second"] / trivial if trivial else float("nan")
        out.append(
            f"| {r['name']} | {r['calls_per_second']:,.1f} | {ratio:.1%} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} |"
            f" {r['p99_ms']:.2f} | {r['max_ms']:.2f} | {r['errors']} | {r['server_cpu_us']:,.0f} |"
        )
    out += [
        "",
        f"## In the engine: {SMALL_LINES}-line orders, {SMALL_NODES} nodes (CPU time per decision)",
        "",
        "| orders | decisions | p50 ms | p99 ms | max ms | optimal | with a late node | delivered late |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["engine"]:
        out.append(
            f"| {r['name']} | {r['orders']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['max_ms']:.3f} |"
            f" {r['optimal']} | {r['with_late_nodes']} | {r.get('delivered_after_the_promise', 0)} |"
        )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.promise_sourcing_bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per gRPC case (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1000, help="engine decisions per case (default: %(default)s)")
    parser.add_argument("--port", type=int, default=50077)
    parser.add_argument("--skip-grpc", action="store_true", help="the engine cases only")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_before = round(os.getloadavg()[0], 2)
    engine_rows = in_engine(args.rounds)
    print(json.dumps(engine_rows, indent=1), file=sys.stderr)
    grpc_rows: list[dict[str, Any]] = []
    if not args.skip_grpc:
        with tempfile.TemporaryDirectory(prefix="oms-promise-bench-") as tmp:
            grpc_rows = end_to_end(args.seconds, args.port, tmp)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    report = {
        "date": date,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "end_to_end": grpc_rows,
        "engine": engine_rows,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{date}-promise-sourcing.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render(report)
    (args.out_dir / f"{date}-promise-sourcing.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
