"""``oms-sourcing report``: the simulation's KPIs and report over the decisions the service made.

Reads the orders allocated in a time window from the store (``orders.created_at`` is the
Allocate time) and turns each stored decision into the same ``Outcome`` a simulated side
produces, so ``compute_kpis``, the HTML report, kpis.json, orders.csv and ``--fail-if`` are the
simulator's own code. Per order:

- lines, ship-to, service level: the stored request (``orders.request``), with weights from the
  store's catalogue, exactly as Allocate read them;
- allocations, rule-set version, fired rules, holds, the objective: the stored decision summary
  (``orders.decision``; orders stored before fired rules and holds were kept count none);
- on-time ship: each shipment ConfirmShipment recorded (when it left, as the node's local date)
  against the ship date the stored decision planned for its node;
- shipments and their money: recomputed from the stored allocation with ``engine.cost.plan_cost``
  over the network (the store's nodes now, or ``--network FILE``) under the order's own terms,
  the cost model the optimizer used. A node cost changed since the decision is costed at today's
  value. A promise order's carrier charges are the decision's own (``carrier_micros``): each box
  by the carrier service its promise chose, as checkout quotes it, never the level's rate table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO, cast

from google.protobuf import json_format

from engine.cost import plan_cost
from engine.decision import AllocationLine
from engine.directives import NO_DIRECTIVES
from engine.errors import SourcingError
from engine.model import Item, Order
from engine.network import NetworkSnapshot
from engine.promise.calculator import epoch_seconds
from engine.promise.checkout import promise_network
from engine.promise.model import carrier_services_in_force
from engine.rates import rate_tables_in_force
from engine.simulation.compare import divergences, legacy_outcomes
from engine.simulation.gate import Threshold, check, parse_threshold
from engine.simulation.history import HistoryError, HistoryOrder
from engine.simulation.kpis import compute_kpis
from engine.simulation.replay import Outcome, OutcomeStatus, Shipment
from engine.terms import resolve_terms
from server.api import convert
from server.api.proto import common_pb2
from server.config import load_config
from server.errors import UsageError
from server.simulation.files import read_legacy
from server.simulation.outputs import EXIT_GATE_FAILED, SideResult, SimulationResult, write_kpis, write_orders_csv
from server.simulation.report import render_report
from server.store.decision_history import AllocatedOrder, DecisionHistoryStoreMixin

SIDE = "live"
BASELINE = "earlier"  # the --baseline-since window's side
_ITEM_CHUNK = 500


def parse_instant(text: str, flag: str) -> datetime:
    """ISO 8601; a date alone is its midnight, and a time without an offset is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected ISO 8601, e.g. 2026-11-24 or 2026-11-24T06:00:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def live_outcomes(
    records: Sequence[AllocatedOrder],
    snapshot: NetworkSnapshot,
    catalogue: Mapping[str, Item],
    currency: str,
) -> list[Outcome]:
    """One outcome per stored order, in allocation order."""
    return live_side(records, snapshot, catalogue, currency)[0]


def live_side(
    records: Sequence[AllocatedOrder],
    snapshot: NetworkSnapshot,
    catalogue: Mapping[str, Item],
    currency: str,
) -> tuple[list[Outcome], list[HistoryOrder]]:
    """The outcomes, and the orders as a history (what a legacy system's decisions are compared on)."""
    outcomes, history = [], []
    for record in records:
        outcome, order = _outcome(record, snapshot, catalogue, currency)
        outcomes.append(outcome)
        if order is not None:
            history.append(HistoryOrder(record.allocated_at, order))
    return outcomes, history


def _outcome(
    record: AllocatedOrder, snapshot: NetworkSnapshot, catalogue: Mapping[str, Item], currency: str
) -> tuple[Outcome, Order | None]:
    summary: dict[str, Any] = json.loads(record.decision) if record.decision else {}
    fired = tuple(str(r) for r in summary.get("fired_rules", ()))
    try:
        message = json_format.Parse(record.request, common_pb2.Order(), ignore_unknown_fields=True)
        order = convert.order_from_proto(message, catalogue, currency, network=snapshot)
    except (json_format.ParseError, SourcingError) as error:
        failed = Outcome(record.order_id, record.allocated_at, 0.0, 0.0, 0, OutcomeStatus.FAILED, detail=str(error))
        return failed, None
    return _decided(record, order, summary, fired, snapshot), order


