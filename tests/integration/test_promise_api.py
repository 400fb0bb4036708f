"""Promise and PromiseProducts over real gRPC, on both stores: dates from the stored schedules and
carrier services, costs, ships-complete and split carts, short lines, availability net of holds,
nothing reserved, new schedules seen at once, bad input named by field.

The network: NEAR is 69 miles from the ship-to (zone 1 of GROUND: 2 days) and ships GROUND only;
FAR is about 900 miles away (zone 2: 4 days) and ships GROUND and NEXT_DAY (1 day). Both work
every day in UTC; the carrier picks up and delivers Monday to Friday. Orders come in on Tuesday
1 December 2026 at 10:00 UTC, before every cut-off.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import grpc
import pytest

from server.api.proto import common_pb2, network_pb2, orders_pb2, orders_pb2_grpc, sourcing_pb2, sourcing_pb2_grpc
from tests.integration.conftest import Api
from tests.integration.helpers import count, item, node, usd, violations

HOME = common_pb2.GeoPoint(lat=40.0, lon=-95.0)
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LINCOLN_NE = common_pb2.PostalAddress(country_code="US", postal_code="68508")


def zone(z: str, days: int, base: float, per_lb: float, up_to: float | None = None) -> network_pb2.ZoneRate:
    row = network_pb2.ZoneRate(zone=z, transit_days=days, base=usd(base), per_lb=usd(per_lb))
    if up_to is not None:
        row.up_to_miles = up_to
    return row


GROUND = network_pb2.CarrierService(
    id="GROUND",
    carrier="Northstar Parcel",
    service_level="STANDARD",
    zones=[zone("1", 2, 5.0, 0.5, 500), zone("2", 4, 8.0, 0.75)],
)
NEXT_DAY = network_pb2.CarrierService(
    id="NEXT_DAY",
    carrier="Skyway Air",
    service_level="NEXT_DAY",
    zones=[zone("1", 1, 20.0, 2.0)],
    residential_surcharge=usd(3.0),
)


def cutoffs(*pairs: tuple[str, str]) -> list[network_pb2.Cutoff]:
    return [network_pb2.Cutoff(carrier_service=s, time=t) for s, t in pairs]


@pytest.fixture
def checkout(api: Api) -> sourcing_pb2_grpc.SourcingServiceStub:
    api.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(
            nodes=[
                node("NEAR", location=common_pb2.GeoPoint(lat=41.0, lon=-95.0)),
                node("FAR", location=common_pb2.GeoPoint(lat=45.0, lon=-80.0)),
            ]
        )
    )
    api.network.UpsertCarrierServices(network_pb2.UpsertCarrierServicesRequest(carrier_services=[GROUND, NEXT_DAY]))
    api.network.UpsertNodeSchedules(
        network_pb2.UpsertNodeSchedulesRequest(
            schedules=[
                network_pb2.NodeSchedule(node_id="NEAR", cutoffs=cutoffs(("GROUND", "15:00"))),
                network_pb2.NodeSchedule(node_id="FAR", cutoffs=cutoffs(("GROUND", "15:00"), ("NEXT_DAY", "12:00"))),
            ]
        )
    )
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("A", unit_weight_lb=2.0), item("B")]))
    api.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "A", 5), count("FAR", "A", 5), count("FAR", "B", 3)])
    )
    return sourcing_pb2_grpc.SourcingServiceStub(api.channel)


def cart(*lines: tuple[str, int], **fields: object) -> sourcing_pb2.PromiseRequest:
    request = sourcing_pb2.PromiseRequest(
        lines=[sourcing_pb2.CartLine(line_id=f"L{i}", sku=sku, qty=qty) for i, (sku, qty) in enumerate(lines)],
        ship_to=HOME,
        **fields,  # type: ignore[arg-type]
    )
    request.at.FromDatetime(TUESDAY_10)
    return request


def by_service(response: sourcing_pb2.PromiseResponse) -> dict[str, sourcing_pb2.DeliveryOption]:
    return {o.carrier_service: o for o in response.options}


def test_each_service_offers_its_earliest_date_cost_and_nodes(checkout: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    response = checkout.Promise(cart(("A", 2)))

    assert [o.carrier_service for o in response.options] == ["NEXT_DAY", "GROUND"]  # earliest first
    air, ground = response.options
    assert (air.delivery_date, list(air.node_ids), air.ships_complete) == ("2026-12-02", ["FAR"], True)
    assert (ground.delivery_date, list(ground.node_ids), ground.ships_complete) == ("2026-12-03", ["NEAR"], True)
    assert (ground.carrier, ground.service_level) == ("Northstar Parcel", "STANDARD")
    # Zone 1: 5.00 a box and 0.50 a pound for 4 lb; the node's 1.25 pick and pack and 0.25 a unit.
    assert ground.carrier_charge == usd(7.0)
    assert ground.cost == usd(7.0 + 1.25 + 2 * 0.25)
    assert air.carrier_charge == usd(20.0 + 2.0 * 4)
    assert ground.order_by.ToDatetime(tzinfo=UTC) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert air.order_by.ToDatetime(tzinfo=UTC) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    (box,) = ground.shipments
    assert (box.node_id, box.ship_date, box.delivery_date) == ("NEAR", "2026-12-01", "2026-12-03")
    assert [(a.line_id, a.qty) for a in box.allocations] == [("L0", 2)]
    assert response.network_version


def test_a_residential_ship_to_pays_the_surcharge(checkout: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    air = by_service(checkout.Promise(cart(("A", 2), residential=True)))["NEXT_DAY"]
    assert air.carrier_charge == usd(20.0 + 2.0 * 4 + 3.0)


def test_a_cart_ships_complete_from_one_node_when_one_holds_it_all_in_time(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,
) -> None:
    ground = by_service(checkout.Promise(cart(("A", 2), ("B", 1))))["GROUND"]
    # B is only at FAR (Mon 7 Dec by ground), and FAR holds the As too: one box, not two.
    assert (ground.delivery_date, list(ground.node_ids), ground.ships_complete) == ("2026-12-07", ["FAR"], True)


def test_a_cart_no_node_holds_alone_is_split_and_too_much_is_short(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,
) -> None:
    ground = by_service(checkout.Promise(cart(("A", 7))))["GROUND"]
    assert (ground.delivery_date, list(ground.node_ids), ground.ships_complete) == (
        "2026-12-07",
        ["FAR", "NEAR"],
        False,
    )
    assert sorted((s.node_id, s.allocations[0].qty) for s in ground.shipments) == [("FAR", 2), ("NEAR", 5)]

    options = by_service(checkout.Promise(cart(("A", 12), ("C", 1))))
    ground = options["GROUND"]
    assert [(s.line_id, s.qty) for s in ground.short_lines] == [("L0", 2), ("L1", 1)]
    assert not ground.ships_complete and ground.delivery_date == "2026-12-07"
    air = options["NEXT_DAY"]  # only FAR ships next day: 5 of the 12
    assert [(s.line_id, s.qty) for s in air.short_lines] == [("L0", 7), ("L1", 1)]


def test_availability_is_net_of_holds_and_promise_reserves_nothing(
    api: Api, checkout: sourcing_pb2_grpc.SourcingServiceStub
) -> None:
    for _ in range(3):
        checkout.Promise(cart(("A", 5)))
    positions = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["A"])).positions
    assert sorted((p.node_id, p.reserved) for p in positions) == [("FAR", 0), ("NEAR", 0)]

    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    held = common_pb2.Order(order_id="O-1", ship_to=HOME, lines=[common_pb2.OrderLine(line_id="L1", sku="A", qty=5)])
    allocated = orders.Allocate(orders_pb2.AllocateRequest(request_key="k-1", order=held))
    assert [r.node_id for r in allocated.order.reservations] == ["NEAR"]  # the cheaper node

    ground = by_service(checkout.Promise(cart(("A", 2))))["GROUND"]
    assert (ground.delivery_date, list(ground.node_ids)) == ("2026-12-07", ["FAR"])  # NEAR's units are held


def test_a_new_schedule_changes_the_promise_at_once(api: Api, checkout: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    assert by_service(checkout.Promise(cart(("A", 2))))["NEXT_DAY"].node_ids == ["FAR"]
    api.network.UpsertNodeSchedules(
        network_pb2.UpsertNodeSchedulesRequest(
            schedules=[
                network_pb2.NodeSchedule(node_id="NEAR", cutoffs=cutoffs(("GROUND", "15:00"), ("NEXT_DAY", "09:00")))
            ]
        )
    )
    air = by_service(checkout.Promise(cart(("A", 2))))["NEXT_DAY"]
    # 10:00 is past NEAR's 09:00 cut-off: it ships Wednesday, arrives Thursday, later than FAR's Wednesday.
    assert (air.delivery_date, list(air.node_ids)) == ("2026-12-02", ["FAR"])
    later = cart(("A", 7))
    both = by_service(checkout.Promise(later))["NEXT_DAY"]
    assert (both.delivery_date, list(both.node_ids)) == ("2026-12-03", ["FAR", "NEAR"])


def test_product_pages_get_the_earliest_date_per_sku(checkout: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    request = sourcing_pb2.PromiseProductsRequest(skus=["B", "A", "C"], ship_to_address=LINCOLN_NE)
    request.at.FromDatetime(TUESDAY_10)
    response = checkout.PromiseProducts(request)
    found = [(p.sku, p.available, p.delivery_date, p.carrier_service, p.node_id) for p in response.products]
    assert found == [
        ("B", True, "2026-12-02", "NEXT_DAY", "FAR"),
        ("A", True, "2026-12-02", "NEXT_DAY", "FAR"),
        ("C", False, "", "", ""),
    ]
    assert response.products[0].order_by.ToDatetime(tzinfo=UTC) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    request.at.FromDatetime(datetime(2026, 12, 1, 13, 0, tzinfo=UTC))  # past FAR's next-day cut-off
    a = checkout.PromiseProducts(request).products[1]
    assert (a.delivery_date, a.carrier_service, a.node_id) == ("2026-12-03", "GROUND", "NEAR")


_WRITER = """
import sys
from datetime import UTC, datetime
from server.store import open_store
from server.store.base import InventoryUpdate, UpdateKind

