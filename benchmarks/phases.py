"""A Source call by phase, in instructions (valgrind's callgrind) and in time, before and after the
lean path (engine/small_orders/, engine/rules/cache.py), in one run.

The production wiring of benchmarks/profile_source.py (SQLite, the sample network, the shipped
rules), in process. Each phase runs alone over every order of a mix, on inputs prepared by the
phases before it, so a phase's count is its own: request decode; checks, conversion and
catalogue; the stock read; rule facts and directives; the engine's availability, build,
optimizer, cost and explanations (cumulative stages of one decision, differenced); the
response's proto and bytes; and the whole call (decode, Source, encode), whose remainder is
metrics and glue. "Before" turns the two switches off (``small_orders.SMALL_PATH``,
``CompiledRules.cache_enabled``): the general engine and durable-rules' per-fact memo, as on main
before this work.

Instructions: one process under callgrind, a dump before every phase (``--dump-before`` on
``zlib.crc32``, called between phases as a marker), so each dump is one phase's loop; the loop's
own cost (an empty phase) is subtracted. The counts are the same from run to run within a few
tenths of a percent, where time on the shared machine moves by 10-30%.

    python -m benchmarks.phases [--lines 1,2,3] [--orders 200] [--rounds 3] [--no-instructions]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.callgrind import phase_instructions, run_marked

VARIANTS = ("before", "after")

# (label, what it covers); the engine's stages are differences of cumulative runs.
PHASES = (
    ("request decode", "SourceRequest bytes to message"),
    ("checks, conversion, catalogue", "Decider.order_from_proto"),
    ("stock read", "Store.stock_levels: one SQL query"),
    ("rule facts and directives", "Decider.directives_for"),
    ("engine: availability", "stock levels to what the engine reads"),
    ("engine: build and terms", "candidates, costs"),
    ("engine: optimizer", "the exact decision"),
    ("engine: cost and allocations", "the decision without notes"),
    ("engine: explanations", "node notes"),
    ("response: proto and bytes", "decision_fields, SourceResponse, SerializeToString"),
)
WHOLE = "whole call (decode, Source, encode)"
GLUE = "metrics, checks and glue (the rest)"


@dataclass
class Prepared:
    """Inputs of every phase, per order of the mix."""

    payloads: list[bytes]
    requests: list[Any]
    orders: list[Any]
    skus: list[list[str]]
    levels: list[Any]
    directives: list[Any]
    outcomes: list[Any]


def _switch(variant: str) -> None:
    from engine import small_orders
    from engine.rules import evaluator

    lean = variant == "after"
    small_orders.SMALL_PATH = lean
    for rules in list(evaluator._COMPILED.values()):
        rules.cache_enabled = lean


def _build(db_dir: str) -> tuple[Any, Any]:
    from benchmarks.profile_source import build

    current, _, store = build(db_dir)
    return current, store


def _mix(lines: Sequence[int], count: int, skip_explanations: bool) -> list[bytes]:
    from benchmarks.service_bench import source_requests, without_explanations

    payloads = source_requests(seed=7, count=count, lines=lines)
    return without_explanations(payloads) if skip_explanations else payloads


def _prepare(service: Any, payloads: list[bytes]) -> Prepared:
    from server.api.proto import sourcing_pb2

    decider = service._decider
    snapshot = decider._network.get()
    requests = [sourcing_pb2.SourceRequest.FromString(p) for p in payloads]
    orders = [decider.order_from_proto(r.order, new=True) for r in requests]
    skus = [sorted({line.sku for line in o.lines}) for o in orders]
    levels = [decider._store.stock_levels(s) for s in skus]
    directives = [decider.directives_for(o, snapshot) for o in orders]
    outcomes = [decider.decide(o, time_limit_ms=2_000) for o in orders]
    return Prepared(payloads, requests, orders, skus, levels, directives, outcomes)


def _engine_stages(service: Any, p: Prepared, explain: bool) -> list[Callable[[int], Any]]:
    """Cumulative stages of one decision, on the path each order takes in the current variant:
    availability; + terms and build; + optimizer; + cost and allocations; + explanations."""
    from engine import small_orders
    from engine.availability import Availability
    from engine.optimizer.deadline import Deadline
    from engine.optimizer.search import SolverSettings, optimize
    from engine.problem import build_problem
    from engine.sourcing import assemble_decision
    from engine.terms import resolve_terms

    snapshot = service._decider._network.get()
    settings = SolverSettings()

    def takes_small(i: int) -> bool:
        if not small_orders.SMALL_PATH:
            return False
        terms = resolve_terms(p.orders[i], p.directives[i], snapshot)
        return small_orders.decide_small(p.orders[i], snapshot, p.levels[i], p.directives[i], terms) is not None

    small = [takes_small(i) for i in range(len(p.orders))]
    terms_of = [resolve_terms(o, d, snapshot) for o, d in zip(p.orders, p.directives, strict=True)]

    def general(i: int, depth: int, notes: bool) -> Any:
        order, directives = p.orders[i], p.directives[i]
        availability = Availability.from_levels(snapshot, p.skus[i], p.levels[i])
        if depth == 1:
            return availability
        terms = resolve_terms(order, directives, snapshot)
        problem = build_problem(order, snapshot, availability, directives, terms)
        if depth == 2:
            return problem
        solution = optimize(problem, settings, Deadline.after_ms(settings.time_limit_ms))
        if depth == 3:
            return solution
        return assemble_decision(
            problem,
            solution.plan,
            snapshot,
            directives,
            status=solution.status,
            path=solution.path,
            bound=solution.bound,
            candidates=solution.candidates,
            explain=notes,
        )

    def lean(i: int, depth: int, notes: bool) -> Any:
        order, directives = p.orders[i], p.directives[i]
        if depth == 1:
            return small_orders.problem._Small(order, snapshot, p.levels[i], directives, terms_of[i])
        terms = resolve_terms(order, directives, snapshot)
        problem = small_orders.problem._Small(order, snapshot, p.levels[i], directives, terms)
        problem.build()
        if depth == 2:
            return problem
        solved = small_orders.search._solve(problem)
        if depth == 3 or solved is None:
            return solved
        return small_orders._assemble(problem, solved, notes)

    def stage(depth: int, notes: bool) -> Callable[[int], Any]:
        return lambda i: (lean if small[i] else general)(i, depth, notes)

    return [stage(1, False), stage(2, False), stage(3, False), stage(4, False), stage(4, explain)]


def _phase_calls(service: Any, p: Prepared, explain: bool) -> list[tuple[str, Callable[[int], Any]]]:
    """(label, call for order i): the loop's own cost first, then each phase, the engine's stages,
    the whole call."""
    from benchmarks.profile_source import _Context
    from server.api.proto import sourcing_pb2

    decider = service._decider
    snapshot = decider._network.get()
    context: Any = _Context()
    stages = _engine_stages(service, p, explain)

    def whole(i: int) -> Any:
        request = sourcing_pb2.SourceRequest.FromString(p.payloads[i])
        return service.Source(request, context).SerializeToString()

    def response(i: int) -> Any:
        fields = p.outcomes[i].proto_fields("USD", 0.0, decision_id="d")
        return sourcing_pb2.SourceResponse(decision=fields).SerializeToString()

    return [
        ("loop", lambda i: None),
        ("request decode", lambda i: sourcing_pb2.SourceRequest.FromString(p.payloads[i])),
        ("checks, conversion, catalogue", lambda i: decider.order_from_proto(p.requests[i].order, new=True)),
        ("stock read", lambda i: decider._store.stock_levels(p.skus[i])),
        ("rule facts and directives", lambda i: decider.directives_for(p.orders[i], snapshot)),
        ("stage 1", stages[0]),
        ("stage 2", stages[1]),
        ("stage 3", stages[2]),
        ("stage 4", stages[3]),
        ("stage 5", stages[4]),
        ("response: proto and bytes", response),
        (WHOLE, whole),
    ]


def _table(raw: dict[str, float]) -> dict[str, float]:
    """Per-call figures by phase from the loops' figures (loop cost removed, stages differenced)."""
    loop = raw["loop"]
    net = {k: max(0.0, v - loop) for k, v in raw.items() if k != "loop"}
    out = {label: net[label] for label in ("request decode", "checks, conversion, catalogue", "stock read")}
    out["rule facts and directives"] = net["rule facts and directives"]
    out["engine: availability"] = net["stage 1"]
    out["engine: build and terms"] = net["stage 2"] - net["stage 1"]
    out["engine: optimizer"] = net["stage 3"] - net["stage 2"]
    out["engine: cost and allocations"] = net["stage 4"] - net["stage 3"]
    out["engine: explanations"] = net["stage 5"] - net["stage 4"]
    out["response: proto and bytes"] = net["response: proto and bytes"]
    out[GLUE] = net[WHOLE] - sum(out.values())
    out[WHOLE] = net[WHOLE]
    return out


