"""Replay an order history in time order against one side's rules, consuming that side's stock.

Each order is decided as the live service would decide it (``engine.sourcing.decide``) against
the stock left by every earlier order. On top of the rules, the simulator keeps each node's
daily capacity (``max_shipments`` / ``max_units`` in the network file are per day): a node that
has reached either today is excluded for the rest of the day (a decision may still take a node
over its unit cap by one order's worth: that counts as a capacity breach). An order that a rule
holds allocates nothing and consumes nothing. Everything is deterministic: same inputs, same
outcomes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import numpy as np

from engine.decision import AllocationLine, Decision
from engine.directives import Directives, Exclusion
from engine.errors import SourcingError
from engine.model import Order
from engine.network import NetworkSnapshot
from engine.optimizer.search import SolverSettings
from engine.promise.calculator import epoch_seconds
from engine.simulation.history import HistoryOrder
from engine.simulation.stock import Stock
from engine.sourcing import DEFAULT_SETTINGS, decide

CAPACITY_RULE = "simulator-daily-capacity"


class DirectivesFor(Protocol):
    """What a rule set says about one order at ``decided_at``; ``shipments_today`` per node (for daily limits)."""

    def __call__(
        self, order: Order, snapshot: NetworkSnapshot, decided_at: datetime, shipments_today: Mapping[str, int]
    ) -> Directives: ...


def no_rules(
    order: Order, snapshot: NetworkSnapshot, decided_at: datetime, shipments_today: Mapping[str, int]
) -> Directives:
    return Directives()


class OutcomeStatus(StrEnum):
    DECIDED = "DECIDED"
    HELD = "HELD"  # a rule stopped automatic allocation
    FAILED = "FAILED"  # the order could not be decided (e.g. an unknown pickup node)


@dataclass(frozen=True, slots=True)
class Shipment:
    node_id: str
    zone: int
    distance_miles: float
    units: int
    cost: float  # pick/pack + carrier + handling: money, without rule or split penalties


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one side did with one order."""

    order_id: str
    created_at: datetime
    lat: float
    lon: float
    units: int
    status: OutcomeStatus
    allocations: tuple[AllocationLine, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    backordered: int = 0
    objective: float = 0.0  # the decision's total, penalties included
    fired_rules: tuple[str, ...] = ()
    detail: str = ""  # hold reasons or the failure
    # The delivery promise (day ordinals, 0 when none): the order's promised date, and its estimated
    # delivery (its latest shipment's, by the node calendars at created_at). engine/simulation/on_time.py.
    promised_day: int = 0
    delivery_day: int = 0
    # Confirmed shipments against their plan (the live report): (planned ship day, the node-local
    # day it left), day ordinals, one per confirmed shipment from a node the decision dated.
    shipped: tuple[tuple[int, int], ...] = ()

    @property
    def cost(self) -> float:
        return sum(s.cost for s in self.shipments)

    @property
    def allocated(self) -> int:
        return sum(a.qty for a in self.allocations)

    def plan_key(self) -> tuple[tuple[str, str, int], ...]:
        """The allocation as comparable data: (line, node, qty) sorted."""
        return tuple(sorted((a.line_id, a.node_id, a.qty) for a in self.allocations if a.qty > 0))


def shipments_of(decision: Decision) -> tuple[Shipment, ...]:
    return tuple(
        Shipment(
            s.node_id,
            s.zone,
            round(s.distance_miles, 1),
            s.units,
            s.pick_pack + s.carrier_base + s.carrier_weight + s.handling,
        )
        for s in decision.cost.shipments
    )


class _Day:
    """Shipments and units each node has sent on the current day."""

    def __init__(self, snapshot: NetworkSnapshot) -> None:
        self.snapshot = snapshot
        self.day: date | None = None
        self.shipments = np.zeros(len(snapshot), dtype=np.int64)
        self.units = np.zeros(len(snapshot), dtype=np.int64)
        self.by_id: dict[str, int] = {}

    def start(self, day: date) -> None:
        if day != self.day:
            self.day = day
            self.shipments[:] = 0
            self.units[:] = 0
            self.by_id = {}

    def full(self) -> frozenset[str]:
        s = self.snapshot
        at_cap = np.nonzero((self.shipments >= s.max_shipments) | (self.units >= s.max_units))[0]
        return frozenset(s.nodes[int(j)].id for j in at_cap)

    def record(self, shipments: Iterable[Shipment]) -> None:
        for sh in shipments:
            j = self.snapshot.index[sh.node_id]
            self.shipments[j] += 1
            self.units[j] += sh.units
            self.by_id[sh.node_id] = int(self.shipments[j])


def replay(
    history: Iterable[HistoryOrder],
    snapshot: NetworkSnapshot,
    stock: Stock,
    directives_for: DirectivesFor = no_rules,
    settings: SolverSettings = DEFAULT_SETTINGS,
    restock_every_days: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Decide every order in (created_at, order_id) order; ``stock`` is consumed in place."""
    ordered = sorted(history, key=lambda h: (h.created_at, h.order.order_id))
    if restock_every_days is not None and restock_every_days < 1:
        raise ValueError("restock_every_days must be at least 1")
    next_restock: datetime | None = None
    if ordered and restock_every_days:
        first = ordered[0].created_at
        next_restock = first.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=restock_every_days)
    day = _Day(snapshot)
    outcomes: list[Outcome] = []
    for i, entry in enumerate(ordered, 1):
        while next_restock is not None and restock_every_days and entry.created_at >= next_restock:
            stock.restock()
            next_restock += timedelta(days=restock_every_days)
        day.start(entry.created_at.date())
        outcome = _one(entry, snapshot, stock, directives_for, settings, day)
        day.record(outcome.shipments)
        outcomes.append(outcome)
        if on_progress is not None and (i % 250 == 0 or i == len(ordered)):
            on_progress(250 if i % 250 == 0 else i % 250)
    return outcomes


def _one(
    entry: HistoryOrder,
    snapshot: NetworkSnapshot,
    stock: Stock,
    directives_for: DirectivesFor,
    settings: SolverSettings,
    day: _Day,
) -> Outcome:
    order = entry.order
    base = Outcome(
        order.order_id,
        entry.created_at,
        order.ship_to.lat,
        order.ship_to.lon,
        order.units,
        OutcomeStatus.FAILED,
        promised_day=promised.toordinal() if (promised := order.earliest_promised_date) is not None else 0,
    )
    try:
        directives = directives_for(order, snapshot, entry.created_at, day.by_id)
        if directives.holds:
            reasons = "; ".join(f"{h.rule_id}: {h.reason}" for h in directives.holds)
            return dataclasses.replace(
                base, status=OutcomeStatus.HELD, fired_rules=directives.fired_rules, detail=reasons
            )
        full = day.full()
        if full:
            cap = Exclusion(CAPACITY_RULE, full, reason="daily capacity reached")
            directives = dataclasses.replace(directives, exclusions=(*directives.exclusions, cap))
        # Decided at the order's own instant, as the live service decides at its clock: shipments
        # are dated, and an order carrying a promise is sourced by it.
        at = epoch_seconds(entry.created_at)
        availability = stock.availability(line.sku for line in order.lines)
        decision = decide(order, snapshot, availability, directives, settings, at=at)
    except SourcingError as error:
        return dataclasses.replace(base, detail=str(error))
    stock.consume(decision.allocations)
    return dataclasses.replace(
        base,
        status=OutcomeStatus.DECIDED,
        allocations=decision.allocations,
        shipments=shipments_of(decision),
        backordered=decision.cost.backordered_units,
        objective=decision.cost.total,
        fired_rules=decision.fired_rules,
        delivery_day=decision.cost.delivery_day,
    )
