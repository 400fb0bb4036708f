"""Promise data checks itself: every bad field is named, and today's rate tables are carrier services."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime

import pytest

from engine.errors import InvalidInputError
from engine.promise.calculator import epoch_seconds
from engine.promise.model import (
    DEFAULT_CARRIER_SERVICES,
    CarrierService,
    Cutoff,
    NodeSchedule,
    Weekday,
    ZoneRate,
    carrier_service_from_rate_table,
    carrier_services_in_force,
    cutoff_problems,
    format_time_of_day,
    parse_date,
    parse_time_of_day,
    parse_weekday,
    unoffered_services,
)
from engine.promise.zones import is_time_zone, time_zone
from engine.rates import DEFAULT_RATE_TABLES, EXPRESS_RATES, STANDARD_RATES, RateTable
from tests.engine.promise.network import GROUND, NEXT_DAY

CUSTOM = RateTable("TWO_DAY", (250.0, 900.0), (12.0, 14.0, 16.5), (0.9, 1.1, 1.35))


def fields(caught: pytest.ExceptionInfo[InvalidInputError]) -> dict[str, str]:
    return {v.field: v.description for v in caught.value.violations}


def rows(*specs: tuple[str, float | None]) -> tuple[ZoneRate, ...]:
    return tuple(ZoneRate(zone, 1, 5.0, 0.5, miles) for zone, miles in specs)


# --- values as the network file writes them ----------------------------------------------------------------------


def test_times_of_day_dates_and_weekdays_parse_strictly() -> None:
    assert (
        parse_time_of_day("15:00") == 900 and parse_time_of_day("24:00") == 1440 and format_time_of_day(59) == "00:59"
    )
    assert parse_date("2026-12-25") == date(2026, 12, 25) and parse_weekday("SAT") is Weekday.SAT
    for bad in ("3pm", "15:00:00", "9:00", "15:60", ""):
        with pytest.raises(ValueError, match="must be a time of day HH:MM"):
            parse_time_of_day(bad)
    for bad in ("2026-02-30", "2026-2-3", "20261225", "2026-W52-5", "25/12/2026"):
        with pytest.raises(ValueError, match="must be a date YYYY-MM-DD"):
            parse_date(bad)
    with pytest.raises(ValueError, match="must be one of MON, TUE, WED, THU, FRI, SAT, SUN, not 'Monday'"):
        parse_weekday("Monday")


# --- node schedules -----------------------------------------------------------------------------------------------


def test_a_schedule_names_every_bad_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        NodeSchedule(
            "ST-1", "Mars/Olympus_Mons", frozenset(), 600, 540, frozenset({date(1999, 12, 31)}), 31,
            (Cutoff("GROUND", 900), Cutoff("GROUND", 960)), 10_081,
        )  # fmt: skip
    assert fields(caught) == {
        "time_zone": "must be an IANA time zone such as 'America/Chicago', not 'Mars/Olympus_Mons'",
        "working_days": "must name at least one day of the week",
        "closes": "must be later than opens (10:00)",
        "holidays": "1999-12-31 is outside the years 2000-2100",
        "processing_days": "must be between 0 and 30",
        "pickup_ready_minutes": "must be between 0 and 10080",
        "cutoffs[1].carrier_service": "duplicates 'GROUND' (first at cutoffs[0])",
    }


@pytest.mark.parametrize(("minute", "ok"), [(0, True), (1439, True), (1440, False), (-1, False)])
def test_a_cutoff_lies_between_00_00_and_23_59(minute: int, ok: bool) -> None:
    if ok:
        assert Cutoff("GROUND", minute).time == minute
        return
    with pytest.raises(InvalidInputError) as caught:
        Cutoff("GROUND", minute)
    assert fields(caught) == {"time": "must be between 00:00 and 23:59"}


def test_opening_hours_may_end_at_midnight_but_not_after() -> None:
    assert NodeSchedule("ST", opens=600, closes=1440).closes == 1440
    with pytest.raises(InvalidInputError) as caught:
        NodeSchedule("ST", opens=1440, closes=1441)
    assert fields(caught) == {"opens": "must be between 00:00 and 23:59", "closes": "must be between 00:01 and 24:00"}


def test_a_schedule_without_cutoff_data_offers_everything_at_23_59() -> None:
    plain = NodeSchedule("DC")

    assert (plain.time_zone, plain.working_days, plain.opens, plain.closes) == ("UTC", frozenset(Weekday), 0, 1440)
    assert plain.cutoff_for("ANYTHING") == 1439
    assert NodeSchedule("ST", cutoffs=()).cutoff_for("GROUND") is None  # an empty list offers nothing


# --- time zones come from the pinned tzdata, on every machine -----------------------------------------------------


def test_time_zones_are_the_tzdata_packages_not_the_machines() -> None:
    assert is_time_zone("America/Chicago") and is_time_zone("UTC") and is_time_zone("America/Indiana/Indianapolis")
    # Names a system database may hold besides the IANA zones are not accepted here.
    for name in ("localtime", "posixrules", "../etc/passwd", "America/chicago", "x" * 1000, ""):
        assert not is_time_zone(name), name
    with pytest.raises(ValueError, match="time zone must be an IANA time zone"):
        time_zone("localtime")


def test_promises_work_without_a_system_time_zone_database() -> None:
    code = (
        "import zoneinfo; zoneinfo.reset_tzpath(to=[]);"
        "from datetime import datetime;"
        "from engine.promise.calculator import PromiseCalculator, epoch_seconds;"
        "from engine.promise.model import NodeSchedule, DEFAULT_CARRIER_SERVICES as S;"
        "c = PromiseCalculator([NodeSchedule('N', 'America/Chicago')], S.values());"
        "print(c.ship('N', 'STANDARD', epoch_seconds(datetime.fromisoformat('2026-12-04T23:59:30-06:00'))))"
    )
    env = {"PYTHONTZPATH": "", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)

    assert done.returncode == 0, done.stderr
    monday_cutoff = epoch_seconds(datetime.fromisoformat("2026-12-07T23:59:00-06:00"))
    assert done.stdout.strip() == f"({date(2026, 12, 7).toordinal()}, {monday_cutoff})"  # ships Mon


# --- carrier services and their zone charts ---------------------------------------------------------------------


def test_a_zone_chart_runs_1_2_3_without_gaps_then_alaska_and_hawaii() -> None:
    gap = "leaves a gap: zone 3 is missing before zone 4"
    last = "must be absent: the last numbered zone covers every distance beyond"
    cases = {
        "gap": (rows(("1", 50.0), ("2", 150.0), ("4", None)), {"zones[2].zone": gap}),
        "order": (
            rows(("1", 50.0), ("3", 150.0), ("2", None)),
            {
                "zones[1].zone": "leaves a gap: zone 2 is missing before zone 3",
                "zones[2].zone": "zone 2 is out of order: zones run 1, 2, 3, ... (expected zone 4)",
            },
        ),
        "repeat": (
            rows(("1", 50.0), ("1", None)),
            {"zones[1].zone": "zone 1 is out of order: zones run 1, 2, 3, ... (expected zone 2)"},
        ),
        "limit missing": (
            rows(("1", None), ("2", None)),
            {"zones[0].up_to_miles": "is required on every numbered zone but the last"},
        ),
        "last limited": (rows(("1", 50.0), ("2", 90.0)), {"zones[1].up_to_miles": last}),
        "limits falling": (
            rows(("1", 150.0), ("2", 50.0), ("3", None)),
            {"zones[1].up_to_miles": "must be greater than the zone before's (150)"},
        ),
        "alaska first": (rows(("AK", None), ("1", None)), {"zones[1].zone": "zone 1 must come before zones AK and HI"}),
        "alaska twice": (rows(("1", None), ("AK", None), ("AK", None)), {"zones[2].zone": "repeats zone AK"}),
        "alaska banded": (
            rows(("1", None), ("HI", 99.0)),
            {"zones[1].up_to_miles": "must be absent: zone HI is not a distance band"},
        ),
        "no zone 1": (
            rows(("AK", None)),
            {"zones": "needs zone 1 at least: the chart's numbered zones cover every distance"},
        ),
    }
    for name, (chart, expected) in cases.items():
        with pytest.raises(InvalidInputError) as caught:
            CarrierService("X", "Carrier", "STANDARD", chart)
        assert fields(caught) == expected, name


def test_a_zone_row_checks_its_own_values() -> None:
    with pytest.raises(InvalidInputError) as caught:
        ZoneRate("PR", 31, -1.0, float("nan"), 0.0)
    assert fields(caught) == {
        "zone": "must be a zone number 1-32, 'AK' or 'HI', not 'PR'",
        "transit_days": "must be between 0 and 30",
        "base": "must be between 0 and 1000000",
        "per_lb": "must be between 0 and 1000000",
        "up_to_miles": "must be greater than 0 and at most 12500",
    }
    for label in ("0", "01", "33", ""):
        with pytest.raises(InvalidInputError):
            ZoneRate(label, 1, 1.0, 1.0)


def test_a_carrier_service_names_every_bad_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        replace(
            NEXT_DAY, id="next day", carrier="", service_level="", pickup_days=frozenset(), delivery_days=frozenset(),
            dim_divisor=0.0, residential_surcharge=-1.0, remote_area_zip3=frozenset({"99", "588"}),
        )  # fmt: skip
    assert fields(caught) == {
        "id": "must be capital letters, digits, '_' or '-' (such as 'TWO_DAY'), not 'next day'",
        "carrier": "is required",
        "service_level": "is required",
        "pickup_days": "must name at least one day of the week",
        "delivery_days": "must name at least one day of the week",
        "dim_divisor": "must be absent or between 1 and 100000",
        "residential_surcharge": "must be between 0 and 1000000",
        "remote_area_zip3": "entries must be three digits such as '995', not '99'",
    }


def test_zones_come_from_distance_or_from_alaska_and_hawaii() -> None:
    assert [GROUND.zone_of(miles) for miles in (0.0, 50.0, 50.01, 1800.0, 1800.01, 9000.0)] == [1, 1, 2, 7, 8, 8]
    assert GROUND.zone(GROUND.zone_of(3000.0, "US-AK")).zone == "AK"
    assert GROUND.zone(GROUND.zone_of(3000.0, "US-HI")).zone == "HI"
    assert GROUND.zone_of(3000.0, "US-PR") == 8  # Puerto Rico has no zone of its own here: distance decides


# --- today's rate tables as carrier services ----------------------------------------------------------------------


def test_a_rate_table_becomes_a_carrier_service_with_the_same_rates() -> None:
    for table in (STANDARD_RATES, EXPRESS_RATES, CUSTOM):
        service = carrier_service_from_rate_table(table)
        assert service.rate_table == table
        assert (service.id, service.service_level, service.carrier) == (
            table.service_level,
            table.service_level,
            "DEFAULT",
        )
        assert (service.dim_divisor, service.residential_surcharge, service.holidays) == (None, 0.0, frozenset())
    # Ground transit by how far each zone starts: under 150 miles 1 day, then +1 past 150, 600, 1,000 and 1,800.
    standard = DEFAULT_CARRIER_SERVICES["STANDARD"]
    assert [row.transit_days for row in standard.zones] == [1, 1, 2, 2, 3, 4, 4, 5]
    assert [row.transit_days for row in DEFAULT_CARRIER_SERVICES["EXPRESS"].zones] == [2] * 8
    assert [row.transit_days for row in carrier_service_from_rate_table(CUSTOM).zones] == [1, 2, 3]
    assert {s.rate_table for s in DEFAULT_CARRIER_SERVICES.values()} == set(DEFAULT_RATE_TABLES.values())


def test_the_services_in_force_are_the_networks_own_or_its_tables_or_the_defaults_never_a_mix() -> None:
    assert carrier_services_in_force([], []) == dict(DEFAULT_CARRIER_SERVICES)
    derived = carrier_services_in_force([], [CUSTOM, STANDARD_RATES])
    assert list(derived) == ["STANDARD", "TWO_DAY"] and derived["TWO_DAY"].rate_table == CUSTOM
    assert list(carrier_services_in_force([NEXT_DAY, GROUND], [CUSTOM])) == ["GROUND", "NEXT_DAY"]


# --- schedules against services -----------------------------------------------------------------------------------


def test_cutoffs_must_name_a_service_that_picks_up_on_a_working_day() -> None:
    sundays = NodeSchedule(
        "ST", working_days=frozenset({Weekday.SUN}), cutoffs=(Cutoff("GROUND", 900), Cutoff("OVERNIGHT", 900))
    )
    found = {v.field: v.description for v in cutoff_problems(sundays, {"GROUND": GROUND, "NEXT_DAY": NEXT_DAY})}

    assert found == {
        "cutoffs[0].carrier_service": (
            "GROUND picks up on MON, TUE, WED, THU, FRI only, none of them a working day of the node (SUN)"
        ),
        "cutoffs[1].carrier_service": "names unknown carrier service 'OVERNIGHT'; known: GROUND, NEXT_DAY",
    }


def test_a_service_nobody_offers_is_found_unless_a_node_offers_everything() -> None:
    ground_only = NodeSchedule("DC", cutoffs=(Cutoff("GROUND", 900),))

    assert unoffered_services([ground_only, NodeSchedule("ST", cutoffs=())], [GROUND, NEXT_DAY]) == ["NEXT_DAY"]
    assert unoffered_services([ground_only, NodeSchedule("PLAIN")], [GROUND, NEXT_DAY]) == []
