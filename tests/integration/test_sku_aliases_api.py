"""SKU aliases over real gRPC (both stores): written and listed, refused field by field, resolved on
Source, Allocate, AllocateBatch, Promise, PromiseProducts, GetAvailability and UpdateInventory,
and reported back."""

from __future__ import annotations

import grpc
import pytest

from server.api.proto import common_pb2, network_pb2, orders_pb2, orders_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import count, delta, item, node, violations

HOME = common_pb2.GeoPoint(lat=35.2, lon=-90.1)
UPC = "036000291452"  # a real UPC-A; its EAN-13 form is 0036000291452
BAD_UPC = "036000291453"  # the same with a wrong check digit


def alias(kind: int, value: str, sku: str, source: str = "") -> network_pb2.SkuAlias:
    return network_pb2.SkuAlias(kind=kind, alias=value, sku=sku, source=source)  # type: ignore[arg-type]


CHANNEL = network_pb2.SKU_ALIAS_KIND_CHANNEL
VENDOR = network_pb2.SKU_ALIAS_KIND_VENDOR
BARCODE = network_pb2.SKU_ALIAS_KIND_BARCODE


@pytest.fixture
def aliased(api: Api) -> Api:
    api.network.UpsertNodes(network_pb2.UpsertNodesRequest(nodes=[node("DC-1")]))
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("SODA-12"), item("CHIPS")]))
    api.network.UpsertSkuAliases(
        network_pb2.UpsertSkuAliasesRequest(
            aliases=[
                alias(CHANNEL, "AMZ-B00SODA", "SODA-12", "amazon"),
                alias(VENDOR, "V-4471", "CHIPS", "acme"),
                alias(BARCODE, UPC, "SODA-12"),
            ]
        )
    )
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("DC-1", "SODA-12", 10)]))
    return api


def order(*lines: tuple[str, int], order_id: str = "O-1") -> common_pb2.Order:
    return common_pb2.Order(
        order_id=order_id,
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id=f"L{i}", sku=sku, qty=qty) for i, (sku, qty) in enumerate(lines)],
    )


def test_aliases_are_listed_with_barcodes_as_gtin14(aliased: Api) -> None:
    listed = aliased.network.ListSkuAliases(network_pb2.ListSkuAliasesRequest())
    assert [(a.kind, a.alias, a.sku, a.source) for a in listed.aliases] == [
        (BARCODE, "00" + UPC, "SODA-12", ""),
        (CHANNEL, "AMZ-B00SODA", "SODA-12", "amazon"),
        (VENDOR, "V-4471", "CHIPS", "acme"),
    ]
    first = aliased.network.ListSkuAliases(network_pb2.ListSkuAliasesRequest(skus=["SODA-12"], page_size=1))
    assert [a.alias for a in first.aliases] == ["00" + UPC] and first.next_page_token
    rest = aliased.network.ListSkuAliases(
        network_pb2.ListSkuAliasesRequest(skus=["SODA-12"], page_token=first.next_page_token)
    )
    assert [a.alias for a in rest.aliases] == ["AMZ-B00SODA"] and not rest.next_page_token


