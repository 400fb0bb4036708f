"""``oms-sourcing simulate run``: replay an order history (docs/order-history.md) against rule sets."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from engine.rules import RuleSetError
from engine.simulation.compare import changed_decisions, divergences, edited_rules, legacy_outcomes
from engine.simulation.gate import Threshold, check, parse_threshold
from engine.simulation.history import HistoryError
from engine.simulation.kpis import compute_kpis
from engine.simulation.policy import Policy, parse_policy
from server.errors import UsageError
from server.network_file import NetworkFileError
from server.simulation.files import load_network, read_history, read_legacy
from server.simulation.outputs import EXIT_GATE_FAILED, SideResult, SimulationResult, write_kpis, write_orders_csv
from server.simulation.report import render_report
from server.simulation.runner import Job, SideFailedError, SideSpec, run_sides


def add_simulate_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    simulate = sub.add_parser(
        "simulate",
        help="replay an order history against rule sets (and a legacy system's decisions)",
        description="Replay order histories against a network, rule sets and legacy decisions.",
    )
    inner = simulate.add_subparsers(dest="simulate_command", required=True, metavar="SUBCOMMAND")

    run = inner.add_parser(
        "run",
        help="replay a history and report KPIs",
        description="Replay orders in time order, consuming stock as they go, for the baseline (--rules) and "
        "optionally a candidate (--compare / --compare-set) and a legacy system's decisions (--legacy). "
        f"Exit 0 when done, {EXIT_GATE_FAILED} when a --fail-if threshold fails, 2 on bad input.",
    )
    run.add_argument("--network", required=True, metavar="FILE")
    run.add_argument("--orders", required=True, metavar="FILE", help="order history (JSON Lines)")
    run.add_argument("--rules", action="append", default=[], metavar="FILE", help="baseline rule file (repeatable)")
    run.add_argument("--compare", action="append", default=[], metavar="FILE", help="candidate rule file (repeatable)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="base_set",
                     help="baseline setting: split_penalty, backorder_penalty or max_shipments")  # fmt: skip
    run.add_argument("--compare-set", action="append", default=[], metavar="KEY=VALUE",
                     help="candidate setting (adds a candidate side; its rules: --compare, else --rules)")  # fmt: skip
    run.add_argument("--legacy", metavar="FILE", help="another system's decisions (JSON Lines) to compare with")
    run.add_argument("--restock-every-days", type=int, metavar="N", help="top stock back up every N days")
    run.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="K",
                     help="processes: one side per process (default: every core)")  # fmt: skip
    run.add_argument(
        "--out", default="simulation-report", metavar="DIR", help="report directory (default simulation-report)"
    )
    run.add_argument("--fail-if", action="append", default=[], metavar="EXPR",
                     help="e.g. 'cost_per_order>+1%%' or 'fill_rate<0' (repeatable); docs in README")  # fmt: skip
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(run=cmd_run)


def _network(path: str):  # type: ignore[no-untyped-def]
    try:
        return load_network(path)
    except NetworkFileError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def _specs(args: argparse.Namespace) -> list[SideSpec]:
    try:
        base_policy = parse_policy(args.base_set)
        compare_policy = parse_policy(args.compare_set)
    except ValueError as error:
        raise UsageError(str(error)) from None
    specs = [SideSpec("baseline", tuple(args.rules), base_policy)]
    if args.compare or args.compare_set:
        rules = tuple(args.compare) or tuple(args.rules)
        policy = compare_policy if args.compare_set else Policy()
        specs.append(SideSpec("candidate", rules, policy))
    return specs


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        thresholds: list[Threshold] = [parse_threshold(t) for t in args.fail_if]
    except ValueError as error:
        raise UsageError(f"--fail-if {error}") from None
    specs = _specs(args)
    network = _network(args.network)
    try:
        history = read_history(args.orders, network.catalogue)
        legacy = read_legacy(args.legacy) if args.legacy else None
        from server.simulation.runner import directives_for, load_rules

        for spec in specs:  # fail on a bad rule file before starting any process
            directives_for(spec)
        rule_sets = [load_rules(s.rule_files) if s.rule_files else None for s in specs]
    except (HistoryError, RuleSetError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot read {error.filename}: {error.strerror}") from None
    if args.restock_every_days is not None and args.restock_every_days < 1:
        raise UsageError("--restock-every-days must be at least 1")
    started = time.perf_counter()
    job = Job(args.network, args.orders, args.restock_every_days)
    side_seconds: dict[str, float] = {}
    try:
        outcomes = run_sides(specs, job, len(history), max(1, args.workers), not args.no_progress, side_seconds)
    except SideFailedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    sides = [
        SideResult(s.name, s.describe(), outcomes[s.name], compute_kpis(outcomes[s.name], network.snapshot))
        for s in specs
    ]
    result = SimulationResult(network.snapshot, sides, candidate=sides[1].name if len(sides) > 1 else None)
    if len(sides) > 1:
        result.changes = changed_decisions(sides[0].outcomes, sides[1].outcomes)
        result.rule_edits = edited_rules(rule_sets[0], rule_sets[1])
    if legacy is not None:
        legacy_side, problems = legacy_outcomes(history, legacy, network.snapshot)
        result.sides.append(
            SideResult(
                "legacy", f"decisions from {args.legacy}", legacy_side, compute_kpis(legacy_side, network.snapshot)
            )
        )
        result.divergences = divergences(sides[0].outcomes, legacy_side, problems)
        result.candidate = result.candidate or "legacy"
    candidate = result.side(result.candidate)
    result.verdicts = [
        check(t, result.base.kpis, candidate.kpis if candidate else None, result.counts) for t in thresholds
    ]
    result.run = {
        "network": args.network,
        "history": args.orders,
        "orders": len(history),
        "restock_every_days": args.restock_every_days,
        "workers": min(max(1, args.workers), len(specs)),
        "seconds": round(time.perf_counter() - started, 2),
        "side_seconds": side_seconds,
    }
    directory = Path(args.out)
    directory.mkdir(parents=True, exist_ok=True)
    write_kpis(directory / "kpis.json", result)
    write_orders_csv(directory / "orders.csv", result)
    (directory / "report.html").write_text(render_report(result), encoding="utf-8")
    _summary(result, directory, out)
    return EXIT_GATE_FAILED if result.failed else 0


def _summary(result: SimulationResult, directory: Path, out: TextIO) -> None:
    names = ("cost_per_order", "shipments_per_order", "split_rate", "fill_rate", "backordered_units")
    for side in result.sides:
        values = ", ".join(f"{n}={side.kpis.value(n):.4g}" for n in names)
        print(f"{side.name}: {side.kpis.orders:,} orders; {values}", file=out)
    if len(result.sides) > 1 and result.side("candidate"):
        print(f"decisions changed: {len(result.changes):,}", file=out)
    if result.side("legacy"):
        print(f"legacy divergences: {len(result.divergences):,}", file=out)
    for verdict in result.verdicts:
        print(verdict.explanation, file=out)
    print(f"report: {directory / 'report.html'} (kpis.json, orders.csv) in {result.run['seconds']:.1f} s", file=out)
