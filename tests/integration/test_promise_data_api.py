"""Promise data over real gRPC (both stores): holiday calendars, carrier services and node schedules
upserted, listed, refused field by field with nothing stored, and the network version moved."""

from __future__ import annotations

import grpc
import pytest

from server.api.proto import network_pb2
from tests.integration.conftest import Api
from tests.integration.helpers import node, usd, violations


def ground(**overrides: object) -> network_pb2.CarrierService:
    fields: dict[str, object] = {
        "id": "ground",
        "carrier": "Northstar Parcel",
        "service_level": "standard",
        "zones": [
            network_pb2.ZoneRate(zone="1", transit_days=1, base=usd(5.0), per_lb=usd(0.5), up_to_miles=300),
            network_pb2.ZoneRate(zone="2", transit_days=3, base=usd(7.25), per_lb=usd(0.75)),
            network_pb2.ZoneRate(zone="AK", transit_days=6, base=usd(20.0), per_lb=usd(1.5)),
        ],
        "holiday_calendars": ["US"],
    }
    fields.update(overrides)
    return network_pb2.CarrierService(**fields)  # type: ignore[arg-type]


def schedule(node_id: str, **overrides: object) -> network_pb2.NodeSchedule:
    fields: dict[str, object] = {
        "node_id": node_id,
        "time_zone": "America/Chicago",
        "working_days": ["MON", "TUE", "WED", "THU", "FRI", "SAT"],
        "opens": "06:00",
        "closes": "23:00",
        "holidays": ["2026-11-26"],
        "holiday_calendars": ["US"],
        "processing_days": 1,
        "cutoffs": [network_pb2.Cutoff(carrier_service="GROUND", time="15:00")],
    }
    fields.update(overrides)
    return network_pb2.NodeSchedule(**fields)  # type: ignore[arg-type]


@pytest.fixture
def loaded(api: Api) -> Api:
    api.network.UpsertNodes(
        network_pb2.UpsertNodesRequest(nodes=[node("DC-1"), node("DC-2"), node("DC-3"), node("DC-4")])
    )
    api.network.UpsertHolidayCalendars(
        network_pb2.UpsertHolidayCalendarsRequest(
            holiday_calendars=[network_pb2.HolidayCalendar(id="US", dates=["2026-12-25", "2027-01-01"])]
        )
    )
    api.network.UpsertCarrierServices(network_pb2.UpsertCarrierServicesRequest(carrier_services=[ground()]))
    return api


def test_calendars_services_and_schedules_round_trip(loaded: Api) -> None:
    api = loaded
    calendars = api.network.ListHolidayCalendars(network_pb2.ListHolidayCalendarsRequest()).holiday_calendars
    assert [(c.id, list(c.dates)) for c in calendars] == [("US", ["2026-12-25", "2027-01-01"])]

    listed = api.network.ListCarrierServices(network_pb2.ListCarrierServicesRequest())
    assert not listed.defaults
    (service,) = listed.carrier_services
    assert (service.id, service.service_level) == ("GROUND", "STANDARD")  # upper-cased
    assert list(service.holidays) == ["2026-12-25", "2027-01-01"]  # the calendar's dates, copied
    assert [z.zone for z in service.zones] == ["1", "2", "AK"]
    assert service.zones[0].up_to_miles == 300 and not service.zones[1].HasField("up_to_miles")
    assert service.zones[1].base == usd(7.25)
    assert list(service.pickup_days) == ["MON", "TUE", "WED", "THU", "FRI"]  # the default

    before = api.store.network_version()
    written = api.network.UpsertNodeSchedules(
        network_pb2.UpsertNodeSchedulesRequest(
            schedules=[schedule("DC-1"), network_pb2.NodeSchedule(node_id="DC-2", default_cutoffs=True)]
        )
    )
    assert written.upserted_count == 2
    assert api.store.network_version() != before
    first, second = api.network.ListNodeSchedules(network_pb2.ListNodeSchedulesRequest()).schedules
    assert first.time_zone == "America/Chicago"
    assert list(first.holidays) == ["2026-11-26", "2026-12-25", "2027-01-01"]
    assert [(c.carrier_service, c.time) for c in first.cutoffs] == [("GROUND", "15:00")]
    assert (first.opens, first.closes, first.processing_days) == ("06:00", "23:00", 1)
    assert second.default_cutoffs and second.time_zone == "UTC" and second.closes == "24:00"
    assert len(second.working_days) == 7


def test_defaults_are_listed_until_services_are_stored(api: Api) -> None:
    listed = api.network.ListCarrierServices(network_pb2.ListCarrierServicesRequest())
    assert listed.defaults
    assert [s.id for s in listed.carrier_services] == ["EXPRESS", "STANDARD"]


