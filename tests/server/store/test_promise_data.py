"""The store contract for promise data: holiday calendars, carrier services and node schedules,
on every adapter (``store`` runs each test on SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from engine.errors import InvalidInputError
from engine.model import GeoPoint, Node, NodeType
from engine.promise.model import (
    MONDAY_TO_SATURDAY,
    CarrierService,
    Cutoff,
    NodeSchedule,
    Weekday,
    ZoneRate,
)
from engine.rates import RateTable
from server.api.network_load import load_into_store
from server.network_file import read_network_file
from server.store import Store
from tests.integration.helpers import REPO

GROUND = CarrierService(
    "GROUND",
    "Northstar Parcel",
    "STANDARD",
    (ZoneRate("1", 1, 4.01, 0.1, 150.5), ZoneRate("2", 3, 6.49, 0.35), ZoneRate("AK", 6, 20.0, 1.0)),
    holidays=frozenset({date(2026, 12, 25)}),
)
NEXT_DAY = CarrierService(
    "NEXT_DAY",
    "Skyway Air",
    "NEXT_DAY",
    (ZoneRate("1", 1, 19.99, 1.1),),
    pickup_days=frozenset({Weekday.MON, Weekday.WED}),
    dim_divisor=139.0,
    residential_surcharge=4.4,
    non_contiguous_surcharge=30.0,
    remote_area_surcharge=2.5,
    remote_area_zip3=frozenset({"995", "967"}),
)
CHICAGO = NodeSchedule(
    "DC-1",
    time_zone="America/Chicago",
    working_days=MONDAY_TO_SATURDAY,
    opens=6 * 60,
    closes=23 * 60,
    holidays=frozenset({date(2026, 11, 26), date(2026, 12, 25)}),
    processing_days=1,
    cutoffs=(Cutoff("GROUND", 15 * 60), Cutoff("NEXT_DAY", 12 * 60 + 30)),
    pickup_ready_minutes=90,
)


def _node(node_id: str) -> Node:
    return Node(node_id, NodeType.DC, GeoPoint(41.9, -87.6), pick_pack_cost=1.0, unit_handling_cost=0.1)


@pytest.fixture
def nodes(store: Store) -> Store:
    store.upsert_nodes([_node("DC-1"), _node("DC-2")])
    return store


def test_holiday_calendars_round_trip_and_replace_by_id(store: Store) -> None:
    assert store.holiday_calendars() == {}
    before = store.network_version()
    store.upsert_holiday_calendars({"US": frozenset({date(2026, 7, 3), date(2026, 12, 25)}), "EMPTY": frozenset()})
    assert store.network_version() != before
    store.upsert_holiday_calendars({"US": frozenset({date(2027, 1, 1)})})
    assert store.holiday_calendars() == {"EMPTY": frozenset(), "US": frozenset({date(2027, 1, 1)})}


def test_carrier_services_round_trip_exactly(store: Store) -> None:
    assert store.carrier_services() == []
    before = store.network_version()
    store.upsert_carrier_services([NEXT_DAY, GROUND])
    assert store.network_version() != before
    assert store.carrier_services() == [GROUND, NEXT_DAY]
    cheaper = replace(NEXT_DAY, residential_surcharge=0.0)
    store.upsert_carrier_services([cheaper])  # GROUND serves STANDARD already
    assert store.carrier_services() == [GROUND, cheaper]


def test_the_first_carrier_services_must_serve_standard(store: Store) -> None:
    with pytest.raises(InvalidInputError) as refused:
        store.upsert_carrier_services([NEXT_DAY])
    assert [v.field for v in refused.value.violations] == ["carrier_services"]
    assert store.carrier_services() == []  # refused whole


def test_node_schedules_round_trip_and_default_cutoffs_stay_absent(nodes: Store) -> None:
    nodes.upsert_carrier_services([GROUND, NEXT_DAY])
    defaults = NodeSchedule("DC-2")  # no cut-off data: every service at 23:59
    pickup_only = NodeSchedule("DC-2", cutoffs=())
    before = nodes.network_version()
    nodes.upsert_node_schedules([CHICAGO, defaults])
    assert nodes.network_version() != before
    assert nodes.node_schedules() == [CHICAGO, defaults]
    nodes.upsert_node_schedules([pickup_only])
    assert nodes.node_schedules() == [CHICAGO, pickup_only]


def test_a_schedule_batch_with_any_bad_entry_stores_nothing(nodes: Store) -> None:
    nodes.upsert_carrier_services([GROUND, NEXT_DAY])
    weekend_only = replace(CHICAGO, node_id="DC-2", working_days=frozenset({Weekday.SAT, Weekday.SUN}))
    with pytest.raises(InvalidInputError) as refused:
        nodes.upsert_node_schedules(
            [CHICAGO, NodeSchedule("NOWHERE"), replace(CHICAGO, cutoffs=(Cutoff("TWO_DAY", 600),)), weekend_only]
        )
    fields = [v.field for v in refused.value.violations]
    assert fields == [
        "schedules[1].node_id",
        "schedules[2].cutoffs[0].carrier_service",
        "schedules[3].cutoffs[0].carrier_service",
        "schedules[3].cutoffs[1].carrier_service",
    ]
    assert "NOWHERE" in refused.value.violations[0].description
    assert nodes.node_schedules() == []


def test_cutoffs_are_checked_against_the_services_in_force(nodes: Store) -> None:
    # Nothing stored: the defaults STANDARD and EXPRESS are in force.
    nodes.upsert_node_schedules([NodeSchedule("DC-1", cutoffs=(Cutoff("EXPRESS", 600),))])
    nodes.upsert_rate_tables([RateTable("STANDARD", (), (5.0,), (0.5,)), RateTable("TWO_DAY", (), (9.0,), (1.0,))])
    with pytest.raises(InvalidInputError):  # rate tables now: EXPRESS is gone, TWO_DAY came
        nodes.upsert_node_schedules([NodeSchedule("DC-2", cutoffs=(Cutoff("EXPRESS", 600),))])
    nodes.upsert_node_schedules([NodeSchedule("DC-2", cutoffs=(Cutoff("TWO_DAY", 600),))])
    assert [s.node_id for s in nodes.node_schedules()] == ["DC-1", "DC-2"]


def test_a_service_change_that_strands_a_node_is_refused(nodes: Store) -> None:
    nodes.upsert_carrier_services([GROUND, NEXT_DAY])
    nodes.upsert_node_schedules([replace(CHICAGO, working_days=frozenset({Weekday.MON}))])
    with pytest.raises(InvalidInputError) as refused:
        nodes.upsert_carrier_services([replace(NEXT_DAY, pickup_days=frozenset({Weekday.TUE}))])
    assert "DC-1" in refused.value.violations[0].description
    assert nodes.carrier_services() == [GROUND, NEXT_DAY]


def test_the_sample_network_loads_its_promise_data(store: Store) -> None:
    network = read_network_file(REPO / "data" / "sample-network.json")
    load_into_store(store, network, network.currency)
    assert store.carrier_services() == sorted(network.carrier_services, key=lambda s: s.id)
    assert store.node_schedules() == sorted(network.node_schedules, key=lambda s: s.node_id)
    assert store.holiday_calendars() == dict(network.holiday_calendars)
    assert {s.id for s in store.carrier_services()} == {"GROUND", "TWO_DAY", "NEXT_DAY"}
