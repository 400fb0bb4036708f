"""Allocate's cost per call in process, beside Source's, on SQLite and PostgreSQL: CPU time and,
with ``--instructions``, callgrind's instruction counts.

The production wiring (``ServiceDeps`` over the store, the sample network topped up so stock
never runs out, the shipped rules), ``OrderService.Allocate`` and ``SourcingService.Source``
called directly with serialized 2-line orders (allocate_bench's generator; request bytes in,
response bytes out; no gRPC transport).

- CPU time: interleaved rounds, each reading the process's CPU time (user + system: the service's
  Python, SQLite's own work and its fsyncs' system time; PostgreSQL's backends are not in it)
  around its calls. The machine is shared, so the ratio within a round is the steadier figure;
  medians over rounds are reported.
- Instructions (``--instructions N``): each method runs in a process of its own under valgrind's
  callgrind on the store prepared beforehand: warm-up, then N calls, and again with 2N; per call
  = (Ir(2N) - Ir(N)) / N, the same from run to run where time is not (the database server's own
  work is not counted: PostgreSQL's backends run outside the process).

    python -m benchmarks.allocate_cpu [--calls 400] [--rounds 5] [--stores sqlite,postgresql]
    python -m benchmarks.allocate_cpu --instructions 100 --stores sqlite
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.allocate_bench import DEFAULT_POSTGRES, SAMPLE, _drop, _order_proto, _postgres_database
from benchmarks.callgrind import child_instructions
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
WARM_UP = 50


class _Context:
    """What the handlers ask of a gRPC context."""

    def time_remaining(self) -> float | None:
        return None


def _top_up(store: Store) -> None:
    write: Any = getattr(store, "_write")  # noqa: B009 - a benchmark's shortcut: stock never runs out
    write(lambda tx: tx.execute("UPDATE inventory SET on_hand = on_hand + 1000000"))


@contextmanager
def _calls(database_url: str, lines: int, prepare: bool) -> Iterator[dict[str, Callable[[], None]]]:
    """One Source call and one Allocate call (a new order each time), over a store with the sample."""
    config = Config(
        database_url=database_url, load_sample_if_empty=True, rules_path=str(REPO / "rules" / "default.yaml")
    )
    store = open_store(config.database_url)
    deps = None
    try:
        prepare_store(store, config, migrate=prepare)
        if prepare:
            _top_up(store)
        deps = ServiceDeps.build(config, store)
        orders_service, sourcing = OrderService(deps), SourcingService(deps)
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
            payload = sourcing_pb2.SourceRequest(order=order).SerializeToString()
            sourcing.Source(sourcing_pb2.SourceRequest.FromString(payload), context).SerializeToString()

        def allocate() -> None:
            seq = next(counter)
            order = _order_proto(orders[seq % len(orders)], f"A-{run}-{seq}")
            payload = orders_pb2.AllocateRequest(request_key=f"{run}-{seq}", order=order).SerializeToString()
            orders_service.Allocate(orders_pb2.AllocateRequest.FromString(payload), context).SerializeToString()

        yield {"Source": source, "Allocate": allocate}
    finally:
        if deps is not None:
            deps.stopping.set()
        store.close()


def _cpu_per_call(call: Callable[[], None], n: int) -> float:
    """Process CPU µs per call over ``n`` calls."""
    before = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - before) / n * 1e6


def cpu_time(database_url: str, calls: int, rounds: int, lines: int) -> dict[str, Any]:
    with _calls(database_url, lines, prepare=True) as call:
        for _ in range(min(calls, 100)):  # warm: caches, the optimizer's first solves
            call["Source"]()
            call["Allocate"]()
        source_us, allocate_us = [], []
        for _ in range(rounds):
            source_us.append(_cpu_per_call(call["Source"], calls))
            allocate_us.append(_cpu_per_call(call["Allocate"], calls))
    ratios = [a / s for s, a in zip(source_us, allocate_us, strict=True)]
    return {
        "source_cpu_us": round(statistics.median(source_us), 1),
        "allocate_cpu_us": round(statistics.median(allocate_us), 1),
        "allocate_over_source": round(statistics.median(ratios), 3),
        "rounds_source_us": [round(x) for x in source_us],
        "rounds_allocate_us": [round(x) for x in allocate_us],
    }


def child(database_url: str, method: str, calls: int, lines: int) -> int:
    """One process under callgrind: warm-up, then ``calls`` calls of ``method``."""
    with _calls(database_url, lines, prepare=False) as call:
        for _ in range(WARM_UP):
            call["Source"]()
            call["Allocate"]()
        for _ in range(calls):
            call[method]()
    return 0


def _ir(database_url: str, method: str, calls: int, lines: int) -> int:
    return child_instructions("benchmarks.allocate_cpu", database_url, method, str(calls), "--lines", str(lines))


def instructions(database_url: str, calls: int, lines: int) -> dict[str, Any]:
    with _calls(database_url, lines, prepare=True):
        pass  # migrated, the sample loaded and topped up, natively
    per_call = {m: (_ir(database_url, m, 2 * calls, lines) - _ir(database_url, m, calls, lines)) / calls for m in
                ("Source", "Allocate")}  # fmt: skip
    return {
        "source_instructions": round(per_call["Source"]),
        "allocate_instructions": round(per_call["Allocate"]),
        "allocate_over_source": round(per_call["Allocate"] / per_call["Source"], 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.allocate_cpu", description=__doc__)
    parser.add_argument("--calls", type=int, default=400, help="calls per round and method (CPU time)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--instructions", type=int, default=0, metavar="N", help="count instructions of N and 2N calls")
    parser.add_argument("--lines", type=int, default=2)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("OMS_TEST_POSTGRES_DSN") or DEFAULT_POSTGRES)
    parser.add_argument("--child", nargs=3, metavar=("URL", "METHOD", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]), args.lines)

    def measure(url: str) -> dict[str, Any]:
        if args.instructions:
            return instructions(url, args.instructions, args.lines)
        return cpu_time(url, args.calls, args.rounds, args.lines)

    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for name in args.stores.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                result = measure(f"sqlite:///{directory}/alloc.db")
        else:
            url = _postgres_database(args.postgres)
            if url is None:
                continue
            try:
                result = measure(url)
            finally:
                _drop(args.postgres, url)
        print(f"{name}: {result}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