store = open_store(sys.argv[1])
node_id, sku, units = sys.argv[2], sys.argv[3], int(sys.argv[4])
store.update_inventory([InventoryUpdate(node_id, sku, UpdateKind.ABSOLUTE, units, datetime.now(UTC))])
store.close()
"""


def test_stock_written_by_another_process_is_promised_at_once(
    store_url: str, checkout: sourcing_pb2_grpc.SourcingServiceStub
) -> None:
    """The server keeps a view of available stock between calls (server/api/stock_view.py): a
    count another process commits must move the very next answer, on both stores."""

    def write(node_id: str, sku: str, units: int) -> None:
        subprocess.run([sys.executable, "-c", _WRITER, store_url, node_id, sku, str(units)], check=True, timeout=120)

    page = sourcing_pb2.PromiseProductsRequest(skus=["B"], ship_to=HOME)
    page.at.FromDatetime(TUESDAY_10)
    assert by_service(checkout.Promise(cart(("A", 2))))["GROUND"].node_ids == ["NEAR"]
    assert checkout.PromiseProducts(page).products[0].node_id == "FAR"
    write("NEAR", "A", 0)
    write("FAR", "B", 0)
    assert by_service(checkout.Promise(cart(("A", 2))))["GROUND"].node_ids == ["FAR"]
    assert not checkout.PromiseProducts(page).products[0].available
    write("NEAR", "B", 1)
    assert checkout.PromiseProducts(page).products[0].node_id == "NEAR"


def test_bad_requests_name_each_field_and_change_nothing(checkout: sourcing_pb2_grpc.SourcingServiceStub) -> None:
    request = cart(("A", 0), ("A", 1))
    request.lines[1].line_id = "L0"
    request.at.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(grpc.RpcError) as caught:
        checkout.Promise(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(caught.value)) == {"lines[0].qty", "lines[1].sku", "lines[1].line_id", "at"}

    with pytest.raises(grpc.RpcError) as caught:
        checkout.Promise(sourcing_pb2.PromiseRequest(lines=[sourcing_pb2.CartLine(line_id="L", sku="A", qty=1)]))
    assert set(violations(caught.value)) == {"ship_to"}

    with pytest.raises(grpc.RpcError) as caught:
        checkout.Promise(
            sourcing_pb2.PromiseRequest(
                lines=[sourcing_pb2.CartLine(line_id="L", sku="A", qty=1)],
                ship_to_address=common_pb2.PostalAddress(country_code="US", postal_code="00000"),
            )
        )
    assert set(violations(caught.value)) == {"ship_to_address.postal_code"}

    with pytest.raises(grpc.RpcError) as caught:
        checkout.PromiseProducts(sourcing_pb2.PromiseProductsRequest(skus=[f"S{i}" for i in range(101)], ship_to=HOME))
    assert set(violations(caught.value)) == {"skus"}
