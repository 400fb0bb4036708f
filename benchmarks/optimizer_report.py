"""The engine benchmark's report: its targets judged from the cells' figures and the markdown tables
(per cell latency, quality against the baselines, hard orders), as printed and written."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.baselines import BASELINES
from benchmarks.hard_runs import render_hard
from benchmarks.reporting import format_ms
from engine.decision import DecisionPath
from engine.optimizer.search import DEFAULT_TIME_LIMIT_MS

CLOSEST = "closest_node_per_line"


_PATH_ABBREV = {
    DecisionPath.NOTHING_AVAILABLE: "NA",
    DecisionPath.SINGLE_NODE_BOUND: "SNB",
    DecisionPath.SINGLE_NODE_ENUMERATION: "SNE",
    DecisionPath.SOLVER: "SOLVER",
}


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
            f"| {format_ms(lat['p50'])} | {format_ms(lat['p90'])} | {format_ms(lat['p99'])} | {format_ms(lat['max'])} "
            f"| {format_ms(closest)} | {c['ours_p50_over_closest_p50']:.1f}x | {c['solver_time_share']:.0%} "
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
