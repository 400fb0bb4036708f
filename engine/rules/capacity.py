"""Whether durable-rules can hold a rule set: checked before it is given one, never learnt after.

durable-rules (2.0.28) builds a rule set into one network of tests in fixed-size tables of its C
core (src/rules/rules.h), and overflowing one does not fail cleanly. Measured here:

- the tests that follow one test: a hash set of 512. One more, and registering loops forever
  (holding the evaluator's lock, so every decision of the process waits); a full set loops
  when a fact is matched. 513 rules on the same field, or an ``in`` list of 513 values, do it.
- the ``in`` lists ending at one test (rules listing the same value on the same fields): a list
  of 32, read up to its first empty entry. With 100 rules ``channel: [WEB, ...]``, matching an
  order aborts the process ("free(): invalid size").
- the rules ending at one test (rules with exactly the same conditions): a list of 16, the
  same way; 300 of them is error 108, and from 17 its source writes past the list.
- the ``$and``/``$or`` of one rule: 32 entries, two each; a rule with 15 number comparisons is
  error 113.

``first_overflow`` walks the definition the evaluator registers (CompiledRules.definition) as
durable-rules builds it, sharing equal tests as it does, and counts each table, keeping one
entry free (their readers stop at an empty one) and a margin below. It also bounds the tests
built in all (limits.MAX_RULE_TESTS): registering takes about 15 µs a test. Rules: at most
limits.MAX_RULES, each at most two durable-rules rules, far below its 4,096 actions.
"""

from __future__ import annotations

import json
from typing import Any

from engine import limits

MAX_FOLLOWING = 500  # tests after one test (hash set of 512)
MAX_LISTS_ENDING = 30  # in lists ending at one test (list of 32)
MAX_RULES_ENDING = 15  # rules ending at one test (list of 16)
MAX_COMPOUNDS = 15  # $and and $or in one rule (2 entries each of 32; the 16th fails)


class _Test:
    __slots__ = ("following", "lists_ending", "rules_ending")

    def __init__(self) -> None:
        self.following: dict[str, _Test] = {}
        self.lists_ending = 0
        self.rules_ending = 0


class _Network:
    """The tests built so far: limits.MAX_RULE_TESTS bounds the time durable-rules takes to build them."""

    def __init__(self) -> None:
        self.root = _Test()
        self.tests = 0

    def new_test(self) -> _Test:
        self.tests += 1
        if self.tests > limits.MAX_RULE_TESTS:
            raise _Overflow(
                f"the rules compile to more than the limit of {limits.MAX_RULE_TESTS:,} tests"
                " (about one per condition, one per value of an in or not_in list)"
            )
        return _Test()


class _Overflow(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def first_overflow(definition: dict[str, Any]) -> tuple[str, str] | None:
    """(the name of the first durable-rules rule that would overflow a table, what overflows),
    or None when the whole definition fits."""
    network = _Network()
    for name, spec in definition.items():
        when = spec["all"][0]["m"]
        try:
            compounds = _compounds(when)
            if compounds > MAX_COMPOUNDS:
                raise _Overflow(
                    f"has {compounds - 1} conditions comparing numbers or holding lists (in, not_in):"
                    f" the rule engine (durable-rules) holds at most {MAX_COMPOUNDS - 1} in one rule"
                )
            end = _build(when, network.root, network)
            end.rules_ending += 1
            if end.rules_ending > MAX_RULES_ENDING:
                raise _Overflow(
                    f"more than {MAX_RULES_ENDING} rules have exactly these conditions: the rule engine"
                    " (durable-rules) holds no more; merge their directives into fewer rules"
                )
        except _Overflow as e:
            return name, e.message
    return None


def _compounds(expression: dict[str, Any]) -> int:
    (key, value), *_ = expression.items()
    if key in ("$and", "$or"):
        return 1 + sum(_compounds(e) for e in value)
    return 0


def _build(expression: dict[str, Any], parent: _Test, network: _Network) -> _Test:
    """The test a match of ``expression`` reaches from ``parent``, adding what durable-rules adds."""
    (key, value), *_ = expression.items()
    if key == "$and":
        for part in value:
            parent = _build(part, parent, network)
        return parent
    if key == "$or":
        joined = network.new_test()  # a new node each time: never shared
        for part in value:
            end = _build(part, parent, network)
            end.lists_ending += 1
            if end.lists_ending > MAX_LISTS_ENDING:
                raise _Overflow(
                    f"more than {MAX_LISTS_ENDING} in lists on the same fields share a value: the rule"
                    " engine (durable-rules) holds no more; move the value into a rule of its own"
                )
        return joined
    test = json.dumps(expression, sort_keys=True)  # durable-rules shares equal tests (field, operator, value)
    found = parent.following.get(test)
    if found is None:
        if len(parent.following) >= MAX_FOLLOWING:
            raise _Overflow(
                f"more than {MAX_FOLLOWING} different conditions follow the same ones (rules on the same"
                " fields, and the values of in lists, count together): the rule engine (durable-rules)"
                " holds no more; use fewer rules or shorter lists"
            )
        found = parent.following[test] = network.new_test()
    return found
