"""Network-aware validation: unknown ids, contradictions, rules that can no longer fire, shadowing."""

from __future__ import annotations

from datetime import date

import pytest

from engine.network import NetworkSnapshot
from engine.rules.checks import check_rule_set
from engine.rules.model import RuleSet
from tests.engine.rules.conftest import rules_from


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


def _found(snapshot: NetworkSnapshot, text: str) -> dict[tuple[str, str], str]:
    """(rule id, field) -> "severity: message" of every finding."""
    findings = check_rule_set(rules_from("rules:\n" + text), snapshot, date(2026, 11, 24))
    return {(f.rule_id, f.field): f"{f.severity}: {f.message}" for f in findings}


def test_a_requirement_and_an_exclusion_that_leave_a_channel_no_node_are_an_error(snapshot: NetworkSnapshot) -> None:
    found = _found(
        snapshot,
        """  - {id: marketplace-from-dcs, when: {order: {channel: MARKETPLACE}}, then: {require: {node: {type: DC}}}}
  - id: no-dcs-for-marketplace
    when: {order: {channel: [MARKETPLACE, B2B]}}
    then: {exclude: {node: {type: DC}, reason: the DCs are full}}
""",
    )
    assert found == {
        ("marketplace-from-dcs", "then.require[0]"): "error: no node can serve the orders it fires on (order.channel "
        "MARKETPLACE): it requires {type: DC}, and on every one of them rule no-dcs-for-marketplace excludes "
        f"{{type: DC}}; none of the network's {len(snapshot)} nodes is left"
    }


def test_one_rule_that_requires_and_excludes_the_same_nodes_is_an_error(snapshot: NetworkSnapshot) -> None:
    found = _found(
        snapshot,
        "  - {id: stores, when: {customer: {tier: SILVER}}, then: {require: {node: {type: STORE}}, "
        "exclude: {node: {type: STORE}}}}\n"
        "  - {id: two-kinds, when: {ship_to: {region: US-CA}}, then: {require: [{node: {type: DC}}, "
        "{node: {type: STORE}}]}}\n",
    )
    assert found[("stores", "then.require[0]")].startswith(
        "error: requires {type: STORE} and excludes {type: STORE}: none of the network's"
    )
    assert "(customer.tier SILVER)" in found[("stores", "then.require[0]")]
    assert found[("two-kinds", "then.require[0]")].startswith("error: requires {type: DC} and requires {type: STORE}")
    assert len(found) == 2


def test_orders_meeting_two_rules_with_no_node_left_are_a_warning(snapshot: NetworkSnapshot) -> None:
    found = _found(
        snapshot,
        """  - {id: web-from-dcs, when: {order: {channel: WEB}}, then: {exclude: {node: {not: {type: DC}}}}}
  - {id: gold-not-from-dcs, when: {customer: {tier: GOLD}}, then: {exclude: {node: {type: DC}}}}
  - {id: app-not-from-dcs, when: {order: {channel: APP}}, then: {exclude: {node: {type: DC}}}}
""",
    )
    # Gold customers' web orders: no node. App orders are never web orders: nothing to say about them.
    assert list(found) == [("gold-not-from-dcs", "then.exclude[0]")]
    message = found[("gold-not-from-dcs", "then.exclude[0]")]
    assert message.startswith("warning: no node can serve orders that meet both its conditions (customer.tier GOLD)")
    assert "rule web-from-dcs excludes all but {type: DC}" in message


