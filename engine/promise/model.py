"""Time as network data: node schedules (calendars, hours, cut-offs) and carrier services.

Constructors validate, as in engine.model: an object that exists is well formed, and a bad value
raises InvalidInputError naming the field (paths relative to the object; callers prefix them).
Times of day are whole minutes after local midnight; dates are ``datetime.date``; weekdays are
``Weekday`` (Monday 0, as ``date.weekday()``). docs/promise.md explains how they are used.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum

from engine import limits
from engine.errors import FieldViolation, Violations
from engine.model import id_problem
from engine.promise.zones import time_zone_problem
from engine.rates import DEFAULT_RATE_TABLES, DEFAULT_SERVICE_LEVEL, EXPRESS_RATES, STANDARD_RATES, RateTable
from engine.rates import check_service_level as _check_code


class Weekday(IntEnum):
    MON = 0
    TUE = 1
    WED = 2
    THU = 3
    FRI = 4
    SAT = 5
    SUN = 6


ALL_WEEK = frozenset(Weekday)
MONDAY_TO_FRIDAY = frozenset(Weekday) - {Weekday.SAT, Weekday.SUN}
MONDAY_TO_SATURDAY = frozenset(Weekday) - {Weekday.SUN}

MINUTES_PER_DAY = 24 * 60
LAST_MINUTE = MINUTES_PER_DAY - 1  # 23:59, the latest cut-off

# Where the server placed a ship-to (server/served_area.py uses the same codes). Alaska and Hawaii
# are zones of their own when a carrier service lists them; the non-contiguous surcharge covers
# them and Puerto Rico with the US Virgin Islands.
ALASKA = "US-AK"
HAWAII = "US-HI"
NON_CONTIGUOUS_REGIONS = frozenset({ALASKA, HAWAII, "US-PR"})
OFFSHORE_ZONES = {"AK": ALASKA, "HI": HAWAII}  # zone label -> the region it serves

# A network without promise data: nodes work every day round the clock in UTC and offer every
# carrier service with this cut-off (docs/promise.md, "Defaults").
DEFAULT_TIME_ZONE = "UTC"
DEFAULT_CUTOFF = LAST_MINUTE

_TIME_OF_DAY = re.compile(r"([0-9]{2}):([0-5][0-9])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ZIP3 = re.compile(r"[0-9]{3}")
_FIRST_DAY = date(limits.FIRST_CALENDAR_YEAR, 1, 1)
_LAST_DAY = date(limits.LAST_CALENDAR_YEAR, 12, 31)


# --- values ---------------------------------------------------------------------------------------------


def parse_time_of_day(text: str) -> int:
    """``"HH:MM"`` as minutes after midnight; ValueError when not of that form. The range (a cut-off
    ends at 23:59, a closing time at 24:00) is the constructors' to check."""
    match = _TIME_OF_DAY.fullmatch(text)
    if match is None:
        raise ValueError(f"must be a time of day HH:MM such as '15:00', not {text[:40]!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def format_time_of_day(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_date(text: str) -> date:
    """``"YYYY-MM-DD"`` as a date; ValueError for any other form or a day the calendar lacks."""
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD such as '2026-12-25', not {text[:40]!r}")


def parse_weekday(text: str) -> Weekday:
    try:
        return Weekday[text]
    except KeyError:
        names = ", ".join(day.name for day in Weekday)
        raise ValueError(f"must be one of {names}, not {text[:40]!r}") from None


def format_days(days: Iterable[Weekday]) -> str:
    return ", ".join(day.name for day in sorted(days))


def _check_days(v: Violations, days: frozenset[Weekday], name: str) -> None:
    v.check(bool(days), name, "must name at least one day of the week")


def holiday_problem(day: date) -> str | None:
    """Why ``day`` cannot be a holiday (None when it can): calendars cover the years 2000-2100."""
    if _FIRST_DAY <= day <= _LAST_DAY:
        return None
    return f"{day.isoformat()} is outside the years {_FIRST_DAY.year}-{_LAST_DAY.year}"


def _check_holidays(v: Violations, holidays: frozenset[date], name: str = "holidays") -> None:
    if len(holidays) > limits.MAX_HOLIDAYS:
        v.add(name, f"has {len(holidays)} dates; at most {limits.MAX_HOLIDAYS} are allowed")
        return
    problems = [p for p in map(holiday_problem, sorted(holidays)) if p is not None]
    if problems:
        v.add(name, problems[0])


def _check_count(v: Violations, value: int, name: str, high: int) -> None:
    v.check(0 <= value <= high, name, f"must be between 0 and {high}")


def _check_money(v: Violations, value: float, name: str) -> None:
    if not (math.isfinite(value) and 0 <= value <= limits.MAX_MONEY):
        v.add(name, f"must be between 0 and {limits.MAX_MONEY:.0f}")


# --- nodes ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cutoff:
    """A node's order cut-off for one carrier service: orders in strictly before ``time`` (local,
    minutes after midnight) on a working day are released that day; later ones the next working day."""

    carrier_service: str
    time: int

    def __post_init__(self) -> None:
        v = Violations()
        _check_code(v, self.carrier_service, "carrier_service")
        v.check(0 <= self.time <= LAST_MINUTE, "time", "must be between 00:00 and 23:59")
        v.raise_if_any()


@dataclass(frozen=True, slots=True)
class NodeSchedule:
    """When a node works and how fast it ships.

    - ``time_zone``: the IANA zone its clocks and dates are in.
    - ``working_days``, ``holidays``: the days it picks and packs (a holiday is never one).
    - ``opens``/``closes``: opening hours on working days, minutes after local midnight
      (``closes`` may be 1440, midnight at the end of the day); pickup orders are readied in them.
    - ``processing_days``: working days between an order's release and its shipment leaving.
    - ``cutoffs``: the carrier services it ships with, each with its order cut-off; ``None``
      (no data) offers every carrier service of the network at ``DEFAULT_CUTOFF``.
    - ``pickup_ready_minutes``: opening-hours minutes until a pickup order can be collected.
    """

    node_id: str
    time_zone: str = DEFAULT_TIME_ZONE
    working_days: frozenset[Weekday] = ALL_WEEK
    opens: int = 0
    closes: int = MINUTES_PER_DAY
    holidays: frozenset[date] = frozenset()
    processing_days: int = 0
    cutoffs: tuple[Cutoff, ...] | None = None
    pickup_ready_minutes: int = 0

    def __post_init__(self) -> None:
        v = Violations()
        problem = id_problem(self.node_id)
        if problem is not None:
            v.add("node_id", problem)
        problem = time_zone_problem(self.time_zone)
        if problem is not None:
            v.add("time_zone", problem)
        _check_days(v, self.working_days, "working_days")
        v.check(0 <= self.opens <= LAST_MINUTE, "opens", "must be between 00:00 and 23:59")
        if not 0 < self.closes <= MINUTES_PER_DAY:
            v.add("closes", "must be between 00:01 and 24:00")
        elif 0 <= self.opens <= LAST_MINUTE and self.closes <= self.opens:
            v.add("closes", f"must be later than opens ({format_time_of_day(self.opens)})")
        _check_holidays(v, self.holidays)
        _check_count(v, self.processing_days, "processing_days", limits.MAX_PROCESSING_DAYS)
        _check_count(v, self.pickup_ready_minutes, "pickup_ready_minutes", limits.MAX_PICKUP_READY_MINUTES)
        if self.cutoffs is not None:
            if len(self.cutoffs) > limits.MAX_CARRIER_SERVICES:
                v.add("cutoffs", f"has {len(self.cutoffs)} entries; at most {limits.MAX_CARRIER_SERVICES} are allowed")
            first: dict[str, int] = {}
            for i, cutoff in enumerate(self.cutoffs):
                name = cutoff.carrier_service
                if name in first:
                    v.add(f"cutoffs[{i}].carrier_service", f"duplicates {name!r} (first at cutoffs[{first[name]}])")
                first.setdefault(name, i)
        v.raise_if_any()

    def cutoff_for(self, carrier_service: str) -> int | None:
        """The cut-off for that service (minutes), or None when the node does not ship with it."""
        if self.cutoffs is None:
            return DEFAULT_CUTOFF
        return next((c.time for c in self.cutoffs if c.carrier_service == carrier_service), None)

    def offers(self, carrier_service: str) -> bool:
        return self.cutoff_for(carrier_service) is not None


# --- carrier services ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneRate:
    """One row of a carrier service's zone chart: transit and price to one zone.

    ``zone`` is "1", "2", ... for the distance bands (zone z covers distances up to its
    ``up_to_miles``; the last numbered zone has none and covers the rest), or "AK" / "HI":
    Alaska and Hawaii, whatever the distance.
    """

    zone: str
    transit_days: int
    base: float  # money per shipment
    per_lb: float  # money per billed pound
    up_to_miles: float | None = None

    def __post_init__(self) -> None:
        v = Violations()
        if self.zone not in OFFSHORE_ZONES and not (
            self.zone.isdigit() and self.zone[0] != "0" and int(self.zone) <= limits.MAX_RATE_ZONES
        ):
            v.add("zone", f"must be a zone number 1-{limits.MAX_RATE_ZONES}, 'AK' or 'HI', not {self.zone[:40]!r}")
        _check_count(v, self.transit_days, "transit_days", limits.MAX_TRANSIT_DAYS)
        _check_money(v, self.base, "base")
        _check_money(v, self.per_lb, "per_lb")
        miles = self.up_to_miles
        if miles is not None and not (math.isfinite(miles) and 0 < miles <= limits.MAX_ZONE_LIMIT_MILES):
            v.add("up_to_miles", f"must be greater than 0 and at most {limits.MAX_ZONE_LIMIT_MILES:g}")
        v.raise_if_any()

    @property
    def numbered(self) -> bool:
        return self.zone not in OFFSHORE_ZONES


@dataclass(frozen=True)
class CarrierService:
    """One service of one carrier (GROUND of Northstar Parcel): zones, transit, calendar and price.

    - ``id``: what cut-offs (and, later, orders) name; ``service_level``: the level of today's
      orders (``Order.service_level``, STANDARD when empty) it fulfils.
    - ``zones``: the zone chart (``ZoneRate``), numbered zones in order, then AK and HI if served
      as zones of their own (else they are zoned by distance like anywhere).
    - ``pickup_days``: the weekdays it collects from nodes; ``delivery_days``: the days it moves and
      delivers, which transit days count; ``holidays``: no pickup, no transit day.
    - ``dim_divisor``: cubic inches per billed pound (billed weight = max(actual, volume /
      divisor)); None bills actual weight.
    - surcharges, money per shipment: ``residential_surcharge`` to a residential address,
      ``non_contiguous_surcharge`` to Alaska, Hawaii and Puerto Rico, ``remote_area_surcharge``
      to a ZIP code whose first three digits are in ``remote_area_zip3``.
    """

    id: str
    carrier: str
    service_level: str
    zones: tuple[ZoneRate, ...]
    pickup_days: frozenset[Weekday] = MONDAY_TO_FRIDAY
    delivery_days: frozenset[Weekday] = MONDAY_TO_FRIDAY
    holidays: frozenset[date] = frozenset()
    dim_divisor: float | None = None
    residential_surcharge: float = 0.0
    non_contiguous_surcharge: float = 0.0
    remote_area_surcharge: float = 0.0
    remote_area_zip3: frozenset[str] = frozenset()
    zone_limits_miles: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _offshore: dict[str, int] = field(init=False, repr=False, compare=False)  # region -> zone index

    def __post_init__(self) -> None:
        v = Violations()
        _check_code(v, self.id, "id")
        problem = id_problem(self.carrier)
        if problem is not None:
            v.add("carrier", problem)
        _check_code(v, self.service_level, "service_level")
        _check_zone_chart(v, self.zones)
        _check_days(v, self.pickup_days, "pickup_days")
        _check_days(v, self.delivery_days, "delivery_days")
        _check_holidays(v, self.holidays)
        divisor = self.dim_divisor
        if divisor is not None and not (math.isfinite(divisor) and 1 <= divisor <= limits.MAX_DIM_DIVISOR):
            v.add("dim_divisor", f"must be absent or between 1 and {limits.MAX_DIM_DIVISOR:g}")
        for name in ("residential_surcharge", "non_contiguous_surcharge", "remote_area_surcharge"):
            _check_money(v, getattr(self, name), name)
        if len(self.remote_area_zip3) > limits.MAX_REMOTE_AREA_ZIP3:
            v.add("remote_area_zip3", f"has more than {limits.MAX_REMOTE_AREA_ZIP3} entries")
        bad = sorted(z for z in self.remote_area_zip3 if not _ZIP3.fullmatch(z))
        if bad:
            v.add("remote_area_zip3", f"entries must be three digits such as '995', not {bad[0][:40]!r}")
        v.raise_if_any()
        numbered = [row for row in self.zones if row.numbered]
        object.__setattr__(self, "zone_limits_miles", tuple(row.up_to_miles or 0.0 for row in numbered[:-1]))
        offshore = {OFFSHORE_ZONES[row.zone]: i + 1 for i, row in enumerate(self.zones) if not row.numbered}
        object.__setattr__(self, "_offshore", offshore)

    def zone_of(self, distance_miles: float, region: str = "") -> int:
        """The 1-based index into ``zones`` for a ship-to ``distance_miles`` away in ``region``:
        its own zone for Alaska or Hawaii when the chart has one, else the distance band (a
        distance exactly on a limit belongs to the lower zone, as in rate tables)."""
        if region in self._offshore:
            return self._offshore[region]
        return bisect.bisect_left(self.zone_limits_miles, distance_miles) + 1

    def offshore_zone(self, region: str) -> int:
        """The chart's own zone for ``region`` (Alaska, Hawaii), or 0 when it zones it by distance."""
        return self._offshore.get(region, 0)

    def zone(self, index: int) -> ZoneRate:
        return self.zones[index - 1]

    @property
    def rate_table(self) -> RateTable:
        """The distance-band rates as a rate table of ``service_level``: what today's cost model reads."""
        numbered = [row for row in self.zones if row.numbered]
        return RateTable(
            self.service_level,
            self.zone_limits_miles,
            tuple(row.base for row in numbered),
            tuple(row.per_lb for row in numbered),
        )


def _check_zone_chart(v: Violations, zones: Sequence[ZoneRate]) -> None:
    """Numbered zones 1, 2, 3, ... in order without gaps, limits rising, the last open-ended; then
    AK and HI at most once each. One problem per row, the first that row breaks."""
    numbered = [i for i, row in enumerate(zones) if row.numbered]
    if not numbered:
        v.add("zones", "needs zone 1 at least: the chart's numbered zones cover every distance")
        return
    if len(numbered) > limits.MAX_RATE_ZONES:
        v.add("zones", f"has {len(numbered)} numbered zones; at most {limits.MAX_RATE_ZONES} are allowed")
        return
    expected, previous_limit = 1, 0.0
    offshore_seen: set[str] = set()
    for i, row in enumerate(zones):
        path = f"zones[{i}]"
        if not row.numbered:
            if row.zone in offshore_seen:
                v.add(f"{path}.zone", f"repeats zone {row.zone}")
            elif row.up_to_miles is not None:
                v.add(f"{path}.up_to_miles", f"must be absent: zone {row.zone} is not a distance band")
            offshore_seen.add(row.zone)
            continue
        number = int(row.zone)
        if offshore_seen:
            v.add(f"{path}.zone", f"zone {number} must come before zones AK and HI")
            continue
        if number < expected:
            v.add(f"{path}.zone", f"zone {number} is out of order: zones run 1, 2, 3, ... (expected zone {expected})")
            continue
        if number > expected:
            v.add(f"{path}.zone", f"leaves a gap: zone {expected} is missing before zone {number}")
        elif i == numbered[-1]:
            if row.up_to_miles is not None:
                v.add(f"{path}.up_to_miles", "must be absent: the last numbered zone covers every distance beyond")
        elif row.up_to_miles is None:
            v.add(f"{path}.up_to_miles", "is required on every numbered zone but the last")
        elif row.up_to_miles <= previous_limit:
            v.add(f"{path}.up_to_miles", f"must be greater than the zone before's ({previous_limit:g})")
        else:
            previous_limit = row.up_to_miles
        expected = number + 1


# --- defaults: today's rate tables as carrier services --------------------------------------------------------

# Ground transit by how far a zone starts: 1 business day under 150 miles, then a day more past
# 150, 600, 1,000 and 1,800 miles; on the default bands that is 1, 1, 2, 2, 3, 4, 4, 5.
_GROUND_DAY_STEPS_MILES = (150.0, 600.0, 1000.0, 1800.0)
DEFAULT_CARRIER = "DEFAULT"


def ground_transit_days(zone_start_miles: float) -> int:
    return 1 + sum(zone_start_miles >= step for step in _GROUND_DAY_STEPS_MILES)


def carrier_service_from_rate_table(table: RateTable, transit_days: Sequence[int] | None = None) -> CarrierService:
    """The carrier service a rate table stands for: same id, level, bands and rates; ground transit
    by distance unless ``transit_days`` (one per zone) is given; Monday-Friday, no holidays, no
    dimensional weight, no surcharges, Alaska and Hawaii zoned by distance (as costed today)."""
    starts = (0.0, *table.zone_limits_miles)
    days = list(transit_days) if transit_days is not None else [ground_transit_days(s) for s in starts]
    rows = tuple(
        ZoneRate(str(z + 1), days[z], table.base[z], table.per_lb[z], limit)
        for z, limit in enumerate((*table.zone_limits_miles, None))
    )
    return CarrierService(table.service_level, DEFAULT_CARRIER, table.service_level, rows)


# The defaults' carrier services: STANDARD by ground, the sample EXPRESS table in two days.
DEFAULT_CARRIER_SERVICES: Mapping[str, CarrierService] = {
    STANDARD_RATES.service_level: carrier_service_from_rate_table(STANDARD_RATES),
    EXPRESS_RATES.service_level: carrier_service_from_rate_table(EXPRESS_RATES, [2] * len(EXPRESS_RATES.base)),
}
assert set(DEFAULT_CARRIER_SERVICES) == set(DEFAULT_RATE_TABLES)


def carrier_services_in_force(
    services: Sequence[CarrierService], rate_tables: Sequence[RateTable] = ()
) -> dict[str, CarrierService]:
    """The carrier services promises use, by id: the network's own when it has any; else one per
    stored rate table (ground transit); else the defaults. Never a mix, as with rate tables."""
    if services:
        return {s.id: s for s in sorted(services, key=lambda s: s.id)}
    if rate_tables:
        return {t.service_level: carrier_service_from_rate_table(t) for t in sorted(rate_tables, key=_level)}
    return dict(DEFAULT_CARRIER_SERVICES)


def _level(table: RateTable) -> str:
    return table.service_level


def serves_standard(services: Iterable[CarrierService]) -> bool:
    """Whether some service fulfils STANDARD, the level of every order that names none."""
    return any(s.service_level == DEFAULT_SERVICE_LEVEL for s in services)


# --- how schedules and services fit together ------------------------------------------------------------------


def cutoff_problems(schedule: NodeSchedule, services: Mapping[str, CarrierService]) -> list[FieldViolation]:
    """What is wrong with a node's cut-offs given the carrier services (paths relative to the
    schedule): a service that does not exist, or one that never picks up on a working day."""
    found: list[FieldViolation] = []
    for i, cutoff in enumerate(schedule.cutoffs or ()):
        path = f"cutoffs[{i}].carrier_service"
        service = services.get(cutoff.carrier_service)
        if service is None:
            known = ", ".join(sorted(services))
            found.append(
                FieldViolation(path, f"names unknown carrier service {cutoff.carrier_service[:40]!r}; known: {known}")
            )
        elif not service.pickup_days & schedule.working_days:
            found.append(
                FieldViolation(
                    path,
                    f"{service.id} picks up on {format_days(service.pickup_days)} only, "
                    f"none of them a working day of the node ({format_days(schedule.working_days)})",
                )
            )
    return found


def unoffered_services(schedules: Iterable[NodeSchedule], services: Iterable[CarrierService]) -> list[str]:
    """Ids of carrier services no node ships with (a node without cut-off data offers them all)."""
    offered: set[str] = set()
    every = False
    for schedule in schedules:
        if schedule.cutoffs is None:
            every = True
            break
        offered.update(c.carrier_service for c in schedule.cutoffs)
    return [] if every else sorted(s.id for s in services if s.id not in offered)


# --- the ship-to, as pricing sees it --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShipTo:
    """What a carrier's price depends on besides distance: the region the server placed the
    address in (``US-AK``, ``US-HI``, ``US-PR``, ``US-CONTIGUOUS``; "" when unknown), its postal
    code (a US ZIP's first three digits select remote areas) and whether it is residential."""

    region: str = ""
    postal_code: str = ""
    residential: bool = False

    @property
    def zip3(self) -> str:
        prefix = self.postal_code[:3]
        return prefix if _ZIP3.fullmatch(prefix) else ""
