"""A network file's time and carrier data: holiday calendars, node schedules and cut-offs, rate
tables and carrier services with their zone charts (docs/promise.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from engine import limits
from engine.errors import InvalidInputError
from engine.model import id_problem
from engine.promise.model import (
    ALL_WEEK,
    DEFAULT_TIME_ZONE,
    MINUTES_PER_DAY,
    MONDAY_TO_FRIDAY,
    OFFSHORE_ZONES,
    CarrierService,
    Cutoff,
    NodeSchedule,
    ZoneRate,
    holiday_problem,
    parse_date,
    parse_time_of_day,
    serves_standard,
)
from engine.rates import DEFAULT_SERVICE_LEVEL, RateTable
from server.network_file.fields import _count_or_zero, _Fields, _json_type, _parse_all, _weekdays

_RATE_TABLE_FIELDS = frozenset({"service_level", "zone_limits_miles", "base", "per_lb"})


_HOLIDAY_CALENDAR_FIELDS = frozenset({"id", "dates"})


_CUTOFF_FIELDS = frozenset({"carrier_service", "time"})


_CARRIER_SERVICE_FIELDS = frozenset(
    {
        "id", "carrier", "service_level", "zones", "pickup_days", "delivery_days", "holidays", "holiday_calendars",
        "dim_divisor", "residential_surcharge", "non_contiguous_surcharge", "remote_area_surcharge",
        "remote_area_zip3",
    }
)  # fmt: skip


_ZONE_FIELDS = frozenset({"zone", "up_to_miles", "transit_days", "base", "per_lb"})


def _node_schedule(f: _Fields, node_id: str, calendars: _Calendars) -> NodeSchedule | None:
    """The node's schedule fields; the defaults (docs/promise.md) for those it leaves out."""
    cutoffs = _cutoffs(f) if "cutoffs" in f.obj else None
    try:
        return NodeSchedule(
            node_id=node_id,
            time_zone=f.string("time_zone", default=DEFAULT_TIME_ZONE),
            working_days=_weekdays(f, "working_days", ALL_WEEK),
            opens=f.parsed("opens", parse_time_of_day, 0),
            closes=f.parsed("closes", parse_time_of_day, MINUTES_PER_DAY),
            holidays=_holidays(f, calendars),
            processing_days=_count_or_zero(f, "processing_days"),
            cutoffs=cutoffs,
            pickup_ready_minutes=_count_or_zero(f, "pickup_ready_minutes"),
        )
    except InvalidInputError as exc:
        f.engine_problems(exc, skip=frozenset({"node_id"}))  # the node's own check reports its id
        return None


def _cutoffs(f: _Fields) -> tuple[Cutoff, ...]:
    cutoffs: list[Cutoff] = []
    entries = f.array("cutoffs", required=True)
    for i, element in enumerate(entries):
        path = f.at(f"cutoffs[{i}]")
        if not isinstance(element, Mapping):
            f.problem(f"cutoffs[{i}]", f"must be an object, not {_json_type(element)}")
            continue
        c = _Fields(element, path, f.problems, _CUTOFF_FIELDS)
        service = c.string("carrier_service").upper()  # matched in any case, kept upper-cased
        if "time" in c.obj:
            time = c.parsed("time", parse_time_of_day, 0)
        else:
            c.problem("time", "is required")
            time = 0
        try:
            cutoff = Cutoff(service, time)
        except InvalidInputError as exc:
            c.engine_problems(exc)
            continue
        if c.ok:
            cutoffs.append(cutoff)
    if len(cutoffs) != len(entries):
        f.bad.add("cutoffs")  # one entry broken: the rest are not also checked against each other
    return tuple(cutoffs)


_Calendars = dict[str, frozenset[date] | None]  # holiday calendar id -> its dates (None: the calendar is broken)


