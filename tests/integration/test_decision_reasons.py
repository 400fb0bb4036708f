"""Why a line goes unfilled and why a node is not used, over real gRPC: each cause named as it is."""

from __future__ import annotations

import pytest

from server.api.proto import common_pb2, network_pb2, rules_pb2, rules_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import count, item, node

HOME = common_pb2.GeoPoint(lat=40.0, lon=-95.0)
RULES = """\
rules:
  - id: store-safety-stock
    then: {protect: {node: {type: STORE}, units: 2}}
  - id: no-remodel
    then: {exclude: {node: {tag: [remodel]}, reason: node is being remodelled}}
"""


@pytest.fixture
def sourcing(api: Api) -> sourcing_pb2_grpc.SourcingServiceStub:
    store = common_pb2.NODE_TYPE_STORE
    api.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node("DC", location=common_pb2.GeoPoint(lat=36.0, lon=-95.0)),
                node("SHELF", type=store, location=common_pb2.GeoPoint(lat=40.1, lon=-95.0)),
                node("SHUT", type=store, location=common_pb2.GeoPoint(lat=40.2, lon=-95.0), is_open=False),
                node("WALK-IN", type=store, location=common_pb2.GeoPoint(lat=40.3, lon=-95.0), can_ship=False),
                node("REMODEL", location=common_pb2.GeoPoint(lat=40.4, lon=-95.0), tags=["remodel"]),
            ]
        )
    )
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item(s) for s in ("A", "KEPT", "GONE", "SHUT-ONLY")]))
    stock = [("DC", "A", 9), ("SHELF", "KEPT", 2), ("SHUT", "SHUT-ONLY", 5), ("WALK-IN", "SHUT-ONLY", 5)]
    stock += [("REMODEL", "SHUT-ONLY", 5), ("SHUT", "KEPT", 5)]
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count(n, s, q) for n, s, q in stock]))
    rules = rules_pb2_grpc.RulesServiceStub(api.channel)
    rules.ActivateRules(
        rules_pb2.ActivateRulesRequest(files=[rules_pb2.RuleFile(name="r.yaml", content=RULES)], activated_by="t")
    )
    return sourcing_pb2_grpc.SourcingServiceStub(api.channel)


def _decide(stub: sourcing_pb2_grpc.SourcingServiceStub, *skus: str, **fields: object) -> sourcing_pb2.Decision:
    lines = [common_pb2.OrderLine(line_id=f"L{i}", sku=sku, qty=1) for i, sku in enumerate(skus)]
    order = common_pb2.Order(order_id="O-1", ship_to=HOME, lines=lines, **fields)  # type: ignore[arg-type]
    return stub.Source(sourcing_pb2.SourceRequest(order=order)).decision


def _reasons(decision: sourcing_pb2.Decision) -> dict[str, str]:
    return {u.line_id: u.reason for u in decision.unfilled}


def _notes(decision: sourcing_pb2.Decision) -> dict[str, tuple[str, str, list[str]]]:
    return {
        e.node_id: (sourcing_pb2.NodeVerdict.Name(e.verdict).removeprefix("NODE_VERDICT_"), e.detail, list(e.rule_ids))
        for e in decision.explanations
    }


def test_stock_kept_by_a_safety_stock_rule_is_named_with_the_rule(
    sourcing: sourcing_pb2_grpc.SourcingServiceStub,
) -> None:
    decision = _decide(sourcing, "A", "KEPT")
    assert _reasons(decision) == {
        "L1": "stock at SHELF is protected by rule store-safety-stock (2 units kept); SHUT is closed"
    }
    notes = _notes(decision)
    assert notes["SHELF"] == (
        "PROTECTED",
        "stock protected by rule store-safety-stock (2 units kept)",
        ["store-safety-stock"],
    )
    # A closed store is closed: the safety-stock rule that also covers it is not why.
    assert notes["SHUT"] == ("CLOSED", "node closed", [])


def test_each_node_holding_the_sku_is_named_with_its_own_cause(
    sourcing: sourcing_pb2_grpc.SourcingServiceStub,
) -> None:
    decision = _decide(sourcing, "SHUT-ONLY")
    assert _reasons(decision) == {
        "L0": "SHUT is closed; WALK-IN does not ship orders;"
        " REMODEL is excluded by rule no-remodel (node is being remodelled)"
    }
    notes = _notes(decision)
    assert notes["WALK-IN"] == ("CLOSED", "does not ship orders", [])
    assert notes["REMODEL"] == ("EXCLUDED", "excluded by rule no-remodel (node is being remodelled)", ["no-remodel"])


def test_all_or_nothing_names_the_line_that_cannot_be_filled(
    sourcing: sourcing_pb2_grpc.SourcingServiceStub,
) -> None:
    decision = _decide(sourcing, "A", "GONE", all_or_nothing=True)
    assert not decision.allocations
    assert _reasons(decision) == {
        "L0": "all-or-nothing: line L1 cannot be filled completely, so nothing ships",
        "L1": "no node has GONE available",
    }
