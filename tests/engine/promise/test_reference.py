"""The calculator against the slow day-by-day reference (reference.py), on generated schedules,
carrier services and instants: anywhere in 2026-2027 and the months around, a few seconds either
side of a cut-off, and around both changes of daylight saving time."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.promise.calculator import PromiseCalculator, epoch_seconds, instant_of
from engine.promise.model import CarrierService, Cutoff, NodeSchedule, Weekday, ZoneRate
from tests.engine.promise.reference import reference_delivery, reference_pickup_ready, reference_ship
from tests.fuzz import examples

# Zones with daylight saving time away from midnight (where "the local date" is unambiguous), an
# odd 30-minute change (Lord Howe), none at all (Phoenix, Kolkata, Honolulu) and both hemispheres.
ZONES = (
    "America/Chicago", "America/New_York", "America/Los_Angeles", "America/Denver", "America/Phoenix",
    "America/Anchorage", "Pacific/Honolulu", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC",
)  # fmt: skip
FIRST, LAST = date(2025, 11, 1), date(2028, 2, 28)
# Cut-offs near the night's DST changes and at the usual afternoon hours, besides any minute.
CUTOFFS = st.one_of(st.integers(0, 1439), st.sampled_from([0, 59, 60, 90, 119, 120, 150, 179, 180, 720, 900, 1439]))
DAYS = st.frozensets(st.sampled_from(list(Weekday)), min_size=1)
HOLIDAYS = st.frozensets(st.dates(FIRST, LAST), max_size=40)


@st.composite
def networks(draw: st.DrawFn) -> tuple[NodeSchedule, CarrierService]:
    working = draw(DAYS)
    pickup = draw(DAYS) | {draw(st.sampled_from(sorted(working)))}  # at least one pickup on a working day
    opens = draw(st.integers(0, 1439))
    service = CarrierService(
        "SVC", "Carrier", "STANDARD",
        (ZoneRate("1", draw(st.integers(0, 8)), 1.0, 0.1, 500.0), ZoneRate("2", draw(st.integers(0, 8)), 2.0, 0.2)),
        pickup_days=frozenset(pickup), delivery_days=draw(DAYS), holidays=draw(HOLIDAYS),
    )  # fmt: skip
    schedule = NodeSchedule(
        "N", draw(st.sampled_from(ZONES)), frozenset(working), opens, draw(st.integers(opens + 1, 1440)),
        draw(HOLIDAYS), draw(st.integers(0, 3)), (Cutoff("SVC", draw(CUTOFFS)),), draw(st.integers(0, 1500)),
    )  # fmt: skip
    return schedule, service


@st.composite
def instants(draw: st.DrawFn, schedule: NodeSchedule) -> datetime:
    """Any second of the period, or a few seconds either side of a cut-off or a clock change."""
    zone = ZoneInfo(schedule.time_zone)
    kind = draw(st.sampled_from(["any", "cutoff", "clock change"]))
    if kind == "any":
        start = datetime.combine(FIRST, time(), tzinfo=UTC)
        return start + timedelta(seconds=draw(st.integers(0, int((LAST - FIRST).total_seconds()))))
    day = draw(st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    if kind == "clock change":
        year = day.year
        day = draw(st.sampled_from([date(year, 3, 8), date(year, 3, 14), date(year, 3, 28), date(year, 10, 4),
                                    date(year, 10, 31), date(year, 11, 1), date(year, 11, 7)]))  # fmt: skip
        wall = time(draw(st.integers(0, 3)), draw(st.integers(0, 59)))
    else:
        minute = schedule.cutoffs[0].time if schedule.cutoffs else 0
        wall = time(minute // 60, minute % 60)
    base = datetime.combine(day, wall, tzinfo=zone).replace(fold=draw(st.integers(0, 1)))
    return base.astimezone(UTC) + timedelta(
        seconds=draw(st.integers(-2, 2)), microseconds=draw(st.integers(0, 999_999))
    )


@settings(max_examples=examples(120), deadline=None)
@given(st.data(), networks())
def test_ship_and_delivery_dates_match_the_day_by_day_reference(
    data: st.DataObject, network: tuple[NodeSchedule, CarrierService]
) -> None:
    schedule, service = network
    calc = PromiseCalculator([schedule], [service])
    for _ in range(4):
        ordered = data.draw(instants(schedule))
        miles = data.draw(st.sampled_from([10.0, 500.0, 900.0]))
        promise = calc.promise("N", "SVC", epoch_seconds(ordered), miles)
        ship, order_by = reference_ship(schedule, service, ordered)
        zone = 1 if miles <= 500.0 else 2

        assert promise is not None
        assert (promise.ship_date, promise.order_by_time, promise.zone) == (ship, order_by, zone), ordered
        assert promise.delivery_date == reference_delivery(service, ship, service.zones[zone - 1].transit_days)


@settings(max_examples=examples(80), deadline=None)
@given(st.data(), networks())
def test_pickup_ready_times_match_the_window_by_window_reference(
    data: st.DataObject, network: tuple[NodeSchedule, CarrierService]
) -> None:
    schedule, service = network
    calc = PromiseCalculator([schedule], [service])
    for _ in range(3):
        ordered = data.draw(instants(schedule))
        expected = reference_pickup_ready(schedule, ordered)

        assert instant_of(calc.pickup_ready("N", epoch_seconds(ordered))) == datetime.fromtimestamp(
            math.floor(expected.timestamp()), UTC
        ), ordered
