"""Checks of a loaded rule set against a network: what the schema alone cannot see.

Errors: conditions that contradict each other (the rule can never fire); selectors naming
node ids the network does not have; requirements and exclusions that leave no node for the
orders a rule fires on, alone or with the rules that fire whenever it does (conflicts.py).
Warnings: tags or regions no node has yet, a selector that picks no node, a rule that can no
longer fire (its window ended before ``today``), two rules that leave no node for the orders
meeting both, settings a higher-precedence rule always overrides (conflicts.py), a rule
shadowed by an earlier one with the same conditions and directives.
"""

from __future__ import annotations

from datetime import date

from engine.model import GeoPoint, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rules.conflicts import contradictions, overridden
from engine.rules.facts import date_number
from engine.rules.findings import Finding
from engine.rules.implication import Situation, candidates, holds
from engine.rules.model import Op, Rule, RuleSet, Selector
from engine.rules.selectors import node_arrays, select

__all__ = ["Finding", "check_rule_set"]


def check_rule_set(rule_set: RuleSet, snapshot: NetworkSnapshot, today: date | None = None) -> list[Finding]:
    findings: list[Finding] = []
    tags = {t for n in snapshot.nodes for t in n.tags}
    ids = set(snapshot.index)
    regions = {n.region for n in snapshot.nodes}
    arrays = node_arrays(snapshot)
    probe = Order("probe", GeoPoint(0.0, 0.0), (OrderLine("probe", "probe", 1, 0.0),))

    def find(rule: Rule, severity: str, field: str, message: str) -> None:
        findings.append(Finding(severity, rule.file, rule.line, rule.id, field, message))

    for rule in rule_set.rules:
        for fact in _unsatisfiable(rule):
            find(rule, "error", "when", f"the conditions on {fact} contradict each other: the rule can never fire")
        for field, selector in _selectors(rule):
            for part, known, values in (("tag", tags, selector.tags), ("region", regions, selector.regions)):
                for value in values:
                    if value not in known:
                        # a warning: operations may tag nodes later; a wrong id is an error
                        find(rule, "warning", f"{field}.{part}", f"no node has {part} {value!r} yet")
            for node_id in selector.ids:
                if not node_id.startswith("$") and node_id not in ids:
                    find(rule, "error", f"{field}.id", f"unknown node {node_id!r}")
            if not _dynamic(selector) and not select(selector, arrays, probe, lambda _: "", None).any():
                find(rule, "warning", field, "selects no node in this network")
        for field, service in _services(rule):
            if service not in snapshot.carrier_services:
                offered = ", ".join(sorted(snapshot.carrier_services))
                find(rule, "error", field, f"unknown carrier service {service!r}; known: {offered}")
        if today is not None:
            ends = [c.values[0] for c in rule.conditions if c.fact.path == ("date", "date") and c.op is Op.LTE]
            if ends and max(float(e) for e in ends) < date_number(today):
                find(rule, "warning", "active.to", f"ended before {today.isoformat()}: the rule can no longer fire")

    findings += contradictions(rule_set, snapshot, arrays, probe, lambda rule: bool(_unsatisfiable(rule)))
    findings += overridden(rule_set)

    seen: dict[tuple[object, ...], Rule] = {}
    for rule in rule_set.by_precedence():
        key = (frozenset(rule.conditions), rule.then)
        if key in seen:
            find(rule, "warning", "when", f"shadowed: rule {seen[key].id} has the same conditions and directives")
        else:
            seen[key] = rule
    files = {name: k for k, name in enumerate(rule_set.sources)}
    return sorted(findings, key=lambda f: (files.get(f.file, len(files)), f.line))  # in the files' order


def _unsatisfiable(rule: Rule) -> list[str]:
    """Facts whose conditions no value meets (exact: see implication.candidates)."""
    situation = Situation.of(rule)
    return [
        fact.name
        for fact, conditions in situation.by_fact.items()
        if not any(all(holds(c, value) for c in conditions) for value in candidates(fact, conditions))
    ]


def _dynamic(selector: Selector) -> bool:
    """Selectors whose result depends on the order (references, distance) are not judged statically."""
    own = (
        any(i.startswith("$") for i in selector.ids) or selector.min_miles is not None or selector.max_miles is not None
    )
    return own or (selector.exclude is not None and _dynamic(selector.exclude))


def _services(rule: Rule) -> list[tuple[str, str]]:
    """(field, carrier service id) of every service a rule about time names."""
    then = rule.then
    out = []
    if then.ship_by is not None:
        out += [("then.ship_by.carrier_service", s) for s in then.ship_by.carrier_services]
    for i, cutoff in enumerate(then.cutoffs):
        out += [(f"then.cutoff[{i}].carrier_service", s) for s in cutoff.carrier_services]
    return out


def _selectors(rule: Rule) -> list[tuple[str, Selector]]:
    then = rule.then
    out: list[tuple[str, Selector]] = []
    out += [(f"then.exclude[{i}].node", e.node) for i, e in enumerate(then.excludes)]
    out += [(f"then.require[{i}].node", r.node) for i, r in enumerate(then.requires)]
    out += [(f"then.penalize[{i}].node", p.node) for i, p in enumerate(then.penalties)]
    out += [(f"then.protect[{i}].node", p.node) for i, p in enumerate(then.protects)]
    if then.limit is not None and then.limit.node is not None:
        out.append(("then.limit.node", then.limit.node))
    out += [(f"then.close[{i}].node", c.node) for i, c in enumerate(then.closes)]
    out += [(f"then.cutoff[{i}].node", c.node) for i, c in enumerate(then.cutoffs)]
    expanded = []
    for field, selector in out:
        expanded.append((field, selector))
        if selector.exclude is not None:
            expanded.append((f"{field}.not", selector.exclude))
    return expanded
