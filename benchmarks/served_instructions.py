"""Instructions per served call (valgrind's callgrind): the trivial call, Source, and Source with
a canned handler, each counted inside the real server process, noise-free.

Starts ``oms-sourcing serve`` (one worker, one handler thread, SQLite, the sample network, the
shipped rules) under callgrind, and from a plain gRPC client sends, one call at a time: warm-up
calls, then per case ``--calls`` calls between two dumps (``callgrind_control --dump``), so each
dump holds one case's calls and nothing else the client did. The same with
``benchmarks.canned_source`` (Source answering from a cache) gives gRPC's and the messages' own
share. Compare with ``benchmarks.phases``'s whole call in process (no transport): what the
server adds beyond the decision is the difference.

    python -m benchmarks.served_instructions [--calls 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.callgrind import dump_total

REPO = Path(__file__).resolve().parents[1]
SOURCE = "/oms.sourcing.v1.SourcingService/Source"
CHECK = "/grpc.health.v1.Health/Check"


def _dump(pid: int) -> None:
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True, timeout=600)


def count(
    canned: bool, cases: dict[str, tuple[str, list[bytes]]], calls: int, port: int, keep: Path | None = None
) -> dict[str, float]:
    """Instructions per call of each case, in one server process under callgrind; ``keep``: a
    directory to copy each case's dump to (for callgrind_annotate)."""
    import grpc

    from benchmarks.load.run import wait_serving
    from benchmarks.service_bench import RULES, SAMPLE

    with tempfile.TemporaryDirectory(prefix="served_cg_") as tmp:
        out = os.path.join(tmp, "cg.out")
        entry = (
            [sys.executable, "-m", "benchmarks.canned_source"]
            if canned
            else [sys.executable, "-m", "server.cli.main", "serve"]
        )
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no", "--collect-atstart=yes",
            *entry, "--port", str(port), "--workers", "1", "--threads", "1",
            "--database", f"sqlite:///{tmp}/served.db", "--load-sample-if-empty", "--sample-network", str(SAMPLE),
            "--rules-path", str(RULES), "--metrics-port", "0", "--log-level", "WARNING",
            # The sweeper works by the clock, not by the call: under callgrind a call lasts ~50 times
            # longer, and its rounds would be charged to the calls.
            "--sweep-interval-seconds", "0",
        ]  # fmt: skip
        server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            target = f"127.0.0.1:{port}"
            wait_serving(target, 900)
            channel = grpc.insecure_channel(target)
            result: dict[str, float] = {}
            with channel:
                for name, (method, payloads) in cases.items():
                    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
                    for i in range(max(len(payloads), 50)):  # warm: caches, and the canned answers
                        call(payloads[i % len(payloads)], timeout=600)
                    _dump(server.pid)
                    before = len(glob.glob(out + ".*"))
                    for i in range(calls):
                        call(payloads[i % len(payloads)], timeout=600)
                    _dump(server.pid)
                    dumps = sorted(glob.glob(out + ".*"), key=lambda f: int(f.rsplit(".", 1)[1]))
                    assert len(dumps) == before + 1, dumps
                    result[name] = dump_total(dumps[-1]) / calls
                    if keep is not None:
                        keep.mkdir(parents=True, exist_ok=True)
                        label = re.sub(r"[^a-z0-9]+", "-", f"{'canned ' if canned else ''}{name}".lower()).strip("-")
                        shutil.copy(dumps[-1], keep / f"{label}.callgrind")
                    print(
                        f"{'canned ' if canned else ''}{name}: {result[name] / 1e6:.3f} M instructions/call",
                        file=sys.stderr,
                    )
            return result
        finally:
            server.terminate()
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
            time.sleep(0.5)


def main(argv: Sequence[str] | None = None) -> int:
    from grpc_health.v1 import health_pb2

    from benchmarks.service_bench import readme_order, source_requests, without_explanations

    parser = argparse.ArgumentParser(prog="benchmarks.served_instructions", description=__doc__)
    parser.add_argument("--calls", type=int, default=200, help="calls counted per case (default: %(default)s)")
    parser.add_argument("--port", type=int, default=50073)
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    parser.add_argument("--keep", type=Path, help="copy each case's callgrind dump into this directory")
    parser.add_argument("--cases", default="", help="only these cases (comma-separated numbers from 1, in order)")
    args = parser.parse_args(argv)
    mix = source_requests(seed=100, count=args.calls, lines=(1, 2, 3))
    cases = {
        "trivial call (Health.Check)": (CHECK, [health_pb2.HealthCheckRequest().SerializeToString()]),
        "Source, README Chicago order": (SOURCE, [readme_order()]),
        "Source, 1-3 lines": (SOURCE, mix),
        "Source, 1-3 lines, skip_explanations": (SOURCE, without_explanations(mix)),
    }
    if args.cases:
        picked = [int(x) - 1 for x in args.cases.split(",")]
        cases = {name: case for k, (name, case) in enumerate(cases.items()) if k in picked or k == 0}
    served = count(False, cases, args.calls, args.port, args.keep)
    canned = count(True, cases, args.calls, args.port, args.keep)
    lines = [
        f"Instructions per served call (callgrind, {args.calls} calls a case, one server process, one handler thread,"
        " SQLite, the sample network, the shipped rules):",
        "",
        "| call | M instructions served | with Source canned | vs the trivial call (served) |",
        "|---|---:|---:|---:|",
    ]
    trivial = served["trivial call (Health.Check)"]
    for name in cases:
        lines.append(
            f"| {name} | {served[name] / 1e6:.3f} | {canned[name] / 1e6:.3f} | {served[name] / trivial:.1f}x |"
        )
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
