"""Source over real gRPC: decisions on a loaded network, field violations for bad input, nothing reserved."""

from __future__ import annotations

import grpc
import pytest

from server.api.network_load import load_into_store
from server.api.proto import common_pb2, network_pb2, sourcing_pb2, sourcing_pb2_grpc
from server.network_file import read_network_file
from tests.integration.conftest import Api
from tests.integration.helpers import REPO, count, item, node, violations

HOME = common_pb2.GeoPoint(lat=40.0, lon=-95.0)


@pytest.fixture
def sourcing(api: Api) -> sourcing_pb2_grpc.SourcingServiceStub:
    api.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node("NEAR", location=common_pb2.GeoPoint(lat=40.1, lon=-95.0)),
                node("FAR", location=common_pb2.GeoPoint(lat=30.0, lon=-95.0)),
            ]
        )
    )
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("A", unit_weight_lb=2.0), item("B")]))
    api.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 5), count("FAR", "A", 5), count("FAR", "B", 5)])
    )
    return sourcing_pb2_grpc.SourcingServiceStub(api.channel)


def order(*lines: tuple[str, int], **fields: object) -> common_pb2.Order:
    return common_pb2.Order(
        order_id="O-1",
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id=f"L{i}", sku=sku, qty=qty) for i, (sku, qty) in enumerate(lines)],
        **fields,  # type: ignore[arg-type]
    )


def test_source_answers_with_an_optimal_costed_explained_decision(
    api: Api, sourcing: sourcing_pb2_grpc.SourcingServiceStub
) -> None:
    decision = sourcing.Source(sourcing_pb2.SourceRequest(order=order(("A", 2)), why_not_node_ids=["FAR"])).decision
    assert [(a.node_id, a.sku, a.qty) for a in decision.allocations] == [("NEAR", "A", 2)]
    assert decision.status == sourcing_pb2.SOLVE_STATUS_OPTIMAL
    (shipment,) = decision.cost.shipments
    # 7 miles: zone 1. 1.25 pick/pack + base 5.00 + 0.30/lb x 4 lb (weight from the catalogue) + 0.25 x 2 handling
    assert shipment.zone == 1
    assert shipment.total.amount_micros == round((1.25 + 5.00 + 0.30 * 4.0 + 0.25 * 2) * 1_000_000)
    assert decision.cost.total.amount_micros == shipment.total.amount_micros
    assert decision.bound.amount_micros == decision.cost.total.amount_micros and decision.gap == 0
    far = next(e for e in decision.explanations if e.node_id == "FAR")
    assert far.verdict == sourcing_pb2.NODE_VERDICT_COSTLIER and far.extra_cost.amount_micros > 0
    assert decision.decision_id and decision.network_version and decision.timings.total_ms > 0


def test_source_reserves_nothing(api: Api, sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    before = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["A", "B"]))
    for _ in range(3):
        sourcing.Source(sourcing_pb2.SourceRequest(order=order(("A", 5), ("B", 5))))
    assert api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["A", "B"])) == before


