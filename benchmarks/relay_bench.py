"""The outbox relay alone: how many events a second it moves from the store to NATS JetStream.

A backlog of committed events (the outbox rows, as order changes write them) is put in a fresh
store, then one relay publishes it all; what is reported is events per second from its first
acknowledgement to the stored position reaching the last event, and the commit-to-ack lag of
events written while it runs (a trickle at a fixed rate, open loop). Two shapes of backlog: one
event per order (a window fills, up to 512 in flight) and 20 events per order, interleaved (the
same). NATS comes from --nats (default nats://127.0.0.1:4222); each run has its own prefix and
deletes its stream. PostgreSQL runs when reachable (OMS_TEST_POSTGRES_DSN or postgres@127.0.0.1).

    .venv/bin/python -m benchmarks.relay_bench                  # results in benchmarks/results/
    .venv/bin/python -m benchmarks.relay_bench --events 20000 --stores sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import nats
import numpy as np
import psycopg
from prometheus_client import CollectorRegistry

from benchmarks.reporting import DEFAULT_OUT_DIR, machine_info
from server.metrics import LAG_BUCKETS_SECONDS, RelayMetrics
from server.relay.messages import Destination
from server.relay.relay import Relay, RelaySettings, start_relay_thread
from server.store import open_store
from server.store.base import Store
from server.store.outbox import OutboxStoreMixin

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _backlog(store: Store, events: int, per_order: int) -> None:
    """``events`` committed outbox rows, ``per_order`` to an order, orders interleaved."""
    orders = max(1, events // per_order)
    stamp = cast(Any, store)._ts_in(datetime.now(UTC))
    rows = [(f"O-{i % orders}", "NOTED", json.dumps({"n": i, "by": "bench"}), stamp) for i in range(events)]

    def write(tx: Any) -> None:
        tx.executemany("INSERT INTO events (order_id, type, payload, created_at) VALUES (?, ?, ?, ?)", rows)

    cast(Any, store)._write(write)


def _trickle(store: Store, rate: float, stop: threading.Event) -> None:
    """One event at a time at ``rate`` a second, each in its own transaction, until ``stop``."""
    start = time.perf_counter()
    n = 0
    while not stop.is_set():
        due = start + n / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        stamp = cast(Any, store)._ts_in(datetime.now(UTC))
        cast(Any, store)._write(
            lambda tx, n=n, stamp=stamp: tx.execute(
                "INSERT INTO events (order_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
                (f"T-{n}", "NOTED", "{}", stamp),
            )
        )
        n += 1


def _position(store: Store) -> int:
    state = cast(OutboxStoreMixin, store).relay_state("nats")
    return state[0] if state else 0


def _count(store: Store) -> int:
    return int(cast(Any, store)._read(lambda tx: tx.execute("SELECT COUNT(*) FROM events"))[0][0])


def run_case(url: str, nats_url: str, events: int, per_order: int, trickle_rate: float) -> dict[str, Any]:
    store = open_store(url)
    store.migrate()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    try:
        _backlog(store, events, per_order)
        cast(OutboxStoreMixin, store).sequence_events()
        registry = CollectorRegistry()
        relay = Relay(cast(OutboxStoreMixin, store), RelaySettings(nats_url, prefix=prefix), RelayMetrics(registry))
        halt = threading.Event()
        begun = time.perf_counter()
        cpu_begun = time.process_time()
        thread = start_relay_thread(relay, halt)
        first = None
        while _position(store) < events:
            if first is None and _position(store) > 0:
                first = time.perf_counter()
            time.sleep(0.005)
        drained = time.perf_counter()
        cpu = time.process_time() - cpu_begun  # the relay's thread, and this one's polling (light)
        # Then a trickle while it follows: the lag of events written one by one.
        buckets_before = _lag_buckets(registry)
        stop_trickle = threading.Event()
        writer = threading.Thread(target=_trickle, args=(store, trickle_rate, stop_trickle))
        writer.start()
        time.sleep(5.0)
        stop_trickle.set()
        writer.join()
        total = _count(store)
        while _position(store) < total:
            time.sleep(0.005)
        halt.set()
        thread.join(timeout=30)
        lags = _lag_quantiles(buckets_before, _lag_buckets(registry), total - events)
        published = registry.get_sample_value("oms_sourcing_relay_published_total") or 0.0
        start = first or begun
        return {
            "store": store.dialect,
            "events": events,
            "events_per_order": per_order,
            "seconds": round(drained - start, 3),
            "events_per_second": round(events / (drained - start)),
            "cpu_seconds": round(cpu, 3),
            "events_per_cpu_second": round(events / cpu),
            "trickle_rate": trickle_rate,
            "trickle_events": total - events,
            "trickle_lag_bucket_p50_le_s": lags[0],
            "trickle_lag_bucket_p99_le_s": lags[1],
            "published": int(published),
        }
    finally:
        store.close()
        asyncio.run(_delete_stream(nats_url, Destination(prefix)))


def _lag_buckets(registry: CollectorRegistry) -> np.ndarray:
    """The lag histogram's cumulative bucket counts."""
    sample = registry.get_sample_value
    return np.array(
        [sample("oms_sourcing_relay_lag_seconds_bucket", {"le": str(b)}) or 0.0 for b in LAG_BUCKETS_SECONDS]
    )


