"""Checkout's questions over real gRPC, against the trivial call in the same run (issue 19's targets).

Starts `oms-sourcing serve` on the sample network (its node schedules, calendars and three
carrier services loaded with it) and measures, closed loop with h2gen as benchmarks/service_bench
does, one case after the other on the same server:

- ``Health.Check``: the trivial call;
- ``Promise``, 1-3 line carts to real cities (coordinates): target at least 50% of the trivial
  call's throughput, server CPU per call at most twice the trivial call's;
- ``PromiseProducts``, 20 SKUs to one ZIP code: target at most 4 times the trivial call's CPU.

The server CPU per call (user + system of the serving processes, per answered call) is the
headline: throughput on a 2-core machine shared with the load generator moves with it.
Writes benchmarks/results/<date>-checkout.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.networks.sample_network import us_cities
from benchmarks.reporting import write_results
from benchmarks.service_bench import DEFAULT_POSTGRES, RESULTS, SAMPLE, CaseResult, bench_configs, run_case

PROMISE = "/oms.sourcing.v1.SourcingService/Promise"
PROMISE_PRODUCTS = "/oms.sourcing.v1.SourcingService/PromiseProducts"
CART_LINES = (1, 1, 2, 3)  # "a 1-3-line cart"
PRODUCT_SKUS = 20
CPU_TARGETS = {"Promise": 2.0, f"PromiseProducts {PRODUCT_SKUS} SKUs": 4.0}  # x the trivial call's CPU


def _skus() -> list[str]:
    return sorted({i["sku"] for i in json.loads(SAMPLE.read_text())["items"]})


def promise_requests(seed: int, count: int) -> list[bytes]:
    """Serialized PromiseRequests: 1-3 line carts to real cities, weighted by population."""
    from server.api.proto import common_pb2, sourcing_pb2

    skus = _skus()
    cities = us_cities()[:300]
    weights = [c.population for c in cities]
    rng = random.Random(seed)
    requests = []
    for _ in range(count):
        city = rng.choices(cities, weights=weights)[0]
        lines = [
            sourcing_pb2.CartLine(line_id=str(i), sku=sku, qty=rng.choice([1, 1, 1, 2]))
            for i, sku in enumerate(rng.sample(skus, k=rng.choice(CART_LINES)))
        ]
        request = sourcing_pb2.PromiseRequest(lines=lines, ship_to=common_pb2.GeoPoint(lat=city.lat, lon=city.lon))
        requests.append(request.SerializeToString())
    return requests


def product_requests(seed: int, count: int, zip_codes: int = 300) -> list[bytes]:
    """Serialized PromiseProductsRequests: 20 SKUs to one of ``zip_codes`` ZIP codes of the lower 48."""
    import zipcodes

    from server.api.proto import common_pb2, sourcing_pb2
    from server.geocode import postal_code_place

    skus = _skus()
    rng = random.Random(seed)
    contiguous = [
        z["zip_code"]
        for z in zipcodes.list_all()  # type: ignore[no-untyped-call]
        if z["state"] not in {"AK", "HI", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP", "FM", "MH", "PW"}
        and z["lat"] not in {"", "0.0"}
    ]
    # Those the service places (some listed codes have no usable location), as it will find them.
    chosen = [z for z in rng.sample(contiguous, 2 * zip_codes) if postal_code_place("US", z) is not None][:zip_codes]
    requests = []
    for _ in range(count):
        address = common_pb2.PostalAddress(country_code="US", postal_code=rng.choice(chosen))
        request = sourcing_pb2.PromiseProductsRequest(skus=rng.sample(skus, PRODUCT_SKUS), ship_to_address=address)
        requests.append(request.SerializeToString())
    return requests


def checkout_cases(seconds: float, carts: list[bytes], pages: list[bytes]) -> Any:
    def cases(target: str, labels: dict[str, Any]) -> list[CaseResult]:
        # Warm up: each worker builds its calendars and looks up each ZIP code once.
        run_case(target, "warm-up", pages, 2.0, method=PROMISE_PRODUCTS, **labels)
        run_case(target, "warm-up", carts, 1.0, method=PROMISE, **labels)
        ceiling = run_case(target, "Health.Check", [], seconds, **labels)
        promise = run_case(target, "Promise", carts, seconds, method=PROMISE, **labels)
        products = run_case(
            target, f"PromiseProducts {PRODUCT_SKUS} SKUs", pages, seconds, method=PROMISE_PRODUCTS, **labels
        )
        return [ceiling, promise, products]

    return cases


def render(report: dict[str, Any]) -> str:
    lines = [
        f"# Checkout promises over gRPC ({report['date']})",
        "",
        f"`python -m benchmarks.checkout_bench`: the sample network, {report['seconds_per_case']:g} s a case,"
        f" closed loop, {report['machine']['cpus']}-CPU machine (load {report['load_before']} before,"
        f" {report['load_after']} after). Server CPU is user + system of the serving processes per answered"
        " call; ratios are to the trivial call (Health.Check) of the same server in the same run.",
        "",
        "| call | store | workers x threads | calls/s | vs trivial (throughput) | p50 ms | p99 ms | errors "
        "| server CPU µs/call | vs trivial (CPU) | target (CPU) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    trivial: dict[tuple[str, int, int], dict[str, Any]] = {}
    for row in report["cases"]:
        key = (row["store"], row["workers"], row["threads"])
        if row["name"] == "Health.Check":
            trivial[key] = row
        base = trivial[key]
        throughput = row["calls_per_second"] / base["calls_per_second"] if base["calls_per_second"] else 0.0
        cpu = row["server_cpu_us"] / base["server_cpu_us"] if base["server_cpu_us"] else 0.0
        target = CPU_TARGETS.get(row["name"])
        verdict = "" if target is None else f"<= {target:g}x: {'met' if cpu <= target else 'MISSED'}"
        lines.append(
            f"| {row['name']} | {row['store']} | {row['workers']}x{row['threads']} | {row['calls_per_second']:,.0f} "
            f"| {throughput:.0%} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['errors']} "
            f"| {row['server_cpu_us']:,.0f} | {cpu:.2f}x | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.checkout_bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per case (default: %(default)s)")
    parser.add_argument("--configs", default="1x1,2x4", help="worker processes x handler threads (SQLite)")
    parser.add_argument("--postgres-config", default="2x4", help="configuration also run on PostgreSQL ('' skips)")
    parser.add_argument("--postgres", default=os.environ.get("OMS_TEST_POSTGRES_DSN") or DEFAULT_POSTGRES)
    parser.add_argument("--port", type=int, default=50073)
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where to write results (default: %(default)s)")
    args = parser.parse_args(argv)
    carts = promise_requests(seed=200, count=500)
    pages = product_requests(seed=201, count=500)
    load_before = round(os.getloadavg()[0], 2)
    cases: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="oms-checkout-bench-") as tmp:
        cases += bench_configs(
            args.port, tmp, args.configs, args.postgres_config, args.postgres,
            lambda: checkout_cases(args.seconds, carts, pages),
        )  # fmt: skip
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    report = {
        "date": date,
        "seconds_per_case": args.seconds,
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "machine": {"python": platform.python_version(), "cpus": mp.cpu_count(), "platform": platform.platform()},
        "cases": [asdict(c) for c in cases if c.name != "warm-up"],
    }
    markdown = render(report)
    write_results(args.out_dir, "checkout", report, markdown, date)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