def _decided(
    record: AllocatedOrder, order: Order, summary: Mapping[str, Any], fired: tuple[str, ...], snapshot: NetworkSnapshot
) -> Outcome:
    base = Outcome(
        record.order_id,
        record.allocated_at,
        order.ship_to.lat,
        order.ship_to.lon,
        order.units,
        OutcomeStatus.FAILED,
        fired_rules=fired,
        promised_day=promised.toordinal() if (promised := order.earliest_promised_date) is not None else 0,
    )
    if not summary:
        return dataclasses.replace(base, detail="no decision stored")
    holds = summary.get("holds") or []
    if holds:
        reasons = "; ".join(f"{rule_id}: {reason}" for rule_id, reason in holds)
        return dataclasses.replace(base, status=OutcomeStatus.HELD, detail=reasons)
    allocations = tuple(
        AllocationLine(str(line_id), str(node_id), str(sku), int(qty))
        for line_id, node_id, sku, qty in summary.get("allocations", ())
        if int(qty) > 0
    )
    unknown = sorted({a.node_id for a in allocations} - set(snapshot.index))
    if unknown:
        return dataclasses.replace(base, detail=f"node {unknown[0]!r} is not in the network")
    try:
        cost = plan_cost(order, allocations, snapshot, resolve_terms(order, NO_DIRECTIVES, snapshot))
    except SourcingError as error:
        return dataclasses.replace(base, detail=str(error))
    # A promise order's shipments pay what the decision charged by their carrier services (kept with
    # it), not the level's rate table; the node's own costs are today's.
    charged = {str(node_id): int(micros) / 1_000_000 for node_id, micros in summary.get("carrier_micros", ())}
    shipments = tuple(
        Shipment(
            s.node_id, s.zone, round(s.distance_miles, 1), s.units,
            s.pick_pack + charged.get(s.node_id, s.carrier_base + s.carrier_weight) + s.handling,
        )
        for s in cost.shipments
    )  # fmt: skip
    return dataclasses.replace(
        base,
        status=OutcomeStatus.DECIDED,
        allocations=allocations,
        shipments=shipments,
        backordered=cost.backordered_units,
        objective=int(summary.get("total_micros", 0)) / 1_000_000,
        delivery_day=_day(summary.get("delivery_date")),
        shipped=_shipped(record, summary, snapshot),
    )


def _shipped(
    record: AllocatedOrder, summary: Mapping[str, Any], snapshot: NetworkSnapshot
) -> tuple[tuple[int, int], ...]:
    """(planned ship day, node-local day it left) per confirmed shipment from a node the stored
    decision dated (orders stored before ship dates were kept have none)."""
    planned = {str(node_id): _day(day) for node_id, day in summary.get("ship_dates", ())}
    calculator = promise_network(snapshot).calculator if record.shipped else None
    return tuple(
        (planned[node_id], calculator.local_day(node_id, epoch_seconds(left)))
        for node_id, left in record.shipped
        if calculator is not None and planned.get(node_id) and node_id in snapshot.index
    )


def _day(value: object) -> int:
    """A stored decision's delivery date (YYYY-MM-DD) as a day ordinal; 0 when absent."""
    try:
        return date.fromisoformat(str(value)).toordinal() if value else 0
    except ValueError:
        return 0


