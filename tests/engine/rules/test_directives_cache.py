"""Directives remembered by order shape (engine/rules/cache.py) against durable-rules evaluated afresh.

Each order is evaluated through the cache and without it (every fact sent to durable-rules, no
memo): the directives must be equal. The orders come in families that share the facts the rules
read and differ in everything else a selector or verb could read (ship-to point, line ids and
SKUs, pickup node, vendor references), so the cache is hit by orders whose directives differ.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from pathlib import Path

from benchmarks import rule_gen as generate
from engine.directives import Directives
from engine.model import DeliveryMethod, GeoPoint, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rules.build import build_directives
from engine.rules.evaluator import compiled, evaluate
from engine.rules.loader import load_rule_set
from engine.rules.model import RETURNS, SOURCING, RuleSet

REPO = Path(__file__).resolve().parents[3]
PEAK_DAY = date(2026, 11, 28)  # inside the shipped peak-week cap's window


def uncached(
    rule_set: RuleSet,
    order: Order,
    snapshot: NetworkSnapshot,
    day: date,
    shipments_today: dict[str, int] | None = None,
    purpose: str = SOURCING,
) -> Directives:
    """What evaluate answers with every fact sent to durable-rules and nothing remembered."""
    rules = compiled(rule_set)
    memo = rules.memo_enabled
    rules.memo_enabled = False
    try:
        matches = rules.match(order, day)
    finally:
        rules.memo_enabled = memo
    matches = {p: lines for p, lines in matches.items() if purpose in rules.purposes[p]}
    return build_directives(rule_set, matches, order, snapshot, shipments_today)


def variants(rng: random.Random, order: Order, count: int) -> list[Order]:
    """Orders with ``order``'s facts for rules that read no line ids or SKUs, and other inputs."""
    out = []
    for v in range(count):
        lines = tuple(
            replace(
                line,
                line_id=rng.choice([line.line_id, f"X{v}-{i}"]),
                sku=rng.choice([line.sku, *generate.SKUS]),
                attributes={
                    **line.attributes,
                    **({"vendor_node_id": rng.choice(generate.VENDORS)} if "vendor_node_id" in line.attributes else {}),
                },
            )
            for i, line in enumerate(order.lines)
        )
        pickup = order.delivery_method is DeliveryMethod.PICKUP
        out.append(
            replace(
                order,
                order_id=f"{order.order_id}-{v}",
                ship_to=GeoPoint(rng.uniform(25, 48), rng.uniform(-122, -70)),
                lines=lines,
                pickup_node_id=rng.choice(["ST-001", "ST-002", "DC-EAST"]) if pickup else "",
            )
        )
    return out


def shipped_rules() -> RuleSet:
    files = [(p.name, p.read_text()) for p in sorted((REPO / "rules").glob("*.yaml"))]
    return load_rule_set(files)


def test_shipped_rules_cached_and_uncached_agree(snapshot: NetworkSnapshot) -> None:
    rule_set = shipped_rules()
    rng = random.Random(20261207)
    rules = compiled(rule_set)
    assert rules.cache_enabled
    evaluations = hits_differing = 0
    seen: dict[object, Directives] = {}
    for n in range(150):
        base = generate.order(rng, n)
        for order in [base, *variants(rng, base, 5)]:
            day = rng.choice([generate.day(rng), PEAK_DAY])
            counts = {node_id: rng.choice([0, 39, 40, 41]) for node_id in snapshot.ids} if rng.random() < 0.5 else None
            for purpose in (SOURCING, RETURNS):
                got = evaluate(rule_set, order, snapshot, day, counts, purpose)
                want = uncached(rule_set, order, snapshot, day, counts, purpose)
                assert got == want, (order, day, purpose)
                evaluations += 1
                shape = rules.cache.shape(order, day, purpose)
                if shape in seen and seen[shape] != got:
                    hits_differing += 1  # same shape, different directives: the extra inputs count
                seen[shape] = got
    assert evaluations == 150 * 6 * 2
    assert hits_differing > 50  # the cache is exercised where remembering too little would be wrong
    assert len(seen) < evaluations * 0.75  # and shapes repeat


