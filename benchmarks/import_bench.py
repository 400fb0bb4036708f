"""``oms-sourcing import inventory`` of a large stock file on SQLite and PostgreSQL (issue #23:
1,000,000 rows within 60 s each, memory flat).

Each import runs as its own process (the real command line), timed wall-clock, its peak RSS
read from the kernel (``wait4``). Per store: the first import of the file (every position
created), a re-run of the same file (nothing changes), and, for the memory claim, the same
import of a file a tenth the size: a flat memory profile is the same peak for both.

    python -m benchmarks.import_bench --rows 1000000 --out benchmarks/results/2026-12-07-import.md
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

SKUS_PER_NODE = 10_000


@dataclass(frozen=True)
class Run:
    store: str
    what: str
    rows: int
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # the import process's own user + system time (the database's not included)
    output: str


def write_catalogue(folder: Path, rows: int) -> tuple[Path, Path]:
    nodes = max(1, -(-rows // SKUS_PER_NODE))
    skus = min(rows, SKUS_PER_NODE)
    node_file = folder / "nodes.csv"
    with open(node_file, "w", encoding="utf-8") as out:
        out.write("id,type,lat,lon,pick_pack_cost,unit_handling_cost\n")
        for n in range(nodes):
            out.write(f"N-{n:04d},DC,{30 + n % 15},{-120 + n % 40},1.00,0.10\n")
    item_file = folder / "items.csv"
    with open(item_file, "w", encoding="utf-8") as out:
        out.write("sku,unit_weight_lb\n")
        for s in range(skus):
            out.write(f"SKU-{s:06d},{0.1 + (s % 50) / 10:.1f}\n")
    return node_file, item_file


def write_stock(path: Path, rows: int, seed: int = 7919) -> None:
    """``rows`` counts, node by node, SKU by SKU (as a WMS exports a snapshot)."""
    with open(path, "w", encoding="utf-8") as out:
        out.write("node_id,sku,on_hand\n")
        for i in range(rows):
            out.write(f"N-{i // SKUS_PER_NODE:04d},SKU-{i % SKUS_PER_NODE:06d},{(i * seed) % 500}\n")


def run_cli(args: list[str]) -> tuple[float, float, float, str]:
    """(wall seconds, peak RSS in MB, CPU seconds, stdout) of one ``oms-sourcing`` process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli.main", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"oms-sourcing {' '.join(args)} exited {process.returncode}:\n{output}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, output  # ru_maxrss: KiB


def bench_store(name: str, url: str, folder: Path, rows: int) -> list[Run]:
    run_cli(["migrate", "--database", url])  # the catalogue first: counts name known nodes and SKUs
    nodes, items = write_catalogue(folder, rows)
    run_cli(["import", "nodes", str(nodes), "--database", url, "--no-progress"])
    run_cli(["import", "items", str(items), "--database", url, "--no-progress"])
    runs: list[Run] = []
    big = folder / "stock.csv"
    write_stock(big, rows)
    small = folder / "stock-small.csv"
    write_stock(small, max(1, rows // 10), seed=104729)  # other counts: every row changes
    for what, path, count in (
        ("first import (every position created)", big, rows),
        ("re-run of the same file (nothing changes)", big, rows),
        ("new counts for a tenth of the positions", small, max(1, rows // 10)),
    ):
        args = ["import", "inventory", str(path), "--database", url, "--no-progress"]
        seconds, rss, cpu, output = run_cli(args)
        last = output.strip().splitlines()[-1]
        runs.append(Run(name, what, count, seconds, rss, cpu, last))
        print(
            f"{name}: {what}: {count:,} rows in {seconds:.1f} s ({cpu:.1f} s CPU), peak RSS {rss:.0f} MB; {last}",
            file=sys.stderr,
            flush=True,
        )
    return runs


def _postgres_database(admin: str) -> str | None:
    name = f"oms_import_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'CREATE DATABASE "{name}"'.encode())
    except psycopg.Error as error:
        print(f"PostgreSQL skipped: {error}", file=sys.stderr)
        return None
    return admin.rsplit("/", 1)[0] + f"/{name}"


def _drop(admin: str, url: str) -> None:
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'.encode())


def markdown(runs: list[Run], rows: int, load: tuple[str, str]) -> str:
    lines = [
        f"# Import of {rows:,} stock rows ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"`oms-sourcing import inventory` of a CSV of {rows:,} absolute counts ({SKUS_PER_NODE:,} SKUs per node),"
        " each import its own process, wall-clock time and the process's peak RSS (`wait4`). One transaction"
        " per file; SQLite in WAL with synchronous=FULL, PostgreSQL with synchronous_commit=on."
        f" Machine: {platform.machine()}, {os.cpu_count()} CPUs, shared with other work;"
        f" load average before/after: {load[0]} / {load[1]}. Target (issue #23): within 60 s on each store,"
        " memory flat (a tenth of the rows peaks at about the same RSS). CPU is the import process's own"
        " (user + system); the database server's work is not in it.",
        "",
        "| store | run | rows | seconds | rows/s | CPU s (importer) | peak RSS (MB) | the command's last line |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.store} | {r.what} | {r.rows:,} | {r.seconds:.1f} | {r.rows / r.seconds:,.0f} |"
            f" {r.cpu_seconds:.1f} | {r.peak_rss_mb:.0f} | {r.output} |"
        )
    lines += ["", f"Reproduce: `python -m benchmarks.import_bench --rows {rows}`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres", default=os.environ.get("OMS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--out", help="write the results as Markdown here")
    args = parser.parse_args(argv)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        if "sqlite" in args.stores:
            runs += bench_store("SQLite", f"sqlite:///{folder / 'bench.db'}", folder, args.rows)
        if "postgresql" in args.stores:
            url = _postgres_database(args.postgres)
            if url is not None:
                try:
                    runs += bench_store("PostgreSQL", url, folder, args.rows)
                finally:
                    _drop(args.postgres, url)
    load_after = " ".join(f"{x:.1f}" for x in os.getloadavg())
    text = markdown(runs, args.rows, (load_before, load_after))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
