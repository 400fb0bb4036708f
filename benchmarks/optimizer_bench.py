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
    .venv/bin/python -m benchmarks.optimizer_bench --quick    # smoke run (seconds)
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.baselines import BASELINES, Router, baseline_cost, check_allocations
from benchmarks.hard_orders import DATA as HARD_ORDERS
from benchmarks.instances import Instance, instance_from_json, read_jsonl
from benchmarks.networks.sample_network import make_network
from benchmarks.orders import make_orders
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

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = Path("benchmarks/results")
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
WARMUP_ORDERS = 3
CLOSEST = "closest_node_per_line"
# Relative tolerance when comparing costs: sums of a few dozen money amounts.
COST_TOLERANCE = 1e-9

_PATH_ABBREV = {
    DecisionPath.NOTHING_AVAILABLE: "NA",
    DecisionPath.SINGLE_NODE_BOUND: "SNB",
    DecisionPath.SINGLE_NODE_ENUMERATION: "SNE",
    DecisionPath.SOLVER: "SOLVER",
}


# --- the network and its stock -------------------------------------------------------------------------------


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


# --- running one cell ----------------------------------------------------------------------------------------


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


def _percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    if ms.size == 0:
        return {"p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(ms.max()), "mean": float(ms.mean())}


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
            "latency_ms": _percentiles_ms([r.baselines[name].seconds for r in runs]),
            "invalid_plans": sum(1 for r in runs if r.baselines[name].problems),
        }
    latency = _percentiles_ms([r.seconds for r in runs])
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


# --- hard orders with proven optima (benchmarks/hard_orders.py) ---------------------------------------------


@dataclass(frozen=True)
class HardRun:
    name: str
    kind: str
    limit_ms: int
    seconds: float
    cpu_seconds: float
    status: SolveStatus
    cost: float
    bound: float
    optimum: float
    problems: tuple[str, ...]

    @property
    def excess(self) -> float:
        """How far above the proven optimum the plan costs (0: optimal)."""
        return max(0.0, self.cost - self.optimum) / max(self.optimum, 1e-12)

    @property
    def reported_gap(self) -> float:
        return 0.0 if self.cost <= 0 else max(0.0, (self.cost - self.bound) / self.cost)

    @property
    def at_optimum(self) -> bool:
        return abs(self.cost - self.optimum) <= 0.005


def run_hard_instance(instance: Instance, limit_ms: int) -> HardRun:
    settings = SolverSettings(time_limit_ms=limit_ms)
    cpu, start = time.process_time(), time.perf_counter()
    decision = decide(instance.order, instance.snapshot, instance.availability, instance.directives, settings)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    problems = list(check_allocations(instance.order, decision.allocations, instance.snapshot, instance.availability))
    if decision.cost.total < instance.optimal_cost - 0.005:
        problems.append(f"costs {decision.cost.total:.4f}, below the proven optimum {instance.optimal_cost:.4f}")
    if decision.bound > instance.optimal_cost + 0.005:
        problems.append(f"bound {decision.bound:.4f} above the proven optimum {instance.optimal_cost:.4f}")
    if decision.status is SolveStatus.OPTIMAL and decision.cost.total > instance.optimal_cost + 0.005:
        problems.append(f"OPTIMAL at {decision.cost.total:.4f}, above the proven optimum {instance.optimal_cost:.4f}")
    return HardRun(
        instance.name,
        instance.kind,
        limit_ms,
        seconds,
        cpu_seconds,
        decision.status,
        decision.cost.total,
        decision.bound,
        instance.optimal_cost,
        tuple(problems),
    )


def summarize_hard(runs: Sequence[HardRun]) -> dict[str, Any]:
    excess = np.array([r.excess for r in runs])
    gaps = np.array([r.reported_gap for r in runs])
    return {
        "instances": len(runs),
        "optimal_share": float(np.mean([r.status is SolveStatus.OPTIMAL for r in runs])),
        "at_optimum_share": float(np.mean([r.at_optimum for r in runs])),
        "excess_mean": float(excess.mean()),
        "excess_max": float(excess.max()),
        "gap_mean": float(gaps.mean()),
        "gap_max": float(gaps.max()),
        "latency_ms": _percentiles_ms([r.seconds for r in runs]),
        "cpu_ms": _percentiles_ms([r.cpu_seconds for r in runs]),
        "invalid": sum(1 for r in runs if r.problems),
    }


