"""The date calculator on a small network (tests/engine/promise/network.py), instant by instant.

Every instant is given, never read from a clock: ``at(zone, day, time)`` is the injected "now".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from engine.errors import InvalidInputError
from engine.promise.calculator import NOT_OFFERED, PromiseCalculator, epoch_seconds, instant_of
from engine.promise.calendar import ZoneClock
from engine.promise.model import (
    ALL_WEEK,
    DEFAULT_CARRIER_SERVICES,
    CarrierService,
    Cutoff,
    NodeSchedule,
    Weekday,
    ZoneRate,
)
from engine.promise.zones import time_zone
from tests.engine.promise.network import (
    CHICAGO,
    DC_CHI,
    DC_NYC,
    GROUND,
    LOS_ANGELES,
    NEW_YORK,
    SCHEDULES,
    SERVICES,
    ST_LAX,
    at,
    calculator,
)

CALC = calculator()
ZONE_3 = 250.0  # miles: GROUND zone 3, 2 business days
ZONE_5 = 700.0  # zone 5, 3 days
ZONE_8 = 2000.0  # zone 8, 5 days


def d(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def ship(node: str, instant: int, service: str = "GROUND", calc: PromiseCalculator = CALC) -> date:
    shipped = calc.ship(node, service, instant)
    assert shipped is not None
    return date.fromordinal(shipped[0])


def delivered(node: str, instant: int, miles: float, region: str = "", service: str = "GROUND") -> date:
    promise = CALC.promise(node, service, instant, miles, region)
    assert promise is not None
    return promise.delivery_date


def local(instant: int, zone: object) -> str:
    return instant_of(instant).astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z")  # type: ignore[arg-type]


def seven_day_courier(transit: int = 1) -> CarrierService:
    """A courier that picks up and delivers every day: ship days then show the release day itself."""
    return CarrierService(
        "COURIER", "Metro Courier", "STANDARD", (ZoneRate("1", transit, 9.0, 0.5),),
        pickup_days=ALL_WEEK, delivery_days=ALL_WEEK,
    )  # fmt: skip


def every_day_node(zone: str, cutoff: str) -> NodeSchedule:
    hours, minutes = (int(part) for part in cutoff.split(":"))
    return NodeSchedule("N", zone, ALL_WEEK, cutoffs=(Cutoff("COURIER", hours * 60 + minutes),))


# --- the cut-off, to the second --------------------------------------------------------------------------------


def test_an_order_one_second_before_the_cutoff_ships_that_day() -> None:
    promise = CALC.promise("DC-CHI", "GROUND", at(CHICAGO, "2026-12-01", "14:59:59"), ZONE_3)

    assert promise is not None
    assert (promise.ship_date, promise.delivery_date) == (date(2026, 12, 1), date(2026, 12, 3))
    assert (promise.zone, promise.transit_days) == (3, 2)
    assert local(promise.order_by, CHICAGO) == "Tue 2026-12-01 15:00:00 CST"


def test_an_order_exactly_at_the_cutoff_ships_the_next_working_day() -> None:
    promise = CALC.promise("DC-CHI", "GROUND", at(CHICAGO, "2026-12-01", "15:00:00"), ZONE_3)

    assert promise is not None
    assert (promise.ship_date, promise.delivery_date) == (date(2026, 12, 2), date(2026, 12, 4))
    assert local(promise.order_by, CHICAGO) == "Wed 2026-12-02 15:00:00 CST"


def test_the_last_microsecond_before_the_cutoff_still_counts() -> None:
    instant = epoch_seconds(datetime(2026, 12, 1, 14, 59, 59, 999_999, tzinfo=CHICAGO))

    assert ship("DC-CHI", instant) == date(2026, 12, 1)


def test_each_service_has_its_own_cutoff() -> None:
    instant = at(CHICAGO, "2026-12-01", "14:00:00")  # before GROUND's 15:00, after NEXT_DAY's 13:00

    assert ship("DC-CHI", instant, "GROUND") == date(2026, 12, 1)
    assert ship("DC-CHI", instant, "NEXT_DAY") == date(2026, 12, 2)


# --- weekends ---------------------------------------------------------------------------------------------------


def test_a_friday_order_after_the_cutoff_is_released_saturday_and_ships_monday() -> None:
    # DC-CHI works Saturdays; GROUND picks up Monday to Friday.
    shipped = CALC.ship("DC-CHI", "GROUND", at(CHICAGO, "2026-12-04", "15:00:00"))

    assert shipped is not None
    assert date.fromordinal(shipped[0]) == date(2026, 12, 7)
    # Released Saturday, picked up Monday; so is every order until Monday's cut-off.
    assert local(shipped[1], CHICAGO) == "Mon 2026-12-07 15:00:00 CST"
    assert ship("DC-CHI", at(CHICAGO, "2026-12-07", "14:59:59")) == date(2026, 12, 7)
    assert delivered("DC-CHI", at(CHICAGO, "2026-12-04", "15:00:00"), ZONE_3) == date(2026, 12, 9)


def test_transit_days_skip_the_weekend() -> None:
    assert delivered("DC-CHI", at(CHICAGO, "2026-12-04", "14:00:00"), ZONE_3) == date(2026, 12, 8)  # Fri -> Tue


def test_a_sunday_order_is_released_on_monday() -> None:
    shipped = CALC.ship("DC-CHI", "GROUND", at(CHICAGO, "2026-12-06", "10:00:00"))

    assert shipped is not None and date.fromordinal(shipped[0]) == date(2026, 12, 7)
    assert local(shipped[1], CHICAGO) == "Mon 2026-12-07 15:00:00 CST"


# --- holidays ---------------------------------------------------------------------------------------------------


def test_a_node_and_carrier_holiday_moves_the_release_and_the_transit() -> None:
    # Thanksgiving (Thu 26 Nov 2026) closes the DC and the carrier.
    assert ship("DC-CHI", at(CHICAGO, "2026-11-25", "15:30:00")) == date(2026, 11, 27)
    assert delivered("DC-CHI", at(CHICAGO, "2026-11-25", "15:30:00"), ZONE_3) == date(2026, 12, 1)
    assert delivered("DC-CHI", at(CHICAGO, "2026-11-25", "14:00:00"), ZONE_3) == date(2026, 11, 30)


def test_a_carrier_holiday_alone_counts_no_transit_day() -> None:
    # DC-NYC has no holidays; the carrier is closed on Christmas Day (Fri 25 Dec 2026).
    assert ship("DC-NYC", at(NEW_YORK, "2026-12-24", "10:00:00")) == date(2026, 12, 24)
    assert delivered("DC-NYC", at(NEW_YORK, "2026-12-24", "10:00:00"), 40.0) == date(2026, 12, 28)


def test_a_node_holiday_alone_delays_the_release() -> None:
    # Columbus Day (Mon 12 Oct 2026) is a federal holiday at DC-CHI, a working day for the carrier.
    assert ship("DC-CHI", at(CHICAGO, "2026-10-12", "09:00:00")) == date(2026, 10, 13)
    assert ship("DC-NYC", at(NEW_YORK, "2026-10-12", "09:00:00")) == date(2026, 10, 12)


# --- both changes of daylight saving time ---------------------------------------------------------------------


def test_the_cutoff_follows_the_local_clock_across_spring_forward() -> None:
    # 20:30 UTC is 14:30 CST on Monday 2 March and 15:30 CDT on Monday 9 March (clocks went forward on the 8th).
    assert ship("DC-CHI", epoch_seconds(datetime(2026, 3, 2, 20, 30, tzinfo=UTC))) == date(2026, 3, 2)
    assert ship("DC-CHI", epoch_seconds(datetime(2026, 3, 9, 20, 30, tzinfo=UTC))) == date(2026, 3, 10)


def test_the_cutoff_follows_the_local_clock_across_fall_back() -> None:
    # 20:30 UTC is 15:30 CDT on Thursday 29 October and 14:30 CST on Monday 2 November (clocks went back on the 1st).
    assert ship("DC-CHI", epoch_seconds(datetime(2026, 10, 29, 20, 30, tzinfo=UTC))) == date(2026, 10, 30)
    assert ship("DC-CHI", epoch_seconds(datetime(2026, 11, 2, 20, 30, tzinfo=UTC))) == date(2026, 11, 2)


def test_local_days_are_23_and_25_hours_long_on_the_change_days() -> None:
    clock = ZoneClock(time_zone("America/Chicago"))
    utc = lambda *parts: epoch_seconds(datetime(*parts, tzinfo=UTC))  # noqa: E731

    assert clock.day_of(utc(2026, 3, 8, 5, 59, 59)) == d("2026-03-07")  # 23:59:59 CST
    assert clock.day_of(utc(2026, 3, 8, 6, 0, 0)) == d("2026-03-08")  # midnight CST
    assert clock.day_of(utc(2026, 3, 9, 4, 59, 59)) == d("2026-03-08")  # 23:59:59 CDT, 23 hours later
    assert clock.day_of(utc(2026, 3, 9, 5, 0, 0)) == d("2026-03-09")
    assert clock.day_of(utc(2026, 11, 1, 5, 0, 0)) == d("2026-11-01")  # midnight CDT
    assert clock.day_of(utc(2026, 11, 2, 5, 59, 59)) == d("2026-11-01")  # 23:59:59 CST, 25 hours later
    assert clock.day_of(utc(2026, 11, 2, 6, 0, 0)) == d("2026-11-02")


def test_a_cutoff_in_the_skipped_hour_falls_an_hour_later_by_the_new_clock() -> None:
    # 02:30 does not exist on 8 March 2026 in Chicago: read with the offset before the gap it is 08:30 UTC, 03:30 CDT.
    calc = PromiseCalculator([every_day_node("America/Chicago", "02:30")], [seven_day_courier()])

    assert ship("N", at(CHICAGO, "2026-03-08", "03:15:00"), "COURIER", calc) == date(2026, 3, 8)
    assert ship("N", at(CHICAGO, "2026-03-08", "03:30:00"), "COURIER", calc) == date(2026, 3, 9)


def test_a_cutoff_in_the_repeated_hour_is_the_first_of_the_two() -> None:
    # 01:30 happens twice on 1 November 2026 in Chicago; the cut-off is the first (CDT, 06:30 UTC).
    calc = PromiseCalculator([every_day_node("America/Chicago", "01:30")], [seven_day_courier()])

    assert ship("N", at(CHICAGO, "2026-11-01", "01:10:00", fold=0), "COURIER", calc) == date(2026, 11, 1)
    assert ship("N", at(CHICAGO, "2026-11-01", "01:45:00", fold=0), "COURIER", calc) == date(2026, 11, 2)
    # 01:10 the second time (CST) is after the cut-off, though the clock shows less than 01:30.
    assert ship("N", at(CHICAGO, "2026-11-01", "01:10:00", fold=1), "COURIER", calc) == date(2026, 11, 2)


def test_a_sunday_cutoff_on_the_fall_back_day_is_read_on_that_days_clock() -> None:
    calc = PromiseCalculator([every_day_node("America/Los_Angeles", "15:00")], [seven_day_courier()])

    # 22:30 UTC is 14:30 PST on 1 November (before the cut-off) but 15:30 PDT on 31 October.
    assert ship("N", epoch_seconds(datetime(2026, 11, 1, 22, 30, tzinfo=UTC)), "COURIER", calc) == date(2026, 11, 1)
    assert ship("N", epoch_seconds(datetime(2026, 10, 31, 22, 30, tzinfo=UTC)), "COURIER", calc) == date(2026, 11, 1)


# --- node and ship-to in different time zones -----------------------------------------------------------------


def test_the_node_local_time_decides_not_the_customers() -> None:
    # A New York customer ordering from the Los Angeles store (cut-off 15:00 Pacific).
    late_monday_in_new_york = at(NEW_YORK, "2026-12-07", "23:30:00")  # 20:30 in Los Angeles: after the cut-off
    early_tuesday_in_new_york = at(NEW_YORK, "2026-12-08", "01:00:00")  # 22:00 Monday in Los Angeles
    tuesday_evening_in_new_york = at(NEW_YORK, "2026-12-08", "17:30:00")  # 14:30 in Los Angeles: before it

    assert ship("ST-LAX", late_monday_in_new_york) == date(2026, 12, 8)
    assert ship("ST-LAX", early_tuesday_in_new_york) == date(2026, 12, 8)
    shipped = CALC.ship("ST-LAX", "GROUND", tuesday_evening_in_new_york)
    assert shipped is not None and date.fromordinal(shipped[0]) == date(2026, 12, 8)
    assert local(shipped[1], NEW_YORK) == "Tue 2026-12-08 18:00:00 EST"  # "order within 30 minutes"


def test_a_node_already_in_tomorrow_ships_tomorrow_for_a_customer_still_in_today() -> None:
    # 21:30 Monday in Los Angeles is 00:30 Tuesday in New York: the New York DC's Tuesday, before its 17:00.
    shipped = CALC.ship("DC-NYC", "GROUND", at(LOS_ANGELES, "2026-12-07", "21:30:00"))

    assert shipped is not None and date.fromordinal(shipped[0]) == date(2026, 12, 8)
    assert local(shipped[1], LOS_ANGELES) == "Tue 2026-12-08 14:00:00 PST"


# --- year end ---------------------------------------------------------------------------------------------------


def test_new_years_eve_after_the_cutoff_ships_in_the_new_year() -> None:
    # Thu 31 Dec 2026 16:00: Friday 1 January is a holiday, Saturday no pickup, so Monday 4 January.
    instant = at(CHICAGO, "2026-12-31", "16:00:00")

    assert ship("DC-CHI", instant) == date(2027, 1, 4)
    assert delivered("DC-CHI", instant, ZONE_5) == date(2027, 1, 7)


def test_transit_runs_over_the_year_end() -> None:
    # Shipped Wed 30 Dec 2026, 5 business days: 31 Dec, (1 Jan a holiday), 4, 5, 6 and 7 January.
    assert delivered("DC-CHI", at(CHICAGO, "2026-12-30", "10:00:00"), ZONE_8) == date(2027, 1, 7)


# --- processing, pickup days, transit ---------------------------------------------------------------------------


def test_processing_days_count_working_days_after_the_release() -> None:
    slow = replace(DC_NYC, processing_days=2)
    calc = PromiseCalculator([slow], SERVICES)

    assert ship("DC-NYC", at(NEW_YORK, "2026-12-07", "10:00:00"), calc=calc) == date(2026, 12, 9)  # Mon -> Wed
    assert ship("DC-NYC", at(NEW_YORK, "2026-12-10", "10:00:00"), calc=calc) == date(2026, 12, 14)  # Thu -> Mon
    assert ship("DC-NYC", at(NEW_YORK, "2026-12-10", "18:00:00"), calc=calc) == date(2026, 12, 15)  # Fri -> Tue


def test_a_shipment_waits_for_the_carriers_pickup_day() -> None:
    tue_thu = replace(GROUND, pickup_days=frozenset({Weekday.TUE, Weekday.THU}))
    calc = PromiseCalculator([DC_NYC], [tue_thu])

    assert ship("DC-NYC", at(NEW_YORK, "2026-12-07", "10:00:00"), calc=calc) == date(2026, 12, 8)
    assert ship("DC-NYC", at(NEW_YORK, "2026-12-08", "17:30:00"), calc=calc) == date(2026, 12, 10)


def test_zero_transit_days_deliver_on_the_ship_day() -> None:
    calc = PromiseCalculator([every_day_node("America/Chicago", "12:00")], [seven_day_courier(transit=0)])
    promise = calc.promise("N", "COURIER", at(CHICAGO, "2026-12-06", "11:00:00"), 3.0)

    assert promise is not None and promise.ship_date == promise.delivery_date == date(2026, 12, 6)


# --- Alaska and Hawaii -----------------------------------------------------------------------------------------


def test_alaska_and_hawaii_are_zones_of_their_own() -> None:
    monday = at(CHICAGO, "2026-12-07", "10:00:00")
    alaska = CALC.promise("DC-CHI", "GROUND", monday, 2800.0, "US-AK")
    hawaii = CALC.promise("DC-CHI", "GROUND", monday, 4200.0, "US-HI")

    assert alaska is not None and hawaii is not None
    assert (GROUND.zone(alaska.zone).zone, alaska.transit_days, alaska.delivery_date) == ("AK", 6, date(2026, 12, 15))
    assert (GROUND.zone(hawaii.zone).zone, hawaii.transit_days, hawaii.delivery_date) == ("HI", 8, date(2026, 12, 17))
    # Elsewhere the distance decides, whatever the distance.
    assert CALC.promise("DC-CHI", "GROUND", monday, 2800.0, "US-CONTIGUOUS").zone == 8  # type: ignore[union-attr]


def test_a_service_without_an_alaska_zone_zones_alaska_by_distance() -> None:
    standard = DEFAULT_CARRIER_SERVICES["STANDARD"]
    calc = PromiseCalculator([NodeSchedule("X")], [standard])
    promise = calc.promise("X", "STANDARD", at(CHICAGO, "2026-12-07", "10:00:00"), 2800.0, "US-AK")

    assert promise is not None and (promise.zone, promise.transit_days) == (8, 5)


# --- pickups ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ordered", "ready"),
    [
        ("2026-12-08 18:00:00", "Tue 2026-12-08 20:00:00 PST"),
        ("2026-12-08 08:00:00", "Tue 2026-12-08 12:00:00 PST"),  # counted from opening
        ("2026-12-08 20:30:00", "Wed 2026-12-09 11:30:00 PST"),  # 30 minutes tonight, 90 tomorrow
        ("2026-12-08 19:00:00", "Wed 2026-12-09 10:00:00 PST"),  # ready at closing time is ready next opening
        ("2026-11-25 20:00:00", "Fri 2026-11-27 11:00:00 PST"),  # Thanksgiving closed
    ],
)
def test_a_pickup_is_ready_after_its_minutes_of_opening_hours(ordered: str, ready: str) -> None:
    day, clock = ordered.split()

    assert local(CALC.pickup_ready("ST-LAX", at(LOS_ANGELES, day, clock)), LOS_ANGELES) == ready


# --- defaults, what is not offered, bad questions ---------------------------------------------------------------


def test_a_node_without_schedule_data_works_every_day_in_utc_until_23_59() -> None:
    calc = PromiseCalculator([NodeSchedule("PLAIN")], DEFAULT_CARRIER_SERVICES.values())
    saturday_late = epoch_seconds(datetime(2026, 12, 5, 23, 58, 59, tzinfo=UTC))

    assert calc.offers("PLAIN", "STANDARD") and calc.offers("PLAIN", "EXPRESS")
    shipped = calc.ship("PLAIN", "STANDARD", saturday_late)
    assert shipped is not None
    assert date.fromordinal(shipped[0]) == date(2026, 12, 7)  # the default services pick up Monday-Friday
    assert instant_of(shipped[1]) == datetime(2026, 12, 7, 23, 59, tzinfo=UTC)  # so do orders until Monday 23:59
    promise = calc.promise("PLAIN", "EXPRESS", saturday_late, 700.0)
    assert promise is not None and promise.transit_days == 2


def test_a_service_the_node_does_not_ship_with_has_no_promise() -> None:
    assert CALC.promise("ST-LAX", "NEXT_DAY", at(LOS_ANGELES, "2026-12-08", "09:00:00"), 10.0) is None
    assert not CALC.offers("ST-LAX", "NEXT_DAY")


def test_unknown_nodes_and_services_are_named() -> None:
    with pytest.raises(InvalidInputError) as caught:
        CALC.ship("ST-999", "GROUND", 0)
    assert caught.value.violations[0].field == "node_id"
    with pytest.raises(InvalidInputError) as caught:
        CALC.delivery_day("OVERNIGHT", d("2026-12-07"), 1)
    assert str(caught.value) == "carrier_service: names unknown carrier service 'OVERNIGHT'; known: GROUND, NEXT_DAY"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="at: must carry a time zone"):
        epoch_seconds(datetime(2026, 12, 1, 15, 0))


def test_the_calculator_checks_its_network() -> None:
    orphan = NodeSchedule("N", cutoffs=(Cutoff("OVERNIGHT", 600),))
    saturday_only = NodeSchedule("S", working_days=frozenset({Weekday.SAT}), cutoffs=(Cutoff("GROUND", 600),))
    with pytest.raises(InvalidInputError) as caught:
        PromiseCalculator([orphan, saturday_only, orphan], [GROUND])

    assert {v.field: v.description for v in caught.value.violations} == {
        "schedules[0].cutoffs[0].carrier_service": "names unknown carrier service 'OVERNIGHT'; known: GROUND",
        "schedules[1].cutoffs[0].carrier_service": (
            "GROUND picks up on MON, TUE, WED, THU, FRI only, none of them a working day of the node (SAT)"
        ),
        "schedules[2].node_id": "duplicates 'N' (first at schedules[0])",
        "schedules[2].cutoffs[0].carrier_service": "names unknown carrier service 'OVERNIGHT'; known: GROUND",
    }


# --- the ship board ----------------------------------------------------------------------------------------------


def test_the_board_holds_every_nodes_ship_day_until_the_next_cutoff() -> None:
    calc = calculator()
    now = at(CHICAGO, "2026-12-01", "12:00:00")
    board = calc.board(now)

    for i, node_id in enumerate(board.node_ids):
        for service in SERVICES:
            shipped = calc.ship(node_id, service.id, now)
            assert board.ship_days[service.id][i] == (NOT_OFFERED if shipped is None else shipped[0])
    # The first cut-off to pass is DC-CHI's NEXT_DAY at 13:00 Chicago time.
    assert local(board.valid_until, CHICAGO) == "Tue 2026-12-01 13:00:00 CST"
    assert calc.board(board.valid_until - 1) is board
    later = calc.board(board.valid_until)
    assert later is not board and later.ship_days["NEXT_DAY"][board.node_ids.index("DC-CHI")] == d("2026-12-02")


# --- far from the first question ----------------------------------------------------------------------------


def test_answers_far_from_the_first_question_are_the_same_as_near_it() -> None:
    calc = calculator()
    calc.ship("DC-CHI", "GROUND", at(CHICAGO, "2026-12-01", "10:00:00"))  # the arrays start around here

    assert ship("DC-CHI", at(CHICAGO, "2099-12-31", "16:00:00"), calc=calc) == date(2100, 1, 1)  # a Friday
    assert ship("DC-CHI", at(CHICAGO, "2001-01-05", "16:00:00"), calc=calc) == date(2001, 1, 8)  # Fri -> Mon
    assert ship("DC-CHI", at(CHICAGO, "2026-12-01", "16:00:00"), calc=calc) == date(2026, 12, 2)


def test_a_long_closure_is_crossed() -> None:
    closed = frozenset(date.fromordinal(d("2026-12-01") + i) for i in range(900))  # the whole span and more
    calc = PromiseCalculator([replace(DC_NYC, holidays=closed)], SERVICES)

    assert ship("DC-NYC", at(NEW_YORK, "2026-12-01", "10:00:00"), calc=calc) == date(2029, 5, 21)  # a Monday


def test_the_sample_like_schedules_are_all_used() -> None:
    assert {s.node_id for s in SCHEDULES} == {DC_CHI.node_id, ST_LAX.node_id, DC_NYC.node_id}


def test_deliveries_for_candidate_nodes_are_each_nodes_promise() -> None:
    calc = calculator()
    now = at(CHICAGO, "2026-12-04", "14:30:00")  # a Friday: some ship today, some Monday
    board = calc.board(now)
    nodes = list(range(len(board.node_ids)))
    for region, miles in (("US-CONTIGUOUS", [40.0, 700.0, 2000.0]), ("US-AK", [2800.0] * 3), ("US-HI", [4200.0] * 3)):
        for service in SERVICES:
            found = calc.deliveries(board, service.id, nodes, miles, region)
            for i, node_id in enumerate(board.node_ids):
                promise = calc.promise(node_id, service.id, now, miles[i], region)
                assert found[i] == (NOT_OFFERED if promise is None else promise.delivery_day), (node_id, service.id)


def test_an_order_by_near_the_end_of_a_span_built_a_year_earlier_is_not_cut_short() -> None:
    """Found by the day-by-day reference: Mondays and Wednesdays at the node, Monday pickups, cut-off
    at midnight. Asked first about Nov 2025, the departures' span ended on Sun 6 Dec 2026; an order
    on Tue 1 Dec was released Wed 2 Dec and leaves Mon 7 Dec, as do orders until Mon's own cut-off,
    but the span's end had stopped its order-by at Wed's cut-off."""
    schedule = NodeSchedule(
        "N",
        time_zone="America/Chicago",
        working_days=frozenset({Weekday.MON, Weekday.WED}),
        cutoffs=(Cutoff("SVC", 0),),
    )
    service = CarrierService(
        "SVC",
        "Carrier",
        "STANDARD",
        (ZoneRate("1", 0, 1.0, 0.1),),
        pickup_days=frozenset({Weekday.MON}),
        delivery_days=frozenset({Weekday.MON}),
    )
    calc = PromiseCalculator([schedule], [service])
    calc.promise("N", "SVC", epoch_seconds(datetime(2025, 11, 1, tzinfo=UTC)), 10.0)
    promise = calc.promise("N", "SVC", epoch_seconds(datetime(2026, 12, 1, 6, tzinfo=UTC)), 10.0)
    assert promise is not None
    assert promise.ship_date == date(2026, 12, 7)
    assert promise.order_by_time == datetime(2026, 12, 7, 6, tzinfo=UTC)  # Mon's midnight in Chicago
