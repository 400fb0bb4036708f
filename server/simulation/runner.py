"""Run the simulated sides: each side replays the whole history in its own process.

Stock consumption is sequential by nature (an order sees what every earlier order left), so a
side is never split across processes: the two sides (baseline and ``--compare``) run in parallel,
each on its own core with its own stock, rules engine (durable-rules keeps global state per
process) and daily-capacity counters. ``workers=1`` runs them one after the other in this process.
Progress is reported through a queue to one tqdm bar on stderr.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.directives import Directives
from engine.errors import SourcingError
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.rules import RuleSet, evaluate, load_rule_set
from engine.simulation.policy import Policy, WithPolicy
from engine.simulation.replay import DirectivesFor, Outcome, no_rules, replay
from server.active_rules import read_rule_files
from server.simulation.files import load_network, read_history


@dataclass(frozen=True)
class SideSpec:
    name: str
    rule_files: tuple[str, ...] = ()
    policy: Policy = field(default_factory=Policy)

    def describe(self) -> str:
        parts = [", ".join(self.rule_files) or "no rules"]
        if not self.policy.is_default():
            parts.append(self.policy.describe())
        return "; ".join(parts)


@dataclass(frozen=True)
class Job:
    network: str
    history: str
    restock_every_days: int | None


class RulesDirectives:
    """DirectivesFor over a loaded rule set: the decision date is the order's creation date."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set

    def __call__(
        self, order: Order, snapshot: NetworkSnapshot, decided_at: datetime, shipments_today: Mapping[str, int]
    ) -> Directives:
        return evaluate(self.rule_set, order, snapshot, decided_at.date(), shipments_today)


def load_rules(paths: Sequence[str]) -> RuleSet:
    """RuleSetError (every error, with file and line) or OSError pass through."""
    return load_rule_set(read_rule_files(paths))


def directives_for(spec: SideSpec) -> DirectivesFor:
    base: DirectivesFor = RulesDirectives(load_rules(spec.rule_files)) if spec.rule_files else no_rules
    return WithPolicy(base, spec.policy) if not spec.policy.is_default() else base


def run_side(spec: SideSpec, job: Job, progress: Callable[[int], None] | None = None) -> list[Outcome]:
    network = load_network(job.network)
    history = read_history(job.history, network.catalogue)
    return replay(
        history,
        network.snapshot,
        network.fresh_stock(),
        directives_for(spec),
        restock_every_days=job.restock_every_days,
        on_progress=progress,
    )


def _worker(spec: SideSpec, job: Job, queue: Any) -> None:
    try:
        started = time.perf_counter()
        outcomes = run_side(spec, job, lambda n: queue.put(("progress", spec.name, n)))
        queue.put(("done", spec.name, (outcomes, time.perf_counter() - started)))
    except BaseException:  # reported to the parent, which fails the run
        queue.put(("error", spec.name, traceback.format_exc()))


def _updater(bar: Any) -> Callable[[int], None]:
    def update(n: int) -> None:
        bar.update(n)

    return update


class SideFailedError(SourcingError, RuntimeError):
    pass


def run_sides(
    specs: Sequence[SideSpec],
    job: Job,
    total_orders: int,
    workers: int,
    show_progress: bool,
    seconds: dict[str, float] | None = None,
) -> dict[str, list[Outcome]]:
    """Outcomes per side name. ``workers`` > 1 runs up to that many sides at once, one process each.

    ``seconds``, when given, receives each side's replay time (reading its inputs included).
    """
    seconds = seconds if seconds is not None else {}
    from tqdm import tqdm

    bar = tqdm(
        total=total_orders * len(specs), unit="order", file=sys.stderr, disable=not show_progress, desc="simulating"
    )
    results: dict[str, list[Outcome]] = {}
    try:
        if workers <= 1 or len(specs) == 1:
            for spec in specs:
                started = time.perf_counter()
                results[spec.name] = run_side(spec, job, _updater(bar))
                seconds[spec.name] = round(time.perf_counter() - started, 2)
            return results
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        pending = list(specs)
        running: dict[str, Any] = {}
        while pending or running:
            while pending and len(running) < workers:
                spec = pending.pop(0)
                process = context.Process(
                    target=_worker, args=(spec, job, queue), name=f"simulate-{spec.name}", daemon=True
                )
                process.start()
                running[spec.name] = process
            try:
                kind, name, payload = queue.get(timeout=2.0)
            except queue_module.Empty:
                dead = [n for n, p in running.items() if not p.is_alive()]
                if not dead:
                    continue
                try:  # a process flushes its last message before it exits: read what is left first
                    kind, name, payload = queue.get(timeout=2.0)
                except queue_module.Empty:
                    kind, name, payload = "error", dead[0], f"process exited with code {running[dead[0]].exitcode}"
            if kind == "progress":
                bar.update(payload)
            elif kind == "done":
                results[name], seconds[name] = payload[0], round(payload[1], 2)
                running.pop(name).join()
            else:
                for process in running.values():
                    process.terminate()
                raise SideFailedError(f"side {name} failed:\n{payload}")
        return results
    finally:
        bar.close()