def run_hard(path: Path, limits_ms: Sequence[int], progress: Callable[[int], object]) -> dict[str, Any]:
    """Every instance of the file under each limit, one at a time; per family and limit: how many
    reached a proof, how far above the proven optimum, the gap reported, latency and CPU time."""
    instances = [instance_from_json(doc) for doc in read_jsonl(path)]
    for instance in instances[:WARMUP_ORDERS]:
        run_hard_instance(instance, limits_ms[0])
    gc.collect()
    runs: list[HardRun] = []
    for limit in limits_ms:
        for instance in instances:
            runs.append(run_hard_instance(instance, limit))
            progress(1)
    families = list(dict.fromkeys(i.kind for i in instances))
    summary = []
    for limit in limits_ms:
        at_limit = [r for r in runs if r.limit_ms == limit]
        for family in families:
            summary.append(
                {"family": family, "limit_ms": limit, **summarize_hard([r for r in at_limit if r.kind == family])}
            )
        summary.append({"family": "all", "limit_ms": limit, **summarize_hard(at_limit)})
    return {
        "file": str(path),
        "summary": summary,
        "runs": [
            {
                "name": r.name,
                "limit_ms": r.limit_ms,
                "ms": round(r.seconds * 1000.0, 2),
                "cpu_ms": round(r.cpu_seconds * 1000.0, 2),
                "status": str(r.status),
                "cost": round(r.cost, 6),
                "bound": round(r.bound, 6),
                "optimum": r.optimum,
                "problems": list(r.problems),
            }
            for r in runs
        ],
    }


def render_hard(hard: Mapping[str, Any]) -> list[str]:
    out = [
        "",
        f"## Hard orders (`{Path(hard['file']).name}`: optima proven offline by HiGHS)",
        "",
        "OPTIMAL: proven by the decision within the limit; at optimum: its cost equals the proven optimum "
        "(it may be, unproven); excess: cost above the proven optimum; gap: what the decision reports "
        "(cost - bound) / cost.",
        "",
        "| family | limit ms | instances | OPTIMAL | at optimum | excess mean / worst | gap mean / worst "
        "| p50 ms | p99 ms | max ms | CPU p50 / p99 ms | invalid |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in hard["summary"]:
        lat, cpu = row["latency_ms"], row["cpu_ms"]
        invalid = f"**{row['invalid']}**" if row["invalid"] else "0"
        out.append(
            f"| {row['family']} | {row['limit_ms']:,} | {row['instances']} | {row['optimal_share']:.1%} "
            f"| {row['at_optimum_share']:.1%} | {row['excess_mean']:.3%} / {row['excess_max']:.3%} "
            f"| {row['gap_mean']:.3%} / {row['gap_max']:.3%} | {_ms(lat['p50'])} | {_ms(lat['p99'])} "
            f"| {_ms(lat['max'])} | {_ms(cpu['p50'])} / {_ms(cpu['p99'])} | {invalid} |"
        )
    return out


# --- targets, machine, report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    cell: str
    measured: str
    met: bool | None  # None: the cell was not run


def evaluate_targets(cells: Sequence[Mapping[str, Any]], hard: Mapping[str, Any] | None = None) -> list[Target]:
    targets: list[Target] = []
    for row in hard["summary"] if hard else ():
        if row["family"] == "all":
            continue
        cell = f"hard {row['family']}, limit {row['limit_ms']} ms"
        if row["limit_ms"] >= DEFAULT_TIME_LIMIT_MS:
            share = row["optimal_share"]
            targets.append(Target("every hard order OPTIMAL", cell, f"{share:.1%}", share == 1.0))
        else:
            worst = row["gap_max"]
            targets.append(Target("gap < 0.5% on each hard order", cell, f"worst {worst:.3%}", worst < 0.005))
    small = [c for c in cells if c["lines"] <= 5 and c["nodes"] <= 100]
    for c in small:
        cell = f"{c['nodes']}x{c['lines']}"
        p50, p99 = c["latency_ms"]["p50"], c["latency_ms"]["p99"]
        targets.append(Target("median < 0.5 ms (≤5 lines, ≤100 nodes)", cell, f"{p50:.3f} ms", p50 < 0.5))
        targets.append(Target("p99 < 5 ms (≤5 lines, ≤100 nodes)", cell, f"{p99:.2f} ms", p99 < 5.0))
    big = [c for c in cells if c["lines"] == 30 and c["nodes"] == 2_000]
    for c in big:
        p99, gap, optimal = c["latency_ms"]["p99"], c["gap_mean"], c["optimal_share"]
        cell = f"2000x30, limit {c['time_limit_ms']} ms"
        targets.append(Target("p99 < 100 ms", cell, f"{p99:.1f} ms", p99 < 100.0))
        targets.append(Target("mean gap < 0.5%", cell, f"{gap:.3%}", gap < 0.005))
        targets.append(Target("OPTIMAL ≥ 95%", cell, f"{optimal:.1%}", optimal >= 0.95))
    if not big and cells:
        targets.append(Target("2000x30 targets", "2000x30", "not run", None))
    worse = sum(b["cheaper_than_ours"] for c in cells for b in c["baselines"].values())
    targets.append(
        Target("ours never above a baseline", "all", f"{worse} orders where a baseline is cheaper", worse == 0)
    )
    return targets


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "ortools": _version("ortools"),
        "numpy": _version("numpy"),
        "git_commit": _git("rev-parse", "HEAD"),
        # Uncommitted changes (engine work in progress included) shape the numbers: say so.
        "git_dirty_files": len(_git("--no-optional-locks", "status", "--porcelain").splitlines()),
    }


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _paths(paths: Mapping[str, int]) -> str:
    return " · ".join(f"{_PATH_ABBREV.get(DecisionPath(p), p)} {n}" for p, n in paths.items())


