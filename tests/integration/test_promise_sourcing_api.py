"""Source by promise over real gRPC, on both stores: an order naming a promised date or a carrier
service gets, per shipment, the cheapest node and service delivering by it; a node that would be
late is left out and its explanation gives the dates; every shipment reports its service and
dates, the decision its own; the decision's instant is the server's clock; bad promises are
INVALID_ARGUMENT naming the field.

The network is test_promise_api.py's: NEAR (69 miles, GROUND only: 2 days) and FAR (~900 miles,
GROUND 4 days, NEXT_DAY 1 day before its 12:00 cut-off). The clock reads Tuesday 1 December 2026,
10:00 UTC.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from server.api.proto import (
    common_pb2,
    network_pb2,
    orders_pb2,
    orders_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
    sourcing_pb2,
    sourcing_pb2_grpc,
)
from server.api.services import ServiceDeps
from server.store.base import Store
from tests.integration.conftest import Api, ServerFactory, make_config
from tests.integration.helpers import count, item, usd, violations
from tests.integration.orders_helpers import FakeClock
from tests.integration.test_promise_api import (  # noqa: F401 (checkout: the network fixture)
    GROUND,
    HOME,
    NEXT_DAY,
    TUESDAY_10,
    cart,
    checkout,
    cutoffs,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TUESDAY_10)


@pytest.fixture
def api(start_server: ServerFactory, store: Store, clock: FakeClock) -> Iterator[Api]:
    """The integration api fixture, on a clock the test moves (the decision's 'now')."""
    settings = make_config()
    client = Api(start_server(store, settings, deps=ServiceDeps.build(settings, store, clock=clock)), store)
    yield client
    client.channel.close()


def source(
    stub: sourcing_pb2_grpc.SourcingServiceStub, qty: int = 2, sku: str = "A", **fields: object
) -> sourcing_pb2.Decision:
    order = common_pb2.Order(
        order_id="O-1",
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id="L0", sku=sku, qty=qty)],
        **fields,  # type: ignore[arg-type]
    )
    return stub.Source(sourcing_pb2.SourceRequest(order=order)).decision


def shipments(decision: sourcing_pb2.Decision) -> list[tuple[str, str, str, str]]:
    return [(s.node_id, s.carrier_service, s.ship_date, s.delivery_date) for s in decision.cost.shipments]


def note(decision: sourcing_pb2.Decision, node_id: str) -> tuple[str, str]:
    found = next(e for e in decision.explanations if e.node_id == node_id)
    return sourcing_pb2.NodeVerdict.Name(found.verdict), found.detail


