"""Allocate's CPU per call in process, beside Source's, on SQLite and PostgreSQL.

The production wiring (``ServiceDeps`` over the store, the sample network topped up so stock
never runs out, the shipped rules), ``OrderService.Allocate`` and ``SourcingService.Source``
called directly with serialized 2-line orders (request bytes in, response bytes out; no gRPC
transport), in interleaved rounds. Each round reads the process's CPU time (user + system: the
service's Python, SQLite's own work and its fsyncs' system time; PostgreSQL's backends are not
in it) around its calls. The machine is shared, so the ratio of Allocate to Source within a
round is the steadier figure; medians over rounds are reported.

    python -m benchmarks.allocate_cpu [--calls 400] [--rounds 5] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.allocate_bench import DEFAULT_POSTGRES, SAMPLE, _drop, _order_proto, _postgres_database
from benchmarks.orders import make_orders
from server.api.app import prepare_store
from server.api.proto import orders_pb2, sourcing_pb2
from server.api.services.deps import ServiceDeps
from server.api.services.orders import OrderService
from server.api.services.sourcing import SourcingService
from server.config import Config
from server.network_file import read_network_file
from server.served_area import ServedArea
from server.store import open_store
from server.store.base import Store

REPO = Path(__file__).resolve().parents[1]


class _Context:
    """What the handlers ask of a gRPC context."""

    def time_remaining(self) -> float | None:
        return None


def _top_up(store: Store) -> None:
    write: Any = getattr(store, "_write")  # noqa: B009 - a benchmark's shortcut: stock never runs out
    write(lambda tx: tx.execute("UPDATE inventory SET on_hand = on_hand + 1000000"))


def _cpu_per_call(calls: Callable[[], None], n: int) -> float:
    """Process CPU µs per call over ``n`` calls."""
    before = time.process_time()
    for _ in range(n):
        calls()
    return (time.process_time() - before) / n * 1e6


def bench(database_url: str, calls: int, rounds: int, lines: int) -> dict[str, Any]:
    config = Config(
        database_url=database_url, load_sample_if_empty=True, rules_path=str(REPO / "rules" / "default.yaml")
    )
    store = open_store(config.database_url)
    try:
        prepare_store(store, config)
        _top_up(store)
        deps = ServiceDeps.build(config, store)
        orders_service, sourcing = OrderService(deps), SourcingService(deps)
        # The generator's orders, as allocate_bench sends them (2,000 of them, seed 42).
        # The generator's orders, as allocate_bench sends them (2,000 of them, seed 42), less the
        # few its jitter puts outside the served area (refused, as they should be).
        generated = make_orders(read_network_file(SAMPLE).items, 2_000, lines, seed=42)
        served = ServedArea.parse(config.served_regions)
        orders = [o for o in generated if served.covers_point(o.ship_to.lat, o.ship_to.lon)]
        run = uuid.uuid4().hex[:8]
        context: Any = _Context()
        counter = iter(range(10**9))

        def source() -> None:
            seq = next(counter)
            order = _order_proto(orders[seq % len(orders)], f"S-{run}-{seq}")
            request = sourcing_pb2.SourceRequest.FromString(sourcing_pb2.SourceRequest(order=order).SerializeToString())
            sourcing.Source(request, context).SerializeToString()

        def allocate() -> None:
            seq = next(counter)
            order = _order_proto(orders[seq % len(orders)], f"A-{run}-{seq}")
            payload = orders_pb2.AllocateRequest(request_key=f"{run}-{seq}", order=order).SerializeToString()
            orders_service.Allocate(orders_pb2.AllocateRequest.FromString(payload), context).SerializeToString()

        for _ in range(min(calls, 100)):  # warm: caches, the optimizer's first solves
            source()
            allocate()
        source_us, allocate_us = [], []
        for _ in range(rounds):
            source_us.append(_cpu_per_call(source, calls))
            allocate_us.append(_cpu_per_call(allocate, calls))
        deps.stopping.set()
        ratios = [s / a for s, a in zip(source_us, allocate_us, strict=True)]
        return {
            "source_cpu_us": round(statistics.median(source_us), 1),
            "allocate_cpu_us": round(statistics.median(allocate_us), 1),
            "allocate_share_of_source": round(statistics.median(ratios), 3),
            "rounds_source_us": [round(x) for x in source_us],
            "rounds_allocate_us": [round(x) for x in allocate_us],
        }
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.allocate_cpu", description=__doc__)
    parser.add_argument("--calls", type=int, default=400, help="calls per round and method")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=2)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("OMS_TEST_POSTGRES_DSN") or DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for name in args.stores.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                result = bench(f"sqlite:///{directory}/alloc.db", args.calls, args.rounds, args.lines)
        else:
            url = _postgres_database(args.postgres)
            if url is None:
                continue
            try:
                result = bench(url, args.calls, args.rounds, args.lines)
            finally:
                _drop(args.postgres, url)
        print(
            f"{name}: Source {result['source_cpu_us']:,.0f} µs CPU/call, Allocate {result['allocate_cpu_us']:,.0f}"
            f" (Source/Allocate {result['allocate_share_of_source']:.0%}); rounds Source {result['rounds_source_us']}"
            f" Allocate {result['rounds_allocate_us']}"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
