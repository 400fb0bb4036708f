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
    late_penalty_per_day: float | None = None  # lateness allowed at this cost per shipment-day late
    rule_set_version: str = ""
    fired_rules: tuple[str, ...] = ()  # rule ids, highest priority first: the decision's trace


NO_DIRECTIVES = Directives()
