"""Planner rules about time, as a decision's carrier options read them (docs/rules.md, "Rules about time").

- ``ship_by``: shipments go by one of the named carrier services and/or within a number of
  transit business days (the zone chart's); several rules must all be met (services intersect,
  the smallest transit wins).
- ``close``: a node ships nothing on node-local ship dates in a range (a remodel).
- ``cutoff``: on node-local release days in a range, a node's cut-off for a service is another
  time (peak days); the highest-priority rule's change wins.

They take effect with the decision's instant, as promises do (engine/promise/shipping.py), and
checkout's options read them the same way (engine/promise/checkout.py): ``ruled_ship_day`` and
``ruled_order_by`` are the one computation both use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from engine.directives import Closure, CutoffChange, Directives
from engine.promise.calculator import PromiseCalculator


@functools.lru_cache(maxsize=1024)
def day_words(day: int) -> str:
    """'Wed 9 Dec' for a day ordinal (kept: a 200-line order's notes ask for the same few days
    tens of thousands of times, at 25 µs of strftime each)."""
    d = date.fromordinal(day)
    return f"{d:%a} {d.day} {d:%b}"


def _rules(ids: list[str]) -> str:
    ids = list(dict.fromkeys(ids))
    return f"rule {ids[0]}" if len(ids) == 1 else f"rules {', '.join(ids)}"


@dataclass(frozen=True, slots=True)
class TimeRules:
    services: frozenset[str] | None  # None: any service; else the intersection the rules allow
    services_by: str  # "rule a" / "rules a, b": who requires them
    max_transit_days: int | None
    transit_by: str
    closures: dict[str, tuple[Closure, ...]]  # by node id
    cutoffs: tuple[CutoffChange, ...]  # highest priority first
    cutoff_nodes: frozenset[str]  # the nodes some cut-off change names
    touched: frozenset[str]  # the nodes closures or cut-off changes name: the others' options stand

    @property
    def constraining(self) -> bool:
        """The rules choose services (and so their rates), as an order's own carrier service does."""
        return self.services is not None or self.max_transit_days is not None

    def closed(self, node_id: str, ship_day: int) -> Closure | None:
        for closure in self.closures.get(node_id, ()):
            if closure.first_day <= ship_day <= closure.last_day:
                return closure
        return None

    def cutoff(self, node_id: str, service_id: str, release_day: int) -> int | None:
        """The cut-off (minutes after midnight) a rule sets for the node, service and day, if any."""
        for change in self.cutoffs:
            if (
                change.first_day <= release_day <= change.last_day
                and node_id in change.node_ids
                and (not change.carrier_services or service_id in change.carrier_services)
            ):
                return change.minutes
        return None

    def changes_cutoffs_of(self, node_id: str) -> bool:
        return node_id in self.cutoff_nodes


def time_rules(directives: Directives) -> TimeRules | None:
    """The rules about time among ``directives``; None when none fired."""
    if not (directives.shipping_rules or directives.closures or directives.cutoff_changes):
        return None
    services: frozenset[str] | None = None
    services_by: list[str] = []
    transit: int | None = None
    transit_by: list[str] = []
    for rule in directives.shipping_rules:
        if rule.carrier_services:
            services = rule.carrier_services if services is None else services & rule.carrier_services
            services_by.append(rule.rule_id)
        if rule.max_transit_days is not None:
            if transit is None or rule.max_transit_days < transit:
                transit, transit_by = rule.max_transit_days, [rule.rule_id]
            elif rule.max_transit_days == transit:
                transit_by.append(rule.rule_id)
    closures: dict[str, list[Closure]] = {}
    for closure in directives.closures:
        for node_id in closure.node_ids:
            closures.setdefault(node_id, []).append(closure)
    cutoff_nodes = frozenset(node_id for change in directives.cutoff_changes for node_id in change.node_ids)
    return TimeRules(
        services,
        _rules(services_by) if services_by else "",
        transit,
        _rules(transit_by) if transit_by else "",
        {node_id: tuple(found) for node_id, found in closures.items()},
        directives.cutoff_changes,
        cutoff_nodes,
        cutoff_nodes | frozenset(closures),
    )


def closure_words(closure: Closure, day_words: str, last_words: str) -> str:
    """'is closed Tue 1 Dec-Mon 14 Dec (remodel; rule st-003-remodel)'."""
    span = day_words if closure.first_day == closure.last_day else f"{day_words}-{last_words}"
    why = f"{closure.reason}; " if closure.reason else ""
    return f"is closed {span} ({why}rule {closure.rule_id})"


def ruled_ship_day(
    rules: TimeRules, calculator: PromiseCalculator, node_id: str, service_id: str, at: int, ship_day: int, zone: int
) -> tuple[int, tuple[int, str] | None]:
    """The ship day of an option (node, service, ``zone`` of its chart) for an order in at ``at``
    under the rules, given its ``ship_day`` by the schedule (a peak cut-off may move it), or why
    the rules rule it out: (precedence, words), the closure (0) before transit (1) before the
    services (2), as explanations name them."""
    if rules.services is not None and service_id not in rules.services:
        return ship_day, (2, "")
    if rules.max_transit_days is not None:
        transit = calculator.transit_days(service_id, zone)
        if transit > rules.max_transit_days:
            return ship_day, (1, f"needs {transit} transit days by {service_id}")
    if rules.cutoffs and rules.changes_cutoffs_of(node_id):
        cutoff = rules.cutoff(node_id, service_id, calculator.local_day(node_id, at))
        if cutoff is not None:
            shipped = calculator.ship_with_cutoff(node_id, service_id, at, cutoff)
            ship_day = shipped[0] if shipped is not None else ship_day
    closure = rules.closed(node_id, ship_day)
    if closure is not None:
        return ship_day, (0, _closed_words(closure))
    return ship_day, None


@functools.lru_cache(maxsize=256)
def _closed_words(closure: Closure) -> str:
    """A closure's words, once per closure (checkout asks for every node it rules out)."""
    return closure_words(closure, day_words(closure.first_day), day_words(closure.last_day))


def ruled_order_by(
    rules: TimeRules | None, calculator: PromiseCalculator, node_id: str, service_id: str, at: int
) -> int:
    """Until when (exclusive) an order still ships as one in at ``at`` by the node and service (the
    schedule's order-by, docs/promise.md), under peak cut-offs: the rule's cut-off of the order's
    own day when it makes it; and a release day with a rule's cut-off ends it no later than that."""
    shipped = calculator.ship(node_id, service_id, at)
    if shipped is None:
        return at
    order_by = shipped[1]
    if rules is None or not rules.cutoffs or not rules.changes_cutoffs_of(node_id):
        return order_by
    cutoff = rules.cutoff(node_id, service_id, calculator.local_day(node_id, at))
    if cutoff is not None:
        ruled = calculator.ship_with_cutoff(node_id, service_id, at, cutoff)
        return ruled[1] if ruled is not None else order_by
    # The order-by is the cut-off of a later release day; a rule's earlier cut-off that day ends it sooner.
    day = calculator.local_day(node_id, order_by)
    cutoff = rules.cutoff(node_id, service_id, day)
    if cutoff is not None:
        order_by = max(at + 1, min(order_by, calculator.cutoff_instant(node_id, day, cutoff)))
    return order_by
