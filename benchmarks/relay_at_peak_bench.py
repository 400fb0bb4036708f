"""Allocate at its peak with the outbox relay on and off: the relay's lag, and what it costs Allocate.

For each store, ``oms-sourcing serve`` runs over the sample network (stock topped up so it never
runs out) twice per repeat, each time on a fresh database: without a relay, with ``--relay-nats``
(serve then starts the relay in a process of its own beside its handlers) and, on request
(``--modes``), with ``oms-sourcing relay`` started apart from serve. In each, ``--clients`` h2gen callers
send new Allocate calls back to back for ``--seconds`` (the allocate benchmark's phase: warm-up,
then measured). With the relay on, its lag (commit to JetStream's acknowledgement) comes from the
server's own histogram ``oms_sourcing_relay_lag_seconds``, scraped before and after the measured
phase: a quantile is reported as the upper bound of the bucket holding it. After the phase the
relay must catch up; the time it takes (outbox depth back to 0) is reported too.

    .venv/bin/python -m benchmarks.relay_at_peak_bench                     # both stores
    .venv/bin/python -m benchmarks.relay_at_peak_bench --stores sqlite --seconds 5

Results: ``<out-dir>/<YYYY-MM-DD>-relay-at-peak.{json,md}``. Targets (issue #21) are shown, never
asserted: lag p99 under 0.5 s, Allocate throughput within 10% of the relay turned off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import nats
from nats.js.errors import NotFoundError

from benchmarks.allocate_bench import (
    ROOT,
    SAMPLE,
    _drop,
    _order_proto,
    _postgres_database,
    _run_phase,
    _top_up,
    add_serving_arguments,
    errors_text,
)
from benchmarks.connections import postgres_backends, processes_named
from benchmarks.orders import make_orders
from benchmarks.reporting import serving_meta, write_results
from benchmarks.service_bench import cpu_seconds
from benchmarks.shipped import pinned_as_shipped
from engine.model import Order
from server.api.proto import orders_pb2
from server.network_file import read_network_file
from server.relay.messages import Destination

LAG = "oms_sourcing_relay_lag_seconds"
TARGET_LAG_P99_S = 0.5
TARGET_LOSS = 0.10


@dataclass
class Run:
    store: str
    relay: str  # "off", "serve" (serve --relay-nats) or "process" (oms-sourcing relay started apart)
    repeat: int
    allocate_per_second: float
    p99_ms: float
    errors: int
    errors_by_code: dict[str, int]
    lag_events: int = 0
    lag_p50_le_s: float = 0.0
    lag_p99_le_s: float = 0.0
    lag_mean_s: float = 0.0
    catch_up_s: float = 0.0
    # CPU per Allocate served during the phase: the server's handler processes, and the relay's
    # process (serve's own or one started apart); steadier than throughput on a shared machine.
    server_cpu_us: float = 0.0
    relay_cpu_us: float = 0.0
    # The bench database's PostgreSQL backends and nats-server (which other work on the machine may
    # also use): with the two above, what an Allocate costs the machine, the relay's work included.
    backends_cpu_us: float = 0.0

    @property
    def machine_cpu_us(self) -> float:
        return self.server_cpu_us + self.relay_cpu_us + self.backends_cpu_us


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, database: str, threads: int, workers: int, relay: list[str], metrics_port: int) -> None:
        command = [sys.executable, "-m", "server.cli.main", "serve", "--port", "0"]
        command += ["--metrics-port", str(metrics_port), "--database", database, "--load-sample-if-empty"]
        command += ["--threads", str(threads), "--workers", str(workers), *pinned_as_shipped(workers)]
        command += ["--log-level", "WARNING", *relay]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = re.search(r"serving on (\S+:\d+)", line)
            if match:
                self.target = match.group(1).replace("0.0.0.0", "127.0.0.1")
                integrations = re.search(r"integrations pid (\d+)", line)
                self.relay_pid = int(integrations.group(1)) if integrations else None
                return
        raise RuntimeError(f"server did not start (exit {self.process.wait()})")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def _scrape(port: int) -> dict[str, float]:
    """Every sample of the lag histogram and the outbox depth, by series name and ``le``."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith((LAG, "oms_sourcing_relay_outbox_depth")):
            name, _, value = line.rpartition(" ")
            out[name] = out.get(name, 0.0) + float(value)
    return out


