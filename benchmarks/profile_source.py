"""Where a Source call's time goes, in process: request bytes in, response bytes out, no network.

Builds the production wiring (ServiceDeps over a SQLite store with the sample network and the
shipped rules, rules/default.yaml), then calls SourcingService.Source directly with serialized
1-5 line orders. Reports, in the same run:

- per-call time of the current path, of the path before the profiling cuts (catalogue read
  per call, timestamps decoded per stock row) and of the current path with skip_explanations,
  interleaved rounds, medians;
- the share of a call per phase (cProfile cumulative times, so slightly inflated for small calls);
- cProfile's top functions.

gRPC's own transport cost is not here: service_bench measures it (the trivial call).

    python -m benchmarks.profile_source [--calls 2000] [--rounds 5] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from engine.availability import StockLevels
from engine.model import Item
from server.api.app import prepare_store
from server.api.item_cache import ItemCache
from server.api.proto import sourcing_pb2
from server.api.services.deps import ServiceDeps
from server.api.services.sourcing import SourcingService
from server.config import Config
from server.store import open_store
from server.store.base import Store

REPO = Path(__file__).resolve().parents[1]

# (label, "file:function" as pstats names it): the phases of one Source call.
PHASES = (
    ("request decode + catalogue (order_from_proto)", ("decider.py", "order_from_proto")),
    ("stock read (store)", ("common.py", "stock_levels")),
    ("rule evaluation", ("active_rules.py", "directives_for")),
    ("engine: problem build (general path)", ("problem.py", "build_problem")),
    ("engine: optimizer", ("search.py", "optimize")),
    ("engine: explanations", ("explain.py", "node_notes")),
    ("engine: small orders (small_orders.decide_small)", ("small_orders/__init__.py", "decide_small")),
    ("engine: total (sourcing.decide_from_levels)", ("sourcing.py", "decide_from_levels")),
    ("response build (decision_fields)", ("decision_proto.py", "decision_fields")),
)


class _Context:
    """What Source asks of a gRPC context."""

    def time_remaining(self) -> float | None:
        return None


class _Before:
    """The store as the decider used it before: every stock row's timestamp decoded."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def stock_levels(self, skus: Sequence[str], now: datetime | None = None) -> StockLevels:
        return StockLevels.from_positions(self._inner.get_availability(skus, now=now))


class _Uncached:
    """The catalogue as the decider read it before: from the store on every call."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]:
        return self._store.get_items(skus)

    def invalidate(self) -> None:
        pass


def build(db_dir: str) -> tuple[SourcingService, SourcingService, Store]:
    config = Config(
        database_url=f"sqlite:///{db_dir}/profile.db",
        load_sample_if_empty=True,
        rules_path=str(REPO / "rules" / "default.yaml"),
    )
    store = open_store(config.database_url)
    prepare_store(store, config)
    current = SourcingService(ServiceDeps.build(config, store))
    before_store: Any = _Before(store)
    before = SourcingService(ServiceDeps.build(config, before_store, items=cast(ItemCache, _Uncached(store))))
    return current, before, store


def run(service: SourcingService, payloads: Sequence[bytes], calls: int) -> float:
    """Seconds per call: decode the request, Source, encode the response."""
    context: Any = _Context()
    started = time.perf_counter()
    for i in range(calls):
        request = sourcing_pb2.SourceRequest.FromString(payloads[i % len(payloads)])
        service.Source(request, context).SerializeToString()
    return (time.perf_counter() - started) / calls


def phase_shares(stats: pstats.Stats) -> list[tuple[str, float]]:
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = next(v[3] for (f, _, name), v in table.items() if f.endswith("sourcing.py") and name == "Source")
    shares = []
    for label, (suffix, function) in PHASES:
        cumulative = sum(v[3] for (f, _, name), v in table.items() if f.endswith(suffix) and name == function)
        shares.append((label, cumulative / total))
    return shares


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.service_bench import source_requests, without_explanations

    parser = argparse.ArgumentParser(prog="benchmarks.profile_source", description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    payloads = source_requests(seed=7, count=500)
    with tempfile.TemporaryDirectory(prefix="lead7_profile_") as tmp:
        current, before, store = build(tmp)
        try:
            run(current, payloads, 300)  # warm caches and the network snapshot
            run(before, payloads, 300)
            bare = without_explanations(payloads)
            times: dict[str, list[float]] = {"before": [], "current": [], "bare": []}
            for _ in range(args.rounds):  # interleaved: the machine's noise hits all alike
                times["before"].append(run(before, payloads, args.calls))
                times["current"].append(run(current, payloads, args.calls))
                times["bare"].append(run(current, bare, args.calls))
            profiler = cProfile.Profile()
            profiler.enable()
            run(current, payloads, args.calls)
            profiler.disable()
        finally:
            store.close()
    b, c, n = (statistics.median(times[k]) * 1e6 for k in ("before", "current", "bare"))
    print(f"Source in process, median of {args.rounds} interleaved rounds of {args.calls} calls:")
    print(f"  before the cuts: {b:,.0f} µs/call   current: {c:,.0f} µs/call   ({(b - c) / b:+.0%} time saved)")
    print(f"  current with skip_explanations: {n:,.0f} µs/call   ({(c - n) / c:+.0%} time saved)")
    stats = pstats.Stats(profiler)
    print("\nshare of a Source call (cProfile cumulative):")
    for label, share in phase_shares(stats):
        print(f"  {label:<48} {share:6.1%}")
    print()
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
