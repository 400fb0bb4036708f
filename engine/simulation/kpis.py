"""KPIs of one side's outcomes, and the deltas between two sides.

Money KPIs count what is paid (pick/pack, carrier, handling); rule penalties and the split and
backorder penalties are the optimizer's incentives, reported apart as ``objective_per_order``.
Denominators: per order over decided orders; per unit over allocated units; fill rate over every
ordered unit (a held or failed order fills nothing); split rate over decided orders that ship.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.network import UNLIMITED, NetworkSnapshot
from engine.simulation.on_time import OnTime, on_time
from engine.simulation.replay import Outcome, OutcomeStatus

# KPI name -> True when higher is better (for colouring deltas); the order is the report's.
HEADLINE: Mapping[str, bool] = {
    "cost_per_order": False,
    "cost_per_unit": False,
    "shipments_per_order": False,
    "split_rate": False,
    "fill_rate": True,
    "backordered_units": False,
    "miles_per_shipment": False,
    "objective_per_order": False,
    "total_cost": False,
    "held_orders": False,
    "failed_orders": False,
    "capacity_breaches": False,
}


@dataclass(frozen=True, slots=True)
class NodeUse:
    node_id: str
    shipments: int
    units: int
    cost: float
    utilization: float | None  # shipments / (daily max_shipments x days simulated); None when uncapped
    breach_days: int  # days it shipped more than its daily max_shipments or max_units


@dataclass(frozen=True)
class Kpis:
    orders: int
    decided_orders: int
    held_orders: int
    failed_orders: int
    units_ordered: int
    units_allocated: int
    backordered_units: int
    total_cost: float
    total_objective: float
    shipments: int
    split_orders: int
    total_miles: float
    days: int
    zone_mix: dict[int, float]  # zone -> share of shipments (0: pickup)
    nodes: tuple[NodeUse, ...]  # every node that shipped, busiest first
    rules_fired: dict[str, int]  # rule id -> orders it fired on
    capacity_breaches: int = field(default=0)
    promise: OnTime = field(default_factory=lambda: on_time(()))  # engine/simulation/on_time.py

    @property
    def cost_per_order(self) -> float:
        return _ratio(self.total_cost, self.decided_orders)

    @property
    def cost_per_unit(self) -> float:
        return _ratio(self.total_cost, self.units_allocated)

    @property
    def objective_per_order(self) -> float:
        return _ratio(self.total_objective, self.decided_orders)

    @property
    def shipments_per_order(self) -> float:
        return _ratio(self.shipments, self.decided_orders)

    @property
    def split_rate(self) -> float:
        return _ratio(self.split_orders, self.decided_orders)

    @property
    def fill_rate(self) -> float:
        return _ratio(self.units_allocated, self.units_ordered)

    @property
    def miles_per_shipment(self) -> float:
        return _ratio(self.total_miles, self.shipments)

    def value(self, name: str) -> float:
        """A KPI by name (headline properties, counters and the promise KPIs alike); KeyError when unknown."""
        if name in HEADLINE or name in _COUNTERS:
            return float(getattr(self, name))
        return self.promise.value(name)

    def headline(self) -> dict[str, float]:
        return {name: self.value(name) for name in HEADLINE}


_COUNTERS = frozenset(
    {"orders", "decided_orders", "units_ordered", "units_allocated", "shipments", "split_orders", "total_objective"}
)
KPI_NAMES = tuple(HEADLINE) + tuple(sorted(_COUNTERS))


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def compute_kpis(outcomes: Sequence[Outcome], snapshot: NetworkSnapshot) -> Kpis:
    status = Counter(o.status for o in outcomes)
    decided = [o for o in outcomes if o.status is OutcomeStatus.DECIDED]
    zones: Counter[int] = Counter()
    node_shipments: Counter[str] = Counter()
    node_units: Counter[str] = Counter()
    node_cost: dict[str, float] = {}
    daily: Counter[tuple[str, object]] = Counter()
    daily_units: Counter[tuple[str, object]] = Counter()
    rules: Counter[str] = Counter()
    days = {o.created_at.date() for o in outcomes}
    for o in outcomes:
        rules.update(set(o.fired_rules))
        for s in o.shipments:
            zones[s.zone] += 1
            node_shipments[s.node_id] += 1
            node_units[s.node_id] += s.units
            node_cost[s.node_id] = node_cost.get(s.node_id, 0.0) + s.cost
            daily[(s.node_id, o.created_at.date())] += 1
            daily_units[(s.node_id, o.created_at.date())] += s.units
    breaches: Counter[str] = Counter()
    for key in set(daily) | set(daily_units):
        node = snapshot.node(key[0])
        over_shipments = node.max_shipments is not None and daily[key] > node.max_shipments
        over_units = node.max_units is not None and daily_units[key] > node.max_units
        if over_shipments or over_units:
            breaches[key[0]] += 1
    n_shipments = sum(zones.values())
    nodes = tuple(
        NodeUse(
            node_id,
            count,
            node_units[node_id],
            round(node_cost[node_id], 6),
            _utilization(snapshot, node_id, count, len(days)),
            breaches[node_id],
        )
        for node_id, count in sorted(node_shipments.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return Kpis(
        orders=len(outcomes),
        decided_orders=len(decided),
        held_orders=status[OutcomeStatus.HELD],
        failed_orders=status[OutcomeStatus.FAILED],
        units_ordered=sum(o.units for o in outcomes),
        units_allocated=sum(o.allocated for o in decided),
        backordered_units=sum(o.backordered for o in decided),
        total_cost=round(sum(o.cost for o in decided), 6),
        total_objective=round(sum(o.objective for o in decided), 6),
        shipments=n_shipments,
        split_orders=sum(1 for o in decided if len(o.shipments) > 1),
        total_miles=round(sum(s.distance_miles for o in decided for s in o.shipments), 3),
        days=len(days),
        zone_mix={z: zones[z] / n_shipments for z in sorted(zones)},
        nodes=nodes,
        rules_fired=dict(sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))),
        capacity_breaches=sum(breaches.values()),
        promise=on_time(outcomes),
    )


def _utilization(snapshot: NetworkSnapshot, node_id: str, shipments: int, days: int) -> float | None:
    cap = snapshot.max_shipments[snapshot.index[node_id]]
    if cap >= UNLIMITED or days == 0:
        return None
    return shipments / (int(cap) * days) if cap > 0 else None


@dataclass(frozen=True, slots=True)
class Delta:
    name: str
    base: float
    other: float

    @property
    def change(self) -> float:
        return self.other - self.base

    @property
    def relative(self) -> float | None:
        """The change as a fraction of the base; None when the base is 0."""
        return self.change / abs(self.base) if self.base else None


def deltas(base: Kpis, other: Kpis) -> list[Delta]:
    return [Delta(name, base.value(name), other.value(name)) for name in KPI_NAMES]
