"""The engine benchmark: decide() latency and decision quality against two greedy baselines.

For every (network size, lines per order) cell it generates seeded orders (benchmarks/orders.py)
over a seeded network in real US cities (benchmarks/networks/sample_network.py), then for each
order, one at a time on one core:

- builds the order's Availability from stock pre-indexed by SKU (not timed);
- times ``engine.sourcing.decide`` with ``time.perf_counter`` (the only timed engine call);
- runs both baselines (benchmarks/baselines.py) on the same order and stock, timing them too:
  the closest-node router is the trivial reference, so ours/closest ratios survive noisy machines;
- costs every plan with ``engine.cost.plan_cost`` and checks it against the stock (not timed).

Results go to ``<out-dir>/<YYYY-MM-DD>-optimizer.json`` (every number, per-order latencies, machine
info) and ``.md`` (tables, also printed); ``--quick`` runs far fewer orders and writes
``<YYYY-MM-DD>-optimizer-quick.*`` so it never overwrites a full run. Targets are shown, never asserted.

    .venv/bin/python -m benchmarks.optimizer_bench            # full run (a few minutes)
    .venv/bin/python -m benchmarks.optimizer_bench --quick    # smoke run (seconds)"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
import types
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.baselines import BASELINES, Router, baseline_cost, check_allocations
from benchmarks.hard_orders import DATA as HARD_ORDERS
from benchmarks.hard_runs import run_hard
from benchmarks.instances import read_jsonl
from benchmarks.networks.sample_network import make_network
from benchmarks.optimizer_report import CLOSEST, evaluate_targets, render_markdown
from benchmarks.orders import make_orders
from benchmarks.reporting import DEFAULT_OUT_DIR, WARMUP_ORDERS, load_average, machine_info, percentiles_ms
from engine.availability import Availability
from engine.decision import DecisionPath, SolveStatus
from engine.directives import NO_DIRECTIVES
from engine.model import Item, Order
from engine.network import IntArray, NetworkSnapshot
from engine.optimizer.milp import DEFAULT_BACKEND
from engine.optimizer.search import DEFAULT_TIME_LIMIT_MS, SolverSettings
from engine.sourcing import decide
from engine.terms import resolve_terms
from server.network_file import parse_network

DEFAULT_SEED = 42


# The decision budget of a checkout path (config/production.toml): proof when it fits, else the
# best plan with its gap. The grid itself runs at the engine default (proof first).
CHECKOUT_BUDGET_MS = 90


NETWORK_SIZES = (50, 500, 2_000)


LINE_COUNTS = (1, 3, 10, 30)


SKUS_BY_NETWORK = {50: 300}  # the sample network's catalogue size; bigger networks get DEFAULT_SKUS


DEFAULT_SKUS = 1_000


FULL_ORDERS = 300


# Cells where one decision takes a few hundred ms: fewer orders keep the full run near five minutes.
FULL_ORDERS_BY_CELL = {(500, 30): 200, (2_000, 30): 200}


QUICK_ORDERS = 25


QUICK_ORDERS_BY_CELL = {(500, 30): 10, (2_000, 10): 15, (2_000, 30): 8}


# Relative tolerance when comparing costs: sums of a few dozen money amounts.
COST_TOLERANCE = 1e-9


@dataclass(frozen=True)
class BenchNetwork:
    n_nodes: int
    n_skus: int
    seed: int
    snapshot: NetworkSnapshot
    items: tuple[Item, ...]
    stock: Mapping[str, tuple[IntArray, IntArray]]  # sku -> (snapshot node indices, units available)
    inventory_rows: int
    build_seconds: float


def build_network(n_nodes: int, n_skus: int, seed: int) -> BenchNetwork:
    start = time.perf_counter()
    loaded = parse_network(make_network(n_nodes, n_skus, seed), f"make_network({n_nodes}, {n_skus}, {seed})")
    snapshot = NetworkSnapshot(
        loaded.nodes,
        rate_tables=loaded.rate_tables_in_force,
        currency=loaded.currency,
        version=f"bench-{n_nodes}-{n_skus}-{seed}",
    )
    by_sku: dict[str, tuple[list[int], list[int]]] = {}
    for update in loaded.inventory:  # absolute counts, nothing reserved: available = on hand
        where, units = by_sku.setdefault(update.sku, ([], []))
        where.append(snapshot.index[update.node_id])
        units.append(max(0, update.quantity))
    stock = {
        sku: (np.array(where, dtype=np.int64), np.array(units, dtype=np.int64))
        for sku, (where, units) in by_sku.items()
    }
    return BenchNetwork(
        n_nodes=n_nodes,
        n_skus=n_skus,
        seed=seed,
        snapshot=snapshot,
        items=loaded.items,
        stock=stock,
        inventory_rows=len(loaded.inventory),
        build_seconds=time.perf_counter() - start,
    )


def availability_for(order: Order, network: BenchNetwork) -> Availability:
    """The order's SKUs as one dense [K, nodes] matrix, from the pre-indexed stock."""
    skus = tuple(dict.fromkeys(line.sku for line in order.lines))
    units = np.zeros((len(skus), len(network.snapshot)), dtype=np.int64)
    for k, sku in enumerate(skus):
        held = network.stock.get(sku)
        if held is not None:
            units[k, held[0]] = held[1]
    return Availability(skus, units)


