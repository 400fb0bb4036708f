"""What a decision reports: allocation, cost breakdown, status, and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from engine.directives import Hold


class SolveStatus(StrEnum):
    OPTIMAL = "OPTIMAL"  # proven: no plan costs less
    FEASIBLE = "FEASIBLE"  # the best plan found before the time limit; see bound and gap


class DecisionPath(StrEnum):
    """Which part of the optimizer settled the decision."""

    NOTHING_AVAILABLE = "NOTHING_AVAILABLE"  # no candidate node holds any ordered unit
    SINGLE_NODE_BOUND = "SINGLE_NODE_BOUND"  # one node ships all; a lower bound proves no split beats it
    SINGLE_NODE_ENUMERATION = "SINGLE_NODE_ENUMERATION"  # at most one shipment allowed (or one candidate)
    SUBSET_ENUMERATION = "SUBSET_ENUMERATION"  # few candidates left: every node subset tried exactly
    SOLVER = "SOLVER"  # the OR-Tools model


class NodeVerdict(StrEnum):
    USED = "USED"
    NO_STOCK = "NO_STOCK"
    CLOSED = "CLOSED"
    EXCLUDED = "EXCLUDED"
    NOT_REQUIRED = "NOT_REQUIRED"  # a requirement restricted the order to other nodes
    NO_CAPACITY = "NO_CAPACITY"
    COSTLIER = "COSTLIER"  # could serve, but the chosen plan costs less
    PROTECTED = "PROTECTED"  # open, but rules protect every ordered unit it holds (safety stock)
    LATE = "LATE"  # cannot deliver by the order's promised date (or by its carrier service)


@dataclass(frozen=True, slots=True)
class AllocationLine:
    line_id: str
    node_id: str
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class ShipmentCost:
    """One box leaving one node, and what it costs by part."""

    node_id: str
    zone: int  # 0 for a pickup (no carrier)
    distance_miles: float
    units: int
    weight_lb: float
    pick_pack: float
    carrier_base: float
    carrier_weight: float
    handling: float
    rule_penalty: float
    # By which carrier service it goes and when (day ordinals: the node's ship date, the delivery
    # date at the ship-to); empty and 0 when the decision had no instant or no service applies.
    carrier_service: str = ""
    ship_day: int = 0
    delivery_day: int = 0

    @property
    def total(self) -> float:
        return self.pick_pack + self.carrier_base + self.carrier_weight + self.handling + self.rule_penalty


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    shipments: tuple[ShipmentCost, ...]
    split_penalty: float
    backorder_penalty: float
    backordered_units: int
    # Each shipment's carrier charge is its carrier service's price for the box (the order's promise
    # chose the service), not the order's level's rate table: what a report of it must charge.
    by_carrier_services: bool = False
    # A rule allowing lateness (docs/promise.md): the days the order's latest shipment arrives after
    # its promise, and what that costs, once for the order: late_days x the penalty per day.
    late_days: int = 0
    late_penalty: float = 0.0

    @property
    def total(self) -> float:
        return sum(s.total for s in self.shipments) + self.split_penalty + self.backorder_penalty + self.late_penalty

    @property
    def delivery_day(self) -> int:
        """The order's estimated delivery (its latest shipment's; 0 when none is dated)."""
        return max((s.delivery_day for s in self.shipments), default=0)

    @property
    def ship_day(self) -> int:
        """When the order's last shipment leaves (0 when none is dated)."""
        return max((s.ship_day for s in self.shipments), default=0)


@dataclass(frozen=True, slots=True)
class Unfilled:
    line_id: str
    sku: str
    qty: int
    reason: str


class NodeNote(NamedTuple):
    """Why a node was or was not used; ``extra_cost`` is what using it would add, when computed.

    A named tuple, immutable like the dataclasses here: a decision carries up to 25 of them, and
    a tuple is made in a third of a frozen dataclass's time (its fields are not set one by one)."""

    node_id: str
    verdict: NodeVerdict
    detail: str
    rule_ids: tuple[str, ...] = ()
    extra_cost: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    order_id: str
    allocations: tuple[AllocationLine, ...]
    unfilled: tuple[Unfilled, ...]
    cost: CostBreakdown
    status: SolveStatus
    path: DecisionPath
    bound: float  # a proven lower bound on any plan's cost (equals the cost when OPTIMAL)
    candidates: int  # nodes the optimizer considered after pruning
    node_notes: tuple[NodeNote, ...]
    rule_set_version: str = ""
    fired_rules: tuple[str, ...] = ()
    holds: tuple[Hold, ...] = ()  # rules that stop automatic allocation: a person must review

    @property
    def gap(self) -> float:
        """Relative distance to the bound: 0 when OPTIMAL."""
        total = self.cost.total
        return 0.0 if total <= 0 else max(0.0, (total - self.bound) / total)

    @property
    def shipments(self) -> int:
        return len(self.cost.shipments)
