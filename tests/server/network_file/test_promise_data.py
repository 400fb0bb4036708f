"""Rate tables and delivery-promise data in a network file (server/network_file/promise_data.py):
schedules, holiday calendars and carrier services load into the engine's types, and every bad
field is refused at its exact path."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from engine.model import NodeType
from engine.promise.model import (
    ALL_WEEK,
    DEFAULT_CARRIER_SERVICES,
    MONDAY_TO_FRIDAY,
    MONDAY_TO_SATURDAY,
    Cutoff,
    NodeSchedule,
    Weekday,
)
from engine.rates import DEFAULT_RATE_TABLES, RateTable
from server.network_file import NetworkFileError, parse_network, read_network_file
from tests.server.network_file.helpers import FIXTURES, SAMPLE, minimal, problems


def test_rate_tables_load_upper_cased_with_decimal_money() -> None:
    network = read_network_file(FIXTURES / "rate-tables.json")

    assert network.rate_tables == (
        RateTable("STANDARD", (100.0, 400.0, 1200.0), (4.00, 5.25, 7.50, 10.00), (0.25, 0.40, 0.75, 1.10)),
        RateTable("TWO_DAY", (250.0,), (12.00, 16.50), (0.90, 1.35)),
    )
    # The section replaces the defaults: no sample EXPRESS rates left to price an order with.
    assert sorted(network.rate_tables_in_force) == ["STANDARD", "TWO_DAY"]


def test_without_a_rate_tables_section_the_defaults_are_in_force() -> None:
    network = read_network_file(FIXTURES / "minimal.json")

    assert network.rate_tables == ()
    assert network.rate_tables_in_force == dict(DEFAULT_RATE_TABLES)


def test_a_single_zone_table_has_no_limits() -> None:
    doc = minimal()
    doc["rate_tables"] = [{"service_level": "STANDARD", "zone_limits_miles": [], "base": [7], "per_lb": ["0.5"]}]

    (table,) = parse_network(doc).rate_tables
    assert (table.zone_limits_miles, table.base, table.per_lb) == ((), (7.0,), (0.5,))


def _standard(**overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "service_level": "STANDARD",
        "zone_limits_miles": [100, 400],
        "base": ["4.00", "5.25", "7.50"],
        "per_lb": [0.25, 0.40, 0.75],
    }
    table.update(overrides)
    return table


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("service_level", 7, "rate_tables[1].service_level", "must be a string, not number"),
        ("service_level", "", "rate_tables[1].service_level", "is required"),
        ("service_level", "S" * 129, "rate_tables[1].service_level", "is longer than 128 characters"),
        ("zone_limits_miles", "100,400", "rate_tables[1].zone_limits_miles", "must be an array, not string"),
        ("zone_limits_miles", [100, "400"], "rate_tables[1].zone_limits_miles[1]", "must be a number, not string"),
        (
            "zone_limits_miles",
            [0, 400],
            "rate_tables[1].zone_limits_miles[0]",
            "must be greater than 0 and at most 12500",
        ),
        (
            "zone_limits_miles",
            [100, 20000],
            "rate_tables[1].zone_limits_miles[1]",
            "must be greater than 0 and at most 12500",
        ),
        (
            "zone_limits_miles",
            [400, 100],
            "rate_tables[1].zone_limits_miles[1]",
            "must be greater than the limit before it (400)",
        ),
        (
            "base",
            ["4.00", "5,25", "7.50"],
            "rate_tables[1].base[1]",
            "must be a decimal number such as \"4.25\", not '5,25'",
        ),
        ("base", ["4.00", True, "7.50"], "rate_tables[1].base[1]", "must be a number or a decimal string, not boolean"),
        ("base", None, "rate_tables[1].base", "must be an array, not null"),
        (
            "base",
            [4, 5],
            "rate_tables[1].base",
            "needs 3 entries, one per zone (one more than zone_limits_miles), not 2",
        ),
        ("per_lb", [0.25, 0.40, 2_000_000], "rate_tables[1].per_lb[2]", "must be between 0 and 1000000"),
        ("per_lb", [0.25, -0.4, 0.75], "rate_tables[1].per_lb[1]", "must be between 0 and 1000000"),
        ("zones", [], "rate_tables[1].zones", "is not a field of this format"),
    ],
)
def test_rate_table_fields_are_checked(field: str, value: Any, path: str, message: str) -> None:
    doc = minimal()
    doc["rate_tables"] = [_standard(), _standard(**{"service_level": "TWO_DAY", field: value})]

    assert problems(doc) == [(path, message)]


def test_a_required_rate_table_field_left_out_is_named() -> None:
    doc = minimal()
    table = _standard()
    del table["per_lb"]
    doc["rate_tables"] = [table]

    assert problems(doc) == [("rate_tables[0].per_lb", "is required")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [],
            "must include a 'STANDARD' table: orders without a service level use it, "
            "and the section replaces the default tables",
        ),
        ({"STANDARD": {}}, "must be an array, not object"),
        (None, "must be an array, not null"),
    ],
)
def test_the_rate_tables_section_itself_is_checked(value: Any, message: str) -> None:
    doc = minimal()
    doc["rate_tables"] = value

    assert problems(doc) == [("rate_tables", message)]


def test_at_most_32_rate_tables() -> None:
    doc = minimal()
    doc["rate_tables"] = [_standard()] + [_standard(service_level=f"LEVEL-{i}") for i in range(32)]

    assert problems(doc) == [("rate_tables", "has 33 tables; at most 32 are allowed")]


def test_mutated_network_files_raise_only_network_file_errors() -> None:
    import random

    from server.network_file import parse_network_json

    text = (FIXTURES / "minimal.json").read_text()
    rng = random.Random(5)
    junk = [*'{}[],:"\\-.eE0', "\\ud800", "\\udc00", "1" * 400, "1e400", "NaN", "null", "true", '"x"', "[" * 2000]
    refused = 0
    for _ in range(1000):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[i : i + rng.randint(1, 8)]
            else:
                chars.insert(i, rng.choice(junk))
        try:
            parse_network_json("".join(chars), "mutant.json")
        except NetworkFileError as e:
            assert e.problems and e.source == "mutant.json"
            refused += 1
    assert refused > 500


def promise_doc() -> dict[str, Any]:
    """A fresh copy of the small valid file with every promise section, for tests to break one thing in."""
    doc: dict[str, Any] = json.loads((FIXTURES / "promise.json").read_text())
    return doc


def test_the_promise_fixture_loads_into_engine_schedules_and_services() -> None:
    network = read_network_file(FIXTURES / "promise.json")
    dc, store = network.node_schedules
    ground, next_day = network.carrier_services

    assert dc == NodeSchedule(
        "DC-01", "America/Chicago", MONDAY_TO_SATURDAY, 360, 1380,
        frozenset({date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)}), 0,
        (Cutoff("GROUND", 1080), Cutoff("NEXT_DAY", 900)), 0,
    )  # fmt: skip
    assert store == NodeSchedule(
        "ST-001", "America/Chicago", ALL_WEEK, 600, 1260, frozenset({date(2026, 11, 26), date(2026, 12, 25)}), 0,
        (Cutoff("GROUND", 900),), 120,
    )  # fmt: skip
    assert [(z.zone, z.up_to_miles, z.transit_days, z.base, z.per_lb) for z in ground.zones] == [
        ("1", 150.0, 1, 5.0, 0.3), ("2", 600.0, 2, 6.0, 0.45), ("3", None, 4, 8.5, 0.95), ("AK", None, 6, 22.5, 2.1),
    ]  # fmt: skip
    assert (ground.carrier, ground.service_level, ground.pickup_days, ground.dim_divisor) == (
        "Northstar Parcel", "STANDARD", MONDAY_TO_FRIDAY, None,
    )  # fmt: skip
    assert ground.holidays == dc.holidays
    assert Weekday.SAT in next_day.delivery_days and next_day.dim_divisor == 139.0
    assert (next_day.residential_surcharge, next_day.non_contiguous_surcharge, next_day.remote_area_surcharge) == (
        5.25, 45.0, 3.8,
    )  # fmt: skip
    assert next_day.remote_area_zip3 == frozenset({"588", "893"})
    assert list(network.carrier_services_in_force) == ["GROUND", "NEXT_DAY"]
    assert network.rate_tables == ()  # the store's rate tables are not touched by carrier services (yet)


def test_the_committed_sample_has_a_schedule_per_node_and_three_carrier_services() -> None:
    network = read_network_file(SAMPLE)
    by_id = {s.node_id: s for s in network.node_schedules}
    services = network.carrier_services_in_force

    assert [s.node_id for s in network.node_schedules] == [n.id for n in network.nodes]
    assert {s.time_zone for s in network.node_schedules} >= {"America/New_York", "America/Chicago", "America/Denver",
                                                             "America/Los_Angeles", "America/Phoenix"}  # fmt: skip
    assert by_id["DC-01"].working_days == MONDAY_TO_SATURDAY
    assert all(
        by_id[n.id].opens == 600 and by_id[n.id].closes == 1260 for n in network.nodes if n.type is NodeType.STORE
    )
    assert list(services) == ["GROUND", "NEXT_DAY", "TWO_DAY"]
    assert {row.transit_days for row in services["GROUND"].zones if row.numbered} == {1, 2, 3, 4, 5}
    assert {row.zone for row in services["NEXT_DAY"].zones if not row.numbered} == {"AK", "HI"}
    # Orders of the levels that exist today keep their prices: the services' bands are the default tables.
    assert services["GROUND"].rate_table == DEFAULT_RATE_TABLES["STANDARD"]
    assert services["TWO_DAY"].rate_table == DEFAULT_RATE_TABLES["EXPRESS"]
    assert network.rate_tables == ()
    shipping = [n for n in network.nodes if n.can_ship]
    assert all(by_id[n.id].cutoffs for n in shipping) and not any(
        by_id[n.id].cutoffs for n in network.nodes if not n.can_ship
    )


def test_a_file_without_promise_data_gets_the_documented_defaults() -> None:
    network = parse_network(minimal())

    assert network.node_schedules == (NodeSchedule("DC-01"), NodeSchedule("ST-001"))
    assert network.carrier_services == ()
    assert network.carrier_services_in_force == dict(DEFAULT_CARRIER_SERVICES)
    with_tables = read_network_file(FIXTURES / "rate-tables.json")
    assert {s.id: s.rate_table for s in with_tables.carrier_services_in_force.values()} == {
        t.service_level: t for t in with_tables.rate_tables
    }


def test_service_names_match_in_any_case() -> None:
    doc = promise_doc()
    doc["carrier_services"][0]["id"] = "ground"
    doc["nodes"][1]["cutoffs"][0]["carrier_service"] = "Ground"

    network = parse_network(doc)
    assert network.carrier_services[0].id == "GROUND" and network.node_schedules[1].cutoffs == (Cutoff("GROUND", 900),)


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted path such as ``nodes.1.cutoffs.0.time`` (None deletes)."""
    *parents, last = path.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value is None:
        del target[key]
    else:
        target[key] = value