@dataclass(frozen=True)
class BaselineRun:
    cost: float
    shipments: int
    backordered: int
    seconds: float
    problems: tuple[str, ...]


@dataclass(frozen=True)
class OrderRun:
    order_id: str
    seconds: float
    cost: float
    status: SolveStatus
    path: DecisionPath
    gap: float
    candidates: int
    shipments: int
    backordered: int
    problems: tuple[str, ...]
    baselines: Mapping[str, BaselineRun]


def run_order(
    order: Order, network: BenchNetwork, settings: SolverSettings, baselines: Mapping[str, Router]
) -> OrderRun:
    snapshot = network.snapshot
    availability = availability_for(order, network)
    terms = resolve_terms(order, NO_DIRECTIVES, snapshot)
    start = time.perf_counter()
    decision = decide(order, snapshot, availability, NO_DIRECTIVES, settings)
    seconds = time.perf_counter() - start
    runs: dict[str, BaselineRun] = {}
    for name, router in baselines.items():
        start = time.perf_counter()
        rows = router(order, snapshot, availability)
        elapsed = time.perf_counter() - start
        allocated = sum(a.qty for a in rows)
        runs[name] = BaselineRun(
            cost=baseline_cost(order, rows, snapshot, terms),
            shipments=len({a.node_id for a in rows}),
            backordered=order.units - allocated,
            seconds=elapsed,
            problems=tuple(check_allocations(order, rows, snapshot, availability)),
        )
    return OrderRun(
        order_id=order.order_id,
        seconds=seconds,
        cost=decision.cost.total,
        status=decision.status,
        path=decision.path,
        gap=decision.gap,
        candidates=decision.candidates,
        shipments=decision.shipments,
        backordered=decision.cost.backordered_units,
        problems=tuple(check_allocations(order, decision.allocations, snapshot, availability)),
        baselines=runs,
    )


@dataclass(frozen=True)
class Suspect:
    """An order where a baseline beat ours, or a plan broke a limit: worth a look, a bug when OPTIMAL."""

    cell: str
    order_id: str
    kind: str
    detail: str
    order: Mapping[str, Any]


def _order_doc(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "ship_to": [order.ship_to.lat, order.ship_to.lon],
        "lines": [[line.line_id, line.sku, line.qty, line.unit_weight_lb] for line in order.lines],
    }


