"""Joint decisions at scale: AllocateBatch's engine (engine/batch.py) on 100-order batches over the
sample network, and ReoptimizePending's (engine/reoptimize.py) over thousands of pending orders on a
500-node network. In process, one core; what is reported is what the engine returns: the batch's
status, its gap to the proven bound, how far below one by one it is, wall and CPU time.

Contention is the point: with the sample network's stock, 100 orders rarely compete and one by one
is proven optimal at once. So each scenario thins the stock (every position keeps a seeded share of
its units) until orders compete for the last units of popular SKUs, as in a flash sale.

    .venv/bin/python -m benchmarks.batch_bench                 # both, results in benchmarks/results/
    .venv/bin/python -m benchmarks.batch_bench --only batch --rounds 3
    .venv/bin/python -m benchmarks.batch_bench --only promise   # promise orders: *-joint-promise.md

``--only promise`` (docs/promise.md, "Joint decisions"): the same 100-order batches on the sample
network with its calendars and carrier services, a share of the orders carrying a promise (next
day, two day, a promised date, the earliest delivery; next day bills dimensional weight and a
residential surcharge, so some orders' prices are not linear), beside the very same orders without
any promise in the same run; and ReoptimizePending of promise orders allocated one by one at an
instant and re-planned six hours later (some holds now late), beside the same without promises.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.optimizer_bench import build_network, use_cpu_clock
from benchmarks.orders import make_orders
from benchmarks.reporting import DEFAULT_OUT_DIR, ROOT, machine_info
from engine.availability import Availability
from engine.batch import BatchDecision, BatchOrder, decide_batch
from engine.directives import NO_DIRECTIVES
from engine.geo import haversine_miles
from engine.model import Item, ObjectiveMode, Order
from engine.network import NetworkSnapshot
from engine.optimizer.search import SolverSettings
from engine.promise.calculator import epoch_seconds
from engine.reoptimize import PendingOrder, reoptimize
from engine.sourcing import decide
from engine.terms import resolve_terms
from server.network_file import parse_network

SAMPLE_NETWORK = ROOT / "data" / "sample-network.json"
BATCH_ORDERS = 100
BATCH_LIMIT_MS = 2_000
REOPTIMIZE_NODES = 500
REOPTIMIZE_SKUS = 1_000
REOPTIMIZE_LIMIT_MS = 60_000
LINES_MIX = (1, 1, 2, 3, 5)  # lines per order, cycled


@dataclass(frozen=True)
class Network:
    snapshot: NetworkSnapshot
    items: tuple[Item, ...]
    stock: dict[str, dict[int, int]]  # sku -> snapshot node -> units


def load_network(doc: dict[str, Any], name: str) -> Network:
    loaded = parse_network(doc, name)
    snapshot = NetworkSnapshot(loaded.nodes, rate_tables=loaded.rate_tables_in_force, currency=loaded.currency)
    stock: dict[str, dict[int, int]] = {}
    for update in loaded.inventory:
        stock.setdefault(update.sku, {})[snapshot.index[update.node_id]] = max(0, update.quantity)
    return Network(snapshot, loaded.items, stock)


def thinned(network: Network, orders: Sequence[Order], share: float, seed: int) -> Availability:
    """The orders' SKUs with every position keeping about ``share`` of its units (seeded rounding)."""
    rng = random.Random(seed)
    skus = sorted({line.sku for order in orders for line in order.lines})
    units = np.zeros((len(skus), len(network.snapshot)), dtype=np.int64)
    for k, sku in enumerate(skus):
        for node, held in sorted(network.stock.get(sku, {}).items()):
            exact = held * share
            units[k, node] = int(exact) + (rng.random() < exact - int(exact))
    return Availability(tuple(skus), units)


def mixed_orders(items: Sequence[Item], count: int, seed: int, prefix: str) -> list[Order]:
    """``count`` orders, lines per order cycling through LINES_MIX."""
    orders: list[Order] = []
    for i, n_lines in enumerate(LINES_MIX):
        share = len(range(i, count, len(LINES_MIX)))
        orders += make_orders(items, share, n_lines, seed=seed * 31 + n_lines, prefix=f"{prefix}{i}")
    rng = random.Random(seed)
    rng.shuffle(orders)
    return orders


