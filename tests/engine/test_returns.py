"""Where a return is received: open DCs and stores, the rules for returns, the carrier's rates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from engine.directives import Directives, Exclusion
from engine.geo import haversine_miles
from engine.model import GeoPoint, Order, OrderLine
from engine.network import NetworkSnapshot
from engine.returns import ACCEPTS_RETURNS, receiving_node
from engine.rules.evaluator import evaluate
from engine.rules.model import RETURNS, SOURCING
from server.network_file import read_network_file
from tests.engine.rules.conftest import REPO, rules_from

DAY = date(2026, 11, 24)
NYC = GeoPoint(40.73, -73.99)


@pytest.fixture(scope="module")
def snapshot() -> NetworkSnapshot:
    """The sample network (58 nodes: 4 DCs, 50 stores, 3PLs and drop-ship vendors)."""
    return NetworkSnapshot(read_network_file(REPO / "data" / "sample-network.json").nodes)


def _returned(*lines: tuple[str, int, bool]) -> Order:
    return Order(
        "O1", NYC, tuple(OrderLine(f"L{i}", "ACC-00002", qty, 1.0, hazmat=h) for i, (_, qty, h) in enumerate(lines))
    )


def _nearest(snapshot: NetworkSnapshot, allowed: set[str] | None = None) -> str:
    candidates = [
        n for n in snapshot.nodes if n.is_open and n.type in ACCEPTS_RETURNS and (allowed is None or n.id in allowed)
    ]
    miles = haversine_miles(
        NYC.lat,
        NYC.lon,
        np.array([n.location.lat for n in candidates]),
        np.array([n.location.lon for n in candidates]),
    )
    return candidates[int(np.argmin(miles))].id


def _route(snapshot: NetworkSnapshot, order: Order, text: str) -> tuple[str, tuple[str, ...]]:
    rules = rules_from(f"rules:\n{text}")
    route = receiving_node(snapshot, order, evaluate(rules, order, snapshot, DAY, purpose=RETURNS))
    assert route is not None
    return route.node_id, route.fired_rules


def test_without_rules_the_nearest_open_dc_or_store(snapshot: NetworkSnapshot) -> None:
    route = receiving_node(snapshot, _returned(("L0", 1, False)))
    assert route is not None and route.node_id == _nearest(snapshot) and route.fired_rules == ()
    assert snapshot.node(route.node_id).type in ACCEPTS_RETURNS and route.cost > 0


def test_rules_for_returns_exclude_require_and_weigh_nodes(snapshot: NetworkSnapshot) -> None:
    order = _returned(("L0", 2, False))
    nearest = _nearest(snapshot)
    node, fired = _route(
        snapshot, order, f"- {{id: not-there, applies_to: returns, then: {{exclude: {{node: {{id: {nearest}}}}}}}}}"
    )
    assert node != nearest and fired == ("not-there",)
    node, _ = _route(snapshot, order, "- {id: dcs, applies_to: returns, then: {require: {node: {type: DC}}}}")
    assert node == _nearest(snapshot, {n.id for n in snapshot.nodes if n.type.value == "DC"})
    far = "DC-01"  # Memphis: far from New York, dearer by the carrier's zones
    cheap = _route(
        snapshot,
        order,
        f"- {{id: memphis, applies_to: returns, then: {{prefer: {{node: {{id: {far}}}, per_unit: 50}}}}}}",
    )
    assert cheap == (far, ("memphis",)), "a preference is weighed against the carrier's rate, and wins when larger"
    node, _ = _route(
        snapshot,
        order,
        f"- {{id: pricey, applies_to: returns, then: {{penalize: {{node: {{id: {nearest}}}, per_shipment: 100}}}}}}",
    )
    assert node != nearest


def test_a_line_rule_applies_only_when_its_line_comes_back(snapshot: NetworkSnapshot) -> None:
    text = (
        "- {id: hazmat-to-certified, applies_to: returns, when: {line: {hazmat: true}},"
        " then: {require: {node: {tag: hazmat-certified}}}}"
    )
    certified = {n.id for n in snapshot.nodes if "hazmat-certified" in n.tags}
    node, fired = _route(snapshot, _returned(("L0", 1, True), ("L1", 1, False)), text)
    assert node in certified and node == _nearest(snapshot, certified) and fired == ("hazmat-to-certified",)
    node, fired = _route(snapshot, _returned(("L0", 1, False)), text)
    assert node == _nearest(snapshot) and fired == ()


def test_rules_shape_only_the_decisions_they_apply_to(snapshot: NetworkSnapshot) -> None:
    rules = rules_from(
        """rules:
  - {id: ship, then: {exclude: {node: {type: STORE}}}}
  - {id: back, applies_to: returns, then: {exclude: {node: {id: DC-01}}}}
  - {id: both, applies_to: [sourcing, returns], then: {exclude: {node: {id: DC-02}}}}
"""
    )
    order = _returned(("L0", 1, False))
    assert evaluate(rules, order, snapshot, DAY).fired_rules == ("ship", "both")
    assert evaluate(rules, order, snapshot, DAY, purpose=SOURCING).fired_rules == ("ship", "both")
    assert evaluate(rules, order, snapshot, DAY, purpose=RETURNS).fired_rules == ("back", "both")


def test_none_when_nothing_may_receive(snapshot: NetworkSnapshot) -> None:
    everyone = frozenset(n.id for n in snapshot.nodes)
    assert (
        receiving_node(snapshot, _returned(("L0", 1, False)), Directives(exclusions=(Exclusion("x", everyone),)))
        is None
    )
    closed = NetworkSnapshot(tuple(replace(n, is_open=False) for n in snapshot.nodes))
    assert receiving_node(closed, _returned(("L0", 1, False))) is None