def _lag_quantiles(before: np.ndarray, after: np.ndarray, total: float) -> tuple[float, float]:
    """Upper bounds of the buckets holding p50 and p99 of what was observed between two snapshots."""
    counts = after - before
    out = []
    for q in (0.5, 0.99):
        out.append(next((b for b, c in zip(LAG_BUCKETS_SECONDS, counts, strict=True) if c >= q * total), float("inf")))
    return out[0], out[1]


async def _delete_stream(nats_url: str, destination: Destination) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(destination.orders_stream)
    except Exception:
        pass
    finally:
        await nc.close()


def _postgres_url() -> str | None:
    admin = os.environ.get("OMS_TEST_POSTGRES_DSN") or DEFAULT_DSN
    try:
        with psycopg.connect(admin, connect_timeout=3, autocommit=True) as connection:
            name = f"oms_relay_bench_{uuid.uuid4().hex[:8]}"
            connection.execute(f'CREATE DATABASE "{name}"'.encode())
    except psycopg.OperationalError:
        return None
    return admin.rsplit("/", 1)[0] + f"/{name}"


def _drop(url: str) -> None:
    admin = os.environ.get("OMS_TEST_POSTGRES_DSN") or DEFAULT_DSN
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'.encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--trickle-rate", type=float, default=200.0, help="events/s written while it follows")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args()
    rows = []
    load_before = os.getloadavg()[0]
    for dialect in args.stores.split(","):
        for per_order in (1, 20):
            if dialect == "sqlite":
                folder = tempfile.mkdtemp(prefix="relay-bench-")
                url = f"sqlite:///{folder}/store.db"
                rows.append(run_case(url, args.nats, args.events, per_order, args.trickle_rate))
            else:
                pg = _postgres_url()
                if pg is None:
                    print("PostgreSQL unreachable: skipped")
                    continue
                try:
                    rows.append(run_case(pg, args.nats, args.events, per_order, args.trickle_rate))
                finally:
                    _drop(pg)
            print(json.dumps(rows[-1]))
    day = datetime.now(UTC).date().isoformat()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{day}-relay.json").write_text(json.dumps({"machine": machine_info(), "rows": rows}, indent=2))
    lines = [
        f"# Outbox relay benchmark, {day}",
        "",
        f"One relay, a backlog of {args.events:,} committed events to NATS JetStream on this machine "
        f"(nats-server {args.nats}), then {args.trickle_rate:g} events/s written one per transaction for 5 s "
        "while it follows (lag: the upper bound of the histogram bucket holding the quantile). "
        f"Load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: "
        "on a shared machine the wall-clock rate is the CPU share the relay got; events per CPU-second "
        "(the relay's process) is what one free core would sustain.",
        "",
        "| store | events per order | backlog events/s | events per CPU-second | trickle lag p50 <= s "
        "| trickle lag p99 <= s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['store']} | {row['events_per_order']} | {row['events_per_second']:,} "
            f"| {row['events_per_cpu_second']:,} "
            f"| {row['trickle_lag_bucket_p50_le_s']} | {row['trickle_lag_bucket_p99_le_s']} |"
        )
    (args.out / f"{day}-relay.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
