"""The durable-rules path and the plain-Python reference agree on generated rule sets and orders."""

from __future__ import annotations

import random

import pytest

from benchmarks import rule_gen as generate
from engine.network import NetworkSnapshot
from engine.rules.build import build_directives
from engine.rules.evaluator import compiled
from engine.rules.loader import load_rule_set
from tests.engine.rules.reference import reference_match

RULE_SETS = 60
ORDERS_PER_SET = 60  # 3,600 evaluations


@pytest.mark.parametrize("memo", [True, False], ids=["memoized", "every-fact-to-durable-rules"])
def test_durable_rules_and_reference_agree_on_generated_inputs(snapshot: NetworkSnapshot, memo: bool) -> None:
    rng = random.Random(20261124)
    disagreements = []
    fired = 0
    for s in range(RULE_SETS):
        rule_set = load_rule_set([(f"gen{s}.yaml", generate.rule_file(rng, rng.randint(1, 25)))])
        engine = compiled(rule_set)
        engine.memo_enabled = memo
        for n in range(ORDERS_PER_SET):
            order = generate.order(rng, n)
            day = generate.day(rng)
            got = engine.match(order, day)
            want = reference_match(rule_set, order, day)
            fired += len(want)
            if dict(got) != dict(want):
                disagreements.append((s, n, dict(got), dict(want)))
            elif n % 10 == 0:
                a = build_directives(rule_set, got, order, snapshot)
                b = build_directives(rule_set, want, order, snapshot)
                assert a == b
    assert disagreements == []
    assert fired > RULE_SETS * ORDERS_PER_SET  # the inputs make rules fire, often