def child(db_dir: str, lines: Sequence[int], orders: int, skip: bool) -> int:
    """Under callgrind: build, warm up, then per variant a marker before each phase's loop."""
    service, store = _build(db_dir)
    try:
        payloads = _mix(lines, orders, skip)
        _prepare(service, payloads)  # compiles the rules, so the switches reach them
        for variant in VARIANTS:
            _switch(variant)
            prepared = _prepare(service, payloads)
            # Warmed first: caches, memo, the directives' shapes.
            run_marked([call for _, call in _phase_calls(service, prepared, not skip)], len(payloads))
    finally:
        store.close()
    return 0


def instructions(db_dir: str, lines: Sequence[int], orders: int, skip: bool) -> dict[str, dict[str, float]]:
    """Instructions per call by phase and variant, from one process under callgrind."""
    labels = [label for label, _ in _phase_calls_labels()]
    totals = phase_instructions("benchmarks.phases", db_dir, ",".join(map(str, lines)), str(orders), str(int(skip)))
    # Dump 1 is start-up and warm-up; then per variant one dump per phase, then the next warm-up.
    result: dict[str, dict[str, float]] = {}
    at = 1
    for variant in VARIANTS:
        raw = {label: totals[at + k] / orders for k, label in enumerate(labels)}
        result[variant] = _table(raw)
        at += len(labels) + 1
    return result