def test_split_backorder_and_ship_complete(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    split = sourcing.Source(sourcing_pb2.SourceRequest(order=order(("A", 7), ("B", 1)))).decision
    assert sum(a.qty for a in split.allocations) == 8 and len(split.cost.shipments) == 2
    complete = sourcing.Source(sourcing_pb2.SourceRequest(order=order(("A", 7), ("B", 1), max_shipments=1))).decision
    assert len(complete.cost.shipments) == 1
    assert complete.cost.backordered_units == 2 and complete.unfilled[0].reason


def test_bad_orders_name_every_bad_field(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    bad = common_pb2.Order(
        order_id="",
        ship_to=common_pb2.GeoPoint(lat=123.0, lon=-95.0),
        lines=[
            common_pb2.OrderLine(line_id="L1", sku="A", qty=0),
            common_pb2.OrderLine(line_id="L2", sku="UNKNOWN", qty=1),
        ],
    )
    with pytest.raises(grpc.RpcError) as error:
        sourcing.Source(sourcing_pb2.SourceRequest(order=bad, why_not_node_ids=["NOPE"]))
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    fields = violations(error.value)
    assert {"order.order_id", "order.ship_to.lat", "order.lines[0].qty", "order.lines[1].sku"} <= set(fields)
    assert "order.lines[1].unit_weight_lb" not in fields  # the unknown SKU is the problem, not the weight
    with pytest.raises(grpc.RpcError) as missing:
        sourcing.Source(sourcing_pb2.SourceRequest())
    assert "order" in violations(missing.value)


def test_unknown_why_not_node_and_service_level(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as error:
        sourcing.Source(sourcing_pb2.SourceRequest(order=order(("A", 1)), why_not_node_ids=["NOPE"]))
    assert "why_not[0]" in violations(error.value) or "why_not_node_ids[0]" in violations(error.value)
    with pytest.raises(grpc.RpcError) as level:
        sourcing.Source(sourcing_pb2.SourceRequest(order=order(("A", 1), service_level="TELEPORT")))
    assert level.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_source_on_the_sample_network(api: Api) -> None:
    load_into_store(api.store, read_network_file(REPO / "data" / "sample-network.json"), "USD")
    api.running.deps.network.invalidate()
    stub = sourcing_pb2_grpc.SourcingServiceStub(api.channel)
    nyc = common_pb2.Order(
        order_id="NYC-1",
        ship_to=common_pb2.GeoPoint(lat=40.7128, lon=-74.0060),
        lines=[
            common_pb2.OrderLine(line_id="1", sku="ACC-00002", qty=1),
            common_pb2.OrderLine(line_id="2", sku="ACC-00005", qty=2),
        ],
    )
    decision = stub.Source(sourcing_pb2.SourceRequest(order=nyc), timeout=10).decision
    assert decision.status == sourcing_pb2.SOLVE_STATUS_OPTIMAL
    assert sum(a.qty for a in decision.allocations) + decision.cost.backordered_units == 3


def test_a_us_postal_code_stands_in_for_coordinates(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    # 66002 is Atchison, Kansas: about 40 miles from NEAR (40.1, -95.0).
    by_zip = common_pb2.Order(
        order_id="Z-1",
        ship_to_address=common_pb2.PostalAddress(country_code="US", postal_code="66002"),
        lines=[common_pb2.OrderLine(line_id="L0", sku="A", qty=1)],
    )
    decision = sourcing.Source(sourcing_pb2.SourceRequest(order=by_zip)).decision
    assert decision.cost.shipments[0].node_id == "NEAR"
    assert 20 < decision.cost.shipments[0].distance_miles < 80
    by_zip.ship_to_address.postal_code = "00000"
    with pytest.raises(grpc.RpcError) as error:
        sourcing.Source(sourcing_pb2.SourceRequest(order=by_zip))
    assert "order.ship_to_address.postal_code" in violations(error.value)


def test_each_decision_is_counted_by_path_and_status(api: Api, sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    sourcing.Source(sourcing_pb2.SourceRequest(order=order(("A", 1))))
    registry = api.running.metrics_registry
    labels = {"path": "SINGLE_NODE_BOUND", "status": "OPTIMAL"}
    assert registry.get_sample_value("oms_sourcing_decisions_total", labels) == 1.0
    assert registry.get_sample_value("oms_sourcing_decision_shipments_count") == 1.0


def test_skip_explanations_leaves_out_the_notes_and_nothing_else(
    sourcing: sourcing_pb2_grpc.SourcingServiceStub,
) -> None:
    request = sourcing_pb2.SourceRequest(order=order(("A", 2), ("B", 9)))
    full = sourcing.Source(request).decision
    request.skip_explanations = True
    bare = sourcing.Source(request).decision
    assert full.explanations and not bare.explanations
    for decision in (full, bare):  # what differs from call to call anyway
        decision.ClearField("decision_id")
        decision.ClearField("timings")
        decision.ClearField("explanations")
    assert bare == full and bare.unfilled  # B is short: the unfilled line keeps its reason


def test_skip_explanations_refuses_why_not_nodes(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    request = sourcing_pb2.SourceRequest(order=order(("A", 1)), why_not_node_ids=["FAR"], skip_explanations=True)
    with pytest.raises(grpc.RpcError) as error:
        sourcing.Source(request)
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert list(violations(error.value)) == ["why_not_node_ids"]