def test_a_schedule_batch_with_any_error_is_refused_naming_each_field(loaded: Api) -> None:
    api = loaded
    bad = [
        schedule("DC-1"),
        schedule("DC-2", time_zone="Mars/Olympus"),
        schedule(
            "DC-3",
            cutoffs=[
                network_pb2.Cutoff(carrier_service="GROUND", time="15:00"),
                network_pb2.Cutoff(carrier_service="NEXT_DAY", time="24:30"),
            ],
            holidays=["2026-02-30"],
            holiday_calendars=["NOPE"],
        ),
        schedule("DC-4", working_days=["MON", "FUNDAY"], opens="9am"),
        schedule("DC-9"),
    ]
    with pytest.raises(grpc.RpcError) as caught:
        api.network.UpsertNodeSchedules(network_pb2.UpsertNodeSchedulesRequest(schedules=bad))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = violations(caught.value)
    assert set(found) == {
        "schedules[1].time_zone",
        "schedules[2].cutoffs[1].time",
        "schedules[2].holidays[0]",
        "schedules[2].holiday_calendars[0]",
        "schedules[3].working_days[1]",
        "schedules[3].opens",
    }
    assert "NOPE" in found["schedules[2].holiday_calendars[0]"]
    assert api.network.ListNodeSchedules(network_pb2.ListNodeSchedulesRequest()).schedules == []

    # Well-formed, but about the network: an unknown node, a service not in force. Still nothing stored.
    with pytest.raises(grpc.RpcError) as caught:
        api.network.UpsertNodeSchedules(
            network_pb2.UpsertNodeSchedulesRequest(
                schedules=[
                    schedule("DC-1"),
                    schedule("DC-9"),
                    schedule("DC-3", cutoffs=[network_pb2.Cutoff(carrier_service="NEXT_DAY", time="12:00")]),
                ]
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(caught.value)) == {"schedules[1].node_id", "schedules[2].cutoffs[0].carrier_service"}
    assert api.network.ListNodeSchedules(network_pb2.ListNodeSchedulesRequest()).schedules == []


def test_bad_carrier_services_are_refused_naming_each_field(loaded: Api) -> None:
    api = loaded
    gap = [
        network_pb2.ZoneRate(zone="1", transit_days=1, base=usd(5.0), per_lb=usd(0.5), up_to_miles=300),
        network_pb2.ZoneRate(zone="3", transit_days=2, base=usd(6.0), per_lb=usd(0.5)),
    ]
    with pytest.raises(grpc.RpcError) as caught:
        api.network.UpsertCarrierServices(
            network_pb2.UpsertCarrierServicesRequest(
                carrier_services=[
                    ground(id="TWO_DAY", zones=gap),
                    ground(id="AIR", pickup_days=["XYZ"], dim_divisor=0.0, remote_area_zip3=["99"]),
                    ground(id="air"),
                ]
            )
        )
    found = violations(caught.value)
    assert {
        "carrier_services[0].zones[1].zone",
        "carrier_services[1].pickup_days[0]",
        "carrier_services[1].dim_divisor",
        "carrier_services[1].remote_area_zip3",
        "carrier_services[2].id",
    } <= set(found)
    assert "gap" in found["carrier_services[0].zones[1].zone"]
    listed = api.network.ListCarrierServices(network_pb2.ListCarrierServicesRequest())
    assert [s.id for s in listed.carrier_services] == ["GROUND"]


def test_the_first_services_must_serve_standard(api: Api) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        api.network.UpsertCarrierServices(
            network_pb2.UpsertCarrierServicesRequest(
                carrier_services=[ground(service_level="NEXT_DAY", holiday_calendars=[])]
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "carrier_services" in violations(caught.value)
    assert api.network.ListCarrierServices(network_pb2.ListCarrierServicesRequest()).defaults


def test_a_bad_calendar_is_refused_whole(api: Api) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        api.network.UpsertHolidayCalendars(
            network_pb2.UpsertHolidayCalendarsRequest(
                holiday_calendars=[
                    network_pb2.HolidayCalendar(id="OK", dates=["2026-01-01"]),
                    network_pb2.HolidayCalendar(id="BAD", dates=["2026-01-01", "1999-12-31", "tomorrow"]),
                ]
            )
        )
    assert set(violations(caught.value)) == {"holiday_calendars[1].dates[1]", "holiday_calendars[1].dates[2]"}
    assert api.network.ListHolidayCalendars(network_pb2.ListHolidayCalendarsRequest()).holiday_calendars == []
