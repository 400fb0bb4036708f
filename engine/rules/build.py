"""Fired rules to Directives: selectors applied to the network, the conflict policy applied.

Conflict policy (docs/rules.md): exclusions, requirements, penalties, protections and holds
accumulate (requirements intersect: every one must be met); max_shipments takes the
smallest; all_or_nothing is on if any rule says so; the objective mode, split penalty and
backorder penalty each come from the highest-priority fired rule that sets them (ties: the
rule that comes first in the files). A per-line rule's directives name the lines it fired on.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.directives import Directives, Exclusion, Hold, Penalty, Protection, Requirement
from engine.geo import FloatArray
from engine.model import ObjectiveMode, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rules.model import Rule, RuleSet, Selector
from engine.rules.selectors import NodeArrays, node_arrays, pick, ship_to_distance

Matches = Mapping[int, tuple[int, ...]]
"""Rule index (in RuleSet.rules) -> the line indices it fired on; () for a rule on the order alone."""


def build_directives(
    rule_set: RuleSet,
    matches: Matches,
    order: Order,
    snapshot: NetworkSnapshot,
    shipments_today: Mapping[str, int] | None = None,
) -> Directives:
    arrays = node_arrays(snapshot)
    distance: FloatArray | None = None
    if any(i in _distance_rules(rule_set) for i in matches):
        distance = ship_to_distance(arrays, order)
    fired = [rule for rule in rule_set.by_precedence() if rule.position in matches]
    out = _Collected()
    for rule in fired:
        lines = tuple(order.lines[i] for i in matches[rule.position])
        _apply(rule, lines, order, arrays, distance, shipments_today or {}, out)
    return Directives(
        exclusions=tuple(out.exclusions),
        requirements=tuple(out.requirements),
        penalties=tuple(out.penalties),
        protections=tuple(out.protections),
        holds=tuple(out.holds),
        max_shipments=min(out.max_shipments) if out.max_shipments else None,
        all_or_nothing=out.all_or_nothing,
        objective=out.objective,
        split_penalty=out.split_penalty,
        backorder_penalty=out.backorder_penalty,
        late_penalty_per_day=out.late_penalty_per_day,
        rule_set_version=rule_set.version,
        fired_rules=tuple(rule.id for rule in fired),
    )


class _Collected:
    def __init__(self) -> None:
        self.exclusions: list[Exclusion] = []
        self.requirements: list[Requirement] = []
        self.penalties: list[Penalty] = []
        self.protections: list[Protection] = []
        self.holds: list[Hold] = []
        self.max_shipments: list[int] = []
        self.all_or_nothing = False
        self.objective: ObjectiveMode | None = None
        self.split_penalty: float | None = None
        self.backorder_penalty: float | None = None
        self.late_penalty_per_day: float | None = None


_DISTANCE_RULES: dict[str, frozenset[int]] = {}


def _distance_rules(rule_set: RuleSet) -> frozenset[int]:
    """Positions of the rules whose selectors need the ship-to distance (once per version)."""
    found = _DISTANCE_RULES.get(rule_set.version)
    if found is None:
        found = frozenset(r.position for r in rule_set.rules if _uses_distance(r))
        _DISTANCE_RULES[rule_set.version] = found
    return found


def _uses_distance(rule: Rule) -> bool:
    then = rule.then
    selectors: list[Selector | None] = [
        *(e.node for e in then.excludes),
        *(r.node for r in then.requires),
        *(p.node for p in then.penalties),
        *(p.node for p in then.protects),
        then.limit.node if then.limit else None,
    ]
    return any(s is not None and _selector_uses_distance(s) for s in selectors)


def _selector_uses_distance(s: Selector) -> bool:
    own = s.min_miles is not None or s.max_miles is not None
    return own or (s.exclude is not None and _selector_uses_distance(s.exclude))


def _apply(
    rule: Rule,
    lines: tuple[OrderLine, ...],
    order: Order,
    arrays: NodeArrays,
    distance: FloatArray | None,
    shipments_today: Mapping[str, int],
    out: _Collected,
) -> None:
    then = rule.then

    def scoped(selector: Selector) -> list[tuple[frozenset[str], frozenset[str]]]:
        """(node ids, line ids) pairs: one per line when the selector reads the line, else one."""
        if selector.per_line and lines:
            return [(pick(selector, arrays, order, line, distance), frozenset({line.line_id})) for line in lines]
        return [(pick(selector, arrays, order, None, distance), frozenset(line.line_id for line in lines))]

    for exclude in then.excludes:
        for nodes, line_ids in scoped(exclude.node):
            out.exclusions.append(Exclusion(rule.id, nodes, line_ids, exclude.reason or rule.why))
    for require in then.requires:
        for nodes, line_ids in scoped(require.node):
            out.requirements.append(Requirement(rule.id, nodes, line_ids))
    for penalty in then.penalties:
        for nodes, line_ids in scoped(penalty.node):
            out.penalties.append(Penalty(rule.id, nodes, penalty.per_unit, penalty.per_shipment, line_ids))
    for protect in then.protects:
        skus = frozenset(protect.skus) or frozenset(line.sku for line in lines)
        for nodes, _ in scoped(protect.node):
            out.protections.append(Protection(rule.id, nodes, protect.units, skus))
    if then.limit is not None:
        limit = then.limit
        if limit.max_shipments is not None:
            out.max_shipments.append(limit.max_shipments)
        out.all_or_nothing = out.all_or_nothing or limit.all_or_nothing
        if limit.node is not None and limit.max_shipments_per_day is not None:
            # A cap binds once today's shipments reach it; the caller supplies the counts.
            capped = pick(limit.node, arrays, order, None, distance)
            full = frozenset(n for n in capped if shipments_today.get(n, 0) >= limit.max_shipments_per_day)
            if full:
                reason = f"capacity cap of {limit.max_shipments_per_day} shipments a day reached"
                out.exclusions.append(Exclusion(rule.id, full, frozenset(), reason))
    if then.objective is not None:  # rules arrive highest priority first: the first value set wins
        objective = then.objective
        out.objective = out.objective or objective.mode
        if out.split_penalty is None:
            out.split_penalty = objective.split_penalty
        if out.backorder_penalty is None:
            out.backorder_penalty = objective.backorder_penalty
        if out.late_penalty_per_day is None:
            out.late_penalty_per_day = objective.late_penalty_per_day
    if then.hold is not None:
        out.holds.append(Hold(rule.id, then.hold.reason))