def _holidays(f: _Fields, calendars: _Calendars) -> frozenset[date]:
    """The object's own holidays and those of the holiday calendars it names, as one set."""
    days = set(f.parsed_array("holidays", parse_date))
    for i, name in enumerate(f.strings("holiday_calendars")):
        if name not in calendars:
            known = ", ".join(sorted(calendars)) or "none in this file"
            f.problem(f"holiday_calendars[{i}]", f"names unknown holiday calendar {name[:60]!r}; known: {known}")
            f.bad.add("holiday_calendars")
            continue
        dates = calendars[name]
        if dates is None:
            f.bad.add("holidays")  # that calendar's problems are reported once, at the calendar
        else:
            days |= dates
    if "holiday_calendars" in f.bad:
        f.bad.add("holidays")
    return frozenset(days)


def _rate_tables(top: _Fields) -> list[tuple[str, RateTable | None]]:
    """The section's tables; when present it replaces the defaults, so it must hold STANDARD."""
    if "rate_tables" not in top.obj:
        return []
    tables = _parse_all(top, "rate_tables", _RATE_TABLE_FIELDS, _rate_table, required=True, id_field="service_level")
    if "rate_tables" in top.bad:
        return tables
    if len(tables) > limits.MAX_SERVICE_LEVELS:
        top.problem("rate_tables", f"has {len(tables)} tables; at most {limits.MAX_SERVICE_LEVELS} are allowed")
    names = {name for name, _ in tables}
    # Unchecked while some service level is unreadable: it may be the STANDARD one.
    if "" not in names and DEFAULT_SERVICE_LEVEL not in names:
        top.problem(
            "rate_tables",
            f"must include a {DEFAULT_SERVICE_LEVEL!r} table: orders without a service level use it, "
            "and the section replaces the default tables",
        )
    return tables


def _rate_table(f: _Fields) -> tuple[str, RateTable | None]:
    # Orders match service levels in any case, so the file may too; tables are kept upper-cased.
    level = f.string("service_level").upper()
    zone_limits = f.number_array("zone_limits_miles")
    base, per_lb = f.money_array("base"), f.money_array("per_lb")
    if "zone_limits_miles" in f.bad and not zone_limits:
        # Unreadable limits: stand in as many as the rates imply, so their count is not also reported.
        zone_limits = [float(i + 1) for i in range(len(base) - 1)]
    try:
        table = RateTable(level, tuple(zone_limits), tuple(base), tuple(per_lb))
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return level, None
    return level, (table if f.ok else None)


def _holiday_calendars(top: _Fields) -> _Calendars:
    """Named lists of dates that nodes and carrier services take their holidays from."""
    calendars: _Calendars = {}
    if "holiday_calendars" not in top.obj:
        return calendars
    entries = top.array("holiday_calendars", required=True)
    if len(entries) > limits.MAX_HOLIDAY_CALENDARS:
        top.problem(
            "holiday_calendars", f"has {len(entries)} calendars; at most {limits.MAX_HOLIDAY_CALENDARS} are allowed"
        )
        return calendars
    first: dict[str, int] = {}
    for i, element in enumerate(entries):
        path = f"holiday_calendars[{i}]"
        if not isinstance(element, Mapping):
            top.problems.append((path, f"must be an object, not {_json_type(element)}"))
            continue
        f = _Fields(element, path, top.problems, _HOLIDAY_CALENDAR_FIELDS)
        name = f.string("id")
        if "id" not in f.bad and (problem := id_problem(name)) is not None:
            f.problem("id", problem)
        elif name in first:
            f.problem("id", f"duplicates {name[:60]!r} (first at holiday_calendars[{first[name]}])")
        first.setdefault(name, i)
        if "dates" not in f.obj:
            f.problem("dates", "is required")
        dates = f.parsed_array("dates", parse_date)
        if len(dates) > limits.MAX_HOLIDAYS:
            f.problem("dates", f"has {len(dates)} dates; at most {limits.MAX_HOLIDAYS} are allowed")
        for j, day in enumerate(dates if "dates" not in f.bad else ()):
            if (problem := holiday_problem(day)) is not None:
                f.problem(f"dates[{j}]", problem)
        if "id" not in f.bad and name not in calendars:
            calendars[name] = frozenset(dates) if f.ok else None
    return calendars