def test_without_a_promise_the_cheapest_node_ships_and_its_dates_are_reported(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    decision = source(checkout)
    assert shipments(decision) == [("NEAR", "GROUND", "2026-12-01", "2026-12-03")]
    assert (decision.ship_date, decision.delivery_date) == ("2026-12-01", "2026-12-03")


def test_a_promised_date_the_near_node_cannot_keep_sends_the_order_by_air(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    cheap = source(checkout)
    decision = source(checkout, promised_date="2026-12-02")
    assert shipments(decision) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert decision.delivery_date == "2026-12-02"
    assert note(decision, "NEAR") == ("NODE_VERDICT_LATE", "would deliver Thu 3 Dec, after the promised Wed 2 Dec")
    assert decision.cost.total.amount_micros > cheap.cost.total.amount_micros  # the promise costs more than ground
    # A date the cheap node keeps: the same node and service, priced by the service's own chart
    # (zone 1 up to 500 miles: 5.00 a box, 0.50 a pound), where an order without a promise pays
    # its level's rate table (the default STANDARD table here; the sample network's GROUND is it).
    kept = source(checkout, promised_date="2026-12-03")
    assert shipments(kept) == shipments(cheap)
    assert kept.cost.total == usd(5.0 + 0.5 * 4 + 1.25 + 2 * 0.25)


def test_a_named_carrier_service_is_used_by_every_shipment(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    decision = source(checkout, carrier_service="next_day")
    assert shipments(decision) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert note(decision, "NEAR") == ("NODE_VERDICT_LATE", "does not ship by NEXT_DAY")


def test_the_instant_is_the_servers_clock(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
    clock: FakeClock,
) -> None:
    clock.advance(hours=3)  # 13:00 UTC: FAR's NEXT_DAY cut-off (12:00) has passed
    decision = source(checkout, promised_date="2026-12-02")
    assert not decision.allocations and not decision.cost.shipments
    (unfilled,) = decision.unfilled
    # FAR's next air shipment leaves Wednesday; NEAR's ground one still arrives Thursday.
    assert unfilled.reason == "NEAR, FAR would deliver Thu 3 Dec, after the promised Wed 2 Dec"
    assert decision.delivery_date == ""


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"carrier_service": "CARGO_SHIP"}, "order.carrier_service", "unknown carrier service 'CARGO_SHIP'"),
        ({"promised_date": "2026-11-29"}, "order.promised_date", "in the past"),
        ({"promised_date": "2026-12-32"}, "order.promised_date", "YYYY-MM-DD"),
        ({"promised_date": "next week"}, "order.promised_date", "YYYY-MM-DD"),
        (
            {
                "carrier_service": "GROUND",
                "delivery_method": common_pb2.DELIVERY_METHOD_PICKUP,
                "pickup_node_id": "NEAR",
            },
            "order.carrier_service",
            "PICKUP",
        ),
    ],
)
def test_bad_promises_are_refused_naming_the_field(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
    fields: dict[str, object],
    field: str,
    words: str,
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        source(checkout, **fields)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert words in violations(caught.value)[field]


def test_a_promise_dated_today_in_the_earliest_time_zone_is_not_past(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
    clock: FakeClock,
) -> None:
    clock.advance(hours=5)  # 15:00 UTC on 1 December: 30 November is over everywhere but UTC-12...
    decision = source(checkout, promised_date="2026-12-01")  # ...and 1 December is today: nothing by then
    assert not decision.allocations and decision.unfilled


# --- Allocate and the option a customer chose ----------------------------------------------------------------


def chosen_option(stub: sourcing_pb2_grpc.SourcingServiceStub, service: str) -> sourcing_pb2.DeliveryOption:
    """What checkout showed for 2 x A (Promise at the clock's instant) and the customer picked."""
    request = sourcing_pb2.PromiseRequest(lines=[sourcing_pb2.CartLine(line_id="L0", sku="A", qty=2)], ship_to=HOME)
    request.at.FromDatetime(TUESDAY_10)
    return next(o for o in stub.Promise(request).options if o.carrier_service == service)


def allocate_option(
    api: Api, option: sourcing_pb2.DeliveryOption, order_id: str = "O-1"
) -> orders_pb2.AllocateResponse:
    order = common_pb2.Order(
        order_id=order_id,
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id="L0", sku="A", qty=2)],
        carrier_service=option.carrier_service,
        promised_date=option.delivery_date,
    )
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    return orders.Allocate(orders_pb2.AllocateRequest(request_key=f"k-{order_id}", order=order))


def available(api: Api, node_id: str) -> int:
    response = api.network.GetAvailability(network_pb2.GetAvailabilityRequest(skus=["A"], node_ids=[node_id]))
    return sum(p.available for p in response.positions)


def test_allocate_keeps_the_chosen_option(api: Api, checkout: sourcing_pb2_grpc.SourcingServiceStub) -> None:  # noqa: F811
    option = chosen_option(checkout, "NEXT_DAY")
    assert (option.delivery_date, list(option.node_ids)) == ("2026-12-02", ["FAR"])
    response = allocate_option(api, option)
    assert orders_pb2.OrderState.Name(response.order.state) == "ORDER_STATE_ALLOCATED"
    assert shipments(response.decision) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert response.decision.delivery_date == "2026-12-02"
    assert available(api, "FAR") == 3
    # Kept on the stored order.
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    view = orders.GetOrder(orders_pb2.GetOrderRequest(order_id="O-1")).order
    assert (view.carrier_service, view.promised_date) == ("NEXT_DAY", "2026-12-02")


