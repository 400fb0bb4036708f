"""What skip_explanations saves on the README's Chicago order, in CPU instructions and in time.

Wall-clock time on the shared 2-core machine drifts by 10-30% with whatever else runs; valgrind's
callgrind counts the instructions a call executes, nearly the same every run. Each case runs in
a process of its own under callgrind: open the store (prepared beforehand, outside valgrind),
build the production wiring (ServiceDeps, the sample network, rules/default.yaml), warm up,
then Source calls as benchmarks/profile_source.py makes them (request bytes decoded, Source,
response encoded; no network). Two call counts per case cancel out everything but the calls:
instructions per call = (Ir(2n) - Ir(n)) / n. The same calls are also timed natively, rounds
interleaved, medians.

    python -m benchmarks.explanations_cost [--calls 100] [--rounds 5]

Needs valgrind (Debian: apt-get install valgrind); about 10 minutes on two cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.callgrind import child_instructions
from benchmarks.service_bench import readme_order

REPO = Path(__file__).resolve().parents[1]
WARM_UP = 50


def _service(db_dir: str) -> tuple[Any, Any]:
    from benchmarks.profile_source import build

    current, _, store = build(db_dir)
    return current, store


def _calls(service: Any, payload: bytes, count: int) -> None:
    from benchmarks.profile_source import run

    run(service, [payload], count)


def child(db_dir: str, skip: bool, calls: int) -> int:
    """One measured process: warm up, then ``calls`` calls."""
    service, store = _service(db_dir)
    try:
        payload = readme_order(skip)
        _calls(service, payload, WARM_UP)
        _calls(service, payload, calls)
    finally:
        store.close()
    return 0


def instructions(db_dir: str, skip: bool, calls: int) -> int:
    """Instructions (callgrind's Ir) of a whole child process."""
    return child_instructions("benchmarks.explanations_cost", db_dir, str(int(skip)), str(calls))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.explanations_cost", description=__doc__)
    parser.add_argument("--calls", type=int, default=100, help="n: calls measured under callgrind (and 2n)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the native timing")
    parser.add_argument("--child", nargs=3, metavar=("DB_DIR", "SKIP", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1] == "1", int(args.child[2]))
    with tempfile.TemporaryDirectory(prefix="explanations_cost_") as db_dir:
        service, store = _service(db_dir)  # prepares the store once, natively
        try:
            timed: dict[bool, list[float]] = {False: [], True: []}
            payloads = {skip: readme_order(skip) for skip in (False, True)}
            for skip in (False, True):
                _calls(service, payloads[skip], 300)
            for _ in range(args.rounds):
                for skip in (False, True):
                    started = time.perf_counter()
                    _calls(service, payloads[skip], 1000)
                    timed[skip].append((time.perf_counter() - started) / 1000 * 1e6)
        finally:
            store.close()
        per_call = {}
        for skip in (False, True):
            low, high = instructions(db_dir, skip, args.calls), instructions(db_dir, skip, 2 * args.calls)
            per_call[skip] = (high - low) / args.calls
    full, bare = per_call[False], per_call[True]
    t_full, t_bare = statistics.median(timed[False]), statistics.median(timed[True])
    print("Source, the README's Chicago order, in process (decode, Source, encode):")
    print(f"  instructions per call: {full:,.0f} with explanations, {bare:,.0f} without ({1 - bare / full:.1%} fewer)")
    print(
        f"  time per call (median of {args.rounds} interleaved rounds): {t_full:,.0f} µs with, {t_bare:,.0f} µs"
        f" without ({1 - t_bare / t_full:.1%} less)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