def summarize_cell(
    network: BenchNetwork, n_lines: int, orders: Sequence[Order], runs: Sequence[OrderRun]
) -> tuple[dict[str, Any], list[Suspect]]:
    cell = f"{network.n_nodes} nodes x {n_lines} lines"
    suspects: list[Suspect] = []
    by_id = {o.order_id: o for o in orders}
    ours = np.array([r.cost for r in runs], dtype=np.float64)
    total_seconds = sum(r.seconds for r in runs)
    solver_seconds = sum(r.seconds for r in runs if r.path is DecisionPath.SOLVER)
    for r in runs:
        if r.problems:
            suspects.append(
                Suspect(cell, r.order_id, "ours-invalid", "; ".join(r.problems), _order_doc(by_id[r.order_id]))
            )
    baselines: dict[str, Any] = {}
    for name in runs[0].baselines if runs else ():
        costs = np.array([r.baselines[name].cost for r in runs], dtype=np.float64)
        gap_pct = (costs - ours) / np.maximum(ours, 1e-12) * 100.0
        cheaper = costs < ours - COST_TOLERANCE * np.maximum(1.0, ours)
        cheaper_optimal = 0
        for r, is_cheaper, cost in zip(runs, cheaper.tolist(), costs.tolist(), strict=True):
            b = r.baselines[name]
            if b.problems:
                suspects.append(
                    Suspect(cell, r.order_id, f"{name}-invalid", "; ".join(b.problems), _order_doc(by_id[r.order_id]))
                )
            if is_cheaper:
                optimal = r.status is SolveStatus.OPTIMAL
                cheaper_optimal += optimal
                detail = f"{name} costs {cost:.4f}, ours {r.cost:.4f} ({r.status}, {r.path}, gap {r.gap:.4%})"
                kind = "baseline-cheaper-than-OPTIMAL" if optimal else "baseline-cheaper-than-FEASIBLE"
                suspects.append(Suspect(cell, r.order_id, kind, detail, _order_doc(by_id[r.order_id])))
        baselines[name] = {
            "mean_cost": float(costs.mean()),
            "gap_vs_ours_pct_mean": float(gap_pct.mean()),
            "gap_vs_ours_pct_max": float(gap_pct.max()),
            "cheaper_than_ours": int(cheaper.sum()),
            "cheaper_than_ours_when_optimal": cheaper_optimal,
            "mean_shipments": float(np.mean([r.baselines[name].shipments for r in runs])),
            "mean_backordered_units": float(np.mean([r.baselines[name].backordered for r in runs])),
            "latency_ms": percentiles_ms([r.baselines[name].seconds for r in runs]),
            "invalid_plans": sum(1 for r in runs if r.baselines[name].problems),
        }
    latency = percentiles_ms([r.seconds for r in runs])
    closest_p50 = baselines.get(CLOSEST, {}).get("latency_ms", {}).get("p50", math.nan)
    summary: dict[str, Any] = {
        "nodes": network.n_nodes,
        "skus": network.n_skus,
        "lines": n_lines,
        "orders": len(runs),
        "decisions_per_second": len(runs) / total_seconds if total_seconds > 0 else math.nan,
        "latency_ms": latency,
        "ours_p50_over_closest_p50": latency["p50"] / closest_p50 if closest_p50 > 0 else math.nan,
        "optimal_share": float(np.mean([r.status is SolveStatus.OPTIMAL for r in runs])),
        "gap_mean": float(np.mean([r.gap for r in runs])),
        "gap_max": float(np.max([r.gap for r in runs])),
        "paths": dict(sorted(Counter(str(r.path) for r in runs).items())),
        "solver_time_share": solver_seconds / total_seconds if total_seconds > 0 else 0.0,
        "candidates_mean": float(np.mean([r.candidates for r in runs])),
        "mean_cost": float(ours.mean()),
        "mean_shipments": float(np.mean([r.shipments for r in runs])),
        "mean_backordered_units": float(np.mean([r.backordered for r in runs])),
        "invalid_plans": sum(1 for r in runs if r.problems),
        "baselines": baselines,
        "latencies_ms": [round(r.seconds * 1000.0, 4) for r in runs],
    }
    return summary, suspects


