"""Units of measure over real gRPC (both stores): declared and listed, stock counted in cases and
ordered in eaches, decisions and reservations in base units, fractions of a base unit refused."""

from __future__ import annotations

import grpc
import pytest

from server.api.proto import common_pb2, network_pb2, orders_pb2, orders_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import count, delta, item, node, violations

HOME = common_pb2.GeoPoint(lat=35.2, lon=-90.1)


def unit(sku: str, name: str, factor: int) -> network_pb2.ItemUnit:
    return network_pb2.ItemUnit(sku=sku, unit=name, factor=factor)


@pytest.fixture
def cased(api: Api) -> Api:
    api.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("DC-1")]))
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("SODA"), item("CHIPS")]))
    api.network.UpsertItemUnits(
        network_pb2.UpsertItemUnitsRequest(units=[unit("SODA", "case", 12), unit("SODA", "INNER", 6)])
    )
    api.network.UpsertSkuAliases(
        network_pb2.UpsertSkuAliasesRequest(
            aliases=[network_pb2.SkuAlias(kind=network_pb2.SKU_ALIAS_KIND_VENDOR, alias="V-SODA", sku="SODA")]
        )
    )
    # Counted in cases by the warehouse: 3 cases are 36 eaches.
    counted = count("DC-1", "V-SODA", 3)
    counted.unit = "CASE"
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[counted]))
    return api


def line(line_id: str, sku: str, qty: int = 0, unit: str = "", quantity: str = "") -> common_pb2.OrderLine:
    return common_pb2.OrderLine(line_id=line_id, sku=sku, qty=qty, unit=unit, quantity=quantity)


def order(*lines: common_pb2.OrderLine, order_id: str = "O-1") -> common_pb2.Order:
    return common_pb2.Order(order_id=order_id, ship_to=HOME, lines=list(lines))


def on_hand_and_reserved(api: Api) -> tuple[int, int]:
    (p,) = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["SODA"])).positions
    return p.on_hand, p.reserved


def test_units_are_listed_with_each(cased: Api) -> None:
    listed = cased.network.ListItemUnits(network_pb2.ListItemUnitsRequest(skus=["SODA", "CHIPS", "NOPE"])).units
    assert [(u.sku, u.unit, u.factor) for u in listed] == [
        ("CHIPS", "EACH", 1),
        ("SODA", "EACH", 1),
        ("SODA", "CASE", 12),
        ("SODA", "INNER", 6),
    ]
    assert on_hand_and_reserved(cased) == (36, 0)


def test_bad_units_are_refused_whole(cased: Api) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        cased.network.UpsertItemUnits(
            network_pb2.UpsertItemUnitsRequest(
                units=[unit("CHIPS", "CASE", 8), unit("CHIPS", "EACH", 2), unit("CHIPS", "BOX", 0)]
            )
        )
    assert set(violations(caught.value)) == {"units[1].factor", "units[2].factor"}
    with pytest.raises(grpc.RpcError) as caught:
        cased.network.UpsertItemUnits(
            network_pb2.UpsertItemUnitsRequest(units=[unit("CHIPS", "CASE", 8), unit("NOPE", "CASE", 2)])
        )
    assert set(violations(caught.value)) == {"units[1].sku"}
    listed = cased.network.ListItemUnits(network_pb2.ListItemUnitsRequest(skus=["CHIPS"])).units
    assert [u.unit for u in listed] == ["EACH"]  # nothing of a refused call is stored


def test_counted_in_cases_ordered_in_eaches_inners_and_half_cases(cased: Api) -> None:
    orders = orders_pb2_grpc.OrderServiceStub(cased.channel)
    response = orders.Allocate(
        orders_pb2.AllocateRequest(
            request_key="k-1",
            order=order(
                line("1", "SODA", 5), line("2", "SODA", 1, "inner"), line("3", "V-SODA", quantity="1.5", unit="CASE")
            ),
        )
    )
    assert [(a.line_id, a.qty) for a in response.decision.allocations] == [("1", 5), ("2", 6), ("3", 18)]
    assert [
        (t.line_id, t.requested_sku, t.sku, t.requested_unit, t.requested_quantity, t.qty)
        for t in response.decision.translated_lines
    ] == [("2", "SODA", "SODA", "inner", "1", 6), ("3", "V-SODA", "SODA", "CASE", "1.5", 18)]
    assert [x.qty for x in response.order.lines] == [5, 6, 18]  # the order kept is in eaches
    assert on_hand_and_reserved(cased) == (36, 29)  # reservations in eaches
    # A delta in cases lands in eaches too.
    arrived = delta("DC-1", "SODA", 1)
    arrived.unit = "case"
    cased.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[arrived]))
    assert on_hand_and_reserved(cased) == (48, 29)


def test_quantities_not_whole_in_base_units_and_unknown_units_are_refused(cased: Api) -> None:
    sourcing = sourcing_pb2_grpc.SourcingServiceStub(cased.channel)
    with pytest.raises(grpc.RpcError) as caught:
        sourcing.Source(
            sourcing_pb2.SourceRequest(
                order=order(
                    line("1", "SODA", quantity="2.3", unit="CASE"),  # 27.6 eaches
                    line("2", "SODA", 1, "PALLET"),
                    line("3", "CHIPS", 1, "CASE"),  # CHIPS has only EACH
                    line("4", "SODA", quantity="1.5"),  # half an each
                    line("5", "SODA", 2, quantity="2"),
                    line("6", "SODA", quantity="two"),
                    line("7", "SODA", 10_000, "CASE"),  # 120,000 eaches: over a line's bound
                    line("8", "SODA", 1),
                )
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = violations(caught.value)
    assert set(found) == {
        "order.lines[0].quantity",
        "order.lines[1].unit",
        "order.lines[2].unit",
        "order.lines[3].quantity",
        "order.lines[4].quantity",
        "order.lines[5].quantity",
        "order.lines[6].qty",
    }
    assert "27.6" in found["order.lines[0].quantity"]
    assert "CASE, EACH, INNER" in found["order.lines[1].unit"]
    with pytest.raises(grpc.RpcError) as caught:
        counted = count("DC-1", "SODA", 1)
        counted.unit = "PALLET"
        cased.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[counted]))
    assert set(violations(caught.value)) == {"updates[0].unit"}
    assert on_hand_and_reserved(cased) == (36, 0)


def test_promise_takes_cart_units(cased: Api) -> None:
    sourcing = sourcing_pb2_grpc.SourcingServiceStub(cased.channel)
    response = sourcing.Promise(
        sourcing_pb2.PromiseRequest(
            lines=[sourcing_pb2.CartLine(line_id="1", sku="SODA", qty=2, unit="CASE")], ship_to=HOME
        )
    )
    assert [(t.requested_unit, t.qty) for t in response.translated_lines] == [("CASE", 24)]
    assert response.options and all(not o.short_lines for o in response.options if o.delivery_date)
