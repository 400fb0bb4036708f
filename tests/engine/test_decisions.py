"""Behaviour of decisions: determinism, fast paths, directives, objective modes, explanations."""

from __future__ import annotations

import pytest

from engine.availability import Availability
from engine.decision import DecisionPath, NodeVerdict, SolveStatus
from engine.directives import Directives, Exclusion, Penalty, Protection, Requirement
from engine.errors import InvalidInputError
from engine.model import DeliveryMethod, GeoPoint, InventoryPosition, Node, NodeType, ObjectiveMode, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.sourcing import decide
from tests.engine.instances import load_instances

HOME = GeoPoint(40.0, -95.0)


def network(*nodes: Node) -> NetworkSnapshot:
    return NetworkSnapshot(nodes)


def node(node_id: str, lat: float, lon: float = -95.0, **kw: object) -> Node:
    defaults: dict[str, object] = {"pick_pack_cost": 1.5, "unit_handling_cost": 0.3}
    defaults.update(kw)
    return Node(node_id, NodeType.DC, GeoPoint(lat, lon), **defaults)  # type: ignore[arg-type]


def stock(snapshot: NetworkSnapshot, skus: list[str], rows: dict[tuple[str, str], int]) -> Availability:
    positions = [InventoryPosition(n, s, on_hand=q) for (n, s), q in rows.items()]
    return Availability.from_positions(snapshot, skus, positions)


def order(*lines: tuple[str, int], **kw: object) -> Order:
    return Order("O1", HOME, tuple(OrderLine(f"L{i}", s, q, 1.0) for i, (s, q) in enumerate(lines)), **kw)  # type: ignore[arg-type]


def test_the_same_order_gives_the_same_decision_100_times() -> None:
    instance = next(i for i in load_instances() if i.name.startswith("many-lines") and "-12n-" in i.name)
    first = decide(instance.order, instance.snapshot, instance.availability)
    for _ in range(100):
        assert decide(instance.order, instance.snapshot, instance.availability) == first


def test_a_split_that_is_cheaper_than_any_single_node_is_found() -> None:
    # Two near nodes hold half each; one far node holds everything.
    snapshot = network(node("NEAR1", 40.1), node("NEAR2", 39.9), node("FAR", 20.0))
    availability = stock(snapshot, ["A", "B"], {("NEAR1", "A"): 5, ("NEAR2", "B"): 5, ("FAR", "A"): 5, ("FAR", "B"): 5})
    heavy = Order("O", HOME, (OrderLine("L0", "A", 3, 30.0), OrderLine("L1", "B", 3, 30.0)))
    decision = decide(heavy, snapshot, availability)
    assert {a.node_id for a in decision.allocations} == {"NEAR1", "NEAR2"}
    assert decision.status is SolveStatus.OPTIMAL


def test_one_node_with_everything_nearby_is_settled_by_the_bound() -> None:
    snapshot = network(node("NEAR", 40.1), node("FAR", 30.0))
    availability = stock(snapshot, ["A"], {("NEAR", "A"): 5, ("FAR", "A"): 5})
    decision = decide(order(("A", 2)), snapshot, availability)
    assert decision.path is DecisionPath.SINGLE_NODE_BOUND
    assert [a.node_id for a in decision.allocations] == ["NEAR"]


def test_exclusion_requirement_protection_and_penalty_shape_the_decision() -> None:
    snapshot = network(node("N1", 40.1), node("N2", 40.2), node("N3", 40.3))
    rows = {("N1", "A"): 5, ("N2", "A"): 5, ("N3", "A"): 5}
    availability = stock(snapshot, ["A"], rows)
    base = decide(order(("A", 1)), snapshot, availability)
    assert base.allocations[0].node_id == "N1"
    excluded = decide(
        order(("A", 1)), snapshot, availability, Directives(exclusions=(Exclusion("no-n1", frozenset({"N1"})),))
    )
    assert excluded.allocations[0].node_id == "N2"
    assert any(
        n.node_id == "N1" and n.verdict is NodeVerdict.EXCLUDED and n.rule_ids == ("no-n1",)
        for n in excluded.node_notes
    )
    required = decide(
        order(("A", 1)), snapshot, availability, Directives(requirements=(Requirement("only-n3", frozenset({"N3"})),))
    )
    assert required.allocations[0].node_id == "N3"
    protected = decide(
        order(("A", 1)), snapshot, availability, Directives(protections=(Protection("keep-5", frozenset({"N1"}), 5),))
    )
    assert protected.allocations[0].node_id == "N2"
    penalized = decide(
        order(("A", 1)),
        snapshot,
        availability,
        Directives(penalties=(Penalty("avoid", frozenset({"N1", "N2"}), per_shipment=50.0),)),
    )
    assert penalized.allocations[0].node_id == "N3"
    assert penalized.cost.shipments[0].rule_penalty == 0.0