@pytest.mark.parametrize(
    "text",
    [
        # stopping orders on purpose
        "  - {id: pause-app, when: {order: {channel: APP}}, then: {exclude: {node: {}, reason: paused}}}\n"
        "  - {id: app-dcs, when: {order: {channel: APP}}, then: {require: {node: {type: DC}}}}\n",
        "  - {id: hold-app, when: {order: {channel: APP}}, then: {hold: review}}\n",
        # requirements and exclusions on different lines of an order never meet
        "  - {id: a-from-dcs, when: {line: {sku: A}}, then: {require: {node: {type: DC}}}}\n"
        "  - {id: b-not-dcs, when: {line: {sku: B}}, then: {exclude: {node: {type: DC}}}}\n",
        # where returns are received and where orders ship from are different decisions
        "  - {id: returns-to-dcs, applies_to: returns, when: {order: {channel: WEB}}, "
        "then: {require: {node: {type: DC}}}}\n"
        "  - {id: web-no-dcs, when: {order: {channel: WEB}}, then: {exclude: {node: {type: DC}}}}\n",
        # a selector that depends on the order is not judged
        "  - {id: pickup, when: {order: {delivery_method: PICKUP}}, "
        "then: {require: {node: {id: $order.pickup_node_id}}}}\n"
        "  - {id: no-stores, when: {order: {delivery_method: PICKUP}}, then: {exclude: {node: {type: STORE}}}}\n",
        # an order value of at least 100 is not one of at most 50
        "  - {id: big-dcs, when: {order: {value: {gte: 100}}}, then: {require: {node: {type: DC}}}}\n"
        "  - {id: small-stores, when: {order: {value: {lte: 50}}}, then: {exclude: {node: {type: DC}}}}\n",
    ],
)
def test_sets_that_leave_every_order_a_node_have_no_such_finding(snapshot: NetworkSnapshot, text: str) -> None:
    assert _found(snapshot, text) == {}


def test_exclusions_alone_that_leave_no_node_are_a_warning(snapshot: NetworkSnapshot) -> None:
    found = _found(
        snapshot,
        "  - {id: nothing, when: {order: {channel: APP}}, "
        "then: {exclude: {node: {type: [DC, STORE, 3PL, DROP_SHIP]}}}}\n",
    )
    assert list(found) == [("nothing", "then.exclude[0]")]
    assert found[("nothing", "then.exclude[0]")].endswith(
        "to stop them on purpose, exclude {node: {}} (every node) or hold them"
    )


def test_settings_that_a_rule_always_firing_with_it_overrides_are_warnings(snapshot: NetworkSnapshot) -> None:
    found = _found(
        snapshot,
        """  - {id: cheapest, priority: 300, then: {objective: {mode: COST, split_penalty: 2}}}
  - id: gold-fewest-boxes
    priority: 200
    when: {customer: {tier: GOLD}}
    then: {objective: {mode: FEWEST_SHIPMENTS, backorder_penalty: 9}, limit: {max_shipments: 2}}
  - {id: one-box-for-gold-web, priority: 900, when: {customer: {tier: GOLD}, order: {channel: WEB}},
     then: {objective: {split_penalty: 8}, limit: {max_shipments: 1}}}
  - {id: web-two-boxes, when: {order: {channel: WEB}}, then: {limit: {max_shipments: 3}}}
  - {id: any-one-box, then: {limit: {max_shipments: 1}}}
""",
    )
    assert found == {
        ("gold-fewest-boxes", "then.objective.mode"): "warning: never takes effect: rule cheapest (priority 300) "
        "fires on every order this rule fires on and its mode COST wins",
        ("gold-fewest-boxes", "then.limit.max_shipments"): "warning: never binds: rule any-one-box fires on every "
        "order this rule fires on and allows at most 1 shipment(s)",
        ("web-two-boxes", "then.limit.max_shipments"): "warning: never binds: rule any-one-box fires on every "
        "order this rule fires on and allows at most 1 shipment(s)",
    }
    # gold-fewest-boxes' backorder_penalty is its own; one-box-for-gold-web outranks cheapest, and its limit of 1
    # ties any-one-box's with the higher priority: both take effect


def test_a_set_too_large_to_compare_every_pair_is_checked_in_bounded_time(snapshot: NetworkSnapshot) -> None:
    ids = list(snapshot.index)[1:]  # the first node is never excluded: every order keeps a node
    rule = "  - {{id: r{i}, when: {{order: {{value: {{gte: {v}}}}}}}, then: {{exclude: {{node: {{id: {node}}}}}}}}}\n"
    # 500 thresholds, two rules each: durable-rules holds at most 500 tests after one (capacity.py)
    text = "rules:\n" + "".join(rule.format(i=i, v=i % 500, node=ids[i % len(ids)]) for i in range(1000))
    findings = check_rule_set(rules_from(text), snapshot, date(2026, 11, 24))
    assert [f.field for f in findings] == ["rules"]
    assert findings[0].severity == "warning" and "stopped checking" in findings[0].message
