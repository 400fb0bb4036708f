"""The bench summary's ratios and verdicts, and the soak's pass rule, on made-up results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import summary
from benchmarks.soak import Window, verdict


def _case(name: str, per_second: float, p99: float, network: str = "sample-network") -> dict[str, Any]:
    return {
        "name": name,
        "store": "sqlite",
        "network": network,
        "workers": 2,
        "threads": 4,
        "calls_per_second": per_second,
        "p50_ms": p99 / 3,
        "p99_ms": p99,
        "errors": 0,
    }


def test_the_summary_divides_by_the_same_servers_trivial_call_and_judges_targets(tmp_path: Path) -> None:
    service = {
        "load_before": 1.0,
        "load_after": 2.0,
        "cases": [
            _case("Health.Check", 8000, 2),
            _case("Source", 2000, 30),
            _case("Source@80%", 1600, 12),
            _case("Health.Check", 8000, 2, "network-2000"),
            _case("Source 30 lines, one caller", 12, 120, "network-2000"),
            _case("Source 30 lines@80%", 10, 400, "network-2000"),
        ],
    }
    allocate = {
        "phases": [
            {"store": "sqlite", "method": "Source", "per_second": 1000, "p99_ms": 20, "errors": 0},
            {"store": "sqlite", "method": "Allocate", "per_second": 700, "p99_ms": 30, "errors": 0},
        ]
    }
    soak = {
        "minutes": 10,
        "share": 0.7,
        "rate": 300,
        "verdict": {"errors": 0, "rss_growth": 0.02, "threads_flat": True, "passed": True},
    }
    (tmp_path / "2030-01-01-soak.json").write_text(json.dumps(soak))
    (tmp_path / "2030-01-01-service.json").write_text(json.dumps(service))
    (tmp_path / "2030-01-01-allocate.json").write_text(json.dumps(allocate))
    assert summary.main(["--date", "2030-01-01", "--results", str(tmp_path)]) == 0
    text = (tmp_path / "2030-01-01-summary.md").read_text()
    assert "| **25%** |" in text  # Source 2,000 over its own server's 8,000
    assert "| Source ≥ 50% of the trivial call (sqlite, 2 x 4) | 25% | **missed** |" in text
    assert "p99 < 15 ms at 80% of peak (sqlite, 2 x 4) | 12.0 ms (1,600/s) | met |" in text
    assert "Source 30 lines on network-2000: p99 < 150 ms end to end (one caller) | 120 ms | met |" in text
    assert "| Source 30 lines@80% | sqlite | network-2000 |" in text  # shown, not judged
    assert "| Allocate ≥ 60% of Source (sqlite) | 70% (700 vs 1,000/s) | met |" in text
    assert "| Allocate ≥ 1,000/s (sqlite) | 700/s, p99 30 ms, 0 errors | **missed** |" in text
    assert "| 10-minute soak at 70% of peak (300/s): no errors, memory and threads flat | 0 errors, RSS +2.0%" in text
    assert json.loads((tmp_path / "2030-01-01.json").read_text())["service"] == service


def _hard_row(family: str, limit_ms: int, optimal: float, gap_max: float) -> dict[str, Any]:
    return {
        "family": family,
        "limit_ms": limit_ms,
        "instances": 25,
        "optimal_share": optimal,
        "gap_mean": gap_max / 4,
        "gap_max": gap_max,
        "excess_mean": 0.0,
        "excess_max": 0.001,
        "latency_ms": {"p99": 2500.0},
        "cpu_ms": {"p99": 2010.0},
        "invalid": 0,
    }


def test_the_summary_shows_each_hard_order_family_at_both_limits(tmp_path: Path) -> None:
    hard = {
        "summary": [
            _hard_row("twins", 2000, 0.96, 0.01),
            _hard_row("twins", 90, 0.4, 0.05),
            _hard_row("all", 2000, 0.9, 0.02),
        ]
    }
    (tmp_path / "2030-01-01-optimizer.json").write_text(json.dumps({"hard": hard, "targets": []}))
    assert summary.main(["--date", "2030-01-01", "--results", str(tmp_path)]) == 0
    text = (tmp_path / "2030-01-01-summary.md").read_text()
    assert "| twins | 2,000 | 25 | 96% | 0.250% / 1.000% | 0.000% / 0.100% | 2,500 | 2,010 | 0 |" in text
    assert "| twins | 90 | 25 | 40% | 1.250% / 5.000% |" in text
    assert "| all | 2,000 | 25 | 90% |" in text


def _window(minute: int, rss: float, threads: int = 30, errors: int = 0) -> Window:
    return Window(minute, 100.0, errors, 1.0, 5.0, rss, threads, 4)


def test_a_soak_passes_flat_and_fails_on_errors_growth_or_new_threads() -> None:
    flat = [_window(1, 200), _window(2, 250), _window(3, 252)]  # the first window is warm-up
    assert verdict(flat, 0.10)["passed"]
    assert not verdict([*flat, _window(4, 300)], 0.10)["passed"]
    assert not verdict([*flat, _window(4, 250, threads=31)], 0.10)["passed"]
    # A pool thread started once early (then level) is not a leak; growth late in the run is.
    lazy_pool = [_window(1, 200), *(_window(m, 250, threads=30 if m < 4 else 31) for m in range(2, 11))]
    assert verdict(lazy_pool, 0.10)["passed"]
    leak = [_window(1, 200), *(_window(m, 250, threads=30 + m // 2) for m in range(2, 11))]
    assert not verdict(leak, 0.10)["passed"]
    assert not verdict([*flat, _window(4, 250, errors=1)], 0.10)["passed"]


def test_the_soak_table_names_each_error_by_its_status() -> None:
    from dataclasses import asdict

    from benchmarks.soak import render

    refused = Window(2, 100.0, 3, 1.0, 5.0, 250, 30, 4, 2000.0, 0.8, 60.0, {"RESOURCE_EXHAUSTED": 3})
    windows = [_window(1, 200), refused]
    report = {
        "date": "2030-01-01", "share": 0.7, "peak_per_second": 143.0, "rate": 100.0, "minutes": 2,
        "workers": 2, "threads": 4, "max_growth": 0.1,
        "windows": [asdict(w) for w in windows], "verdict": verdict(windows, 0.1),
    }  # fmt: skip
    text = render(report)
    assert "**FAILED**: 3 errors" in text
    assert "| 2 | 100 | 3 (RESOURCE_EXHAUSTED 3) | 1.00 | 5.00 | 250.0 | 30 | 4 | 2,000 | 60 | 80% |" in text
    assert "| 1 | 100 | 0 | 1.00 | 5.00 | 200.0 | 30 | 4 | - | - | - |" in text