def test_ship_complete_and_all_or_nothing() -> None:
    snapshot = network(node("N1", 40.1), node("N2", 40.2))
    availability = stock(snapshot, ["A", "B"], {("N1", "A"): 5, ("N2", "B"): 5})
    one_box = decide(order(("A", 1), ("B", 1), max_shipments=1), snapshot, availability)
    assert one_box.shipments == 1 and sum(u.qty for u in one_box.unfilled) == 1
    nothing = decide(order(("A", 1), ("B", 1), max_shipments=1, all_or_nothing=True), snapshot, availability)
    assert nothing.allocations == () and nothing.cost.backordered_units == 2
    assert all("all-or-nothing" in u.reason for u in nothing.unfilled)


def test_capacity_limits_units_per_node() -> None:
    snapshot = network(node("N1", 40.1, max_units=1), node("N2", 40.2))
    availability = stock(snapshot, ["A"], {("N1", "A"): 5, ("N2", "A"): 5})
    decision = decide(order(("A", 3)), snapshot, availability)
    taken = {a.node_id: a.qty for a in decision.allocations}
    assert taken.get("N1", 0) <= 1 and sum(taken.values()) == 3


def test_pickup_takes_everything_from_the_pickup_node() -> None:
    snapshot = network(node("DC", 40.0), node("STORE", 41.0, can_pickup=True))
    availability = stock(snapshot, ["A"], {("DC", "A"): 9, ("STORE", "A"): 1})
    decision = decide(
        order(("A", 2), delivery_method=DeliveryMethod.PICKUP, pickup_node_id="STORE"), snapshot, availability
    )
    assert [(a.node_id, a.qty) for a in decision.allocations] == [("STORE", 1)]
    assert decision.cost.shipments[0].zone == 0 and decision.cost.backordered_units == 1


def test_fewest_shipments_prefers_one_box_over_cheaper_splits() -> None:
    snapshot = network(node("NEAR1", 40.1), node("NEAR2", 39.9), node("FAR", 20.0))
    availability = stock(snapshot, ["A", "B"], {("NEAR1", "A"): 5, ("NEAR2", "B"): 5, ("FAR", "A"): 5, ("FAR", "B"): 5})
    heavy = Order(
        "O",
        HOME,
        (OrderLine("L0", "A", 3, 30.0), OrderLine("L1", "B", 3, 30.0)),
        objective=ObjectiveMode.FEWEST_SHIPMENTS,
    )
    decision = decide(heavy, snapshot, availability)
    assert {a.node_id for a in decision.allocations} == {"FAR"}


def test_why_not_reports_the_extra_cost_of_forcing_a_node() -> None:
    snapshot = network(node("N1", 40.1), node("N2", 42.0))
    availability = stock(snapshot, ["A"], {("N1", "A"): 5, ("N2", "A"): 5})
    decision = decide(order(("A", 1)), snapshot, availability, why_not=["N2"])
    note = next(n for n in decision.node_notes if n.node_id == "N2")
    assert note.verdict is NodeVerdict.COSTLIER and note.extra_cost is not None and note.extra_cost > 0


def test_unknown_why_not_node_is_invalid_input() -> None:
    snapshot = network(node("N1", 40.1))
    with pytest.raises(InvalidInputError) as error:
        decide(order(("A", 1)), snapshot, stock(snapshot, ["A"], {}), why_not=["nope"])
    assert error.value.violations[0].field == "why_not[0]"


def test_nothing_available_backorders_with_a_reason() -> None:
    snapshot = network(node("N1", 40.1))
    decision = decide(order(("A", 2)), snapshot, stock(snapshot, ["A"], {}))
    assert decision.path is DecisionPath.NOTHING_AVAILABLE
    assert decision.unfilled[0].qty == 2 and "no node has A" in decision.unfilled[0].reason


def test_an_unused_node_that_could_ship_everything_says_how_much_more_it_would_cost() -> None:
    snapshot = network(node("N1", 40.1), node("N2", 42.0))
    availability = stock(snapshot, ["A"], {("N1", "A"): 5, ("N2", "A"): 5})
    chosen = decide(order(("A", 1)), snapshot, availability)
    without_n1 = Directives(exclusions=(Exclusion("x", frozenset({"N1"})),))
    forced = decide(order(("A", 1)), snapshot, availability, without_n1)
    note = next(n for n in chosen.node_notes if n.node_id == "N2")
    extra = forced.cost.total - chosen.cost.total
    assert f"would cost {extra:.2f} more" in note.detail and note.detail.startswith("zone 2, 138 mi")