def batch_row(batch: BatchDecision, seconds: float, cpu: float) -> dict[str, Any]:
    saved = (batch.sequential_total - batch.total) / batch.sequential_total if batch.sequential_total else 0.0
    return {
        "status": str(batch.status),
        "path": str(batch.path),
        "gap": batch.gap,
        "total": round(batch.total, 4),
        "sequential_total": round(batch.sequential_total, 4),
        "bound": round(batch.bound, 4),
        "saved_vs_one_by_one": saved,
        "candidates": batch.candidates,
        "ms": round(seconds * 1000.0, 1),
        "cpu_ms": round(cpu * 1000.0, 1),
    }


def run_batches(rounds: int, share: float, limit_ms: int) -> list[dict[str, Any]]:
    network = load_network(json.loads(SAMPLE_NETWORK.read_text()), str(SAMPLE_NETWORK))
    rows = []
    for r in range(rounds):
        orders = mixed_orders(network.items, BATCH_ORDERS, seed=1000 + r, prefix=f"B{r}-")
        availability = thinned(network, orders, share, seed=2000 + r)
        items = [BatchOrder(order, NO_DIRECTIVES) for order in orders]
        cpu, start = time.process_time(), time.perf_counter()
        batch = decide_batch(items, network.snapshot, availability, SolverSettings(time_limit_ms=limit_ms))
        row = batch_row(batch, time.perf_counter() - start, time.process_time() - cpu)
        rows.append({"round": r, "orders": len(orders), "stock_share": share, "limit_ms": limit_ms, **row})
        print(f"batch round {r}: {row}", file=sys.stderr, flush=True)
    return rows


# Tuesday 1 December 2026, 15:00 UTC (09:00 in Chicago): before the sample network's cut-offs.
PROMISE_INSTANT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
PROMISE_SHARE = 0.4  # of the orders carrying a promise
REPLAN_AFTER = timedelta(hours=9)  # past every cut-off of the day: some holds no longer keep their promise


def promise_network() -> Network:
    """The sample network with its calendars and carrier services (decisions with an instant read them)."""
    loaded = parse_network(json.loads(SAMPLE_NETWORK.read_text()), str(SAMPLE_NETWORK))
    snapshot = NetworkSnapshot(
        loaded.nodes,
        rate_tables=loaded.rate_tables_in_force,
        currency=loaded.currency,
        node_schedules=loaded.node_schedules,
        carrier_services=loaded.carrier_services_in_force,
    )
    stock: dict[str, dict[int, int]] = {}
    for update in loaded.inventory:
        stock.setdefault(update.sku, {})[snapshot.index[update.node_id]] = max(0, update.quantity)
    return Network(snapshot, loaded.items, stock)


def with_promises(orders: Sequence[Order], items: Sequence[Item], seed: int) -> tuple[list[Order], dict[str, int]]:
    """``orders`` with item volumes on their lines (as the server reads them from the catalogue) and
    about PROMISE_SHARE of them carrying a promise: next day (half of them residential), two day, a
    date two to five days on, or the earliest delivery with a date. Also the count of each kind."""
    rng = random.Random(seed)
    volume = {i.sku: i.length_in * i.width_in * i.height_in for i in items}
    today = PROMISE_INSTANT.date()
    kinds = {"next_day": 0, "two_day": 0, "promised_date": 0, "earliest_delivery": 0, "none": 0}
    out = []
    for order in orders:
        lines = tuple(replace(line, unit_volume_in3=volume.get(line.sku, 0.0)) for line in order.lines)
        order = replace(order, lines=lines)
        kind = (
            rng.choices(list(kinds), weights=[0.3, 0.2, 0.35, 0.15, 0.0])[0] if rng.random() < PROMISE_SHARE else "none"
        )
        kinds[kind] += 1
        if kind == "next_day":
            order = replace(order, carrier_service="NEXT_DAY", residential=rng.random() < 0.5)
        elif kind == "two_day":
            order = replace(order, carrier_service="TWO_DAY")
        elif kind == "promised_date":
            order = replace(order, promised_date=today + timedelta(days=rng.randint(2, 5)))
        elif kind == "earliest_delivery":
            promised = today + timedelta(days=rng.randint(3, 6))
            order = replace(order, objective=ObjectiveMode.EARLIEST_DELIVERY, promised_date=promised)
        out.append(order)
    return out, kinds