ZONES_OUT_OF_ORDER = [
    {"zone": 2, "up_to_miles": 600, "transit_days": 2, "base": "6.00", "per_lb": "0.45"},
    {"zone": 1, "up_to_miles": 150, "transit_days": 1, "base": "5.00", "per_lb": "0.30"},
    {"zone": 3, "transit_days": 4, "base": "8.50", "per_lb": "0.95"},
]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "nodes.1.time_zone",
            "America/Chicgo",
            [("nodes[1].time_zone", "must be an IANA time zone such as 'America/Chicago', not 'America/Chicgo'")],
        ),
        ("nodes.0.cutoffs.1.time", "24:00", [("nodes[0].cutoffs[1].time", "must be between 00:00 and 23:59")]),
        ("nodes.0.cutoffs.1.time", "25:30", [("nodes[0].cutoffs[1].time", "must be between 00:00 and 23:59")]),
        (
            "nodes.0.cutoffs.1.time",
            "3pm",
            [("nodes[0].cutoffs[1].time", "must be a time of day HH:MM such as '15:00', not '3pm'")],
        ),
        ("nodes.0.cutoffs.1.time", None, [("nodes[0].cutoffs[1].time", "is required")]),
        (
            "nodes.1.holidays.0",
            "2026-02-30",
            [("nodes[1].holidays[0]", "must be a date YYYY-MM-DD such as '2026-12-25', not '2026-02-30'")],
        ),
        (
            "holiday_calendars.0.dates.1",
            "25.12.2026",
            [("holiday_calendars[0].dates[1]", "must be a date YYYY-MM-DD such as '2026-12-25', not '25.12.2026'")],
        ),
        (
            "holiday_calendars.0.dates.1",
            "1999-12-25",
            [("holiday_calendars[0].dates[1]", "1999-12-25 is outside the years 2000-2100")],
        ),
        ("nodes.1.holidays.0", "2101-01-01", [("nodes[1].holidays", "2101-01-01 is outside the years 2000-2100")]),
        (
            "nodes.1.holiday_calendars",
            ["US-FED"],
            [("nodes[1].holiday_calendars[0]", "names unknown holiday calendar 'US-FED'; known: US-FEDERAL")],
        ),
        (
            "carrier_services.0.zones.2.zone",
            4,
            [("carrier_services[0].zones[2].zone", "leaves a gap: zone 3 is missing before zone 4")],
        ),
        (
            "carrier_services.0.zones",
            ZONES_OUT_OF_ORDER,
            [
                ("carrier_services[0].zones[0].zone", "leaves a gap: zone 1 is missing before zone 2"),
                (
                    "carrier_services[0].zones[1].zone",
                    "zone 1 is out of order: zones run 1, 2, 3, ... (expected zone 3)",
                ),
            ],
        ),
        (
            "carrier_services.0.zones.1.up_to_miles",
            100,
            [("carrier_services[0].zones[1].up_to_miles", "must be greater than the zone before's (150)")],
        ),
        (
            "carrier_services.0.zones.3.zone",
            "PR",
            [("carrier_services[0].zones[3].zone", "must be a zone number 1-32, 'AK' or 'HI', not 'PR'")],
        ),
        (
            "carrier_services.0.zones.0.transit_days",
            31,
            [("carrier_services[0].zones[0].transit_days", "must be between 0 and 30")],
        ),
        (
            "nodes.0.cutoffs.1",
            {"carrier_service": "GROUND", "time": "12:00"},
            [
                ("nodes[0].cutoffs[1].carrier_service", "duplicates 'GROUND' (first at cutoffs[0])"),
            ],
        ),
        (
            "nodes.0.cutoffs",
            [{"carrier_service": "GROUND", "time": "18:00"}],
            [("carrier_services[1].id", "no node offers it: no node's cutoffs name 'NEXT_DAY'")],
        ),
        (
            "nodes.1.cutoffs.0.carrier_service",
            "OVERNIGHT",
            [
                (
                    "nodes[1].cutoffs[0].carrier_service",
                    "names unknown carrier service 'OVERNIGHT'; known: GROUND, NEXT_DAY",
                )
            ],
        ),
        (
            "nodes.1.working_days",
            ["SAT", "SUN"],
            [
                (
                    "nodes[1].cutoffs[0].carrier_service",
                    "GROUND picks up on MON, TUE, WED, THU, FRI only, "
                    "none of them a working day of the node (SAT, SUN)",
                )
            ],
        ),
        (
            "nodes.0.working_days.2",
            "Wednesday",
            [("nodes[0].working_days[2]", "must be one of MON, TUE, WED, THU, FRI, SAT, SUN, not 'Wednesday'")],
        ),
        ("nodes.0.working_days", [], [("nodes[0].working_days", "must name at least one day of the week")]),
        ("nodes.1.closes", "09:00", [("nodes[1].closes", "must be later than opens (10:00)")]),
        ("nodes.1.processing_days", 45, [("nodes[1].processing_days", "must be between 0 and 30")]),
        ("nodes.1.cutoffs.0.tme", "15:00", [("nodes[1].cutoffs[0].tme", "is not a field of this format")]),
        (
            "carrier_services.0.service_level",
            "GROUND",
            [
                (
                    "carrier_services",
                    "must include a service of service_level 'STANDARD': orders without a service level use it, "
                    "and the section replaces the default services",
                )
            ],
        ),
        (
            "carrier_services.1.id",
            "GROUND",
            [("carrier_services[1].id", "duplicates 'GROUND' (first at carrier_services[0])")],
        ),
        (
            "carrier_services.1.remote_area_zip3",
            ["58"],
            [("carrier_services[1].remote_area_zip3", "entries must be three digits such as '995', not '58'")],
        ),
        (
            "carrier_services.1.dim_divisor",
            0,
            [("carrier_services[1].dim_divisor", "must be absent or between 1 and 100000")],
        ),
        (
            "rate_tables",
            [{"service_level": "STANDARD", "zone_limits_miles": [], "base": [5], "per_lb": [0.5]}],
            [
                (
                    "rate_tables",
                    "must be absent when carrier_services is present: carrier services carry their own rates",
                )
            ],
        ),
    ],
)
def test_bad_promise_data_is_refused_at_its_exact_path(path: str, value: Any, expected: list[tuple[str, str]]) -> None:
    doc = promise_doc()
    _set(doc, path, value)

    assert problems(doc) == expected


