"""One table for a `make bench` run: ratios to the trivial-call ceiling first, then the targets.

Reads the day's benchmarks/results/<date>-{service,allocate,optimizer,rules}.json (whichever
exist) and writes <date>.json (all of them, together) and <date>-summary.md. Ratios are the
headline because absolute numbers drift on a shared machine; each ratio divides two numbers
measured in the same run against the same server configuration.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
PARTS = ("service", "allocate", "optimizer", "rules", "soak")  # soak: `make soak`, when run that day
# Issue #20's targets (service_bench's target cases): explanations on at 35%, without and 1-line at 50%.
ISSUE_20_TARGETS = (
    ("Source, README Chicago order", 0.35),
    ("Source, 1-3 lines", 0.35),
    ("Source, 1-3 lines, skip_explanations", 0.5),
    ("Source, 1 line", 0.5),
    ("Source, 1 line, skip_explanations", 0.5),
)
DEFAULT_CONFIG = (2, 4)  # workers x threads the service ships with (docs/decisions.md)


def _load(directory: Path, date: str) -> dict[str, Any]:
    found = {}
    for part in PARTS:
        path = directory / f"{date}-{part}.json"
        if path.exists():
            found[part] = json.loads(path.read_text())
    return found


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _cpu_pair(case: dict[str, Any], check: dict[str, Any]) -> str:
    """The call's server CPU per call, and the trivial call's beside it (a steadier ratio than throughput)."""
    cpu, trivial = case.get("server_cpu_us"), check.get("server_cpu_us")
    return f"{cpu:,.0f} ({trivial:,.0f})" if cpu and trivial else "-"


def _service_rows(service: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(headline table rows, target rows) from the service benchmark."""
    cases = service["cases"]
    configs: dict[tuple[str, str, int, int], dict[str, dict[str, Any]]] = {}
    for case in cases:
        key = (case["store"], case["network"], case["workers"], case["threads"])
        configs.setdefault(key, {})[case["name"]] = case
    rows, targets = [], []
    for (store, network, workers, threads), named in configs.items():
        check = named.get("Health.Check")
        for name, case in named.items():
            if name == "Health.Check" or check is None:
                continue
            ratio = case["calls_per_second"] / check["calls_per_second"]
            rows.append(
                f"| {name} | {store} | {network} | {workers} x {threads} | {check['calls_per_second']:,.0f} | "
                f"{case['calls_per_second']:,.0f} | **{ratio:.0%}** | {case['p50_ms']:.2f} | {case['p99_ms']:.2f} | "
                f"{case['errors']} | {_cpu_pair(case, check)} |"
            )
        source, paced = named.get("Source"), named.get("Source@80%")
        if check is not None and source is not None and network == "sample-network":
            ratio = source["calls_per_second"] / check["calls_per_second"]
            targets.append(
                f"| Source ≥ 50% of the trivial call ({store}, {workers} x {threads}) | {ratio:.0%} | "
                f"{_verdict(ratio >= 0.5)} |"
            )
        if check is not None and network == "sample-network":
            for name, floor in ISSUE_20_TARGETS:
                case = named.get(name)
                if case is not None:
                    ratio = case["calls_per_second"] / check["calls_per_second"]
                    targets.append(
                        f"| {name} ≥ {floor:.0%} of the trivial call ({store}, {workers} x {threads}) | {ratio:.0%} | "
                        f"{_verdict(ratio >= floor)} |"
                    )
        if paced is not None:
            targets.append(
                f"| Source p99 < 15 ms at 80% of peak ({store}, {workers} x {threads}) | {paced['p99_ms']:.1f} ms "
                f"({paced['calls_per_second']:,.0f}/s) | {_verdict(paced['p99_ms'] < 15)} |"
            )
        for name, case in named.items():
            if name.endswith("lines, one caller"):
                targets.append(
                    f"| {name.removesuffix(', one caller')} on {network}: p99 < 150 ms end to end (one caller) | "
                    f"{case['p99_ms']:.0f} ms | {_verdict(case['p99_ms'] < 150)} |"
                )
    return rows, targets


def _allocate_rows(allocate: dict[str, Any]) -> list[str]:
    rows = []
    by_store: dict[str, dict[str, dict[str, Any]]] = {}
    for phase in allocate["phases"]:
        by_store.setdefault(phase["store"], {})[phase["method"]] = phase
    for store, methods in by_store.items():
        source, alloc = methods.get("Source"), methods.get("Allocate")
        if source is None or alloc is None:
            continue
        share = alloc["per_second"] / source["per_second"]
        rows.append(
            f"| Allocate ≥ 60% of Source ({store}) | {share:.0%} ({alloc['per_second']:,.0f} vs "
            f"{source['per_second']:,.0f}/s) | {_verdict(share >= 0.6)} |"
        )
        rows.append(
            f"| Allocate ≥ 1,000/s ({store}) | {alloc['per_second']:,.0f}/s, p99 {alloc['p99_ms']:.0f} ms, "
            f"{alloc['errors']} errors | {_verdict(alloc['per_second'] >= 1000)} |"
        )
    return rows


