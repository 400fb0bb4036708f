"""A loaded rule set: plain, validated data (the loader builds it; nothing here parses or evaluates).

A rule is *when* (conditions on facts of the order, its lines, the customer, the ship-to
address and the decision date) *then* (directives applied to nodes a selector picks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from engine.model import ObjectiveMode

Scalar = str | float | bool


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOL = "bool"


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EXISTS = "exists"


NUMERIC_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact a condition reads, e.g. ("order", "channel") or ("line", "attributes", "vendor")."""

    path: tuple[str, ...]
    type: FieldType
    per_line: bool = field(init=False, compare=False, repr=False)
    _hash: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_line", self.path[0] == "line")
        object.__setattr__(self, "_hash", hash((self.path, self.type)))  # facts key hot dictionaries

    def __hash__(self) -> int:
        return self._hash

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Condition:
    fact: Fact
    op: Op
    values: tuple[Scalar, ...]  # one value, or several for IN / NOT_IN; EXISTS: (True,) or (False,)
    # The values as a set: the checks test every listed value against every list of the fact,
    # quadratic with tuples (two 3,000-value lists on one fact took 1.6 s).
    members: frozenset[Scalar] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", frozenset(self.values))


@dataclass(frozen=True, slots=True)
class Selector:
    """Nodes matching every given part; a list within a part matches any of its values."""

    types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # may hold references such as "$order.pickup_node_id"
    regions: tuple[str, ...] = ()
    min_miles: float | None = None
    max_miles: float | None = None
    exclude: Selector | None = None  # ``not:``: nodes matching this are removed
    static: bool = field(init=False, compare=False, repr=False)  # the same nodes for every order
    _hash: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Selections are memoized per snapshot by selector: hash once, not on every lookup.
        dynamic = any(i.startswith("$") for i in self.ids) or self.min_miles is not None or self.max_miles is not None
        object.__setattr__(self, "static", not dynamic and (self.exclude is None or self.exclude.static))
        object.__setattr__(
            self,
            "_hash",
            hash((self.types, self.tags, self.ids, self.regions, self.min_miles, self.max_miles, self.exclude)),
        )

    def __hash__(self) -> int:
        return self._hash

    @property
    def per_line(self) -> bool:
        """Whether the selection depends on the line (an id reference into ``$line``)."""
        return any(i.startswith("$line.") for i in self.ids) or (self.exclude is not None and self.exclude.per_line)


@dataclass(frozen=True, slots=True)
class ExcludeSpec:
    node: Selector
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RequireSpec:
    node: Selector


@dataclass(frozen=True, slots=True)
class PenaltySpec:
    node: Selector
    per_unit: float = 0.0  # already negated for ``prefer``
    per_shipment: float = 0.0


@dataclass(frozen=True, slots=True)
class ProtectSpec:
    node: Selector
    units: int
    skus: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LimitSpec:
    max_shipments: int | None = None
    all_or_nothing: bool = False
    node: Selector | None = None  # with max_shipments_per_day: a node capacity cap
    max_shipments_per_day: int | None = None


@dataclass(frozen=True, slots=True)
class ObjectiveSpec:
    mode: ObjectiveMode | None = None
    split_penalty: float | None = None
    backorder_penalty: float | None = None
    # Lateness allowed: a shipment arriving after the order's promised date costs this much per
    # day late instead of being ruled out (docs/promise.md).
    late_penalty_per_day: float | None = None


@dataclass(frozen=True, slots=True)
class HoldSpec:
    reason: str


# Rules about time (docs/rules.md, "Rules about time"): they act on the carrier options of a
# decision made at an instant (engine/promise/shipping.py), not on the node set alone.


@dataclass(frozen=True, slots=True)
class ShipBySpec:
    """Shipments go by one of ``carrier_services`` (empty: any) within ``max_transit_days``
    transit business days of the zone chart (None: any)."""

    carrier_services: tuple[str, ...] = ()
    max_transit_days: int | None = None


@dataclass(frozen=True, slots=True)
class CloseSpec:
    """The nodes ship nothing on node-local ship dates ``first``-``last`` (inclusive): a remodel."""

    node: Selector
    first: date
    last: date
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CutoffSpec:
    """On node-local release days ``first``-``last`` the nodes' cut-off for ``carrier_services``
    (empty: every service they ship with) is ``time`` (minutes after midnight): peak days."""

    node: Selector
    first: date
    last: date
    time: int
    carrier_services: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Then:
    excludes: tuple[ExcludeSpec, ...] = ()
    requires: tuple[RequireSpec, ...] = ()
    penalties: tuple[PenaltySpec, ...] = ()
    protects: tuple[ProtectSpec, ...] = ()
    limit: LimitSpec | None = None
    objective: ObjectiveSpec | None = None
    hold: HoldSpec | None = None
    ship_by: ShipBySpec | None = None
    closes: tuple[CloseSpec, ...] = ()
    cutoffs: tuple[CutoffSpec, ...] = ()

    @property
    def about_time(self) -> bool:
        """It can make rules about time (engine.promise.time_rules): ship_by, close or cutoff."""
        return self.ship_by is not None or bool(self.closes) or bool(self.cutoffs)

    def verbs(self) -> list[str]:
        out = []
        for name, present in (
            ("exclude", self.excludes),
            ("require", self.requires),
            ("penalize/prefer", self.penalties),
            ("protect", self.protects),
            ("limit", self.limit),
            ("objective", self.objective),
            ("hold", self.hold),
            ("ship_by", self.ship_by),
            ("close", self.closes),
            ("cutoff", self.cutoffs),
        ):
            if present:
                out.append(name)
        return out


# The decisions a rule can shape: where an order ships from, and where a return is received.
SOURCING, RETURNS = "sourcing", "returns"
PURPOSES = (SOURCING, RETURNS)
# What choosing a receiving node can use: which nodes may receive, and what each costs.
RETURN_VERBS = frozenset({"exclude", "require", "penalize/prefer"})


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    conditions: tuple[Condition, ...]  # all must hold (the active window is compiled into these too)
    then: Then
    priority: int = 100  # higher wins where one value must be chosen (objective, penalty overrides)
    why: str = ""
    file: str = ""
    line: int = 0
    position: int = 0  # order of appearance across the files: breaks priority ties
    applies_to: frozenset[str] = frozenset({SOURCING})  # which decisions the rule shapes

    @property
    def per_line(self) -> bool:
        """A rule with a line condition fires once per matching line, and its directives name those lines."""
        return any(c.fact.per_line for c in self.conditions)


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    version: str  # hash of the files' content: what every decision records
    currency: str = "USD"
    rates: Mapping[str, float] = field(default_factory=dict)  # units of ``currency`` per unit of a currency
    sources: tuple[str, ...] = ()

    def facts(self) -> tuple[Fact, ...]:
        """Every fact some condition reads, in a stable order."""
        seen: dict[Fact, None] = {}
        for rule in self.rules:
            for condition in rule.conditions:
                seen.setdefault(condition.fact, None)
        return tuple(seen)

    def by_precedence(self) -> tuple[Rule, ...]:
        """Highest priority first, then file order: the order the trace lists fired rules."""
        return tuple(sorted(self.rules, key=lambda r: (-r.priority, r.position)))
