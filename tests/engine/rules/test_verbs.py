"""Every directive verb changes the decision as documented (engine: rules -> directives -> decide)."""

from __future__ import annotations

from datetime import date

from engine.decision import Decision
from engine.model import GeoPoint, ObjectiveMode, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.rules.evaluator import evaluate
from engine.sourcing import decide
from server.network_file import NetworkFile
from tests.engine.rules.conftest import rules_from, sample_availability

DAY = date(2026, 11, 24)
NYC = GeoPoint(40.73, -73.99)


def _order(*lines: tuple[str, int], **kw: object) -> Order:
    return Order("O1", NYC, tuple(OrderLine(f"L{i}", sku, qty, 1.0) for i, (sku, qty) in enumerate(lines)), **kw)  # type: ignore[arg-type]


def _decide(sample: NetworkFile, snapshot: NetworkSnapshot, order: Order, text: str, **kw: object) -> Decision:
    rules = rules_from(f"rules:\n{text}")
    directives = evaluate(rules, order, snapshot, DAY, **kw)  # type: ignore[arg-type]
    skus = sorted({line.sku for line in order.lines})
    decision = decide(order, snapshot, sample_availability(sample, snapshot, skus), directives)
    assert decision.rule_set_version == rules.version
    return decision


def _used(decision: Decision) -> set[str]:
    return {a.node_id for a in decision.allocations}


NOTHING = "- {id: nothing, when: {order: {channel: NEVER}}, then: {hold: {reason: x}}}"


def test_exclude_removes_the_chosen_node(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00002", 3))
    base = _decide(sample, snapshot, order, NOTHING)
    (chosen,) = _used(base)
    after = _decide(sample, snapshot, order, f"- {{id: no-{chosen}, then: {{exclude: {{node: {{id: {chosen}}}}}}}}}")
    assert chosen not in _used(after) and after.fired_rules == (f"no-{chosen}",)
    assert base.fired_rules == ()


def test_exclude_by_type_for_one_line(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00002", 1), ("ACC-00002", 1))
    text = "- {id: l0-no-stores, when: {line: {id: L0}}, then: {exclude: {node: {type: STORE}}}}"
    after = _decide(sample, snapshot, order, text)
    by_line = {a.line_id: snapshot.node(a.node_id).type.value for a in after.allocations}
    assert by_line["L0"] != "STORE"


def test_require_restricts_to_the_selected_nodes(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00002", 2))
    after = _decide(sample, snapshot, order, "- {id: only-dc-03, then: {require: {node: {id: DC-03}}}}")
    assert _used(after) == {"DC-03"}


def test_penalize_moves_and_prefer_attracts(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00002", 2))
    (chosen,) = _used(_decide(sample, snapshot, order, NOTHING))
    text = f"- {{id: p, then: {{penalize: {{node: {{id: {chosen}}}, per_unit: 50}}}}}}"
    moved = _decide(sample, snapshot, order, text)
    assert chosen not in _used(moved)
    attracted = _decide(sample, snapshot, order, "- {id: p, then: {prefer: {node: {id: DC-04}, per_shipment: 500}}}")
    assert _used(attracted) == {"DC-04"}


def test_protect_holds_back_units(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00002", 2))
    (chosen,) = _used(_decide(sample, snapshot, order, NOTHING))
    text = f"- {{id: keep, then: {{protect: {{node: {{id: {chosen}}}, units: 100000}}}}}}"
    after = _decide(sample, snapshot, order, text)
    assert chosen not in _used(after)


def test_limit_ship_complete_and_capacity_cap(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00001", 100), ("BTY-00003", 1), ("FUR-00001", 2))
    base = _decide(sample, snapshot, order, NOTHING)
    assert base.shipments > 1
    one = _decide(sample, snapshot, order, "- {id: one-box, then: {limit: {max_shipments: 1}}}")
    assert one.shipments == 1
    cap = "- {id: cap, then: {limit: {node: {id: DC-01}, max_shipments_per_day: 40}}}"
    capped = _decide(sample, snapshot, order, cap, shipments_today={"DC-01": 40})
    assert "DC-01" in _used(base) and "DC-01" not in _used(capped)
    under = _decide(sample, snapshot, order, cap, shipments_today={"DC-01": 39})
    assert "DC-01" in _used(under)


def test_objective_fewest_shipments(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00002", 45), ("ACC-00001", 1))
    base = _decide(sample, snapshot, order, NOTHING)
    text = "- {id: few, then: {objective: {mode: FEWEST_SHIPMENTS, split_penalty: 0}}}"
    fewest = _decide(sample, snapshot, order, text)
    assert fewest.shipments <= base.shipments
    rules = rules_from(f"rules:\n{text}")
    assert evaluate(rules, order, snapshot, DAY).objective is ObjectiveMode.FEWEST_SHIPMENTS


def test_hold_is_reported(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00002", 1), attributes={"fraud_score": "91"})
    text = "- {id: fraud, when: {order: {attributes: {fraud_score: {gte: 80}}}}, then: {hold: {reason: review}}}"
    held = _decide(sample, snapshot, order, text)
    assert [(h.rule_id, h.reason) for h in held.holds] == [("fraud", "review")]
    assert held.fired_rules == ("fraud",)


def test_active_window_and_priority(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    order = _order(("ACC-00002", 1))
    text = (
        "- {id: later, active: {from: 2026-12-01}, then: {objective: {mode: FEWEST_SHIPMENTS}}}\n"
        "- {id: low, priority: 1, then: {objective: {split_penalty: 1}}}\n"
        "- {id: high, priority: 9, then: {objective: {split_penalty: 7}}}\n"
    )
    directives = evaluate(rules_from(f"rules:\n{text}"), order, snapshot, DAY)
    assert directives.fired_rules == ("high", "low")
    assert directives.split_penalty == 7 and directives.objective is None


def test_an_order_priority_is_a_fact_rules_compare(sample: NetworkFile, snapshot: NetworkSnapshot) -> None:
    text = "- {id: vip, when: {order: {priority: {gte: 500}}}, then: {limit: {max_shipments: 1}}}"
    urgent = _decide(sample, snapshot, _order(("ACC-00002", 1), priority=600), text)
    routine = _decide(sample, snapshot, _order(("ACC-00002", 1)), text)
    assert urgent.fired_rules == ("vip",) and routine.fired_rules == ()
