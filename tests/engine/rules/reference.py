"""A plain-Python evaluator of rule conditions: the oracle the durable-rules path is tested against.

Tests only. It reads the same facts (engine.rules.facts) and applies each condition by the
documented semantics: an absent number fails every comparison; absent text is "".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from engine.model import Order
from engine.rules.build import Matches
from engine.rules.facts import FactValue, order_facts
from engine.rules.model import Condition, FieldType, Op, RuleSet


def reference_match(rule_set: RuleSet, order: Order, day: date) -> Matches:
    facts = order_facts(rule_set, order, day)
    out: dict[int, tuple[int, ...]] = {}
    for rule in rule_set.rules:
        if rule.per_line:
            lines = tuple(
                i
                for i, line in enumerate(facts.lines)
                if all(holds(c, {**facts.order, **line}) for c in rule.conditions)
            )
            if lines:
                out[rule.position] = lines
        elif all(holds(c, facts.order) for c in rule.conditions):
            out[rule.position] = ()
    return out


def holds(condition: Condition, values: Mapping[object, FactValue]) -> bool:
    value = values[condition.fact]
    op, wanted = condition.op, condition.values
    if condition.fact.type is FieldType.NUMBER:
        if value is None:
            return False
    elif condition.fact.type is FieldType.TEXT:
        value = "" if value is None else str(value)
    else:
        value = bool(value)
    if op is Op.EXISTS:
        return (value != "") is wanted[0]
    if op is Op.EQ:
        return value == wanted[0]
    if op is Op.NE:
        return value != wanted[0]
    if op is Op.IN:
        return value in wanted
    if op is Op.NOT_IN:
        return value not in wanted
    assert isinstance(value, float)
    bound = wanted[0]
    assert isinstance(bound, float)
    return {Op.GT: value > bound, Op.GTE: value >= bound, Op.LT: value < bound, Op.LTE: value <= bound}[op]
