"""Planner rules about time, as a decision's carrier options read them (docs/rules.md, "Rules about time").

- ``ship_by``: shipments go by one of the named carrier services and/or within a number of
  transit business days (the zone chart's); several rules must all be met (services intersect,
  the smallest transit wins).
- ``close``: a node ships nothing on node-local ship dates in a range (a remodel).
- ``cutoff``: on node-local release days in a range, a node's cut-off for a service is another
  time (peak days); the highest-priority rule's change wins.

They take effect with the decision's instant, as promises do (engine/promise/shipping.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.directives import Closure, CutoffChange, Directives


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
        return any(node_id in change.node_ids for change in self.cutoffs)


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
    return TimeRules(
        services,
        _rules(services_by) if services_by else "",
        transit,
        _rules(transit_by) if transit_by else "",
        {node_id: tuple(found) for node_id, found in closures.items()},
        directives.cutoff_changes,
    )


def closure_words(closure: Closure, day_words: str, last_words: str) -> str:
    """'is closed Tue 1 Dec-Mon 14 Dec (remodel; rule st-003-remodel)'."""
    span = day_words if closure.first_day == closure.last_day else f"{day_words}-{last_words}"
    why = f"{closure.reason}; " if closure.reason else ""
    return f"is closed {span} ({why}rule {closure.rule_id})"