def test_cutoffs_name_the_default_services_when_the_file_has_none() -> None:
    doc = minimal()
    doc["nodes"][0]["cutoffs"] = [{"carrier_service": "standard", "time": "17:00"}]
    assert parse_network(doc).node_schedules[0].cutoffs == (Cutoff("STANDARD", 1020),)

    doc["nodes"][0]["cutoffs"] = [{"carrier_service": "GROUND", "time": "17:00"}]
    assert problems(doc) == [
        ("nodes[0].cutoffs[0].carrier_service", "names unknown carrier service 'GROUND'; known: EXPRESS, STANDARD")
    ]


def test_every_promise_problem_is_reported_at_once_and_the_file_loads_nothing() -> None:
    doc = promise_doc()
    doc["nodes"][1]["time_zone"] = "Chicago"
    doc["nodes"][0]["cutoffs"][1]["time"] = "24:00"
    doc["holiday_calendars"][0]["dates"][0] = "2026-11-31"
    doc["carrier_services"][0]["zones"][2]["zone"] = 5

    assert problems(doc) == [
        ("holiday_calendars[0].dates[0]", "must be a date YYYY-MM-DD such as '2026-12-25', not '2026-11-31'"),
        ("nodes[0].cutoffs[1].time", "must be between 00:00 and 23:59"),
        ("nodes[1].time_zone", "must be an IANA time zone such as 'America/Chicago', not 'Chicago'"),
        ("carrier_services[0].zones[2].zone", "leaves a gap: zone 3 is missing before zone 5"),
    ]


@pytest.mark.parametrize("field", ["processing_days", "pickup_ready_minutes", "time_zone", "opens", "cutoffs"])
def test_null_is_no_default_for_schedule_fields(field: str) -> None:
    doc = promise_doc()
    doc["nodes"][1][field] = None

    assert [path for path, _ in problems(doc)] == [f"nodes[1].{field}"]
