"""Re-planning orders that hold stock (engine/reoptimize.py): what is offered, grouped and refused."""

from __future__ import annotations

import numpy as np
import pytest

from engine.availability import Availability
from engine.decision import AllocationLine, SolveStatus
from engine.directives import NO_DIRECTIVES, Directives, Exclusion, Hold
from engine.model import GeoPoint, Node, NodeType, ObjectiveMode, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.reoptimize import Candidate, PendingOrder, SkipReason, choose_changes, reoptimize

SNAPSHOT = NetworkSnapshot(
    (
        Node("NEAR", NodeType.DC, GeoPoint(40.1, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.2),
        Node("MID", NodeType.DC, GeoPoint(36.0, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.2),
        Node("FAR", NodeType.DC, GeoPoint(30.0, -95.0), pick_pack_cost=1.0, unit_handling_cost=0.2),
    )
)
HOME = GeoPoint(40.0, -95.0)


def order(order_id: str, *lines: tuple[str, int], **kw: object) -> Order:
    return Order(
        order_id,
        HOME,
        tuple(OrderLine(f"L{i}", sku, qty, 1.0) for i, (sku, qty) in enumerate(lines)),
        **kw,  # type: ignore[arg-type]
    )


def held(*rows: tuple[str, str, str, int]) -> tuple[AllocationLine, ...]:
    return tuple(AllocationLine(*row) for row in rows)


def free(*positions: tuple[str, str, int]) -> Availability:
    skus = ("A", "B")
    units = np.zeros((len(skus), len(SNAPSHOT)), dtype=np.int64)
    for sku, node_id, qty in positions:
        units[skus.index(sku), SNAPSHOT.index[node_id]] = qty
    return Availability(skus, units)


def contested() -> list[PendingOrder]:
    """X (first) took NEAR's only A; Y, one box only, then held NEAR's B with its A backordered.
    MID has one A free: X moving there lets Y ship complete from NEAR."""
    return [
        PendingOrder(order("X", ("A", 1)), NO_DIRECTIVES, held(("L0", "NEAR", "A", 1))),
        PendingOrder(order("Y", ("A", 1), ("B", 1), max_shipments=1), NO_DIRECTIVES, held(("L1", "NEAR", "B", 1))),
    ]


def test_a_cheaper_joint_plan_is_offered_as_one_group() -> None:
    result = reoptimize(contested(), SNAPSHOT, free(("A", "MID", 1)))
    assert result.skipped == ()
    (group,) = result.groups
    x, y = group
    assert {a.node_id for a in x.after} == {"MID"}
    assert {(a.line_id, a.node_id) for a in y.after} == {("L0", "NEAR"), ("L1", "NEAR")}
    assert x.cost_after > x.cost_before, "X pays more so that Y saves more: alone X's move would not be taken"
    assert y.cost_after < y.cost_before
    assert result.total_after == pytest.approx(x.cost_after + y.cost_after)
    assert result.total_after < result.total_before
    assert result.bound <= result.total_after + 1e-9


def test_the_joint_plan_keeps_every_line_at_its_holds() -> None:
    """Giving X's only unit to Y (its one box already at NEAR) and backordering X instead would
    save X's shipment, but a re-plan cannot take units from a line: the joint decision knows it, so
    its plan is one that can be applied and its bound is over such plans (not a saving refused)."""
    pending = [
        PendingOrder(order("X", ("A", 1)), NO_DIRECTIVES, held(("L0", "NEAR", "A", 1))),
        PendingOrder(order("Y", ("A", 1), ("B", 1), max_shipments=1), NO_DIRECTIVES, held(("L1", "NEAR", "B", 1))),
    ]
    result = reoptimize(pending, SNAPSHOT, free())
    assert result.skipped == () and result.groups == ()
    assert result.joint_total == pytest.approx(result.total_before)
    assert result.status is SolveStatus.OPTIMAL
    assert result.bound == pytest.approx(result.total_before)


def test_orders_already_on_the_best_plan_change_nothing() -> None:
    pending = [PendingOrder(order("X", ("A", 1)), NO_DIRECTIVES, held(("L0", "NEAR", "A", 1)))]
    result = reoptimize(pending, SNAPSHOT, free(("A", "MID", 3)))
    assert result.groups == () and result.skipped == ()
    assert result.total_after == result.total_before


def test_no_stock_to_move_to_changes_nothing() -> None:
    result = reoptimize(contested(), SNAPSHOT, free())
    assert result.groups == ()
    assert result.total_after == result.total_before


def test_a_lasting_exclusion_is_respected() -> None:
    """X may not use MID (it rejected X's line before): the swap is impossible."""
    pending = contested()
    away = Directives(exclusions=(Exclusion("reallocate", frozenset({"MID"}), frozenset({"L0"})),))
    pending[0] = PendingOrder(pending[0].order, away, pending[0].held)
    result = reoptimize(pending, SNAPSHOT, free(("A", "MID", 1)))
    assert result.groups == ()


def test_an_order_a_rule_now_holds_is_left_alone_and_its_units_are_not_pooled() -> None:
    pending = contested()
    pending[0] = PendingOrder(pending[0].order, Directives(holds=(Hold("fraud", "score"),)), pending[0].held)
    result = reoptimize(pending, SNAPSHOT, free(("A", "MID", 1)))
    assert [(s.order_id, s.reason) for s in result.skipped] == [("X", SkipReason.RULE_HOLD)]
    # X's A at NEAR stays X's: Y, in one box, cannot have it, so Y keeps what it holds.
    assert all(c.order_id != "X" for group in result.groups for c in group)
    assert result.groups == ()


def test_holds_at_a_node_gone_from_the_network_are_skipped() -> None:
    pending = [PendingOrder(order("X", ("A", 1)), NO_DIRECTIVES, held(("L0", "GONE", "A", 1)))]
    result = reoptimize(pending, SNAPSHOT, free(("A", "MID", 1)))
    assert [(s.order_id, s.reason) for s in result.skipped] == [("X", SkipReason.UNKNOWN_NODE)]
    assert result.groups == ()


def candidate(order_id: str, before: str, after: str, cost_before: float, cost_after: float, **kw: object) -> Candidate:
    """A one-line order moving its one unit of A from ``before`` to ``after`` ('' for none)."""
    return Candidate(
        order=order(order_id, ("A", 1)),
        before=held(("L0", before, "A", 1)) if before else (),
        after=held(("L0", after, "A", 1)) if after else (),
        cost_before=cost_before,
        cost_after=cost_after,
        **kw,  # type: ignore[arg-type]
    )


def test_changes_sharing_a_position_are_one_group_and_others_stand_alone() -> None:
    groups, refused = choose_changes(
        [
            candidate("P", "NEAR", "MID", 10.0, 12.0),  # gives NEAR up for Q
            candidate("Q", "FAR", "NEAR", 30.0, 10.0),
            candidate("R", "FAR", "FAR", 30.0, 30.0),  # unchanged: in no group
            candidate("S", "MID", "FAR", 10.0, 5.0),  # MID too: linked to P
        ],
        SNAPSHOT,
    )
    assert refused == ()
    assert [[c.order_id for c in g] for g in groups] == [["P", "Q", "S"]]


def test_a_group_that_does_not_lower_the_total_is_not_offered() -> None:
    groups, refused = choose_changes(
        [candidate("P", "NEAR", "MID", 10.0, 20.0), candidate("Q", "MID", "NEAR", 20.0, 10.0)], SNAPSHOT
    )
    assert groups == () and refused == ()


def test_independent_groups_are_judged_apart() -> None:
    groups, _ = choose_changes(
        [candidate("P", "NEAR", "MID", 10.0, 9.0), candidate("Q", "FAR", "FAR", 5.0, 5.0)], SNAPSHOT
    )
    assert [[c.order_id for c in g] for g in groups] == [["P"]]


def test_an_order_losing_units_refuses_its_whole_group() -> None:
    groups, refused = choose_changes(
        [candidate("P", "NEAR", "", 10.0, 1.0), candidate("Q", "FAR", "MID", 50.0, 10.0)], SNAPSHOT
    )
    assert [[c.order_id for c in g] for g in groups] == [["Q"]], "Q touches none of P's positions: not linked"
    assert {s.order_id: s.reason for s in refused} == {"P": SkipReason.LOSES_UNITS}
    groups, refused = choose_changes(
        [candidate("P", "NEAR", "", 10.0, 1.0), candidate("Q", "FAR", "NEAR", 50.0, 10.0)], SNAPSHOT
    )
    assert groups == ()
    assert {s.order_id: s.reason for s in refused} == {"P": SkipReason.LOSES_UNITS, "Q": SkipReason.GROUP_SKIPPED}


def test_a_fewest_shipments_order_never_gains_a_box() -> None:
    split = Candidate(
        order=order("P", ("A", 1), ("B", 1)),
        before=held(("L0", "NEAR", "A", 1), ("L1", "NEAR", "B", 1)),
        after=held(("L0", "NEAR", "A", 1), ("L1", "MID", "B", 1)),
        cost_before=10.0,
        cost_after=9.0,
        objective=ObjectiveMode.FEWEST_SHIPMENTS,
    )
    groups, refused = choose_changes([split], SNAPSHOT)
    assert groups == () and [s.reason for s in refused] == [SkipReason.MORE_SHIPMENTS]


def test_a_capped_node_links_orders_that_change_their_use_of_it() -> None:
    capped = NetworkSnapshot(
        tuple(
            Node(
                n.id, n.type, n.location, n.pick_pack_cost, n.unit_handling_cost, max_units=5 if n.id == "MID" else None
            )
            for n in SNAPSHOT.nodes
        )
    )
    p = Candidate(order("P", ("A", 1)), held(("L0", "MID", "A", 1)), held(("L0", "NEAR", "A", 1)), 10.0, 9.0)
    q = Candidate(order("Q", ("B", 1)), held(("L0", "FAR", "B", 1)), held(("L0", "MID", "B", 1)), 10.0, 9.0)
    groups, _ = choose_changes([p, q], capped)
    assert [[c.order_id for c in g] for g in groups] == [["P", "Q"]]
    groups, _ = choose_changes([p, q], SNAPSHOT)
    assert [[c.order_id for c in g] for g in groups] == [["P"], ["Q"]]
