"""The relay-at-peak benchmark's arithmetic: lag quantiles from histogram deltas, the report (the
throughput the machine's CPU per Allocate allows: 4,000 µs off, 4,300 on is 4000/4300 - 1 = -7.0%)."""

from __future__ import annotations

from benchmarks.relay_at_peak_bench import Run, _markdown, _quantile_le

B = "oms_sourcing_relay_lag_seconds_bucket"


def _sample(counts: dict[str, float]) -> dict[str, float]:
    return {f'{B}{{le="{le}"}}': n for le, n in counts.items()}


def test_a_quantile_is_the_upper_bound_of_the_bucket_holding_it_between_two_scrapes() -> None:
    before = _sample({"0.01": 100, "0.05": 100, "0.5": 100, "+Inf": 100})  # earlier observations
    after = _sample({"0.01": 150, "0.05": 198, "0.5": 200, "+Inf": 200})  # 100 new: 50 <= 10 ms, 98 <= 50 ms
    assert _quantile_le(before, after, 0.5) == 0.01
    assert _quantile_le(before, after, 0.98) == 0.05
    assert _quantile_le(before, after, 0.99) == 0.5


def test_the_report_compares_throughput_and_lag_against_the_targets() -> None:
    runs = [
        Run("sqlite", "off", 1, 500.0, 40.0, 0, {}, server_cpu_us=3000, backends_cpu_us=1000),
        Run("sqlite", "serve", 1, 470.0, 45.0, 0, {}, 5000, 0.025, 0.1, 0.02, 0.3, 3000, 200, 1100),
    ]
    meta = {
        "date": "2026-12-07",
        "clients": 16,
        "seconds": 10,
        "lines": 2,
        "workers": {"sqlite": 1, "postgresql": 2},
        "threads": {"sqlite": 4, "postgresql": 4},
        "nats": "nats://x",
        "machine": "m",
        "load_before": 1,
        "load_after": 1,
    }
    report = _markdown(runs, meta)
    assert "| sqlite | serve | 500 | 470 | -6.0% | met | 4,000 | 4,300 | -7.0% | 0.1 | met |" in report