def _hard_rows(hard: dict[str, Any]) -> list[str]:
    """Per hard-order family: the OPTIMAL share at each limit (the 2 s default and the 90 ms budget
    side by side), the reported gap's mean and worst, and p99 latency (optimizer_bench's hard orders)."""
    by_family: dict[str, dict[int, dict[str, Any]]] = {}
    for row in hard["summary"]:
        by_family.setdefault(row["family"], {})[int(row["limit_ms"])] = row
    rows = []
    for family, by_limit in by_family.items():
        for limit in sorted(by_limit, reverse=True):
            row = by_limit[limit]
            rows.append(
                f"| {family} | {limit:,} | {row['instances']} | {row['optimal_share']:.0%} | "
                f"{row['gap_mean']:.3%} / {row['gap_max']:.3%} | {row['excess_mean']:.3%} / {row['excess_max']:.3%} | "
                f"{row['latency_ms']['p99']:,.0f} | {row['cpu_ms']['p99']:,.0f} | {row['invalid']} |"
            )
    return rows


def render(date: str, parts: dict[str, Any]) -> str:
    out = [f"# Benchmark summary, {date}", ""]
    if "service" in parts:
        service = parts["service"]
        rows, targets = _service_rows(service)
        out += [
            "Each ratio divides two numbers measured in the same run against the same server: the call's "
            "throughput over that configuration's trivial call (`Health.Check`). Server CPU per call counts the "
            "processes serving the port (user + system), which the load generator's share of the cores does not "
            "change much. "
            f"Load average before/after the service run: {service.get('load_before')} / {service.get('load_after')} "
            "(2 cores, the load generator on the same machine).",
            "",
            "| call | store | network | workers x threads | trivial calls/s | calls/s | vs trivial | p50 ms | p99 ms "
            "| errors | server CPU µs/call (trivial) |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    else:
        targets = []
    if "allocate" in parts:
        targets += _allocate_rows(parts["allocate"])
    if "optimizer" in parts:
        for t in parts["optimizer"].get("targets", []):
            targets.append(f"| optimizer: {t['name']} ({t['cell']}) | {t['measured']} | {_verdict(bool(t['met']))} |")
    if "rules" in parts:
        for name, result in parts["rules"].get("results", {}).items():
            if name.startswith("shipped"):
                share = result.get("rules_share_of_decision", {}).get("mean_time")
                if share is not None:
                    targets.append(f"| rules < 15% of a decision ({name}) | {share:.1%} | {_verdict(share < 0.15)} |")
    if "soak" in parts:
        soak, v = parts["soak"], parts["soak"]["verdict"]
        targets.append(
            f"| {soak['minutes']}-minute soak at {soak['share']:.0%} of peak ({soak['rate']:,.0f}/s): no errors, "
            f"memory and threads flat | {v['errors']} errors, RSS {v['rss_growth']:+.1%}, threads "
            f"{'flat' if v['threads_flat'] else 'changed'} | {_verdict(bool(v['passed']))} |"
        )
    hard = parts.get("optimizer", {}).get("hard")
    if hard:
        out += [
            "## Hard orders, per family",
            "",
            "Optima proven offline (`benchmarks/data/hard-orders.jsonl.gz`); gap: what the decision reports, "
            "(cost - bound) / cost; excess: its cost above the proven optimum.",
            "",
            "| family | limit ms | instances | OPTIMAL | gap mean / worst | excess mean / worst | p99 ms | CPU p99 ms "
            "| invalid |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *_hard_rows(hard),
            "",
        ]
    if targets:
        out += ["## Targets", "", "| target | measured | |", "|---|---|---|", *targets, ""]
    out += [
        "Details: " + ", ".join(f"[{p}]({date}-{p}.md)" for p in PARTS if p in parts) + ".",
        "",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.summary", description=__doc__)
    parser.add_argument("--date", default=datetime.now(UTC).strftime("%Y-%m-%d"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    parts = _load(args.results, args.date)
    if not parts:
        raise SystemExit(f"no benchmark results for {args.date} in {args.results}")
    (args.results / f"{args.date}.json").write_text(json.dumps({"date": args.date, **parts}, indent=2) + "\n")
    markdown = render(args.date, parts)
    (args.results / f"{args.date}-summary.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
