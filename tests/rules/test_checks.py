"""Network-aware validation: unknown ids, contradictions, rules that can no longer fire, shadowing."""

from __future__ import annotations

from datetime import date

from engine.network import NetworkSnapshot
from engine.rules.checks import check_rule_set
from engine.rules.model import RuleSet
from tests.rules.conftest import rules_from


def test_shipped_rules_are_clean(snapshot: NetworkSnapshot, default_rules: RuleSet) -> None:
    assert [str(f) for f in check_rule_set(default_rules, snapshot, date(2026, 11, 24))] == []


def test_findings(snapshot: NetworkSnapshot) -> None:
    text = """rules:
  - {id: no-dcs, then: {exclude: {node: {type: DC}}}}
  - {id: needs-dc, when: {order: {channel: B2B}}, then: {require: {node: {type: DC}}}}
  - {id: ghost, then: {exclude: {node: {id: ST-999, tag: purple}}}}
  - {id: over, active: {to: 2026-01-31}, then: {hold: x}}
  - {id: same-a, when: {order: {channel: X}}, then: {hold: y}}
  - {id: same-b, when: {order: {channel: X}}, then: {hold: y}}
  - {id: never-value, when: {order: {value: {gt: 500, lt: 100}}}, then: {hold: y}}
  - {id: never-channel, when: {order: {channel: {eq: WEB, in: [APP, STORE]}}}, then: {hold: y}}
  - id: just-possible
    when: {order: {value: {gt: 100, lt: 100.5}, channel: {ne: WEB, not_in: [APP]}}}
    then: {hold: z}
  - {id: never-attribute, when: {order: {attributes: {risk: {exists: false, eq: high}}}}, then: {hold: y}}
"""
    found = {(f.severity, f.rule_id, f.field) for f in check_rule_set(rules_from(text), snapshot, date(2026, 11, 24))}
    assert ("error", "needs-dc", "then.require[0]") in found
    assert ("error", "ghost", "then.exclude[0].node.id") in found
    assert ("warning", "ghost", "then.exclude[0].node.tag") in found
    assert ("warning", "over", "active.to") in found
    assert ("warning", "same-b", "when") in found
    assert not any(rule in ("same-a", "just-possible") for _, rule, _ in found)
    for rule in ("never-value", "never-channel", "never-attribute"):
        assert ("error", rule, "when") in found