def run_cell(
    network: BenchNetwork,
    n_lines: int,
    n_orders: int,
    seed: int,
    settings: SolverSettings,
    progress: Callable[[int], object],
) -> tuple[dict[str, Any], list[Suspect]]:
    orders = make_orders(network.items, n_orders, n_lines, seed=seed, prefix=f"N{network.n_nodes}")
    warmup = make_orders(network.items, WARMUP_ORDERS, n_lines, seed=seed + 1, prefix="WARMUP")
    for order in warmup:  # first solver construction, numpy caches: not what a steady server sees
        run_order(order, network, settings, BASELINES)
    gc.collect()
    runs = []
    for order in orders:
        runs.append(run_order(order, network, settings, BASELINES))
        progress(1)
    summary, suspects = summarize_cell(network, n_lines, orders, runs)
    summary["order_seed"] = seed
    summary["time_limit_ms"] = settings.time_limit_ms
    return summary, suspects


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError("expected positive integers")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.optimizer_bench",
        description="Benchmark engine.sourcing.decide() (latency, optimality, cost) against two greedy "
        "baselines over seeded orders and networks in real US cities. One core, one order at a time.",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (writes *-optimizer-quick.*)")
    parser.add_argument(
        "--out-dir", type=Path, default=DEFAULT_OUT_DIR, help=f"where to write results (default {DEFAULT_OUT_DIR})"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"network and order seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--nodes", type=_ints, default=NETWORK_SIZES, help="network sizes, comma-separated (default 50,500,2000)"
    )
    parser.add_argument("--lines", type=_ints, default=LINE_COUNTS, help="lines per order (default 1,3,10,30)")
    parser.add_argument("--orders", type=int, help="orders per cell, overriding the built-in counts")
    parser.add_argument(
        "--time-limit-ms", type=int, default=DEFAULT_TIME_LIMIT_MS, help="solver time limit per decision"
    )
    parser.add_argument(
        "--budget-ms",
        type=int,
        default=CHECKOUT_BUDGET_MS,
        help="also run the 30-line cells of networks of 2,000+ nodes under this decision budget, as in a "
        "checkout path (config/production.toml); 0 skips (default %(default)s)",
    )
    parser.add_argument(
        "--hard-orders",
        type=Path,
        default=HARD_ORDERS,
        help="hard orders with proven optima, run at the time limit and the budget (default %(default)s)",
    )
    parser.add_argument("--no-hard", action="store_true", help="skip the hard orders")
    parser.add_argument("--hard-only", action="store_true", help="only the hard orders (writes *-hard-orders.*)")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, help=f"OR-Tools backend (default {DEFAULT_BACKEND})")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU (Linux), e.g. --cpu 1")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--cpu-clock",
        action="store_true",
        help="decision deadlines on this process's CPU time, not the wall clock: on a shared machine a "
        "limit then buys the same work whatever else runs (latencies stay wall-clock)",
    )
    return parser.parse_args(argv)


def orders_for(n_nodes: int, n_lines: int, quick: bool, override: int | None) -> int:
    if override is not None:
        return override
    if quick:
        return QUICK_ORDERS_BY_CELL.get((n_nodes, n_lines), QUICK_ORDERS)
    return FULL_ORDERS_BY_CELL.get((n_nodes, n_lines), FULL_ORDERS)