def test_when_stock_moved_the_order_waits_late_in_the_exception_queue(
    api: Api,
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    option = chosen_option(checkout, "NEXT_DAY")
    # Between checkout and the order, FAR's As are counted out: only NEAR (ground, Thursday) holds them.
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("FAR", "A", 0)]))
    option.carrier_service = ""  # the date alone: any service that makes it
    response = allocate_option(api, option)
    assert orders_pb2.OrderState.Name(response.order.state) == "ORDER_STATE_HELD"
    (hold,) = response.decision.holds
    assert hold.rule_id == "LATE"
    assert hold.reason == "cannot keep the promised Wed 2 Dec (2026-12-02); the stock left would deliver Thu 3 Dec"
    assert available(api, "NEAR") == 5, "nothing reserved while it waits"
    orders = orders_pb2_grpc.OrderServiceStub(api.channel)
    queue = orders.ListExceptions(orders_pb2.ListExceptionsRequest(rule_id="LATE")).orders
    assert [(e.order_id, e.awaiting_review_units) for e in queue] == [("O-1", 2)]
    assert "LATE (cannot keep the promised Wed 2 Dec" in queue[0].reason

    # A person accepts the later date: the order is sourced without it.
    released = orders.ReleaseHold(
        orders_pb2.ReleaseHoldRequest(
            request_key="r-1", order_id="O-1", approved_by="planner", reason="customer agreed"
        )
    )
    assert orders_pb2.OrderState.Name(released.order.state) == "ORDER_STATE_ALLOCATED"
    assert shipments(released.decision) == [("NEAR", "GROUND", "2026-12-01", "2026-12-03")]
    assert available(api, "NEAR") == 3