def _chunks(values: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _skus(records: Sequence[AllocatedOrder]) -> list[str]:
    skus: set[str] = set()
    for r in records:
        try:
            skus.update(str(line["sku"]) for line in json.loads(r.request).get("lines", ()) if "sku" in line)
        except (ValueError, AttributeError, TypeError):
            continue
    return sorted(skus)


# --- the command ----------------------------------------------------------------------------------------


def add_report_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = sub.add_parser(
        "report",
        help="the simulation's KPIs and report over the decisions the service made in a time window",
        description="Read the orders allocated in [--since, --until) from the store and write the same "
        "report.html, kpis.json and orders.csv as 'simulate run'. Shipments and their cost are recomputed "
        "from each stored allocation with the cost model (engine.cost.plan_cost). "
        f"Exit 0 when done, {EXIT_GATE_FAILED} when a --fail-if threshold fails, 2 on bad input.",
    )
    report.add_argument("--since", required=True, metavar="ISO", help="first instant (inclusive), e.g. 2026-11-24")
    report.add_argument("--until", metavar="ISO", help="end of the window (exclusive; default: now)")
    report.add_argument("--database", help="store URL (default: the settings' database_url)")
    report.add_argument("--config", metavar="FILE", help="TOML settings file to take database_url and currency from")
    report.add_argument("--network", metavar="FILE", help="network file to cost with (default: the store's nodes)")
    report.add_argument("--out", default="live-report", metavar="DIR", help="report directory (default live-report)")
    report.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="EXPR",
        help="e.g. 'fill_rate<0.98' or 'cost_per_order>12' (repeatable): the KPI's own value; with "
        "--baseline-since or --legacy, the change as in 'simulate run'",
    )
    report.add_argument(
        "--baseline-since",
        metavar="ISO",
        help="compare with the decisions of this earlier window (e.g. the week before): deltas, and "
        "--fail-if on changes ('cost_per_order>+1%%')",
    )
    report.add_argument("--baseline-until", metavar="ISO", help="end of the earlier window (default: now)")
    report.add_argument(
        "--legacy", metavar="FILE", help="a parallel run: another system's decisions for the same orders (JSON Lines)"
    )
    report.set_defaults(run=cmd_report)


def _window(
    text_since: str, text_until: str | None, flag: str, now: Callable[[], datetime]
) -> tuple[datetime, datetime]:
    since = parse_instant(text_since, f"--{flag}since")
    until = parse_instant(text_until, f"--{flag}until") if text_until else now()
    if until <= since:
        raise UsageError(f"--{flag}until must be after --{flag}since")
    return since, until


def _describe(what: str, since: datetime, until: datetime, records: Sequence[AllocatedOrder]) -> str:
    versions = Counter(r.rule_set_version or "(none)" for r in records)
    rule_sets = ", ".join(f"{v} ({n:,})" for v, n in versions.most_common()) or "none"
    return f"{what} from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC; rule sets: {rule_sets}"