def render_markdown(report: Mapping[str, Any]) -> str:
    meta, cells, targets = report["meta"], report["cells"], report["targets"]
    m = meta["machine"]
    names = list(BASELINES)
    out = [
        f"# Optimizer benchmark, {meta['date']}{' (quick)' if meta['quick'] else ''}",
        "",
        f"`decide()` one order at a time on one core; Python {m['python']}, {m['cpu_count']} CPUs, "
        f"{m['platform']}, OR-Tools {m['ortools']}, numpy {m['numpy']}; backend {meta['settings']['backend']}, "
        f"time limit {meta['settings']['time_limit_ms']} ms"
        f"{' (deadlines on CPU time)' if meta['settings'].get('deadline_clock') == 'cpu' else ''}; "
        f"commit {m['git_commit'][:10]}"
        f"{' + uncommitted changes' if m['git_dirty_files'] else ''}; load average {meta['loadavg_start']} at "
        f"start, {meta['loadavg_end']} at end; {meta['wall_seconds']:.0f} s in all.",
        "",
        "## Latency",
        "",
        "| nodes | SKUs | lines | limit ms | orders | decisions/s | p50 ms | p90 ms | p99 ms | max ms "
        "| closest-line p50 ms | ours/closest p50 | time in SOLVER path | candidates (mean) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        lat = c["latency_ms"]
        closest = c["baselines"][CLOSEST]["latency_ms"]["p50"] if CLOSEST in c["baselines"] else math.nan
        out.append(
            f"| {c['nodes']:,} | {c['skus']:,} | {c['lines']} | {c['time_limit_ms']:,} | {c['orders']} "
            f"| {c['decisions_per_second']:,.0f} "
            f"| {_ms(lat['p50'])} | {_ms(lat['p90'])} | {_ms(lat['p99'])} | {_ms(lat['max'])} "
            f"| {_ms(closest)} | {c['ours_p50_over_closest_p50']:.1f}x | {c['solver_time_share']:.0%} "
            f"| {c['candidates_mean']:.1f} |"
        )
    short = {"fewest_splits_then_closest": "fewest-splits", "closest_node_per_line": "closest-line"}
    header = "| nodes | lines | limit ms | OPTIMAL | mean gap | paths | ours mean cost |"
    rule = "|---:|---:|---:|---:|---:|---|---:|"
    for name in names:
        label = short.get(name, name)
        header += f" {label} mean cost | {label} above ours, mean / max | {label} cheaper |"
        rule += "---:|---:|---:|"
    header += " shipments/order ours / " + " / ".join(short.get(n, n) for n in names) + " |"
    rule += "---|"
    out += ["", "## Quality (cost-model money per order; gap = baseline cost / ours − 1)", "", header, rule]
    for c in cells:
        row = (
            f"| {c['nodes']:,} | {c['lines']} | {c['time_limit_ms']:,} | {c['optimal_share']:.1%} "
            f"| {c['gap_mean']:.3%} | {_paths(c['paths'])} "
            f"| {c['mean_cost']:.2f} |"
        )
        ships = [f"{c['mean_shipments']:.2f}"]
        for name in names:
            b = c["baselines"][name]
            cheaper = f"**{b['cheaper_than_ours']}**" if b["cheaper_than_ours"] else "0"
            row += (
                f" {b['mean_cost']:.2f} | {b['gap_vs_ours_pct_mean']:+.2f}% / {b['gap_vs_ours_pct_max']:+.1f}% "
                f"| {cheaper} |"
            )
            ships.append(f"{b['mean_shipments']:.2f}")
        out.append(row + " " + " / ".join(ships) + " |")
    if report.get("hard"):
        out += render_hard(report["hard"])
    out += [
        "",
        "Paths: SNB = one node ships all and a bound proves no split beats it; SNE = single-node enumeration; "
        "SOLVER = the OR-Tools model; NA = nothing available.",
        "",
        "## Targets (shown, not asserted)",
        "",
        "| target | cell | measured | met |",
        "|---|---|---|---|",
    ]
    for t in targets:
        met = "n/a" if t["met"] is None else "yes" if t["met"] else "**NO**"
        out.append(f"| {t['name']} | {t['cell']} | {t['measured']} | {met} |")
    suspects = report["suspects"]
    if suspects:
        out += ["", "## Warnings", ""]
        for s in suspects[:50]:
            out.append(f"- **{s['kind']}** {s['cell']} order `{s['order_id']}`: {s['detail']}")
        if len(suspects) > 50:
            out.append(f"- ... and {len(suspects) - 50} more in the JSON file")
    return "\n".join(out) + "\n"


# --- command line --------------------------------------------------------------------------------------------


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


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


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
    loadavg_start = _loadavg()
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
            "loadavg_end": _loadavg(),
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