def _carrier_services(top: _Fields, calendars: _Calendars) -> list[tuple[str, CarrierService | None]]:
    if "carrier_services" not in top.obj:
        return []
    services = _parse_all(
        top, "carrier_services", _CARRIER_SERVICE_FIELDS, lambda f: _carrier_service(f, calendars),
        required=True, id_field="id",
    )  # fmt: skip
    if "carrier_services" in top.bad:
        return services
    if len(services) > limits.MAX_CARRIER_SERVICES:
        top.problem(
            "carrier_services", f"has {len(services)} services; at most {limits.MAX_CARRIER_SERVICES} are allowed"
        )
    # Unchecked while some service is unreadable: it may be the STANDARD one.
    if all(service is not None for _, service in services) and not serves_standard(
        service for _, service in services if service is not None
    ):
        top.problem(
            "carrier_services",
            f"must include a service of service_level {DEFAULT_SERVICE_LEVEL!r}: orders without a service level "
            "use it, and the section replaces the default services",
        )
    return services


def _carrier_service(f: _Fields, calendars: _Calendars) -> tuple[str, CarrierService | None]:
    service_id = f.string("id").upper()  # matched in any case, as service levels are
    zones = _zone_chart(f)
    try:
        service = CarrierService(
            id=service_id,
            carrier=f.string("carrier"),
            service_level=f.string("service_level").upper(),
            zones=zones,
            pickup_days=_weekdays(f, "pickup_days", MONDAY_TO_FRIDAY),
            delivery_days=_weekdays(f, "delivery_days", MONDAY_TO_FRIDAY),
            holidays=_holidays(f, calendars),
            dim_divisor=f.optional_number("dim_divisor"),
            residential_surcharge=f.money("residential_surcharge", default=0.0),
            non_contiguous_surcharge=f.money("non_contiguous_surcharge", default=0.0),
            remote_area_surcharge=f.money("remote_area_surcharge", default=0.0),
            remote_area_zip3=frozenset(f.strings("remote_area_zip3")),
        )
    except InvalidInputError as exc:
        f.engine_problems(exc)
        return service_id, None
    return service_id, (service if f.ok else None)


_STAND_IN_CHART = (ZoneRate("1", 0, 0.0, 0.0),)  # lets the service's other fields be checked


def _zone_chart(f: _Fields) -> tuple[ZoneRate, ...]:
    """The zone rows; when one is broken, the chart is not also checked as a whole."""
    rows: list[ZoneRate] = []
    entries = f.array("zones", required=True)
    for i, element in enumerate(entries):
        path = f.at(f"zones[{i}]")
        if not isinstance(element, Mapping):
            f.problem(f"zones[{i}]", f"must be an object, not {_json_type(element)}")
            continue
        z = _Fields(element, path, f.problems, _ZONE_FIELDS)
        zone = _zone_label(z)
        try:
            row = ZoneRate(
                zone=zone,
                transit_days=z.count("transit_days", optional=False) or 0,
                base=z.money("base"),
                per_lb=z.money("per_lb"),
                up_to_miles=z.optional_number("up_to_miles"),
            )
        except InvalidInputError as exc:
            z.engine_problems(exc)
            continue
        if z.ok:
            rows.append(row)
    if "zones" in f.bad or len(rows) != len(entries):
        f.bad.add("zones")
        return _STAND_IN_CHART
    return tuple(rows)


def _zone_label(z: _Fields) -> str:
    """A zone number (a JSON integer) or "AK" / "HI", as the engine's zone label."""
    value = z._get("zone", "a zone number or 'AK' or 'HI'", required=True)
    if isinstance(value, str) and value in OFFSHORE_ZONES:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= limits.MAX_RATE_ZONES:
        return str(value)
    if value is not None:
        z.problem("zone", f"must be a zone number 1-{limits.MAX_RATE_ZONES}, 'AK' or 'HI', not {str(value)[:40]!r}")
    return "1"
