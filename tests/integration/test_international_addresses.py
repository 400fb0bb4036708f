"""Ship-tos beyond US ZIP codes over real gRPC (both stores): country codes and postal formats
checked per country, Canadian postal codes placed by their FSA, other countries needing coordinates."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from server.api.proto import common_pb2, network_pb2, network_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from server.store import Store
from tests.integration.conftest import ServerFactory, make_config
from tests.integration.helpers import count, item, node, violations

TORONTO_DC = common_pb2.GeoPoint(lat=43.7, lon=-79.4)
BERLIN = common_pb2.GeoPoint(lat=52.52, lon=13.40)


@pytest.fixture
def sourcing(start_server: ServerFactory, store: Store) -> Iterator[sourcing_pb2_grpc.SourcingServiceStub]:
    # Rates outside the US are not modelled: such a deployment serves ANY (docs/configuration.md).
    running = start_server(store, make_config(served_regions="ANY"))
    with grpc.insecure_channel(running.target) as channel:
        network = network_pb2_grpc.NetworkServiceStub(channel)
        network.UpsertNodes(
            network_pb2.UpsertNodesRequest(nodes=[node("DC-TOR", location=TORONTO_DC, region="CA-ON"), node("DC-US")])
        )
        network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("A")]))
        network.UpdateInventory(
            network_pb2.UpdateInventoryRequest(updates=[count("DC-TOR", "A", 5), count("DC-US", "A", 5)])
        )
        yield sourcing_pb2_grpc.SourcingServiceStub(channel)


def order(address: common_pb2.PostalAddress, point: common_pb2.GeoPoint | None = None) -> common_pb2.Order:
    msg = common_pb2.Order(
        order_id="O-1", ship_to_address=address, lines=[common_pb2.OrderLine(line_id="1", sku="A", qty=1)]
    )
    if point is not None:
        msg.ship_to.CopyFrom(point)
    return msg


def refused(stub: sourcing_pb2_grpc.SourcingServiceStub, msg: common_pb2.Order) -> dict[str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Source(sourcing_pb2.SourceRequest(order=msg))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return violations(caught.value)


def test_a_canadian_postal_code_is_placed_by_its_fsa(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    address = common_pb2.PostalAddress(country_code="ca", postal_code="m5v3l9")
    decision = sourcing.Source(sourcing_pb2.SourceRequest(order=order(address))).decision
    assert [a.node_id for a in decision.allocations] == ["DC-TOR"]  # downtown Toronto, a few miles away
    assert decision.cost.shipments[0].distance_miles < 10


def test_malformed_addresses_name_the_field(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    cases = {
        ("CA", "D1A 0B1"): "order.ship_to_address.postal_code",  # no D in Canadian codes
        ("NL", "1012 SA"): "order.ship_to_address.postal_code",  # SA, SD, SS are not used
        ("DE", "1011"): "order.ship_to_address.postal_code",  # five digits
        ("XX", "10115"): "order.ship_to_address.country_code",
    }
    for (country, code), field in cases.items():
        for point in (None, BERLIN):  # coordinates do not excuse a malformed address
            found = refused(sourcing, order(common_pb2.PostalAddress(country_code=country, postal_code=code), point))
            assert set(found) == {field}, (country, code, point)
    dutch = refused(sourcing, order(common_pb2.PostalAddress(country_code="NL", postal_code="12")))
    assert "of NL" in dutch["order.ship_to_address.postal_code"]
    assert "'1012 AB'" in dutch["order.ship_to_address.postal_code"]  # an example of the format


def test_a_country_without_a_table_needs_coordinates(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    berlin = common_pb2.PostalAddress(country_code="DE", postal_code="10115", locality="Berlin")
    found = refused(sourcing, order(berlin))
    assert set(found) == {"order.ship_to"}
    assert "DE" in found["order.ship_to"] and "coordinates" in found["order.ship_to"]
    decision = sourcing.Source(sourcing_pb2.SourceRequest(order=order(berlin, BERLIN))).decision
    assert len(decision.allocations) == 1  # decided with the coordinates it sent


def test_an_unknown_canadian_fsa_asks_for_coordinates(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    # Well formed, but no such forward sortation area (A0Z) in the table.
    found = refused(sourcing, order(common_pb2.PostalAddress(country_code="CA", postal_code="A0Z 1A1")))
    assert set(found) == {"order.ship_to_address.postal_code"}
    assert "not a known postal code of CA" in found["order.ship_to_address.postal_code"]


def test_promise_takes_canadian_postal_codes(sourcing: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    cart = [sourcing_pb2.CartLine(line_id="1", sku="A", qty=1)]
    response = sourcing.Promise(
        sourcing_pb2.PromiseRequest(
            lines=cart, ship_to_address=common_pb2.PostalAddress(country_code="CA", postal_code="M5V 3L9")
        )
    )
    assert response.options
    with pytest.raises(grpc.RpcError) as caught:
        sourcing.Promise(
            sourcing_pb2.PromiseRequest(
                lines=cart, ship_to_address=common_pb2.PostalAddress(country_code="FR", postal_code="75001")
            )
        )
    assert set(violations(caught.value)) == {"ship_to"}
    with pytest.raises(grpc.RpcError) as caught:
        sourcing.Promise(
            sourcing_pb2.PromiseRequest(
                lines=cart, ship_to_address=common_pb2.PostalAddress(country_code="FR", postal_code="7500")
            )
        )
    assert set(violations(caught.value)) == {"ship_to_address.postal_code"}