def test_bad_aliases_are_refused_whole_naming_each_field(aliased: Api) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        aliased.network.UpsertSkuAliases(
            network_pb2.UpsertSkuAliasesRequest(
                aliases=[
                    alias(CHANNEL, "NEW-1", "CHIPS"),
                    alias(BARCODE, BAD_UPC, "CHIPS"),
                    alias(network_pb2.SKU_ALIAS_KIND_UNSPECIFIED, "X", "CHIPS"),
                ]
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = violations(caught.value)
    assert set(found) == {"aliases[1].alias", "aliases[2].kind"}
    assert "check digit" in found["aliases[1].alias"]
    # Checks only the store can make: an alias already naming another SKU, an unknown SKU.
    with pytest.raises(grpc.RpcError) as caught:
        aliased.network.UpsertSkuAliases(
            network_pb2.UpsertSkuAliasesRequest(
                aliases=[
                    alias(CHANNEL, "NEW-1", "CHIPS"),
                    alias(CHANNEL, "AMZ-B00SODA", "CHIPS"),
                    alias(VENDOR, "Z", "NOPE"),
                ]
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = violations(caught.value)
    assert set(found) == {"aliases[1].alias", "aliases[2].sku"}
    assert "'SODA-12'" in found["aliases[1].alias"]
    listed = aliased.network.ListSkuAliases(network_pb2.ListSkuAliasesRequest()).aliases
    assert "NEW-1" not in {a.alias for a in listed}  # nothing of a refused call is stored


def test_source_decides_aliases_and_barcodes_as_their_sku(aliased: Api) -> None:
    sourcing = sourcing_pb2_grpc.SourcingServiceStub(aliased.channel)
    decision = sourcing.Source(
        sourcing_pb2.SourceRequest(order=order(("AMZ-B00SODA", 2), ("0036000291452", 1)))
    ).decision
    assert [(a.line_id, a.sku, a.qty) for a in decision.allocations] == [("L0", "SODA-12", 2), ("L1", "SODA-12", 1)]
    assert [(t.line_id, t.requested_sku, t.sku) for t in decision.translated_lines] == [
        ("L0", "AMZ-B00SODA", "SODA-12"),
        ("L1", "0036000291452", "SODA-12"),
    ]
    plain = sourcing.Source(sourcing_pb2.SourceRequest(order=order(("SODA-12", 1)))).decision
    assert not plain.translated_lines


def test_unknown_aliases_and_bad_barcodes_name_the_line(aliased: Api) -> None:
    sourcing = sourcing_pb2_grpc.SourcingServiceStub(aliased.channel)
    with pytest.raises(grpc.RpcError) as caught:
        sourcing.Source(
            sourcing_pb2.SourceRequest(
                order=order(("SODA-12", 1), (BAD_UPC, 1), ("AMZ-UNKNOWN", 1), ("4006381333931", 1))
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = violations(caught.value)
    assert set(found) == {"order.lines[1].sku", "order.lines[2].sku", "order.lines[3].sku"}
    assert "check digit" in found["order.lines[1].sku"]
    assert "alias" in found["order.lines[2].sku"]
    assert "maps to no SKU" in found["order.lines[3].sku"]


def test_allocate_and_batch_reserve_the_sku_and_keep_it(aliased: Api) -> None:
    orders = orders_pb2_grpc.OrderServiceStub(aliased.channel)
    response = orders.Allocate(orders_pb2.AllocateRequest(request_key="k-1", order=order((UPC, 3))))
    assert [(a.sku, a.qty) for a in response.decision.allocations] == [("SODA-12", 3)]
    assert [t.requested_sku for t in response.decision.translated_lines] == [UPC]
    assert [line.sku for line in response.order.lines] == ["SODA-12"]  # the order kept names the SKU
    again = orders.Allocate(orders_pb2.AllocateRequest(request_key="k-1", order=order((UPC, 3))))
    assert again.order == response.order  # a retry with the same alias replays
    (position,) = aliased.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["SODA-12"])).positions
    assert position.reserved == 3

    batch = orders.AllocateBatch(
        orders_pb2.AllocateBatchRequest(
            orders=[
                orders_pb2.AllocateRequest(request_key="b-1", order=order(("AMZ-B00SODA", 1), order_id="O-2")),
                orders_pb2.AllocateRequest(request_key="b-2", order=order((BAD_UPC, 1), order_id="O-3")),
            ]
        )
    )
    first, second = batch.results
    assert [(a.sku, a.qty) for a in first.response.decision.allocations] == [("SODA-12", 1)]
    assert [t.requested_sku for t in first.response.decision.translated_lines] == ["AMZ-B00SODA"]
    assert [v.field for v in second.error.field_violations] == ["orders[1].order.lines[0].sku"]


def test_stock_updates_land_on_the_sku(aliased: Api) -> None:
    aliased.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("DC-1", "V-4471", 4)]))
    aliased.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[delta("DC-1", "00" + UPC, 1)]))
    positions = aliased.network.GetAvailability(
        network_pb2.GetAvailabilityRequest(skus=["CHIPS", "SODA-12", "V-4471"])
    ).positions
    assert sorted((p.sku, p.on_hand) for p in positions) == [("CHIPS", 4), ("SODA-12", 11)]
    with pytest.raises(grpc.RpcError) as caught:
        aliased.network.UpdateInventory(
            network_pb2.UpdateInventoryRequest(updates=[delta("DC-1", "CHIPS", 1), delta("DC-1", BAD_UPC, 1)])
        )
    assert set(violations(caught.value)) == {"updates[1].sku"}


def test_promise_reads_cart_aliases(aliased: Api) -> None:
    sourcing = sourcing_pb2_grpc.SourcingServiceStub(aliased.channel)
    response = sourcing.Promise(
        sourcing_pb2.PromiseRequest(lines=[sourcing_pb2.CartLine(line_id="1", sku="AMZ-B00SODA", qty=1)], ship_to=HOME)
    )
    assert response.options and [(t.requested_sku, t.sku) for t in response.translated_lines] == [
        ("AMZ-B00SODA", "SODA-12")
    ]
    with pytest.raises(grpc.RpcError) as caught:
        sourcing.Promise(
            sourcing_pb2.PromiseRequest(lines=[sourcing_pb2.CartLine(line_id="1", sku=BAD_UPC, qty=1)], ship_to=HOME)
        )
    assert set(violations(caught.value)) == {"lines[0].sku"}


def test_product_pages_and_availability_read_aliases(aliased: Api) -> None:
    sourcing = sourcing_pb2_grpc.SourcingServiceStub(aliased.channel)
    page = sourcing.PromiseProducts(
        sourcing_pb2.PromiseProductsRequest(skus=["AMZ-B00SODA", UPC, "SODA-12", "CHIPS"], ship_to=HOME)
    )
    assert [(p.sku, p.catalogue_sku, p.available) for p in page.products] == [
        ("AMZ-B00SODA", "SODA-12", True),
        (UPC, "SODA-12", True),
        ("SODA-12", "SODA-12", True),
        ("CHIPS", "CHIPS", False),  # no stock anywhere
    ]
    assert len({p.delivery_date for p in page.products[:3]}) == 1
    found = aliased.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["V-4471", "AMZ-B00SODA"]))
    assert [(p.sku, p.node_id, p.on_hand) for p in found.positions] == [("SODA-12", "DC-1", 10)]
    for call in (
        lambda: sourcing.PromiseProducts(sourcing_pb2.PromiseProductsRequest(skus=["CHIPS", BAD_UPC], ship_to=HOME)),
        lambda: aliased.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["CHIPS", BAD_UPC])),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(caught.value)) == {"skus[1]"}


def test_a_remap_moves_an_alias_and_decisions_follow_at_once(aliased: Api) -> None:
    aliased.network.UpsertSkuAliases(
        network_pb2.UpsertSkuAliasesRequest(aliases=[alias(CHANNEL, "AMZ-B00SODA", "CHIPS")], remap=True)
    )
    sourcing = sourcing_pb2_grpc.SourcingServiceStub(aliased.channel)
    decision = sourcing.Source(sourcing_pb2.SourceRequest(order=order(("AMZ-B00SODA", 1)))).decision
    assert [t.sku for t in decision.translated_lines] == ["CHIPS"]