def cmd_report(args: argparse.Namespace, out: TextIO, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> int:
    try:
        thresholds: list[Threshold] = [parse_threshold(t) for t in args.fail_if]
    except ValueError as error:
        raise UsageError(f"--fail-if {error}") from None
    since, until = _window(args.since, args.until, "", now)
    previous = _window(args.baseline_since, args.baseline_until, "baseline-", now) if args.baseline_since else None
    if args.baseline_until and not args.baseline_since:
        raise UsageError("--baseline-until needs --baseline-since")
    if previous is not None and args.legacy:
        raise UsageError("--legacy and --baseline-since are separate reports: give one of them")
    legacy = None
    if args.legacy:
        try:
            legacy = read_legacy(args.legacy)
        except HistoryError as error:
            raise UsageError(str(error)) from None
        except OSError as error:
            raise UsageError(f"cannot read {args.legacy}: {error.strerror}") from None
    config = load_config({"database_url": args.database} if args.database else {}, dict(os.environ), args.config)
    started = time.perf_counter()
    from server.store import StoreError, _redact, open_store

    # The pool's retries would print a warning each: the one error below says it all.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    try:
        store = open_store(config.database_url, create=False)
    except (ValueError, StoreError) as error:
        raise UsageError(f"cannot read the store {_redact(config.database_url)}: {error}") from None
    try:
        if store.schema_version() == 0:
            raise UsageError(f"{_redact(config.database_url)} holds no oms-sourcing store (nothing was ever migrated)")
        reader = cast(DecisionHistoryStoreMixin, store)
        records = reader.allocated_between(since, until)
        before = reader.allocated_between(*previous) if previous is not None else []
        catalogue: dict[str, Item] = {}
        for chunk in _chunks(_skus([*before, *records]), _ITEM_CHUNK):
            catalogue.update(store.get_items(list(chunk)))
        if args.network:
            from server.simulation.command import _network

            network = _network(args.network)
            snapshot = network.snapshot
            catalogue = {**network.catalogue, **catalogue}
            where = args.network
        else:
            stored_tables = store.rate_tables()
            snapshot = NetworkSnapshot(
                tuple(store.all_nodes()),
                rate_tables=rate_tables_in_force(stored_tables),
                currency=config.currency,
                version="store",
                # The nodes' calendars: a shipment's local ship date is in its node's time zone.
                node_schedules=tuple(store.node_schedules()),
                carrier_services=carrier_services_in_force(store.carrier_services(), stored_tables),
            )
            where = "the store's nodes, rate tables and calendars"
    finally:
        store.close()
    outcomes, history = live_side(records, snapshot, catalogue, config.currency)
    side = SideResult(
        SIDE, _describe("decisions the service made", since, until, records), outcomes, compute_kpis(outcomes, snapshot)
    )
    result = SimulationResult(snapshot, [side], candidate=None)
    if previous is not None:
        earlier = live_outcomes(before, snapshot, catalogue, config.currency)
        description = _describe("the service's decisions", *previous, before)
        result.sides.insert(0, SideResult(BASELINE, description, earlier, compute_kpis(earlier, snapshot)))
        result.candidate = SIDE
    if legacy is not None:  # a parallel run: another system decided the same orders
        in_window = {r.order_id for r in records}
        legacy_side, problems = legacy_outcomes(history, [d for d in legacy if d.order_id in in_window], snapshot)
        result.sides.append(
            SideResult("legacy", f"decisions from {args.legacy}", legacy_side, compute_kpis(legacy_side, snapshot))
        )
        result.divergences = divergences(outcomes, legacy_side, problems)
        result.candidate = "legacy"
    candidate = result.side(result.candidate)
    base = result.base.kpis
    result.verdicts = [check(t, base, candidate.kpis if candidate else None, result.counts) for t in thresholds]
    result.run = {
        "title": "Live sourcing decisions",
        "source": "store",
        "database": _redact(config.database_url),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "baseline_since": previous[0].isoformat() if previous else None,
        "baseline_until": previous[1].isoformat() if previous else None,
        "legacy": args.legacy,
        "network": where,
        "orders": len(records),
        "rule_set_versions": dict(Counter(r.rule_set_version or "(none)" for r in records).most_common()),
        "confirmed_shipments": sum(r.confirmed_shipments for r in records),
        "seconds": round(time.perf_counter() - started, 2),
    }
    directory = Path(args.out)
    directory.mkdir(parents=True, exist_ok=True)
    write_kpis(directory / "kpis.json", result)
    write_orders_csv(directory / "orders.csv", result)
    (directory / "report.html").write_text(render_report(result), encoding="utf-8")
    names = ("cost_per_order", "shipments_per_order", "split_rate", "fill_rate", "backordered_units")
    for s in result.sides:
        if not s.kpis.orders:
            print(f"{s.name}: no orders in the window (nothing to report on)", file=out)
            continue
        values = ", ".join(f"{n}={s.kpis.value(n):.4g}" for n in names)
        print(f"{s.name}: {s.kpis.orders:,} orders; {values}", file=out)
    if legacy is not None:
        print(f"legacy divergences: {len(result.divergences):,}", file=out)
    for verdict in result.verdicts:
        print(verdict.explanation, file=out)
    print(f"report: {directory / 'report.html'} (kpis.json, orders.csv)", file=out)
    return EXIT_GATE_FAILED if result.failed else 0
