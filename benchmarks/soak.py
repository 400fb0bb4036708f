"""Soak: a long steady load at a share of measured peak; errors, memory and threads must stay flat.

Starts `oms-sourcing serve` (SQLite, the sample network, the shipped rules; 2 workers x 4
threads unless told otherwise), measures Source's closed-loop peak for a few seconds, then
sends 1-5 line Source orders open loop at ``--share`` of that peak (70% by default) for
``--minutes``, in one-minute windows. After each window it records the server's processes'
resident memory and thread counts (from /proc). Passes when no call failed, the thread count
stayed level over the second half of the run (pools start threads on demand up to their size;
a leak keeps growing), and resident memory grew by less than ``--max-growth`` between the
second window and the last (the first window pays for warm-up: imports, caches).

Writes benchmarks/results/<date>-soak.{json,md}. Linux only (/proc).

    python -m benchmarks.soak [--minutes 10] [--share 0.7]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.load.run import wait_serving
from benchmarks.service_bench import RESULTS, SAMPLE, run_case, serve, source_requests


@dataclass(frozen=True)
class Window:
    minute: int
    calls_per_second: float
    errors: int
    p50_ms: float
    p99_ms: float
    rss_mib: float  # summed over the server's processes
    threads: int  # summed over the server's processes
    processes: int
    # Where a bad minute's time went: the server's CPU per call (steady unless the server changed)
    # and how busy the whole machine was (the load generator and any other work included).
    server_cpu_us: float = 0.0
    machine_busy: float = 0.0  # share of all cores' time, 0-1
    generator_cpu_us: float = 0.0  # the load generator's CPU per call
    error_codes: dict[str, int] = field(default_factory=dict)  # errors by gRPC status


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants (the serve parent, its workers, multiprocessing's helper)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def _usage(pids: Sequence[int]) -> tuple[float, int]:
    rss_kib = threads = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kib += int(line.split()[1])
            elif line.startswith("Threads:"):
                threads += int(line.split()[1])
    return rss_kib / 1024, threads


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat (zeros elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def verdict(windows: Sequence[Window], max_growth: float) -> dict[str, Any]:
    steady = windows[1:] or windows  # the first window includes warm-up
    first, last = steady[0], steady[-1]
    growth = (last.rss_mib - first.rss_mib) / first.rss_mib if first.rss_mib else 0.0
    errors = sum(w.errors for w in windows)
    # Thread pools start threads on demand up to their size, so one can appear once a rare
    # overlap first happens; a leak keeps growing. Level over the second half of the run.
    threads_flat = len({w.threads for w in steady[len(steady) // 2 :]}) == 1
    return {
        "errors": errors,
        "rss_growth": round(growth, 4),
        "threads_flat": threads_flat,
        "passed": errors == 0 and threads_flat and growth < max_growth,
    }


def render(report: dict[str, Any]) -> str:
    v = report["verdict"]
    out = [
        f"# Soak, {report['date']}",
        "",
        f"Source, 1-5 line orders, open loop at {report['share']:.0%} of the measured peak "
        f"({report['peak_per_second']:,.0f}/s → {report['rate']:,.0f}/s) for {report['minutes']} minutes; "
        f"server {report['workers']} x {report['threads']} on SQLite, shipped rules. "
        f"**{'PASSED' if v['passed'] else 'FAILED'}**: {v['errors']} errors, resident memory "
        f"{v['rss_growth']:+.1%} from minute 2 to the end (limit {report['max_growth']:.0%}), "
        f"threads {'level over the second half' if v['threads_flat'] else 'CHANGED'}.",
        *([f"({report['verdict_note']}.)"] if report.get("verdict_note") else []),
        "",
        "Server CPU is per call, over the processes serving the port; the load generator's (h2gen) per call "
        "sent; machine busy is the share of all cores' time in use, the load generator and any other work included.",
        "",
        "| minute | calls/s | errors | p50 ms | p99 ms | RSS MiB | threads | processes | server CPU µs/call "
        "| generator CPU µs/call | machine busy |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in report["windows"]:
        cpu = f"{w['server_cpu_us']:,.0f}" if w.get("server_cpu_us") else "-"
        generator = f"{w['generator_cpu_us']:,.0f}" if w.get("generator_cpu_us") else "-"
        busy = f"{w['machine_busy']:.0%}" if w.get("machine_busy") else "-"
        codes = ", ".join(f"{code} {n}" for code, n in sorted(w.get("error_codes", {}).items()))
        errors = f"{w['errors']} ({codes})" if codes else str(w["errors"])
        out.append(
            f"| {w['minute']} | {w['calls_per_second']:,.0f} | {errors} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} "
            f"| {w['rss_mib']:.1f} | {w['threads']} | {w['processes']} | {cpu} | {generator} | {busy} |"
        )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.soak", description=__doc__)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--share", type=float, default=0.7, help="share of the measured peak (default 0.7)")
    parser.add_argument("--rate", type=float, default=0.0, help="calls/s instead of measuring the peak")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-growth", type=float, default=0.10, help="allowed RSS growth (default 0.10)")
    parser.add_argument("--port", type=int, default=50081)
    args = parser.parse_args(argv)
    payloads = source_requests(seed=200, count=1000)
    target = f"127.0.0.1:{args.port}"
    windows: list[Window] = []
    with tempfile.TemporaryDirectory(prefix="oms-soak-") as tmp:
        server = serve(args.port, args.workers, args.threads, f"sqlite:///{tmp}/soak.db", SAMPLE)
        try:
            wait_serving(target, 120)
            labels = {"store": "sqlite", "workers": args.workers, "threads": args.threads, "network": "sample"}
            peak = (
                args.rate / args.share
                if args.rate
                else run_case(target, "Source", payloads, 8, **labels).calls_per_second
            )
            rate = args.rate or peak * args.share
            for minute in range(1, args.minutes + 1):
                busy_before, total_before = _machine_ticks()
                case = run_case(target, "Source", payloads, 60, rate=rate, **labels)
                busy, total = _machine_ticks()
                pids = _process_tree(server.pid)
                rss, threads = _usage(pids)
                windows.append(
                    Window(
                        minute,
                        case.calls_per_second,
                        case.errors,
                        case.p50_ms,
                        case.p99_ms,
                        rss,
                        threads,
                        len(pids),
                        case.server_cpu_us,
                        round((busy - busy_before) / max(1, total - total_before), 3),
                        case.client_cpu_us,
                        case.error_codes,
                    )
                )
                print(f"minute {minute}: rss {rss:.1f} MiB threads {threads} errors {case.errors}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=60)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    report = {
        "date": date,
        "minutes": args.minutes,
        "share": args.share,
        "peak_per_second": round(peak, 1),
        "rate": round(rate, 1),
        "workers": args.workers,
        "threads": args.threads,
        "max_growth": args.max_growth,
        "windows": [asdict(w) for w in windows],
        "verdict": verdict(windows, args.max_growth),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{date}-soak.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render(report)
    (RESULTS / f"{date}-soak.md").write_text(markdown)
    print(markdown)
    return 0 if report["verdict"]["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
