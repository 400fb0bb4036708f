"""What the interceptor around every handler costs a call, in process: a handler that returns its
request, called bare and through the server's CallInterceptor (metrics, error mapping, deadline),
with the handler lookup gRPC does per call through it. Interleaved rounds, medians; no socket.

    python -m benchmarks.interceptors_bench [--calls 50000] [--rounds 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from benchmarks.reporting import load_average
from server.api.interceptors import CallInterceptor
from server.metrics import ServerMetrics

METHOD = "/oms.sourcing.v1.SourcingService/Source"


class _Context:
    """What the wrapper reads of a servicer context: a deadline five seconds away, no status set."""

    def time_remaining(self) -> float:
        return 5.0

    def code(self) -> None:
        return None


class _Details:
    method = METHOD
    invocation_metadata = ()


def _echo(request: Any, context: Any) -> Any:
    return request


def _per_call_us(call: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def measure(calls: int, rounds: int) -> dict[str, float]:
    interceptor = CallInterceptor(ServerMetrics(CollectorRegistry()))
    handler = grpc.unary_unary_rpc_method_handler(_echo)
    details: Any = _Details()
    wrapped_handler = interceptor.intercept_service(lambda _: handler, details)
    assert wrapped_handler is not None
    wrapped = wrapped_handler.unary_unary
    context: Any = _Context()
    timings: dict[str, list[float]] = {"bare handler": [], "through the interceptor": [], "handler lookup": []}
    for _ in range(rounds):
        timings["bare handler"].append(_per_call_us(lambda: _echo(1, context), calls))
        timings["through the interceptor"].append(_per_call_us(lambda: wrapped(1, context), calls))
        timings["handler lookup"].append(
            _per_call_us(lambda: interceptor.intercept_service(lambda _: handler, details), calls)
        )
    return {name: statistics.median(values) for name, values in timings.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.interceptors_bench", description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="write the table (markdown) here too")
    args = parser.parse_args(argv)
    found = measure(args.calls, args.rounds)
    lines = [
        f"Interceptor cost per call, median of {args.rounds} rounds of {args.calls:,} calls "
        f"(load average {load_average()}):",
        "",
        "| what | µs per call |",
        "|---|---:|",
        *(f"| {name} | {us:.2f} |" for name, us in found.items()),
    ]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