def _dated(order: Order, at: int) -> int | None:
    return at if order.promised or order.objective is ObjectiveMode.EARLIEST_DELIVERY else None


def run_promise_batches(rounds: int, share: float, limit_ms: int) -> list[dict[str, Any]]:
    """AllocateBatch's engine on 100 orders, PROMISE_SHARE of them with promises, and the same orders
    without any promise on the same stock, one after the other in the same run."""
    network = promise_network()
    at = epoch_seconds(PROMISE_INSTANT)
    rows = []
    for r in range(rounds):
        plain = mixed_orders(network.items, BATCH_ORDERS, seed=1000 + r, prefix=f"B{r}-")
        promised, kinds = with_promises(plain, network.items, seed=3000 + r)
        availability = thinned(network, plain, share, seed=2000 + r)
        for label, orders in (("promise", promised), ("none", plain)):
            items = [BatchOrder(o, NO_DIRECTIVES, at=_dated(o, at)) for o in orders]
            stock = Availability(availability.skus, availability.units.copy())
            cpu, start = time.process_time(), time.perf_counter()
            batch = decide_batch(items, network.snapshot, stock, SolverSettings(time_limit_ms=limit_ms))
            row = batch_row(batch, time.perf_counter() - start, time.process_time() - cpu)
            services = Counter(s.carrier_service for d in batch.decisions for s in d.cost.shipments)
            row |= {"round": r, "orders": len(orders), "stock_share": share, "limit_ms": limit_ms, "promises": label}
            row |= {"kinds": kinds if label == "promise" else {}, "services": dict(services)}
            rows.append(row)
            print(f"promise batch round {r} ({label}): {row}", file=sys.stderr, flush=True)
    return rows


def run_promise_reoptimize(n_orders: int, share: float, limit_ms: int, seed: int) -> list[dict[str, Any]]:
    """``n_orders`` on the sample network allocated one by one at PROMISE_INSTANT (each decided as
    Allocate decides it), then every order holding stock re-planned REPLAN_AFTER later; with
    promises, and the same orders without, in the same run."""
    network = promise_network()
    at = epoch_seconds(PROMISE_INSTANT)
    later = epoch_seconds(PROMISE_INSTANT + REPLAN_AFTER)
    plain = mixed_orders(network.items, n_orders, seed=seed, prefix="R")
    promised, kinds = with_promises(plain, network.items, seed=seed + 2)
    rows = []
    for label, orders in (("promise", promised), ("none", plain)):
        free = thinned(network, plain, share, seed=seed + 1)
        pending: list[PendingOrder] = []
        started = time.perf_counter()
        for order in orders:
            decision = decide(order, network.snapshot, free, NO_DIRECTIVES, SolverSettings(BATCH_LIMIT_MS),
                              explain=False, at=_dated(order, at))  # fmt: skip
            for a in decision.allocations:
                free.units[free.row[a.sku], network.snapshot.index[a.node_id]] -= a.qty
            if decision.allocations:
                pending.append(PendingOrder(order, NO_DIRECTIVES, decision.allocations))
        arrivals = time.perf_counter() - started
        held_late = sum(_holds_late(p, network.snapshot, later) for p in pending)
        cpu, start = time.process_time(), time.perf_counter()
        result = reoptimize(pending, network.snapshot, free, SolverSettings(time_limit_ms=limit_ms), at=later)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        row = {
            "promises": label,
            "kinds": kinds if label == "promise" else {},
            "orders": n_orders,
            "pending": len(pending),
            "stock_share": share,
            "limit_ms": limit_ms,
            "status": str(result.status),
            "total_before": round(result.total_before, 4),
            "total_after": round(result.total_after, 4),
            "joint_total": round(result.joint_total, 4),
            "bound": round(result.bound, 4),
            "gap_joint": (result.joint_total - result.bound) / result.joint_total if result.joint_total else 0.0,
            "saved": (result.total_before - result.total_after) / result.total_before if result.total_before else 0.0,
            "changed_orders": sum(len(group) for group in result.groups),
            "skipped": len(result.skipped),
            "held_late": held_late,
            "ms": round(seconds * 1000.0, 1),
            "cpu_ms": round(cpu_seconds * 1000.0, 1),
            "arrivals_seconds": round(arrivals, 1),
        }
        rows.append(row)
        print(f"promise reoptimize ({label}): {row}", file=sys.stderr, flush=True)
    return rows