def test_a_decision_without_explanations_differs_in_its_node_notes_alone() -> None:
    from dataclasses import replace

    explained = 0
    for instance in [i for i in load_instances() if len(i.snapshot) <= 20]:  # proven well within the limit
        full = decide(instance.order, instance.snapshot, instance.availability)
        bare = decide(instance.order, instance.snapshot, instance.availability, explain=False)
        explained += bool(full.node_notes)
        assert bare == replace(full, node_notes=())
    assert explained >= 20


def test_why_not_needs_explanations() -> None:
    snapshot = network(node("N", 40.1))
    with pytest.raises(InvalidInputError) as error:
        decide(order(("A", 1)), snapshot, stock(snapshot, ["A"], {("N", "A"): 1}), why_not=["N"], explain=False)
    assert error.value.violations[0].field == "why_not"


def test_each_unfilled_line_names_its_own_cause() -> None:
    snapshot = network(
        node("SHELF", 40.1, tags=frozenset({"store"})),
        node("SHUT", 40.2, is_open=False),
        node("FULL", 40.3, max_shipments=0),
        node("DC", 41.0),
    )
    rows = {("SHELF", "KEPT"): 2, ("SHUT", "SHUT"): 3, ("FULL", "FULL"): 3, ("DC", "A"): 9, ("DC", "SHORT"): 1}
    rows |= {("SHELF", "SHORT"): 3}
    availability = stock(snapshot, ["A", "KEPT", "SHUT", "FULL", "SHORT", "NONE"], rows)
    directives = Directives(
        protections=(Protection("safety", frozenset({"SHELF"}), 2),),
        exclusions=(Exclusion("not-l0-here", frozenset({"DC"}), line_ids=frozenset({"L0"}), reason="too far"),),
    )
    lines = order(("A", 1), ("KEPT", 1), ("SHUT", 1), ("FULL", 1), ("SHORT", 3), ("NONE", 1))
    decision = decide(lines, snapshot, availability, directives)
    assert {u.line_id: u.reason for u in decision.unfilled} == {
        "L0": "DC is excluded for this line by rule not-l0-here (too far)",
        "L1": "stock at SHELF is protected by rule safety (2 units kept)",
        "L2": "SHUT is closed",
        "L3": "FULL has no shipment or unit capacity left today",
        "L4": "only 2 units of SHORT can be promised at the nodes this line may ship from;"
        " 2 more are protected by rule safety",
        "L5": "no node has NONE available",
    }


def test_a_pickup_line_is_explained_by_its_pickup_node_alone() -> None:
    snapshot = network(
        node("DC", 40.0), node("SHOP", 41.0, can_pickup=True), node("SHUT", 41.0, can_pickup=True, is_open=False)
    )
    availability = stock(snapshot, ["A", "B"], {("DC", "A"): 9, ("DC", "B"): 9, ("SHOP", "B"): 2, ("SHUT", "A"): 1})
    at_shop = decide(
        order(("A", 1), delivery_method=DeliveryMethod.PICKUP, pickup_node_id="SHOP"), snapshot, availability
    )
    assert at_shop.unfilled[0].reason == "pickup node SHOP has no A available"
    at_shut = decide(
        order(("A", 1), delivery_method=DeliveryMethod.PICKUP, pickup_node_id="SHUT"), snapshot, availability
    )
    assert at_shut.unfilled[0].reason == "pickup node SHUT is closed"
    note = next(n for n in at_shut.node_notes if n.node_id == "DC")
    assert (note.verdict, note.detail) == (NodeVerdict.NOT_REQUIRED, "not the pickup node (SHUT)")


def test_many_nodes_with_one_cause_are_named_nearest_first_and_counted() -> None:
    snapshot = network(*(node(f"N{i}", 40.0 + i / 10, is_open=False) for i in range(1, 6)))
    availability = stock(snapshot, ["A"], {(f"N{i}", "A"): 1 for i in range(1, 6)})
    decision = decide(order(("A", 1)), snapshot, availability)
    assert decision.unfilled[0].reason == "N1, N2, N3 and 2 more are closed"


def test_a_line_whose_stock_another_order_of_the_batch_took_says_so() -> None:
    from engine.batch import BatchOrder, decide_batch

    snapshot = network(node("N1", 40.1))
    availability = stock(snapshot, ["A"], {("N1", "A"): 1})
    first, second = order(("A", 1)), Order("O2", HOME, (OrderLine("L0", "A", 1, 1.0),))
    batch = decide_batch([BatchOrder(first), BatchOrder(second)], snapshot, availability)
    assert batch.decisions[1].unfilled[0].reason == "the stock at N1 is taken by other orders decided with this one"