def use_cpu_clock() -> None:
    """Deadlines (engine/optimizer/deadline.py) read this process's CPU time from now on."""
    from engine.optimizer import deadline

    setattr(deadline, "time", types.SimpleNamespace(perf_counter=time.process_time))  # noqa: B010


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cpu_clock:
        use_cpu_clock()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    settings = SolverSettings(time_limit_ms=args.time_limit_ms, backend=args.backend)
    started = time.perf_counter()
    now = datetime.now(UTC).astimezone()
    loadavg_start = load_average()
    plan = [(n, lines, orders_for(n, lines, args.quick, args.orders)) for n in args.nodes for lines in args.lines]
    if args.hard_only:
        plan = []
    cells: list[dict[str, Any]] = []
    suspects: list[Suspect] = []
    networks: list[dict[str, Any]] = []
    budgeted = sum(count for n, lines, count in plan if args.budget_ms and lines >= 30 and n >= 2_000)
    hard_limits = [args.time_limit_ms, *([args.budget_ms] if args.budget_ms else [])]
    run_hard_orders = not args.no_hard and args.hard_orders.exists()
    hard_count = sum(1 for _ in read_jsonl(args.hard_orders)) * len(hard_limits) if run_hard_orders else 0
    total = sum(count for _, _, count in plan) + budgeted + hard_count
    bar = tqdm(total=total, unit="order", file=sys.stderr, disable=args.no_progress)
    hard: dict[str, Any] | None = None
    with bar:
        if run_hard_orders:
            bar.set_description("hard orders")
            hard = run_hard(args.hard_orders, hard_limits, bar.update)
        for n_nodes in args.nodes if plan else ():
            n_skus = SKUS_BY_NETWORK.get(n_nodes, DEFAULT_SKUS)
            bar.set_description(f"building {n_nodes}-node network")
            network = build_network(n_nodes, n_skus, args.seed)
            networks.append(
                {
                    "nodes": n_nodes,
                    "skus": n_skus,
                    "seed": args.seed,
                    "inventory_rows": network.inventory_rows,
                    "nodes_that_can_ship": int(network.snapshot.can_fulfil.sum()),
                    "build_seconds": round(network.build_seconds, 2),
                }
            )
            for n, n_lines, count in plan:
                if n != n_nodes:
                    continue
                bar.set_description(f"{n_nodes} nodes x {n_lines} lines")
                seed = args.seed * 100_003 + n_nodes * 101 + n_lines
                summary, found = run_cell(network, n_lines, count, seed, settings, bar.update)
                cells.append(summary)
                suspects.extend(found)
                if args.budget_ms and n_lines >= 30 and n_nodes >= 2_000:
                    bar.set_description(f"{n_nodes} nodes x {n_lines} lines, {args.budget_ms} ms budget")
                    budget = replace(settings, time_limit_ms=args.budget_ms)
                    summary, found = run_cell(network, n_lines, count, seed, budget, bar.update)
                    cells.append(summary)
                    suspects.extend(found)
    targets = evaluate_targets(cells, hard)
    for run in hard["runs"] if hard else ():
        if run["problems"]:
            detail = "; ".join(run["problems"])
            suspects.append(Suspect(f"hard, {run['limit_ms']} ms", run["name"], "ours-invalid", detail, {}))
    report: dict[str, Any] = {
        "meta": {
            "date": now.date().isoformat(),
            "started_at": now.isoformat(timespec="seconds"),
            "quick": args.quick,
            "seed": args.seed,
            "settings": {
                "time_limit_ms": settings.time_limit_ms,
                "backend": settings.backend,
                "deadline_clock": "cpu" if args.cpu_clock else "wall",
            },
            "machine": machine_info(),
            "loadavg_start": loadavg_start,
            "loadavg_end": load_average(),
            "wall_seconds": time.perf_counter() - started,
            "networks": networks,
            "timing": "time.perf_counter around decide() only; Availability built and plans costed outside",
        },
        "cells": cells,
        "hard": hard,
        "targets": [t.__dict__ for t in targets],
        "suspects": [s.__dict__ for s in suspects],
    }
    markdown = render_markdown(report)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    kind = "hard-orders" if args.hard_only else "optimizer"
    stem = f"{report['meta']['date']}-{kind}{'-quick' if args.quick else ''}"
    json_path, md_path = args.out_dir / f"{stem}.json", args.out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=1, default=str) + "\n")
    md_path.write_text(markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    bad = [s for s in suspects if s.kind in ("baseline-cheaper-than-OPTIMAL", "ours-invalid")]
    if bad:
        banner = "!" * 100
        print(f"\n{banner}", file=sys.stderr)
        print(
            f"!!! ENGINE BUG SUSPECTED: {len(bad)} order(s) where a decision reported OPTIMAL was beaten by a",
            file=sys.stderr,
        )
        print("!!! baseline, or the decision broke a stock/capacity limit. First ones:", file=sys.stderr)
        for s in bad[:10]:
            print(f"!!!   {s.cell} {s.order_id} [{s.kind}]: {s.detail}", file=sys.stderr)
        print(f"!!! Orders are in {json_path} under 'suspects'.\n{banner}\n", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
