"""Rules about time (ship_by, close, cutoff): loaded, shown back, checked against the network, and
refused at the exact file, line and field when wrong."""

from __future__ import annotations

from datetime import date

import pytest

from engine.model import GeoPoint, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rules.checks import check_rule_set
from engine.rules.evaluator import evaluate
from engine.rules.loader import load_rule_set
from engine.rules.model import CloseSpec, CutoffSpec, ShipBySpec
from engine.rules.problems import RuleError, RuleSetError
from engine.rules.written import rule_view, then_view

GOOD = """rules:
  - id: gold-two-day
    when: {customer: {tier: GOLD}}
    then: {ship_by: {carrier_service: [two_day, NEXT_DAY]}}
  - id: marketplace-fast
    when: {order: {channel: MARKETPLACE}}
    then: {ship_by: {max_transit_days: 2}}
  - id: st-001-remodel
    then:
      close: {node: {id: ST-001}, from: 2026-12-07, to: 2026-12-13, reason: remodel}
  - id: peak-cutoffs
    then:
      cutoff:
        - {node: {type: DC}, carrier_service: GROUND, from: 2026-12-14, to: 2026-12-18, time: "12:00"}
        - {node: {type: STORE}, from: 2026-12-19, to: 2026-12-19, time: "20:30"}
"""


def _errors(text: str) -> list[RuleError]:
    with pytest.raises(RuleSetError) as caught:
        load_rule_set([("time.yaml", text)])
    return list(caught.value.errors)


def test_the_three_kinds_load_and_read_back_the_same() -> None:
    rules = load_rule_set([("time.yaml", GOOD)])
    gold, fast, remodel, peak = rules.rules
    assert gold.then.ship_by == ShipBySpec(("TWO_DAY", "NEXT_DAY"), None)
    assert fast.then.ship_by == ShipBySpec((), 2)
    (close,) = remodel.then.closes
    assert isinstance(close, CloseSpec) and (close.first, close.last, close.reason) == (
        date(2026, 12, 7), date(2026, 12, 13), "remodel",
    )  # fmt: skip
    dc, store = peak.then.cutoffs
    assert isinstance(dc, CutoffSpec) and (dc.time, dc.carrier_services) == (720, ("GROUND",))
    assert (store.time, store.carrier_services, store.first, store.last) == (
        1230,
        (),
        date(2026, 12, 19),
        date(2026, 12, 19),
    )
    assert then_view(peak.then)["cutoff"][0]["time"] == "12:00"
    assert rule_view(remodel)["then"]["close"]["from"] == date(2026, 12, 7)
    assert [r.then.verbs() for r in rules.rules] == [["ship_by"], ["ship_by"], ["close"], ["cutoff"]]


def test_mistakes_are_refused_at_their_line_and_field() -> None:
    text = """rules:
  - id: bad-ship
    then: {ship_by: {max_transit_days: -1, carrier_service: "GR OUND"}}
  - id: empty-ship
    then: {ship_by: {}}
  - id: bad-close
    then:
      close: {node: {type: STORE}, from: 2026-12-13, to: 2026-12-07}
  - id: no-dates
    then: {close: {node: {id: ST-001}}}
  - id: line-ref
    when: {line: {hazmat: true}}
    then: {close: {node: {id: $line.attributes.vendor}, from: 2026-12-01, to: 2026-12-02}}
  - id: bad-cutoff
    then:
      cutoff:
        - {node: {type: DC}, from: 2026-12-14, to: 2026-12-18, time: "24:00"}
        - {node: {type: DC}, from: 2026-12-14, to: 2026-12-18, time: 12:00}
        - {node: {type: DC}, from: 2026-12-14, to: 2026-12-18}
"""
    found = {(e.line, e.rule_id, e.field): e.message for e in _errors(text)}
    assert "between 0 and 60" in found[(3, "bad-ship", "rules[0].then.ship_by.max_transit_days")]
    assert "is not a carrier service id" in found[(3, "bad-ship", "rules[0].then.ship_by.carrier_service")]
    assert found[(5, "empty-ship", "rules[1].then.ship_by")] == "needs carrier_service, max_transit_days or both"
    assert found[(8, "bad-close", "rules[2].then.close.to")] == "is before from (2026-12-13): the range is empty"
    assert found[(10, "no-dates", "rules[3].then.close.from")] == "is required (a date YYYY-MM-DD)"
    assert found[(10, "no-dates", "rules[3].then.close.to")] == "is required (a date YYYY-MM-DD)"
    assert "no $line reference" in found[(13, "line-ref", "rules[4].then.close.node.id")]
    assert found[(17, "bad-cutoff", "rules[5].then.cutoff[0].time")] == "must be a time of day 00:00-23:59, not '24:00'"
    assert "in quotes" in found[(18, "bad-cutoff", "rules[5].then.cutoff[1].time")]
    assert found[(19, "bad-cutoff", "rules[5].then.cutoff[2].time")] == "is required (a time of day HH:MM)"


def test_services_and_nodes_the_network_lacks_are_errors(snapshot: NetworkSnapshot) -> None:
    text = """rules:
  - {id: cargo, then: {ship_by: {carrier_service: [GROUND, CARGO_SHIP]}}}
  - {id: nowhere, then: {close: {node: {id: ST-999}, from: 2026-12-01, to: 2026-12-02}}}
  - {id: slow-boat, then: {cutoff: {node: {}, carrier_service: BOAT, from: 2026-12-01, to: 2026-12-02, time: "10:00"}}}
"""
    findings = {(f.line, f.field): f for f in check_rule_set(load_rule_set([("net.yaml", text)]), snapshot)}
    cargo = findings[(2, "then.ship_by.carrier_service")]
    assert cargo.severity == "error" and cargo.message.startswith("unknown carrier service 'CARGO_SHIP'; known: ")
    assert findings[(3, "then.close[0].node.id")].message == "unknown node 'ST-999'"
    assert findings[(4, "then.cutoff[0].carrier_service")].severity == "error"


def test_evaluated_directives_carry_the_days_and_nodes(snapshot: NetworkSnapshot) -> None:
    rules = load_rule_set([("time.yaml", GOOD)])
    order = Order(
        "O", GeoPoint(40.7, -74.0), (OrderLine("L", "ACC-00001", 1, 1.0),), channel="MARKETPLACE",
        attributes={"customer_tier": "GOLD"},
    )  # fmt: skip
    directives = evaluate(rules, order, snapshot, date(2026, 12, 1))
    assert {r.rule_id for r in directives.shipping_rules} == {"gold-two-day", "marketplace-fast"}
    (closure,) = directives.closures
    assert closure.node_ids == {"ST-001"} and closure.first_day == date(2026, 12, 7).toordinal()
    dcs = {n.id for n in snapshot.nodes if n.type.value == "DC"}
    assert directives.cutoff_changes[0].node_ids == dcs and directives.cutoff_changes[0].minutes == 720
