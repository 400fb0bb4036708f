"""When rules fire together: whether one rule's conditions imply another's, or can hold at once.

Exact, fact by fact, as ``checks._unsatisfiable`` is: a condition only tells values apart by
how they compare with its constants, so the constants of both rules, a point between each
pair, one beyond either end, an absent number (every comparison on it is false) and a text no
rule names try every case. A rule with a line condition is judged on one line: two rules'
line conditions must hold on the same line for their directives to meet there.

``Implications`` finds, for a rule, the rules that fire whenever it does without comparing
every pair: a rule is filed under one of its facts (and, when that fact's values are a list,
under each value), so a rule on ``order.channel: MARKETPLACE`` only meets the rules filed under
that channel or under a fact it has no list for. Comparisons are counted against a budget so a
set of thousands of rules is checked in bounded time; ``exhausted`` says when it ran out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from engine.rules.model import Condition, Fact, FieldType, Op, Rule, Scalar

Value = Scalar | None


def holds(condition: Condition, value: Value) -> bool:
    """The evaluator's semantics: an absent number meets no comparison; absent text is ``""``."""
    op, wanted = condition.op, condition.values
    if condition.fact.type is FieldType.NUMBER and value is None:
        return False
    if op is Op.EXISTS:
        return (value != "") is wanted[0]
    if op is Op.EQ:
        return value == wanted[0]
    if op is Op.NE:
        return value != wanted[0]
    if op is Op.IN:
        return value in condition.members
    if op is Op.NOT_IN:
        return value not in condition.members
    if not isinstance(value, float) or not isinstance(wanted[0], float):
        return False
    bound = wanted[0]
    return {Op.GT: value > bound, Op.GTE: value >= bound, Op.LT: value < bound, Op.LTE: value <= bound}[op]


def candidates(fact: Fact, conditions: Iterable[Condition]) -> list[Value]:
    """Values that, between them, meet every combination of the conditions that any value meets."""
    constants = {v for c in conditions if c.op is not Op.EXISTS for v in c.values}
    if fact.type is FieldType.NUMBER:
        cuts = sorted(float(v) for v in constants if not isinstance(v, str))
        between = [a + (b - a) / 2 for a, b in itertools.pairwise(cuts)]
        return [*cuts, *between, *((cuts[0] - 1, cuts[-1] + 1) if cuts else (0.0,)), None]
    if fact.type is FieldType.BOOL:
        return [True, False]
    return [*constants, "", "\x00 a value no rule names"]


@dataclass(frozen=True)
class Situation:
    """A rule's conditions by fact, and for facts whose conditions only list values, those values."""

    rule: Rule
    by_fact: dict[Fact, tuple[Condition, ...]]
    listed: dict[Fact, frozenset[Value]] = field(default_factory=dict)

    @classmethod
    def of(cls, rule: Rule) -> Situation:
        by_fact: dict[Fact, list[Condition]] = {}
        for condition in rule.conditions:
            by_fact.setdefault(condition.fact, []).append(condition)
        listed = {}
        for fact, found in by_fact.items():
            if fact.type is not FieldType.NUMBER and all(c.op in (Op.EQ, Op.IN) for c in found):
                values = frozenset(v for v in candidates(fact, found) if all(holds(c, v) for c in found))
                listed[fact] = values
        return cls(rule, {f: tuple(c) for f, c in by_fact.items()}, listed)


def implies(a: Situation, b: Situation) -> bool:
    """Whether ``b``'s conditions hold whenever ``a``'s do (``b`` fires whenever ``a`` fires)."""
    if not b.by_fact.keys() <= a.by_fact.keys():
        return False  # b reads a fact a leaves open (a condition that holds for every value is not worth finding)
    for fact, wanted in b.by_fact.items():
        given = a.by_fact[fact]
        for value in candidates(fact, (*given, *wanted)):
            if all(holds(c, value) for c in given) and not all(holds(c, value) for c in wanted):
                return False
    return True


def together(a: Situation, b: Situation) -> bool:
    """Whether some order (and line) meets both rules' conditions at once."""
    for fact in a.by_fact.keys() & b.by_fact.keys():
        both = (*a.by_fact[fact], *b.by_fact[fact])
        if not any(all(holds(c, value) for c in both) for value in candidates(fact, both)):
            return False
    return True


class Implications:
    """Among ``rules``, those that fire whenever a given rule fires, within a budget of comparisons."""

    def __init__(self, situations: Sequence[Situation], budget: int) -> None:
        self.budget = budget
        self.exhausted = False
        self._always: list[Situation] = []  # no conditions: implied by every rule
        self._by_value: dict[tuple[Fact, Value], list[Situation]] = {}
        self._by_fact: dict[Fact, list[Situation]] = {}  # filed under a fact without a list of values
        self._listed_under: dict[Fact, list[Situation]] = {}
        for s in situations:
            if not s.by_fact:
                self._always.append(s)
                continue
            key = min(s.by_fact, key=lambda f: (f not in s.listed, f.name))  # prefer a fact with listed values
            if key in s.listed:
                self._listed_under.setdefault(key, []).append(s)
                for value in s.listed[key]:
                    self._by_value.setdefault((key, value), []).append(s)
            else:
                self._by_fact.setdefault(key, []).append(s)

    def spend(self, count: int = 1) -> bool:
        """False (and ``exhausted``) once the budget is spent."""
        self.budget -= count
        if self.budget < 0:
            self.exhausted = True
        return not self.exhausted

    def implied_by(self, a: Situation) -> list[Situation]:
        """The rules (other than ``a``) that fire whenever ``a`` fires."""
        found: list[Situation] = []
        seen: set[int] = set()
        for b in self._candidates(a):
            if b is a or id(b) in seen:
                continue
            seen.add(id(b))
            if not self.spend():
                break
            if implies(a, b):
                found.append(b)
        return found

    def _candidates(self, a: Situation) -> Iterable[Situation]:
        yield from self._always
        for fact in a.by_fact:
            yield from self._by_fact.get(fact, ())
            values = a.listed.get(fact)
            if values:  # b, filed under this fact's list, must list every value a allows: look under one
                yield from self._by_value.get((fact, next(iter(values))), ())
            else:
                yield from self._listed_under.get(fact, ())
