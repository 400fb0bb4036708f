"""Many threads evaluating at once: no crash, no wrong answer; activations leave no threads behind."""

from __future__ import annotations

import random
import resource
import threading
from concurrent.futures import ThreadPoolExecutor

from benchmarks import rule_gen as generate
from engine.network import NetworkSnapshot
from engine.rules import evaluator
from engine.rules.loader import load_rule_set
from engine.rules.model import RuleSet
from tests.rules.reference import reference_match


def test_many_threads_evaluate_correctly(snapshot: NetworkSnapshot, default_rules: RuleSet) -> None:
    rng = random.Random(7)
    generated = load_rule_set([("gen.yaml", generate.rule_file(rng, 40))])
    cases = []
    for n in range(2000):
        rule_set = default_rules if n % 2 else generated
        order, day = generate.order(rng, n), generate.day(rng)
        cases.append((rule_set, order, day, reference_match(rule_set, order, day)))

    def run(case: tuple[RuleSet, object, object, object]) -> bool:
        rule_set, order, day, want = case
        directives = evaluator.evaluate(rule_set, order, snapshot, day)  # type: ignore[arg-type]
        return dict(evaluator.compiled(rule_set).match(order, day)) == dict(want) and bool(  # type: ignore[arg-type]
            directives.rule_set_version == rule_set.version
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(run, cases))
    assert all(results)


def test_activations_leave_thread_count_and_memory_flat(snapshot: NetworkSnapshot) -> None:
    rng = random.Random(11)
    order, day = generate.order(rng, 0), generate.day(rng)
    evaluator.evaluate(load_rule_set([("warm.yaml", generate.rule_file(rng, 10))]), order, snapshot, day)
    threads = threading.active_count()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(100):
        rule_set = load_rule_set([(f"v{i}.yaml", generate.rule_file(rng, 10))])
        for _ in range(20):
            evaluator.evaluate(rule_set, order, snapshot, day)
    assert threading.active_count() == threads  # no timer threads started by any activation
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 64 * 1024  # sessions are deleted: 2,000 live ones would hold ~600 MiB
