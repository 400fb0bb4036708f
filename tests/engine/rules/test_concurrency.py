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
from tests.engine.rules.reference import reference_match


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


def test_only_the_recent_versions_stay_registered_and_a_retired_one_still_answers(
    snapshot: NetworkSnapshot,
) -> None:
    """Every version used to stay registered with durable-rules for the life of the process (its
    C memory never freed): now the least recently used beyond MAX_COMPILED_VERSIONS are deleted.
    An evaluation still holding a retired version compiles it again and answers the same."""
    rng = random.Random(13)
    cases = [(generate.order(rng, n), generate.day(rng)) for n in range(20)]
    first = load_rule_set([("first.yaml", generate.rule_file(rng, 40))])
    held = evaluator.compiled(first)
    versions = [
        load_rule_set([(f"v{i}.yaml", generate.rule_file(rng, 40))]) for i in range(3 * evaluator.MAX_COMPILED_VERSIONS)
    ]
    for rule_set in versions:
        evaluator.evaluate(rule_set, *cases[0][:1], snapshot, cases[0][1])
    assert len(evaluator._host()._ruleset_list) <= evaluator.MAX_COMPILED_VERSIONS
    assert len(evaluator._COMPILED) <= evaluator.MAX_COMPILED_VERSIONS
    assert held.retired
    for order, day in cases:  # the retired handle still answers, by compiling its version again
        assert dict(held.match(order, day)) == dict(reference_match(first, order, day))

    # Many threads over more versions than are kept: evictions under load never give a wrong answer.
    work = [(versions[n % len(versions)], *cases[n % len(cases)]) for n in range(600)]

    def run(case: tuple[RuleSet, object, object]) -> bool:
        rule_set, order, day = case
        got = evaluator.compiled(rule_set).match(order, day)  # type: ignore[arg-type]
        return dict(got) == dict(reference_match(rule_set, order, day))  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(run, work))
