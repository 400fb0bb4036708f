"""What the benchmarks' results share: where they go, the machine they were measured on (git commit,
versions, CPU, load), the warm-up before timing, and how times are summarised and printed."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


DEFAULT_OUT_DIR = Path("benchmarks/results")


WARMUP_ORDERS = 3


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    if ms.size == 0:
        return {"p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(ms.max()), "mean": float(ms.mean())}


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


def format_ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def serving_meta(args: Any, load_before: float) -> dict[str, Any]:
    """What a served benchmark's results say about its run: callers, length, threads and workers
    per store, the machine and its load before and after (allocate_bench, relay_at_peak_bench)."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "clients": args.clients,
        "seconds": args.seconds,
        "lines": args.lines,
        "threads": {"sqlite": args.sqlite_threads, "postgresql": args.postgres_threads},
        "workers": {"sqlite": args.sqlite_workers, "postgresql": args.postgres_workers},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
    }


def write_results(out_dir: Path, name: str, document: Mapping[str, Any], report: str, date: str = "") -> None:
    """``<out_dir>/<date>-<name>.json`` (every number) and ``.md`` (the report), dated ``date`` or
    by ``document["meta"]``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    date = date or document["meta"]["date"]
    (out_dir / f"{date}-{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    (out_dir / f"{date}-{name}.md").write_text(report)
