"""Carrier rate tables over real gRPC: stored, listed, validated field by field, and priced with."""

from __future__ import annotations

import grpc
import pytest

from server.api.network_load import load_into_store, plan_requests
from server.api.proto import common_pb2, network_pb2, sourcing_pb2, sourcing_pb2_grpc
from server.network_file import read_network_file
from tests.integration.conftest import Api
from tests.integration.helpers import REPO, count, item, node, usd, violations

HOME = common_pb2.GeoPoint(lat=40.0, lon=-95.0)
RATES_FILE = REPO / "tests" / "data" / "network" / "rate-tables.json"


def table(level: str, limits: list[float], base: list[float], per_lb: list[float]) -> network_pb2.RateTable:
    return network_pb2.RateTable(
        service_level=level,
        zone_limits_miles=limits,
        base=[usd(x) for x in base],
        per_lb=[usd(x) for x in per_lb],
    )


STANDARD = table("STANDARD", [100, 400, 1200], [4.00, 5.25, 7.50, 10.00], [0.25, 0.40, 0.75, 1.10])
TWO_DAY = table("two_day", [250], [12.00, 16.50], [0.90, 1.35])


def listed(api: Api) -> tuple[list[str], bool]:
    response = api.network.ListRateTables(network_pb2.ListRateTablesRequest())
    return [t.service_level for t in response.rate_tables], response.defaults


@pytest.fixture
def sourcing(api: Api) -> sourcing_pb2_grpc.SourcingServiceStub:
    # 5 degrees of latitude north of HOME: about 345.5 miles.
    api.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(nodes=[node("DC", location=common_pb2.GeoPoint(lat=45.0, lon=-95.0))])
    )
    api.network.UpsertItems(network_pb2.UpsertItemsRequest(items=[item("A", unit_weight_lb=2.0)]))
    api.network.UpdateInventory(network_pb2.UpdateInventoryRequest(updates=[count("DC", "A", 10)]))
    return sourcing_pb2_grpc.SourcingServiceStub(api.channel)


def source(stub: sourcing_pb2_grpc.SourcingServiceStub, service_level: str) -> sourcing_pb2.Decision:
    order = common_pb2.Order(
        order_id="O-1",
        ship_to=HOME,
        lines=[common_pb2.OrderLine(line_id="L1", sku="A", qty=2)],
        service_level=service_level,
    )
    return stub.Source(sourcing_pb2.SourceRequest(order=order)).decision


def test_the_defaults_are_listed_until_tables_are_stored(api: Api) -> None:
    assert listed(api) == (["EXPRESS", "STANDARD"], True)

    written = api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest(rate_tables=[TWO_DAY, STANDARD]))

    assert written.upserted_count == 2
    assert listed(api) == (["STANDARD", "TWO_DAY"], False)  # stored tables replace the defaults whole
    response = api.network.ListRateTables(network_pb2.ListRateTablesRequest())
    assert response.rate_tables[1] == table("TWO_DAY", [250], [12.00, 16.50], [0.90, 1.35])


def test_a_custom_service_level_decides_with_the_loaded_rates(
    api: Api, sourcing: sourcing_pb2_grpc.SourcingServiceStub
) -> None:
    before = source(sourcing, "")
    assert before.cost.shipments[0].carrier_base == usd(6.80)  # the default STANDARD table, zone 4
    api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest(rate_tables=[STANDARD, TWO_DAY]))

    decision = source(sourcing, "Two_Day")

    (shipment,) = decision.cost.shipments
    # 345.5 miles is past TWO_DAY's 250-mile limit: zone 2, 16.50 a box and 1.35 a pound (4 lb).
    assert shipment.zone == 2
    assert shipment.carrier_base == usd(16.50)
    assert shipment.carrier_weight == usd(1.35 * 4.0)
    assert shipment.total == usd(1.25 + 16.50 + 1.35 * 4.0 + 0.25 * 2)
    assert decision.cost.total == shipment.total
    assert decision.network_version != before.network_version  # a new rate card is a new network
    standard = source(sourcing, "").cost.shipments[0]
    assert (standard.zone, standard.carrier_base) == (2, usd(5.25))  # the loaded STANDARD, not the default