def _holds_late(item: PendingOrder, snapshot: NetworkSnapshot, at: int) -> bool:
    """The order holds at a node that, at ``at``, would no longer keep its promise."""
    if not item.order.promised:
        return False
    terms = resolve_terms(item.order, NO_DIRECTIVES, snapshot, at=at)
    ship_to = item.order.ship_to
    for node_id in {a.node_id for a in item.held}:
        row = np.array([snapshot.index[node_id]], dtype=np.int64)
        miles = float(haversine_miles(ship_to.lat, ship_to.lon, snapshot.lat[row], snapshot.lon[row])[0])
        if terms.late(node_id, miles):
            return True
    return False


def run_reoptimize(n_orders: int, share: float, limit_ms: int, seed: int) -> dict[str, Any]:
    """Orders allocated one by one as they arrive (each decided exactly on what the ones before left,
    as Allocate does), then every order holding stock re-planned at once, as ReoptimizePending does."""
    bench = build_network(REOPTIMIZE_NODES, REOPTIMIZE_SKUS, seed)
    stock = {sku: dict(zip(where.tolist(), units.tolist(), strict=True)) for sku, (where, units) in bench.stock.items()}
    # Node capacities off: what the day's allocations used of them is the service's bookkeeping
    # (server/daily_shipments.py), not modelled here; stock is what the orders compete for.
    uncapped = tuple(replace(node, max_units=None, max_shipments=None) for node in bench.snapshot.nodes)
    network = Network(NetworkSnapshot(uncapped, rate_tables=bench.snapshot.rate_tables), bench.items, stock)
    orders = mixed_orders(network.items, n_orders, seed=seed, prefix="R")
    free = thinned(network, orders, share, seed=seed + 1)
    started = time.perf_counter()
    pending: list[PendingOrder] = []
    arrival_total = 0.0
    for order in orders:
        decision = decide(order, network.snapshot, free, NO_DIRECTIVES, SolverSettings(BATCH_LIMIT_MS), explain=False)
        arrival_total += decision.cost.total
        for a in decision.allocations:
            free.units[free.row[a.sku], network.snapshot.index[a.node_id]] -= a.qty
        if decision.allocations:
            pending.append(PendingOrder(order, NO_DIRECTIVES, decision.allocations))
    arrivals_seconds = time.perf_counter() - started
    print(f"reoptimize: {len(pending)} pending after {arrivals_seconds:.0f} s of arrivals", file=sys.stderr, flush=True)
    cpu, start = time.process_time(), time.perf_counter()
    result = reoptimize(pending, network.snapshot, free, SolverSettings(time_limit_ms=limit_ms))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    changed = sum(len(group) for group in result.groups)
    return {
        "orders": n_orders,
        "pending": len(pending),
        "nodes": REOPTIMIZE_NODES,
        "stock_share": share,
        "limit_ms": limit_ms,
        "status": str(result.status),
        "total_before": round(result.total_before, 4),
        "total_after": round(result.total_after, 4),
        "joint_total": round(result.joint_total, 4),
        "bound": round(result.bound, 4),
        "gap_joint": (result.joint_total - result.bound) / result.joint_total if result.joint_total else 0.0,
        "gap_applied": (result.total_after - result.bound) / result.total_after if result.total_after else 0.0,
        "saved": (result.total_before - result.total_after) / result.total_before if result.total_before else 0.0,
        "groups": len(result.groups),
        "changed_orders": changed,
        "skipped": len(result.skipped),
        "ms": round(seconds * 1000.0, 1),
        "cpu_ms": round(cpu_seconds * 1000.0, 1),
        "arrivals_seconds": round(arrivals_seconds, 1),
    }


def _shipments(allocations: Sequence[Any]) -> int:
    return len({a.node_id for a in allocations if a.qty > 0})


