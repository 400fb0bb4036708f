"""The hard-order instances of the engine benchmark: each decided under several time limits against
its proven optimum (gap, status, time), summarised and rendered as a table."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.baselines import check_allocations
from benchmarks.instances import Instance, instance_from_json, read_jsonl
from benchmarks.reporting import WARMUP_ORDERS, format_ms, percentiles_ms
from engine.decision import SolveStatus
from engine.optimizer.search import SolverSettings
from engine.sourcing import decide


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
        "latency_ms": percentiles_ms([r.seconds for r in runs]),
        "cpu_ms": percentiles_ms([r.cpu_seconds for r in runs]),
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
            f"| {row['gap_mean']:.3%} / {row['gap_max']:.3%} | {format_ms(lat['p50'])} | {format_ms(lat['p99'])} "
            f"| {format_ms(lat['max'])} | {format_ms(cpu['p50'])} / {format_ms(cpu['p99'])} | {invalid} |"
        )
    return out