def test_a_capacity_cap_reads_todays_counts_every_time(snapshot: NetworkSnapshot) -> None:
    rule_set = shipped_rules()
    order = Order("CAP", GeoPoint(41.9, -87.6), (OrderLine("1", "HOM-00020", 1, 2.0),))
    stores = [n.id for n in snapshot.nodes if n.type.value == "STORE"]
    quiet = evaluate(rule_set, order, snapshot, PEAK_DAY, {})
    busy = evaluate(rule_set, order, snapshot, PEAK_DAY, {stores[0]: 40})
    assert quiet == uncached(rule_set, order, snapshot, PEAK_DAY, {})
    assert busy == uncached(rule_set, order, snapshot, PEAK_DAY, {stores[0]: 40})
    assert len(busy.exclusions) == len(quiet.exclusions) + 1


def test_a_new_snapshot_is_never_answered_from_an_old_one(snapshot: NetworkSnapshot) -> None:
    rule_set = shipped_rules()
    retagged = NetworkSnapshot(
        tuple(
            replace(node, tags=node.tags | {"remodel"}) if i % 3 == 0 else node for i, node in enumerate(snapshot.nodes)
        )
    )
    order = Order("SNAP", GeoPoint(41.9, -87.6), (OrderLine("1", "HOM-00020", 1, 2.0),))
    for current in (snapshot, retagged, snapshot, retagged):
        assert evaluate(rule_set, order, current, PEAK_DAY) == uncached(rule_set, order, current, PEAK_DAY)
    assert evaluate(rule_set, order, snapshot, PEAK_DAY) != evaluate(rule_set, order, retagged, PEAK_DAY)


def test_generated_rule_sets_cached_and_uncached_agree(snapshot: NetworkSnapshot) -> None:
    rng = random.Random(20261208)
    fired = 0
    for s in range(40):
        rule_set = load_rule_set([(f"cache{s}.yaml", generate.rule_file(rng, rng.randint(1, 25)))])
        for n in range(20):
            base = generate.order(rng, n)
            for order in [base, *variants(rng, base, 2)]:
                day = generate.day(rng)
                got = evaluate(rule_set, order, snapshot, day)
                assert got == uncached(rule_set, order, snapshot, day), (s, n)
                fired += len(got.fired_rules)
    assert fired > 40 * 60


def test_generated_rule_sets_about_time_cached_and_uncached_agree(snapshot: NetworkSnapshot) -> None:
    """ship_by, close and cutoff (distance selectors among them) remembered as honestly as the rest."""
    rng = random.Random(20261209)
    timed = 0
    for s in range(12):
        rule_set = load_rule_set([(f"time{s}.yaml", generate.rule_file(rng, rng.randint(1, 12), time_verbs=True))])
        for n in range(10):
            base = generate.order(rng, n)
            for order in [base, *variants(rng, base, 2)]:
                day = generate.day(rng)
                got = evaluate(rule_set, order, snapshot, day)
                assert got == uncached(rule_set, order, snapshot, day), (s, n)
                timed += len(got.shipping_rules) + len(got.closures) + len(got.cutoff_changes)
    assert timed > 100


def test_cache_off_evaluates_every_time(snapshot: NetworkSnapshot) -> None:
    """The switch the benchmarks use: off, the answer is the same and nothing is remembered."""
    rule_set = shipped_rules()
    rules = compiled(rule_set)
    order = Order(
        "OFF", GeoPoint(41.9, -87.6), (OrderLine("1", "HOM-00020", 1, 2.0),), attributes={"fraud_score": "7.7"}
    )
    shape = rules.cache.shape(order, PEAK_DAY, SOURCING)
    rules.cache_enabled = False
    try:
        off = evaluate(rule_set, order, snapshot, PEAK_DAY)
        assert not rules.cache.knows(shape)
    finally:
        rules.cache_enabled = True
    assert off == evaluate(rule_set, order, snapshot, PEAK_DAY)
    assert rules.cache.knows(shape)


def test_nodes_the_rules_do_not_know_change_nothing(snapshot: NetworkSnapshot) -> None:
    """A vendor reference naming a node the network lacks picks nothing, cached or not."""
    rule_set = shipped_rules()
    line = OrderLine("1", "HOM-00020", 1, 2.0, attributes={"vendor_node_id": "NOWHERE"})
    order = Order("REF", GeoPoint(41.9, -87.6), (line,))
    extra = NetworkSnapshot((*snapshot.nodes, replace(snapshot.nodes[0], id="NOWHERE")))
    required = []
    for current in (snapshot, extra, snapshot):
        got = evaluate(rule_set, order, current, PEAK_DAY)
        assert got == uncached(rule_set, order, current, PEAK_DAY)
        required.append([r.node_ids for r in got.requirements])
    assert required == [[frozenset()], [frozenset({"NOWHERE"})], [frozenset()]]