def _phase_calls_labels() -> list[tuple[str, None]]:
    names = ["loop", "request decode", "checks, conversion, catalogue", "stock read", "rule facts and directives"]
    names += [f"stage {k}" for k in range(1, 6)] + ["response: proto and bytes", WHOLE]
    return [(n, None) for n in names]


def timed(service: Any, payloads: list[bytes], skip: bool, rounds: int) -> dict[str, dict[str, float]]:
    """µs per call by phase and variant: median of interleaved rounds."""
    samples: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    prepared: dict[str, Prepared] = {}
    _prepare(service, payloads)  # compiles the rules, so the switches reach them
    for variant in VARIANTS:
        _switch(variant)
        prepared[variant] = _prepare(service, payloads)
    for _ in range(rounds):
        for variant in VARIANTS:
            _switch(variant)
            for label, call in _phase_calls(service, prepared[variant], not skip):
                for i in range(len(payloads)):  # warm
                    call(i)
                started = time.perf_counter()
                for i in range(len(payloads)):
                    call(i)
                seconds = (time.perf_counter() - started) / len(payloads)
                samples[variant].setdefault(label, []).append(seconds * 1e6)
    _switch("after")
    return {v: _table({k: statistics.median(s) for k, s in samples[v].items()}) for v in VARIANTS}


def render(title: str, counted: dict[str, dict[str, float]] | None, clock: dict[str, dict[str, float]]) -> list[str]:
    rows = [label for label, _ in PHASES] + [GLUE, WHOLE]
    out = [f"### {title}", ""]
    if counted is not None:
        out += [
            "| phase | M instructions before | after | change | µs before | µs after |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            b, a = counted["before"][row] / 1e6, counted["after"][row] / 1e6
            change = f"{(a - b) / b:+.0%}" if b > 0.005 else ""
            out.append(
                f"| {row} | {b:.3f} | {a:.3f} | {change} | {clock['before'][row]:,.0f} | {clock['after'][row]:,.0f} |"
            )
    else:
        out += ["| phase | µs before | µs after |", "|---|---:|---:|"]
        for row in rows:
            out.append(f"| {row} | {clock['before'][row]:,.0f} | {clock['after'][row]:,.0f} |")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.phases", description=__doc__)
    parser.add_argument("--lines", default="1,2,3", help="line counts of the order mix (default: %(default)s)")
    parser.add_argument("--orders", type=int, default=200, help="orders in the mix (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (default: %(default)s)")
    parser.add_argument("--no-instructions", action="store_true", help="time only (no valgrind)")
    parser.add_argument(
        "--explanations",
        choices=("both", "on", "off"),
        default="both",
        help="the call with explanations, without (skip_explanations), or both (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, help="also write the tables (markdown) here")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        db_dir, lines_text, orders, skip = args.child
        return child(db_dir, [int(x) for x in lines_text.split(",")], int(orders), skip == "1")
    lines = [int(x) for x in args.lines.split(",")]
    counting = not args.no_instructions and shutil.which("valgrind") is not None
    if not args.no_instructions and not counting:
        print("valgrind not found (Debian: apt-get install valgrind): times only")
    report = [
        f"Source in process by phase: {args.orders} orders of {args.lines} lines (benchmarks.service_bench's"
        " generator, seed 7), the sample network, rules/default.yaml, SQLite; before = the general engine and"
        " durable-rules' memo alone (the switches off), after = this code.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="phases_") as db_dir:
        service, store = _build(db_dir)
        try:
            for skip in {"both": (False, True), "on": (False,), "off": (True,)}[args.explanations]:
                payloads = _mix(lines, args.orders, skip)
                clock = timed(service, payloads, skip, args.rounds)
                counted = instructions(db_dir, lines, args.orders, skip) if counting else None
                title = "without explanations (skip_explanations)" if skip else "with explanations"
                report += [*render(title, counted, clock), ""]
        finally:
            store.close()
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