def test_a_promise_no_node_could_keep_for_want_of_stock_is_a_plain_backorder(
    api: Api,
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    option = chosen_option(checkout, "GROUND")
    api.network.UpdateInventory(
        network_pb2.UpdateInventoryRequest(updates=[count("FAR", "A", 0), count("NEAR", "A", 0)])
    )
    response = allocate_option(api, option)
    assert orders_pb2.OrderState.Name(response.order.state) == "ORDER_STATE_BACKORDERED"
    assert not response.decision.holds


def test_the_earliest_delivery_objective_pays_for_the_fastest_plan(
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    decision = source(checkout, objective=common_pb2.OBJECTIVE_MODE_EARLIEST_DELIVERY)
    assert shipments(decision) == [("FAR", "NEXT_DAY", "2026-12-01", "2026-12-02")]
    assert note(decision, "NEAR") == (
        "NODE_VERDICT_LATE",
        "would deliver Thu 3 Dec, after Wed 2 Dec (the order's earliest)",
    )


def test_a_rule_allowing_lateness_prices_a_late_node_per_day_late(
    api: Api,
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
) -> None:
    rules = rules_pb2_grpc.RulesServiceStub(api.channel)
    text = "rules:\n  - {id: late-ok, then: {objective: {late_penalty_per_day: 1.5}}}\n"
    rules.ActivateRules(
        rules_pb2.ActivateRulesRequest(files=[rules_pb2.RuleFile(name="p.yaml", content=text)], activated_by="ann")
    )
    decision = source(checkout, promised_date="2026-12-02")
    # NEAR by ground, a day late (1.50), beats FAR by air (28.00 of carrier charges).
    assert shipments(decision) == [("NEAR", "GROUND", "2026-12-01", "2026-12-03")]
    assert (decision.cost.late_days, decision.cost.late_penalty) == (1, usd(1.5))
    assert decision.cost.shipments[0].rule_penalty == usd(0.0)  # the order's penalty, not the box's
    assert list(decision.fired_rules) == ["late-ok"]
    # 7 As promised today: NEAR's 5 and 2 of FAR's, both boxes late. The order is late by its latest
    # box, 6 days (FAR by ground, Mon 7 Dec), and pays 6 x 1.50 = 9.00 once; NEAR's box, 2 days
    # late, adds nothing. Per box it would have paid 3.00 more.
    decision = source(checkout, qty=7, promised_date="2026-12-01")
    assert shipments(decision) == [
        ("FAR", "GROUND", "2026-12-01", "2026-12-07"),
        ("NEAR", "GROUND", "2026-12-01", "2026-12-03"),
    ]
    assert (decision.cost.late_days, decision.cost.late_penalty) == (6, usd(9.0))
    assert [s.rule_penalty for s in decision.cost.shipments] == [usd(0.0), usd(0.0)]
    parts = sum(s.total.amount_micros for s in decision.cost.shipments) + decision.cost.split_penalty.amount_micros
    assert decision.cost.total.amount_micros == parts + 9_000_000
    assert note(decision, "FAR") == (
        "NODE_VERDICT_USED",
        "ships 2 units, 837 mi; delivers Mon 7 Dec, the order's latest: late by 6 days: penalty 6 x 1.50 = 9.00,"
        " once for the order",
    )


# Dimensional weight and surcharges: a 12 x 12 x 12 in box of 1 lb bills 1,728 / 139 = 12.4 lb by PARCEL;
# the ship-to's ZIP 68508 (Lincoln, NE) is in PARCEL's remote-area list, and the address is residential.
PARCEL = network_pb2.CarrierService(
    id="PARCEL",
    carrier="Boxline",
    service_level="PARCEL",
    zones=[network_pb2.ZoneRate(zone="1", transit_days=3, base=usd(6.0), per_lb=usd(0.4))],
    dim_divisor=139.0,
    residential_surcharge=usd(2.5),
    remote_area_surcharge=usd(4.0),
    remote_area_zip3=["685"],
)


@pytest.mark.parametrize("residential", [True, False])
def test_sources_cost_for_a_shipment_is_what_checkout_quoted_for_the_same_box(
    api: Api,
    checkout: sourcing_pb2_grpc.SourcingServiceStub,  # noqa: F811
    residential: bool,
) -> None:
    """Every option Promise quotes for a single-node cart, ordered as chosen (its service and date):
    Source's shipment costs what the option said, carrier charge and all (docs/promise.md, "Price")."""
    services = network_pb2.UpsertCarrierServicesRequest(carrier_services=[GROUND, NEXT_DAY, PARCEL])
    api.network.UpsertCarrierServices(services)
    near = network_pb2.NodeSchedule(node_id="NEAR", cutoffs=cutoffs(("GROUND", "15:00"), ("PARCEL", "15:00")))
    far = network_pb2.NodeSchedule(node_id="FAR", cutoffs=cutoffs(("GROUND", "15:00"), ("NEXT_DAY", "12:00")))
    api.network.UpsertNodeSchedules(network_pb2.UpsertNodeSchedulesRequest(schedules=[near, far]))
    box = item("BOX", unit_weight_lb=1.0, length_in=12.0, width_in=12.0, height_in=12.0)
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[box]))
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("NEAR", "BOX", 4)]))
    address = common_pb2.PostalAddress(country_code="US", postal_code="68508")
    quoted = checkout.Promise(cart(("BOX", 2), ship_to_address=address, residential=residential)).options
    assert {o.carrier_service for o in quoted} == {"GROUND", "PARCEL"}
    for option in quoted:
        assert list(option.node_ids) == ["NEAR"]
        decision = source(
            checkout,
            sku="BOX",
            ship_to_address=address,
            residential=residential,
            carrier_service=option.carrier_service,
            promised_date=option.delivery_date,
        )
        (shipment,) = decision.cost.shipments
        assert (shipment.node_id, shipment.carrier_service, shipment.delivery_date) == (
            "NEAR", option.carrier_service, option.delivery_date,
        )  # fmt: skip
        charge = shipment.carrier_base.amount_micros + shipment.carrier_weight.amount_micros
        assert abs(charge - option.carrier_charge.amount_micros) <= 1
        assert abs(shipment.total.amount_micros - option.cost.amount_micros) <= 1
    parcel = next(o for o in quoted if o.carrier_service == "PARCEL")
    surcharges = 2.5 + 4.0 if residential else 4.0
    assert parcel.carrier_charge == usd(6.0 + 0.4 * (2 * 1728 / 139) + surcharges)