def test_an_unknown_service_level_names_the_order_field_and_the_known_levels(
    api: Api, sourcing: sourcing_pb2_grpc.SourcingServiceStub
) -> None:
    api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest(rate_tables=[STANDARD, TWO_DAY]))

    with pytest.raises(grpc.RpcError) as error:
        source(sourcing, "EXPRESS")  # a default level, gone once the network's own tables are stored

    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error.value) == {
        "order.service_level": "names unknown service level 'EXPRESS'; known: STANDARD, TWO_DAY"
    }


def test_upsert_rate_tables_names_every_bad_field(api: Api) -> None:
    bad = [
        table("STANDARD", [100, 100], [4.0, 5.0, 6.0], [0.25, 0.4]),
        table("two day", [], [-1.0], [0.5]),
        table("STANDARD", [], [1.0], [1.0]),
    ]
    bad[0].per_lb[0].currency_code = "EUR"

    with pytest.raises(grpc.RpcError) as error:
        api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest(rate_tables=bad))

    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error.value) == {
        "rate_tables[0].per_lb[0].currency_code": "must be USD (the service's currency) or empty",
        "rate_tables[0].zone_limits_miles[1]": "must be greater than the limit before it (100)",
        "rate_tables[0].per_lb": "needs 3 entries, one per zone (one more than zone_limits_miles), not 2",
        # money_from_proto's wording, as for every Money in the API.
        "rate_tables[1].base[0].amount_micros": "must be between 0 and 1e+06 units",
        "rate_tables[1].service_level": (
            "must be capital letters, digits, '_' or '-' (such as 'TWO_DAY'), not 'TWO DAY'"
        ),
        "rate_tables[2].service_level": "duplicates rate_tables[0].service_level 'STANDARD'",
    }
    assert listed(api) == (["EXPRESS", "STANDARD"], True)  # nothing written
    with pytest.raises(grpc.RpcError) as empty:
        api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest())
    assert violations(empty.value) == {"rate_tables": "must have at least 1 rate tables"}


def test_the_first_tables_must_include_standard(api: Api) -> None:
    with pytest.raises(grpc.RpcError) as error:
        api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest(rate_tables=[TWO_DAY]))

    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert list(violations(error.value)) == ["rate_tables"]
    assert "no STANDARD rate table yet" in violations(error.value)["rate_tables"]
    api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest(rate_tables=[STANDARD]))
    api.network.UpsertRateTables(network_pb2.UpsertRateTablesRequest(rate_tables=[TWO_DAY]))  # STANDARD is stored
    assert listed(api) == (["STANDARD", "TWO_DAY"], False)


def test_a_network_file_with_rate_tables_loads_over_grpc(api: Api) -> None:
    plan = plan_requests(read_network_file(RATES_FILE), chunk_size=1)
    assert len(plan.rate_tables) == 1  # the set is sent whole, whatever the chunk size
    for nodes in plan.nodes:
        api.network.UpsertNodes(nodes)
    for tables in plan.rate_tables:
        api.network.UpsertRateTables(tables)

    response = api.network.ListRateTables(network_pb2.ListRateTablesRequest())
    assert list(response.rate_tables) == [STANDARD, table("TWO_DAY", [250], [12.00, 16.50], [0.90, 1.35])]


def test_a_network_file_loaded_straight_into_the_store_brings_its_rates(api: Api) -> None:
    load_into_store(api.store, read_network_file(REPO / "tests" / "data" / "network" / "minimal.json"), "USD")
    assert listed(api) == (["EXPRESS", "STANDARD"], True)  # no section: the defaults stay

    load_into_store(api.store, read_network_file(RATES_FILE), "USD")
    api.running.deps.network.invalidate()

    assert listed(api) == (["STANDARD", "TWO_DAY"], False)
    assert sorted(api.running.deps.network.get().rate_tables) == ["STANDARD", "TWO_DAY"]