def _quantile_le(before: dict[str, float], after: dict[str, float], q: float) -> float:
    """The upper bound of the bucket holding quantile ``q`` of what was observed in between."""
    buckets = []
    for name, value in after.items():
        match = re.match(rf'{LAG}_bucket\{{.*le="([^"]+)".*\}}', name)
        if match:
            le = float("inf") if match.group(1) == "+Inf" else float(match.group(1))
            buckets.append((le, value - before.get(name, 0.0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    for le, count in buckets:
        if total and count >= q * total:
            return le
    return float("nan")


def _delta(before: dict[str, float], after: dict[str, float], suffix: str) -> float:
    name = next((n for n in after if n.startswith(f"{LAG}_{suffix}")), "")
    return after.get(name, 0.0) - before.get(name, 0.0)


def _depth(sample: dict[str, float]) -> float:
    return sum(v for n, v in sample.items() if n.startswith("oms_sourcing_relay_outbox_depth"))


def _delete_streams(nats_url: str, prefix: str) -> None:
    async def delete() -> None:
        nc = await nats.connect(nats_url, connect_timeout=5)
        try:
            d = Destination(prefix)
            for stream in (d.orders_stream, d.fulfillment_stream, d.operations_stream):
                with contextlib.suppress(NotFoundError):
                    await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()

    asyncio.run(delete())


def _one_run(
    store: str, database: str, orders: Sequence[Order], args: argparse.Namespace, mode: str, repeat: int
) -> Run:
    threads = args.sqlite_threads if store == "sqlite" else args.postgres_threads
    workers = args.sqlite_workers if store == "sqlite" else args.postgres_workers
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    relay = mode != "off"
    flags = ["--relay-nats", args.nats, "--relay-prefix", prefix] if mode == "serve" else []
    server_metrics = _free_port()
    server = Server(database, threads, workers, flags, server_metrics)
    metrics_port = server_metrics
    separate = None
    if mode == "process":  # the relay as a process of its own: its own GIL, the same 2 cores
        metrics_port = _free_port()
        command = [sys.executable, "-m", "server.cli.main", "relay", "--database", database, "--nats", args.nats]
        command += ["--prefix", prefix, "--metrics-port", str(metrics_port)]
        separate = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if f"{LAG}_count" in " ".join(_scrape(metrics_port)):
                    break
            except OSError:
                pass
            time.sleep(0.2)
    try:
        _top_up(server.target)
        run = uuid.uuid4().hex[:8]

        def allocate(part: str, seq: int) -> bytes:
            order = _order_proto(orders[seq % len(orders)], f"A-{run}-{part}-{seq}")
            return orders_pb2.AllocateRequest(request_key=f"{run}-{part}-{seq}", order=order).SerializeToString()

        if relay:  # the sample network's load and the top-up published before the measure starts
            deadline = time.monotonic() + 60
            while _depth(_scrape(metrics_port)) > 0 and time.monotonic() < deadline:
                time.sleep(0.2)
        before = _scrape(metrics_port) if relay else {}
        relay_pid = separate.pid if separate is not None else server.relay_pid
        relay_cpu = cpu_seconds([relay_pid]) if relay_pid is not None else 0.0
        database_name = database.rsplit("/", 1)[1] if store == "postgresql" else ""

        def backends() -> list[int]:
            return (postgres_backends(database_name) if database_name else []) + processes_named("nats-server")

        phase = _run_phase(store, "Allocate", server.target, args.clients, args.seconds, allocate, backends)
        result = Run(store, mode, repeat, phase.per_second, phase.p99_ms, phase.errors, phase.errors_by_code)
        result.server_cpu_us = phase.server_cpu_us
        result.backends_cpu_us = phase.others_cpu_us
        if relay_pid is not None and phase.calls:
            result.relay_cpu_us = round((cpu_seconds([relay_pid]) - relay_cpu) / phase.calls * 1e6, 1)
        if relay:
            ended = time.monotonic()
            after = _scrape(metrics_port)
            # The relay catches up on what the phase committed: lag counts each event once, acked.
            while _depth(after) > 0 and time.monotonic() - ended < 120:
                time.sleep(0.1)
                after = _scrape(metrics_port)
            result.catch_up_s = round(time.monotonic() - ended, 2)
            count = _delta(before, after, "count")
            result.lag_events = int(count)
            result.lag_p50_le_s = _quantile_le(before, after, 0.50)
            result.lag_p99_le_s = _quantile_le(before, after, 0.99)
            result.lag_mean_s = round(_delta(before, after, "sum") / count, 4) if count else 0.0
        return result
    finally:
        server.stop()
        if separate is not None:
            separate.terminate()
            separate.wait(timeout=30)
        if relay:
            _delete_streams(args.nats, prefix)


def _markdown(runs: Sequence[Run], meta: dict[str, Any]) -> str:
    lines = [
        f"# Allocate at its peak, outbox relay on and off ({meta['date']})",
        "",
        f"{meta['clients']} h2gen callers sending new Allocate calls back to back, {meta['seconds']} s measured per"
        f" run after a warm-up, a fresh database per run, {meta['lines']}-line orders on the sample network;"
        f" SQLite {meta['workers']['sqlite']} x {meta['threads']['sqlite']}, PostgreSQL"
        f" {meta['workers']['postgresql']} x {meta['threads']['postgresql']} (processes x threads), NATS"
        f" JetStream at {meta['nats']} on the same machine ({meta['machine']}). Load average before/after:"
        f" {meta['load_before']} / {meta['load_after']} (other sessions share the 2 cores: throughput moves"
        " with their load; runs alternate off/on to spread it). Lag: the server's own histogram (commit to"
        " JetStream's ack), quantiles as the upper bound of the bucket that holds them; catch-up: from the"
        " end of the phase until the outbox depth is 0.",
        "",
        "| store | repeat | relay | Allocate/s | p99 ms | errors | server CPU µs/Allocate "
        "| relay CPU µs/Allocate | database + broker CPU µs/Allocate | machine CPU µs/Allocate "
        "| events acked | lag p50 <= s | lag p99 <= s | lag mean s | catch-up s |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lag = (
            f"{r.lag_events:,} | {r.lag_p50_le_s:g} | {r.lag_p99_le_s:g} | {r.lag_mean_s:g} | {r.catch_up_s:g}"
            if r.relay != "off"
            else "| | | |"
        )
        lines.append(
            f"| {r.store} | {r.repeat} | {r.relay} | {r.allocate_per_second:,.0f} | {r.p99_ms} "
            f"| {errors_text(r.errors, r.errors_by_code)} | {r.server_cpu_us:,.0f} "
            f"| {f'{r.relay_cpu_us:,.0f}' if r.relay != 'off' else ''} | {r.backends_cpu_us:,.0f} "
            f"| {r.machine_cpu_us:,.0f} | {lag} |"
        )
    lines += ["", "| store | relay | Allocate/s off (mean) | on (mean) | change | target within 10% "
              "| machine CPU µs/Allocate off | on | throughput the CPU allows | lag p99 worst <= s "
              "| target < 0.5 s |", "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for store in dict.fromkeys(r.store for r in runs):
        off = [r.allocate_per_second for r in runs if r.store == store and r.relay == "off"]
        off_mean = sum(off) / len(off) if off else 0.0
        off_cpu = [r.machine_cpu_us for r in runs if r.store == store and r.relay == "off"]
        off_cpu_mean = sum(off_cpu) / len(off_cpu) if off_cpu else 0.0
        for mode in dict.fromkeys(r.relay for r in runs if r.store == store and r.relay != "off"):
            on = [r for r in runs if r.store == store and r.relay == mode]
            on_mean = sum(r.allocate_per_second for r in on) / len(on)
            change = on_mean / off_mean - 1 if off_mean else 0.0
            worst = max(r.lag_p99_le_s for r in on)
            on_cpu_mean = sum(r.machine_cpu_us for r in on) / len(on)
            # On a machine the calls keep busy, throughput goes as 1 / CPU per call: the change the
            # relay's CPU alone makes, free of the other work that moves throughput between runs.
            allowed = off_cpu_mean / on_cpu_mean - 1 if on_cpu_mean else 0.0
            lines.append(
                f"| {store} | {mode} | {off_mean:,.0f} | {on_mean:,.0f} | {change:+.1%} | "
                f"{'met' if change >= -TARGET_LOSS else 'MISSED'} | {off_cpu_mean:,.0f} | {on_cpu_mean:,.0f} "
                f"| {allowed:+.1%} | {worst:g} | "
                f"{'met' if worst < TARGET_LAG_P99_S else 'MISSED'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_serving_arguments(parser)
    parser.add_argument("--repeats", type=int, default=1, help="rounds of every mode per store (default 1)")
    parser.add_argument(
        "--modes",
        default="off,serve",
        help="relay off, started by serve, started apart (off,serve,process; default off,serve)",
    )
    parser.add_argument("--nats", default=os.environ.get("OMS_TEST_NATS_URL") or "nats://127.0.0.1:4222")
    args = parser.parse_args(argv)
    load_before = round(os.getloadavg()[0], 2)
    network = read_network_file(SAMPLE)
    orders = make_orders(network.items, 2_000, args.lines, seed=42)
    runs: list[Run] = []
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    for repeat in range(1, args.repeats + 1):
        for store in stores:
            for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
                if store == "sqlite":
                    with tempfile.TemporaryDirectory() as tmp:
                        runs.append(_one_run(store, f"sqlite:///{tmp}/bench.db", orders, args, mode, repeat))
                else:
                    url = _postgres_database(args.postgres)
                    if url is None:
                        continue
                    try:
                        runs.append(_one_run(store, url, orders, args, mode, repeat))
                    finally:
                        _drop(args.postgres, url)
                print(asdict(runs[-1]) if runs else "", flush=True)
    meta = {**serving_meta(args, load_before), "nats": args.nats}
    report = _markdown(runs, meta)
    print(report)
    write_results(args.out_dir, "relay-at-peak", {"meta": meta, "runs": [asdict(r) for r in runs]}, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