def run_value(n_orders: int, share: float, seed: int) -> dict[str, Any]:
    """The value of joint decisions on one benchmark day, measured as Xu, Allgor and Graves (2009) do:
    the share of the excess shipments (and cost) of real-time, one-by-one assignment that deciding
    together removes. Excess is over each order's own best plan on all the stock (no other order in
    its way): a bound no strategy can beat, so the shares are conservative. Strategies, on the same
    orders in the same sequence and the same stock: one by one as they arrive; AllocateBatch over
    consecutive windows of 100; one by one, then ReoptimizePending over every order holding stock."""
    network = load_network(json.loads(SAMPLE_NETWORK.read_text()), str(SAMPLE_NETWORK))
    orders = mixed_orders(network.items, n_orders, seed=seed, prefix="D")
    full = thinned(network, orders, share, seed=seed + 1)
    settings = SolverSettings(BATCH_LIMIT_MS)
    ideal_cost = ideal_ships = 0.0
    for order in orders:
        alone = decide(order, network.snapshot, full, NO_DIRECTIVES, settings, explain=False)
        ideal_cost += alone.cost.total
        ideal_ships += _shipments(alone.allocations)
    # The whole day decided at once, in hindsight: its bound is a lower bound on any plan of the day.
    day = decide_batch(
        [BatchOrder(order, NO_DIRECTIVES) for order in orders],
        network.snapshot,
        full,
        SolverSettings(REOPTIMIZE_LIMIT_MS),
        explain=False,
        max_orders=len(orders),
    )
    ideal_cost = max(ideal_cost, day.bound)
    day_ships = sum(_shipments(d.allocations) for d in day.decisions)
    # No bound on shipments: the fewest of the orders alone and the whole day at once stands in.
    ideal_ships = min(ideal_ships, day_ships)
    free = Availability(full.skus, full.units.copy())
    pending: list[PendingOrder] = []
    one_cost = one_ships = 0.0
    for order in orders:
        decision = decide(order, network.snapshot, free, NO_DIRECTIVES, settings, explain=False)
        one_cost += decision.cost.total
        one_ships += _shipments(decision.allocations)
        for a in decision.allocations:
            free.units[free.row[a.sku], network.snapshot.index[a.node_id]] -= a.qty
        if decision.allocations:
            pending.append(PendingOrder(order, NO_DIRECTIVES, decision.allocations))
    started = time.perf_counter()
    result = reoptimize(pending, network.snapshot, free, SolverSettings(REOPTIMIZE_LIMIT_MS))
    reopt_seconds = time.perf_counter() - started
    moved = {change.order_id: change for group in result.groups for change in group}
    reopt_cost = one_cost - (result.total_before - result.total_after)
    reopt_ships = one_ships + sum(_shipments(change.after) - _shipments(change.before) for change in moved.values())
    batch_free = Availability(full.skus, full.units.copy())
    batch_cost = batch_ships = 0.0
    statuses = []
    for first in range(0, len(orders), BATCH_ORDERS):
        window = [BatchOrder(order, NO_DIRECTIVES) for order in orders[first : first + BATCH_ORDERS]]
        batch = decide_batch(window, network.snapshot, batch_free, settings, explain=False)
        statuses.append(str(batch.status))
        for decision in batch.decisions:
            batch_cost += decision.cost.total
            batch_ships += _shipments(decision.allocations)
            for a in decision.allocations:
                batch_free.units[batch_free.row[a.sku], network.snapshot.index[a.node_id]] -= a.qty

    def removed(one: float, other: float, ideal: float) -> float:
        return (one - other) / (one - ideal) if one > ideal else 0.0

    return {
        "orders": n_orders,
        "stock_share": share,
        "ideal": {"cost": round(ideal_cost, 2), "shipments": int(ideal_ships)},
        "one_by_one": {"cost": round(one_cost, 2), "shipments": int(one_ships)},
        "hindsight": {
            "cost": round(day.total, 2),
            "shipments": day_ships,
            "excess_cost_removed": removed(one_cost, day.total, ideal_cost),
            "excess_shipments_removed": removed(one_ships, day_ships, ideal_ships),
            "status": str(day.status),
            "gap": day.gap,
        },
        "allocate_batch": {
            "cost": round(batch_cost, 2),
            "shipments": int(batch_ships),
            "excess_cost_removed": removed(one_cost, batch_cost, ideal_cost),
            "excess_shipments_removed": removed(one_ships, batch_ships, ideal_ships),
            "statuses": statuses,
        },
        "reoptimize_pending": {
            "cost": round(reopt_cost, 2),
            "shipments": int(reopt_ships),
            "excess_cost_removed": removed(one_cost, reopt_cost, ideal_cost),
            "excess_shipments_removed": removed(one_ships, reopt_ships, ideal_ships),
            "status": str(result.status),
            "changed_orders": len(moved),
            "seconds": round(reopt_seconds, 1),
        },
    }


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def render(report: dict[str, Any]) -> str:
    meta = report["meta"]
    out = [
        f"# Joint decisions benchmark, {meta['date']}",
        "",
        f"In process, one core; commit {meta['machine']['git_commit'][:10]}"
        f"{' + uncommitted changes' if meta['machine']['git_dirty_files'] else ''}; load average "
        f"{meta['loadavg_start']} at start, {meta['loadavg_end']} at end (2 cores, shared); deadlines on the "
        f"{meta.get('deadline_clock', 'wall')} clock.",
    ]
    if report.get("batches"):
        out += [
            "",
            f"## AllocateBatch engine: {BATCH_ORDERS} orders on the sample network, stock thinned",
            "",
            "| round | stock share | limit ms | status | path | gap | below one by one | ms | CPU ms |",
            "|---:|---:|---:|---|---|---:|---:|---:|---:|",
        ]
        for row in report["batches"]:
            out.append(
                f"| {row['round']} | {row['stock_share']:.0%} | {row['limit_ms']:,} | {row['status']} | {row['path']} "
                f"| {row['gap']:.3%} | {row['saved_vs_one_by_one']:.2%} | {row['ms']:,.0f} | {row['cpu_ms']:,.0f} |"
            )
    for row in report.get("reoptimize", []):
        out += [
            "",
            f"## ReoptimizePending engine: {row['pending']:,} pending orders on {row['nodes']} nodes",
            "",
            f"{row['orders']:,} orders allocated one by one as they arrived on {row['stock_share']:.0%} of the "
            f"network's stock, then re-planned at once (limit {row['limit_ms']:,} ms): {row['status']}, "
            f"{row['ms'] / 1000:,.1f} s ({row['cpu_ms'] / 1000:,.1f} s CPU); cost {row['total_before']:,.2f} -> "
            f"{row['total_after']:,.2f} ({row['saved']:.2%} saved, {row['changed_orders']} orders in "
            f"{row['groups']} groups); gap to the bound {row['gap_applied']:.3%} as applied, "
            f"{row['gap_joint']:.3%} for the joint plan.",
        ]
    if report.get("promise_batches"):
        out += [
            "",
            f"## AllocateBatch engine with promise orders: {BATCH_ORDERS} orders on the sample network",
            "",
            f"About {PROMISE_SHARE:.0%} of the orders carry a promise (kinds per round below: NEXT_DAY, which "
            "bills dimensional weight and a residential surcharge, so some prices are not linear; TWO_DAY; a "
            "promised date; EARLIEST_DELIVERY with a date), decided at "
            f"{PROMISE_INSTANT.isoformat()}; each round beside the very same orders with no promise, same stock.",
            "",
            "| round | promises | kinds (next day / two day / date / earliest) | status | path | gap "
            "| below one by one | ms | CPU ms |",
            "|---:|---|---|---|---|---:|---:|---:|---:|",
        ]
        for row in report["promise_batches"]:
            k = row["kinds"]
            kinds = f"{k['next_day']} / {k['two_day']} / {k['promised_date']} / {k['earliest_delivery']}" if k else ""
            out.append(
                f"| {row['round']} | {row['promises']} | {kinds} | {row['status']} | {row['path']} | {row['gap']:.3%} "
                f"| {row['saved_vs_one_by_one']:.2%} | {row['ms']:,.0f} | {row['cpu_ms']:,.0f} |"
            )
    for row in report.get("promise_reoptimize", []):
        out += [
            "",
            f"## ReoptimizePending engine, {'with' if row['promises'] == 'promise' else 'without'} promises: "
            f"{row['pending']:,} pending orders, sample network",
            "",
            f"{row['orders']:,} orders allocated one by one at {PROMISE_INSTANT.isoformat()} on "
            f"{row['stock_share']:.0%} of the stock, re-planned {REPLAN_AFTER} later (limit {row['limit_ms']:,} "
            f"ms): {row['status']}, {row['ms'] / 1000:,.2f} s ({row['cpu_ms'] / 1000:,.2f} s CPU); cost "
            f"{row['total_before']:,.2f} -> {row['total_after']:,.2f} ({row['saved']:.2%} saved, "
            f"{row['changed_orders']} orders changed, {row['skipped']} skipped); gap of the joint plan to the bound "
            f"{row['gap_joint']:.3%}; {row['held_late']} orders held at a node no longer keeping their promise.",
        ]
    value = report.get("value")
    if value:
        ideal, one = value["ideal"], value["one_by_one"]
        out += [
            "",
            f"## The value of joint decisions: {value['orders']:,} orders in a day, {value['stock_share']:.0%} of the "
            "sample network's stock",
            "",
            "Excess cost is over a proven lower bound on the day (the larger of the orders alone and the whole "
            "day decided at once); excess shipments over the fewer of the orders alone and the whole day "
            "at once (no bound exists for shipments); "
            "removed: the share of one by one's excess that the strategy removes (Xu, Allgor and Graves 2009 "
            "report 40-50% of excess shipments for re-deciding pending orders).",
            "",
            "| strategy | cost | shipments | excess cost removed | excess shipments removed |",
            "|---|---:|---:|---:|---:|",
            f"| reference (cost: the day's proven bound; shipments: the fewest) | {ideal['cost']:,.2f} "
            f"| {ideal['shipments']:,} | | |",
            f"| one by one as they arrive | {one['cost']:,.2f} | {one['shipments']:,} | 0 | 0 |",
        ]
        for name, label in (("allocate_batch", "AllocateBatch, windows of 100"),
                            ("reoptimize_pending", "one by one, then ReoptimizePending"),
                            ("hindsight", "the whole day at once (hindsight)")):  # fmt: skip
            row = value[name]
            out.append(
                f"| {label} | {row['cost']:,.2f} | {row['shipments']:,} | {row['excess_cost_removed']:.1%} "
                f"| {row['excess_shipments_removed']:.1%} |"
            )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="batches (different orders and stock) per scenario")
    parser.add_argument("--stock-share", type=float, default=0.1, help="share of each position's units kept")
    parser.add_argument("--limit-ms", type=int, default=BATCH_LIMIT_MS)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--only", choices=("batch", "reoptimize", "value", "promise"), help="one scenario only")
    parser.add_argument("--promise-pending", type=int, default=1_000, help="orders before the promise re-plan")
    parser.add_argument("--day-orders", type=int, default=1_000, help="orders of the benchmark day (value)")
    parser.add_argument("--day-share", type=float, default=0.1, help="stock share of the benchmark day")
    parser.add_argument("--pending", type=int, default=10_000, help="orders arriving before the re-plan")
    parser.add_argument("--reoptimize-share", type=float, default=0.3, help="stock share for the re-plan")
    parser.add_argument("--reoptimize-limit-ms", type=int, default=REOPTIMIZE_LIMIT_MS)
    parser.add_argument(
        "--cpu-clock",
        action="store_true",
        help="deadlines count this process's CPU time, not wall time (a machine shared by other work)",
    )
    parser.add_argument("--tag", default="", help="suffix of the result files' names")
    args = parser.parse_args(argv)
    if args.cpu_clock:
        use_cpu_clock()
    now = datetime.now(UTC).astimezone()
    report: dict[str, Any] = {
        "meta": {"date": now.date().isoformat(), "started_at": now.isoformat(timespec="seconds"),
                 "machine": machine_info(), "loadavg_start": _loadavg(),
                 "deadline_clock": "cpu" if args.cpu_clock else "wall"},
    }  # fmt: skip
    if args.only in (None, "batch"):
        report["batches"] = run_batches(args.rounds, args.stock_share, args.limit_ms)
    if args.only in (None, "value"):
        report["value"] = run_value(args.day_orders, args.day_share, 7)
    if args.only in (None, "promise"):
        report["promise_batches"] = run_promise_batches(args.rounds, args.stock_share, args.limit_ms)
        report["promise_reoptimize"] = run_promise_reoptimize(
            args.promise_pending, args.reoptimize_share, REOPTIMIZE_LIMIT_MS // 6, 11
        )
    if args.only in (None, "reoptimize"):
        report["reoptimize"] = [run_reoptimize(args.pending, args.reoptimize_share, args.reoptimize_limit_ms, 42)]
    report["meta"]["loadavg_end"] = _loadavg()
    markdown = render(report)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"{report['meta']['date']}-joint{'-' + args.only if args.only else ''}{args.tag}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
