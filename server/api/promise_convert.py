"""Promise data between protobuf and the engine: holiday calendars, carrier services, node
schedules (network.proto), with every bad field named by its path (``schedules[3].cutoffs[1].time``).

The fields, their forms and checks are the network file's (docs/network-file.md): times of day
``HH:MM``, dates ``YYYY-MM-DD``, weekdays ``MON``-``SUN``; the engine's constructors check ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TypeVar

from engine import limits
from engine.promise.model import (
    ALL_WEEK,
    DEFAULT_TIME_ZONE,
    MINUTES_PER_DAY,
    MONDAY_TO_FRIDAY,
    CarrierService,
    Cutoff,
    NodeSchedule,
    Weekday,
    ZoneRate,
    format_time_of_day,
    holiday_problem,
    parse_date,
    parse_time_of_day,
    parse_weekday,
)
from server.api.convert import Collector, check_count, check_id, join, money_from_proto, money_to_proto
from server.api.proto import common_pb2, network_pb2

T = TypeVar("T")
Calendars = Mapping[str, frozenset[date]]


def _parsed(c: Collector, path: str, text: str, parse: Callable[[str], T], default: T) -> T:
    try:
        return parse(text)
    except ValueError as error:
        c.add(path, str(error))
        return default


def _parsed_list(c: Collector, path: str, texts: Sequence[str], parse: Callable[[str], T], high: int) -> list[T]:
    if not check_count(c, path, len(texts), 0, high, "entries"):
        return []
    out: list[T] = []
    for i, text in enumerate(texts):
        try:
            out.append(parse(text))
        except ValueError as error:
            c.add(f"{path}[{i}]", str(error))
    return out


def _weekdays(c: Collector, path: str, texts: Sequence[str], default: frozenset[Weekday]) -> frozenset[Weekday]:
    if not texts:
        return default
    return frozenset(_parsed_list(c, path, texts, parse_weekday, 7 * 4)) or default


def _holidays(c: Collector, path: str, msg: network_pb2.NodeSchedule | network_pb2.CarrierService,
              calendars: Calendars) -> frozenset[date]:  # fmt: skip
    """Own dates plus those of the stored calendars named (copied now)."""
    days = set(_parsed_list(c, join(path, "holidays"), msg.holidays, parse_date, limits.MAX_HOLIDAYS))
    if check_count(c, join(path, "holiday_calendars"), len(msg.holiday_calendars), 0, limits.MAX_HOLIDAY_CALENDARS,
                   "calendars"):  # fmt: skip
        for i, name in enumerate(msg.holiday_calendars):
            dates = calendars.get(name)
            if dates is None:
                known = ", ".join(sorted(calendars)) or "none stored"
                c.add(f"{join(path, 'holiday_calendars')}[{i}]",
                      f"names unknown holiday calendar {name[:60]!r}; known: {known}")  # fmt: skip
            else:
                days |= dates
    return frozenset(days)


# --- holiday calendars -----------------------------------------------------------------------------------


def holiday_calendars_from_proto(msgs: Sequence[network_pb2.HolidayCalendar]) -> dict[str, frozenset[date]]:
    c = Collector()
    out: dict[str, frozenset[date]] = {}
    first: dict[str, int] = {}
    if check_count(c, "holiday_calendars", len(msgs), 1, limits.MAX_HOLIDAY_CALENDARS, "calendars"):
        for i, msg in enumerate(msgs):
            path = f"holiday_calendars[{i}]"
            check_id(c, f"{path}.id", msg.id)
            if msg.id in first:
                c.add(f"{path}.id", f"duplicates {msg.id[:60]!r} (first at holiday_calendars[{first[msg.id]}])")
            first.setdefault(msg.id, i)
            dates = _parsed_list(c, f"{path}.dates", msg.dates, parse_date, limits.MAX_HOLIDAYS)
            for j, day in enumerate(dates):
                if (problem := holiday_problem(day)) is not None:
                    c.add(f"{path}.dates[{j}]", problem)
            out[msg.id] = frozenset(dates)
    c.raise_if_any()
    return out


def holiday_calendar_to_proto(calendar_id: str, dates: frozenset[date]) -> network_pb2.HolidayCalendar:
    return network_pb2.HolidayCalendar(id=calendar_id, dates=[d.isoformat() for d in sorted(dates)])


# --- carrier services ----------------------------------------------------------------------------------------


def _zone_rate(c: Collector, path: str, msg: network_pb2.ZoneRate, currency: str) -> ZoneRate | None:
    mark = c.mark()
    base = money_from_proto(c, join(path, "base"), msg.base, currency)
    per_lb = money_from_proto(c, join(path, "per_lb"), msg.per_lb, currency)
    row = c.build(
        path,
        lambda: ZoneRate(
            zone=msg.zone.upper(),
            transit_days=msg.transit_days,
            base=base or 0.0,
            per_lb=per_lb or 0.0,
            up_to_miles=msg.up_to_miles if msg.HasField("up_to_miles") else None,
        ),
    )
    return row if c.clean_since(mark) else None


def carrier_service_from_proto(
    c: Collector, path: str, msg: network_pb2.CarrierService, calendars: Calendars, currency: str
) -> CarrierService | None:
    mark = c.mark()
    zones: list[ZoneRate] = []
    if check_count(c, join(path, "zones"), len(msg.zones), 1, limits.MAX_RATE_ZONES + 2, "zones"):
        for i, z in enumerate(msg.zones):
            row = _zone_rate(c, f"{join(path, 'zones')}[{i}]", z, currency)
            if row is not None:
                zones.append(row)
    surcharges = {
        name: money_from_proto(c, join(path, name), getattr(msg, name), currency) or 0.0
        for name in ("residential_surcharge", "non_contiguous_surcharge", "remote_area_surcharge")
    }
    pickup_days = _weekdays(c, join(path, "pickup_days"), msg.pickup_days, MONDAY_TO_FRIDAY)
    delivery_days = _weekdays(c, join(path, "delivery_days"), msg.delivery_days, MONDAY_TO_FRIDAY)
    holidays = _holidays(c, path, msg, calendars)
    if len(zones) != len(msg.zones) or not zones:
        zones = [ZoneRate("1", 0, 0.0, 0.0)]  # a stand-in chart: the service's other fields are still checked
    service = c.build(
        path,
        lambda: CarrierService(
            id=msg.id.upper(),
            carrier=msg.carrier,
            service_level=msg.service_level.upper(),
            zones=tuple(zones),
            pickup_days=pickup_days,
            delivery_days=delivery_days,
            holidays=holidays,
            dim_divisor=msg.dim_divisor if msg.HasField("dim_divisor") else None,
            remote_area_zip3=frozenset(msg.remote_area_zip3),
            **surcharges,
        ),
    )
    return service if c.clean_since(mark) else None


def carrier_services_from_proto(
    msgs: Sequence[network_pb2.CarrierService], calendars: Calendars, currency: str
) -> list[CarrierService]:
    c = Collector()
    out: list[CarrierService] = []
    first: dict[str, int] = {}
    if check_count(c, "carrier_services", len(msgs), 1, limits.MAX_CARRIER_SERVICES, "carrier services"):
        for i, msg in enumerate(msgs):
            path = f"carrier_services[{i}]"
            service = carrier_service_from_proto(c, path, msg, calendars, currency)
            key = msg.id.upper()
            if key in first:
                c.add(f"{path}.id", f"duplicates {key[:40]!r} (first at carrier_services[{first[key]}])")
            first.setdefault(key, i)
            if service is not None:
                out.append(service)
    c.raise_if_any()
    return out


def _money(value: float, currency: str) -> common_pb2.Money:
    return money_to_proto(value, currency)


def carrier_service_to_proto(service: CarrierService, currency: str) -> network_pb2.CarrierService:
    msg = network_pb2.CarrierService(
        id=service.id,
        carrier=service.carrier,
        service_level=service.service_level,
        zones=[
            network_pb2.ZoneRate(
                zone=z.zone,
                transit_days=z.transit_days,
                base=_money(z.base, currency),
                per_lb=_money(z.per_lb, currency),
                up_to_miles=z.up_to_miles,
            )
            for z in service.zones
        ],
        pickup_days=[d.name for d in sorted(service.pickup_days)],
        delivery_days=[d.name for d in sorted(service.delivery_days)],
        holidays=[d.isoformat() for d in sorted(service.holidays)],
        dim_divisor=service.dim_divisor,
        residential_surcharge=_money(service.residential_surcharge, currency),
        non_contiguous_surcharge=_money(service.non_contiguous_surcharge, currency),
        remote_area_surcharge=_money(service.remote_area_surcharge, currency),
        remote_area_zip3=sorted(service.remote_area_zip3),
    )
    return msg


# --- node schedules -------------------------------------------------------------------------------------------


def _cutoffs(c: Collector, path: str, msg: network_pb2.NodeSchedule) -> tuple[Cutoff, ...] | None:
    if msg.default_cutoffs:
        c.check(not msg.cutoffs, path, "must be empty when default_cutoffs is true")
        return None
    out: list[Cutoff] = []
    if check_count(c, path, len(msg.cutoffs), 0, limits.MAX_CARRIER_SERVICES, "cut-offs"):
        for i, cutoff in enumerate(msg.cutoffs):
            at = f"{path}[{i}]"
            time = _parsed(c, f"{at}.time", cutoff.time, parse_time_of_day, None)
            if time is None:
                continue
            built = c.build(at, lambda: Cutoff(cutoff.carrier_service.upper(), time))  # noqa: B023 (called at once)
            if built is not None:
                out.append(built)
    return tuple(out)


def node_schedule_from_proto(
    c: Collector, path: str, msg: network_pb2.NodeSchedule, calendars: Calendars
) -> NodeSchedule | None:
    mark = c.mark()
    opens = _parsed(c, join(path, "opens"), msg.opens, parse_time_of_day, 0) if msg.opens else 0
    closes = (
        _parsed(c, join(path, "closes"), msg.closes, parse_time_of_day, MINUTES_PER_DAY)
        if msg.closes
        else MINUTES_PER_DAY
    )
    working_days = _weekdays(c, join(path, "working_days"), msg.working_days, ALL_WEEK)
    holidays = _holidays(c, path, msg, calendars)
    cutoffs = _cutoffs(c, join(path, "cutoffs"), msg)
    schedule = c.build(
        path,
        lambda: NodeSchedule(
            node_id=msg.node_id,
            time_zone=msg.time_zone or DEFAULT_TIME_ZONE,
            working_days=working_days,
            opens=opens,
            closes=closes,
            holidays=holidays,
            processing_days=msg.processing_days,
            cutoffs=cutoffs,
            pickup_ready_minutes=msg.pickup_ready_minutes,
        ),
    )
    return schedule if c.clean_since(mark) else None


def node_schedules_from_proto(msgs: Sequence[network_pb2.NodeSchedule], calendars: Calendars) -> list[NodeSchedule]:
    c = Collector()
    out: list[NodeSchedule] = []
    first: dict[str, int] = {}
    if check_count(c, "schedules", len(msgs), 1, limits.MAX_NODES_PER_CALL, "schedules"):
        for i, msg in enumerate(msgs):
            path = f"schedules[{i}]"
            schedule = node_schedule_from_proto(c, path, msg, calendars)
            if msg.node_id in first:
                c.add(f"{path}.node_id", f"duplicates {msg.node_id[:60]!r} (first at schedules[{first[msg.node_id]}])")
            first.setdefault(msg.node_id, i)
            if schedule is not None:
                out.append(schedule)
    c.raise_if_any()
    return out


def node_schedule_to_proto(schedule: NodeSchedule) -> network_pb2.NodeSchedule:
    return network_pb2.NodeSchedule(
        node_id=schedule.node_id,
        time_zone=schedule.time_zone,
        working_days=[d.name for d in sorted(schedule.working_days)],
        opens=format_time_of_day(schedule.opens),
        closes=format_time_of_day(schedule.closes),
        holidays=[d.isoformat() for d in sorted(schedule.holidays)],
        processing_days=schedule.processing_days,
        cutoffs=[
            network_pb2.Cutoff(carrier_service=c.carrier_service, time=format_time_of_day(c.time))
            for c in schedule.cutoffs or ()
        ],
        default_cutoffs=schedule.cutoffs is None,
        pickup_ready_minutes=schedule.pickup_ready_minutes,
    )
