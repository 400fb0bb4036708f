"""Rules in the planner's words: the view `rules show` prints loads back as the same rules, and
`rules diff` names each changed field."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.rules.model import Rule
from engine.rules.written import describe_when, flow, rule_changes, rule_view
from server.cli.rules import show_rules
from tests.engine.rules.conftest import REPO, rules_from

EVERY_PART = """format: oms-sourcing/rules@1
currency: EUR
rates: {USD: 0.92}
rules:
  - id: many-parts
    why: "A why: with a colon, and #hash"
    priority: -5
    applies_to: [sourcing, returns]
    active: {from: 2026-11-27}
    scope: {ship_to: {region: [US-CA, US-OR]}}
    when:
      order: {channel: {ne: WEB, not_in: [APP]}, value: {gte: 100, lt: 250.5}, attributes: {flag: "ON"}}
      customer: {tier: GOLD, score: {gt: 7}}
      line: {hazmat: false, attributes: {vendor: {exists: true}}}
      date: {weekday: [SAT, SUN]}
    then:
      exclude:
        - {node: {type: [STORE, 3PL], not: {tag: certified}}, reason: "yes"}
        - {node: {distance: {min_miles: 600}}}
      require: {node: {id: $line.attributes.vendor}}
      prefer: {node: {tag: clearance}, per_unit: 0.5}
      penalize: {node: {region: [US-WEST]}, per_shipment: 2}
  - id: sourcing-only
    when: {date: {from: 2026-12-01, to: 2026-12-24}}
    then:
      protect: {node: {type: STORE}, units: 3, skus: [A-1, "007"]}
      limit: {max_shipments: 2, all_or_nothing: true}
      objective: {mode: FEWEST_SHIPMENTS, split_penalty: 4.25, backorder_penalty: 0}
      hold: look at it
  - id: capped
    then: {limit: {node: {type: STORE}, max_shipments_per_day: 40}}
"""


TIME_RULES = """rules:
  - id: gold-two-day
    when: {customer: {tier: GOLD}}
    then: {ship_by: {carrier_service: [TWO_DAY, NEXT_DAY], max_transit_days: 2}}
  - id: remodel
    then:
      close:
        - {node: {id: ST-001}, from: 2026-12-07, to: 2026-12-13, reason: remodel}
        - {node: {tag: x}, from: 2026-12-01, to: 2026-12-01}
  - id: peak
    then: {cutoff: {node: {type: DC}, carrier_service: GROUND, from: 2026-12-14, to: 2026-12-18, time: "09:05"}}
"""


def _same(a: Rule, b: Rule) -> bool:
    """Equal in everything a planner wrote (not where: file, line, position)."""
    plain = {"file": "", "line": 0, "position": 0}
    return replace(a, conditions=(), **plain) == replace(b, conditions=(), **plain) and set(a.conditions) == set(
        b.conditions
    )


@pytest.mark.parametrize("text", [EVERY_PART, TIME_RULES, (REPO / "rules" / "default.yaml").read_text()])
def test_what_show_prints_loads_back_as_the_same_rules(text: str) -> None:
    original = rules_from(text)
    again = rules_from(show_rules(original), name="shown.yaml")
    assert len(again.rules) == len(original.rules)
    for a, b in zip(original.rules, again.rules, strict=True):
        assert _same(a, b), (rule_view(a), rule_view(b))
    assert (again.currency, dict(again.rates)) == (original.currency, dict(original.rates))


def test_the_view_uses_the_files_keys_and_values() -> None:
    rules = {r.id: r for r in rules_from(EVERY_PART).rules}
    view = rule_view(rules["many-parts"])
    assert view["when"]["ship_to"] == {"region": ["US-CA", "US-OR"]}  # scope: the same conditions, under when
    assert view["when"]["order"]["value"] == {"gte": 100, "lt": 250.5}
    assert view["then"]["prefer"] == {"node": {"tag": "clearance"}, "per_unit": 0.5}  # positive, as written
    assert str(view["active"]["from"]) == "2026-11-27"
    assert rule_view(rules["sourcing-only"])["then"]["hold"] == {"reason": "look at it"}
    assert flow("ON") == '"ON"' and flow("007") == '"007"' and flow("GOLD") == "GOLD"  # YAML would misread these
    assert describe_when(rules["capped"]) == "every order"
    assert "order.channel {ne: WEB, not_in: [APP]}" in describe_when(rules["many-parts"])


def _one(text: str) -> Rule:
    return rules_from(f"rules:\n  - {text}\n").rules[0]


@pytest.mark.parametrize(
    ("before", "after", "lines"),
    [
        (
            "{id: s, then: {protect: {node: {type: STORE}, units: 2}}}",
            "{id: s, then: {protect: {node: {type: STORE}, units: 3}}}",
            ["then.protect.units: 2 -> 3"],
        ),
        (
            "{id: c, when: {order: {channel: MARKETPLACE}}, then: {hold: x}}",
            "{id: c, when: {order: {channel: [MARKETPLACE, WEB]}}, then: {hold: x}}",
            ["when.order.channel: added WEB"],
        ),
        (
            "{id: t, then: {exclude: {node: {type: [DC, STORE]}}}}",
            "{id: t, then: {exclude: {node: {type: [STORE, 3PL]}}}}",
            ["then.exclude.node.type: added 3PL, removed DC"],
        ),
        (
            "{id: w, when: {order: {value: {gte: 10}}}, then: {hold: x}}",
            "{id: w, when: {customer: {tier: GOLD}}, priority: 7, then: {hold: x, limit: {max_shipments: 1}}}",
            [
                "priority: 100 -> 7",
                "when.order: removed {value: {gte: 10}}",
                "when.customer: added {tier: GOLD}",
                "then.limit: added {max_shipments: 1}",
            ],
        ),
        (
            "{id: e, then: {exclude: [{node: {type: DC}}, {node: {tag: a}}]}}",
            "{id: e, then: {exclude: [{node: {type: DC}}, {node: {tag: b}, reason: r}, {node: {id: X}}]}}",
            [
                "then.exclude[1].node.tag: a -> b",
                "then.exclude[1].reason: added r",
                "then.exclude[2]: added {node: {id: X}}",
            ],
        ),
    ],
)
def test_changes_name_the_field_and_the_values(before: str, after: str, lines: list[str]) -> None:
    assert rule_changes(_one(before), _one(after)) == lines
