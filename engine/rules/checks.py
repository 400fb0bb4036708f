"""Checks of a loaded rule set against a network: what the schema alone cannot see.

Errors: conditions that contradict each other (the rule can never fire); selectors naming
node ids the network does not have; a requirement
that an unconditional exclusion always empties (a contradiction). Warnings: tags or regions no node
has yet, a selector that picks no node, a rule that can no longer fire (its window ended before ``today``), a rule
shadowed by an earlier one with the same conditions and directives.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import numpy as np

from engine.model import GeoPoint, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rules.facts import date_number
from engine.rules.model import Condition, Fact, FieldType, Op, Rule, RuleSet, Scalar, Selector
from engine.rules.selectors import node_arrays, select


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str  # "error" or "warning"
    file: str
    line: int
    rule_id: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: rule {self.rule_id}: {self.field}: {self.message}"


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
        if today is not None:
            ends = [c.values[0] for c in rule.conditions if c.fact.path == ("date", "date") and c.op is Op.LTE]
            if ends and max(float(e) for e in ends) < date_number(today):
                find(rule, "warning", "active.to", f"ended before {today.isoformat()}: the rule can no longer fire")

    always_excluded = np.zeros(len(snapshot), dtype=np.bool_)
    for rule in rule_set.rules:
        if not rule.conditions:
            for exclude in rule.then.excludes:
                if not _dynamic(exclude.node):
                    always_excluded |= select(exclude.node, arrays, probe, lambda _: "", None)
    for rule in rule_set.rules:
        for i, require in enumerate(rule.then.requires):
            if _dynamic(require.node):
                continue
            chosen = select(require.node, arrays, probe, lambda _: "", None)
            if chosen.any() and not (chosen & ~always_excluded).any():
                find(rule, "error", f"then.require[{i}]", "every node it requires is always excluded by another rule")

    seen: dict[tuple[object, ...], Rule] = {}
    for rule in rule_set.by_precedence():
        key = (frozenset(rule.conditions), rule.then)
        if key in seen:
            find(rule, "warning", "when", f"shadowed: rule {seen[key].id} has the same conditions and directives")
        else:
            seen[key] = rule
    return findings


def _unsatisfiable(rule: Rule) -> list[str]:
    """Facts whose conditions no value meets. Exact: a condition only tells values apart by how
    they compare with its constants, so trying each constant, a point between each pair, one
    beyond either end (numbers) or one unlike any (text) tries every case."""
    by_fact: dict[Fact, list[Condition]] = {}
    for condition in rule.conditions:
        by_fact.setdefault(condition.fact, []).append(condition)
    out = []
    for fact, conditions in by_fact.items():
        constants = {v for c in conditions if c.op is not Op.EXISTS for v in c.values}
        candidates: list[Scalar | None]
        if fact.type is FieldType.NUMBER:
            cuts = sorted(float(v) for v in constants if not isinstance(v, str))
            between = [a + (b - a) / 2 for a, b in itertools.pairwise(cuts)]
            candidates = [*cuts, *between, *((cuts[0] - 1, cuts[-1] + 1) if cuts else (0.0,))]
        elif fact.type is FieldType.BOOL:
            candidates = [True, False]
        else:
            candidates = [*constants, "", "\x00 a value no rule names"]
        # Lists as sets: a candidate per listed value, each looked up in every list of the fact.
        tests = [(c, frozenset(c.values)) for c in conditions]
        if not any(all(_meets(c, members, value) for c, members in tests) for value in candidates):
            out.append(fact.name)
    return out


def _meets(condition: Condition, members: frozenset[Scalar], value: Scalar | None) -> bool:
    op, wanted = condition.op, condition.values
    if op is Op.EXISTS:
        return (value != "") is wanted[0]
    if op is Op.EQ:
        return value == wanted[0]
    if op is Op.NE:
        return value != wanted[0]
    if op is Op.IN:
        return value in members
    if op is Op.NOT_IN:
        return value not in members
    if not isinstance(value, float) or not isinstance(wanted[0], float):
        return False
    return {Op.GT: value > wanted[0], Op.GTE: value >= wanted[0], Op.LT: value < wanted[0], Op.LTE: value <= wanted[0]}[
        op
    ]


def _dynamic(selector: Selector) -> bool:
    """Selectors whose result depends on the order (references, distance) are not judged statically."""
    own = (
        any(i.startswith("$") for i in selector.ids) or selector.min_miles is not None or selector.max_miles is not None
    )
    return own or (selector.exclude is not None and _dynamic(selector.exclude))


def _selectors(rule: Rule) -> list[tuple[str, Selector]]:
    then = rule.then
    out: list[tuple[str, Selector]] = []
    out += [(f"then.exclude[{i}].node", e.node) for i, e in enumerate(then.excludes)]
    out += [(f"then.require[{i}].node", r.node) for i, r in enumerate(then.requires)]
    out += [(f"then.penalize[{i}].node", p.node) for i, p in enumerate(then.penalties)]
    out += [(f"then.protect[{i}].node", p.node) for i, p in enumerate(then.protects)]
    if then.limit is not None and then.limit.node is not None:
        out.append(("then.limit.node", then.limit.node))
    expanded = []
    for field, selector in out:
        expanded.append((field, selector))
        if selector.exclude is not None:
            expanded.append((f"{field}.not", selector.exclude))
    return expanded
