"""Directives: what rules tell the optimizer. Each one carries the id of the rule that made it.

The rules engine (engine/rules/) produces these; an order's own fields (max
shipments, all-or-nothing, penalty overrides) combine with them by the conflict
policy in ``resolve``: exclusions and protections accumulate, penalties add,
limits take the strictest, the objective comes from the highest-priority rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.model import ObjectiveMode


@dataclass(frozen=True, slots=True)
class Exclusion:
    rule_id: str
    node_ids: frozenset[str]
    line_ids: frozenset[str] = frozenset()  # empty: the whole order
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Requirement:
    """Only these nodes may serve (the lines named, or the whole order)."""

    rule_id: str
    node_ids: frozenset[str]
    line_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Penalty:
    """Extra cost on selected nodes; negative to prefer them."""

    rule_id: str
    node_ids: frozenset[str]
    per_unit: float = 0.0
    per_shipment: float = 0.0
    line_ids: frozenset[str] = frozenset()  # per-unit part only on these lines; empty: all lines


@dataclass(frozen=True, slots=True)
class Protection:
    """Units held back at selected nodes (safety stock, channel protection)."""

    rule_id: str
    node_ids: frozenset[str]
    units: int
    skus: frozenset[str] = frozenset()  # empty: every SKU


@dataclass(frozen=True, slots=True)
class Hold:
    rule_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ShippingRule:
    """Shipments go by one of ``carrier_services`` (empty: any) within ``max_transit_days`` (None: any)."""

    rule_id: str
    carrier_services: frozenset[str] = frozenset()
    max_transit_days: int | None = None


@dataclass(frozen=True, slots=True)
class Closure:
    """No shipment leaves these nodes on node-local days ``first_day``-``last_day`` (ordinals, inclusive)."""

    rule_id: str
    node_ids: frozenset[str]
    first_day: int
    last_day: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CutoffChange:
    """On node-local release days ``first_day``-``last_day`` the cut-off of these nodes for
    ``carrier_services`` (empty: all) is ``minutes`` after midnight. Listed highest priority first:
    the first change covering a node, service and day is the one in force."""

    rule_id: str
    node_ids: frozenset[str]
    first_day: int
    last_day: int
    minutes: int
    carrier_services: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Directives:
    exclusions: tuple[Exclusion, ...] = ()
    requirements: tuple[Requirement, ...] = ()
    penalties: tuple[Penalty, ...] = ()
    protections: tuple[Protection, ...] = ()
    holds: tuple[Hold, ...] = ()
    max_shipments: int | None = None
    all_or_nothing: bool = False
    objective: ObjectiveMode | None = None
    split_penalty: float | None = None
    backorder_penalty: float | None = None
    late_penalty_per_day: float | None = None  # lateness allowed at this cost per day the order is late
    # Rules about time: applied with the decision's instant (engine/promise/shipping.py)
    shipping_rules: tuple[ShippingRule, ...] = ()
    closures: tuple[Closure, ...] = ()
    cutoff_changes: tuple[CutoffChange, ...] = ()
    rule_set_version: str = ""
    fired_rules: tuple[str, ...] = ()  # rule ids, highest priority first: the decision's trace


NO_DIRECTIVES = Directives()


def about_time(directives: Directives) -> bool:
    """Rules about time fired: the decision's carrier options depend on them."""
    return bool(directives.shipping_rules or directives.closures or directives.cutoff_changes)
