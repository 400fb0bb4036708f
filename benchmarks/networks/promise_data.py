"""The sample networks' delivery-promise data (docs/promise.md): node schedules by type and city,
US federal holidays, and the GROUND, TWO_DAY and NEXT_DAY carrier services with their zones."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from engine.rates import EXPRESS_RATES, STANDARD_RATES, RateTable

PROMISE_YEARS = (2026, 2027)


_WEEK = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


# Per node type: working days, hours, holiday calendar, processing days, cut-offs per carrier
# service (local time) and, where customers collect, minutes until a pickup is ready. DCs run
# Monday-Saturday and hand over late; a 3PL's contract gives it a day; drop-ship vendors build to
# order and send furniture by ground only; stores are open 10-21 every day and ship by ground and
# two-day only (none from stores that do not ship).
_SCHEDULES: dict[str, dict[str, Any]] = {
    "DC": {
        "working_days": _WEEK[:6], "opens": "06:00", "closes": "23:00", "holiday_calendars": ["US-FEDERAL"],
        "processing_days": 0, "cutoffs": {"GROUND": "18:00", "TWO_DAY": "17:00", "NEXT_DAY": "15:00"},
    },
    "3PL": {
        "working_days": _WEEK[:5], "opens": "07:00", "closes": "19:00", "holiday_calendars": ["US-FEDERAL"],
        "processing_days": 1, "cutoffs": {"GROUND": "16:00", "TWO_DAY": "14:00", "NEXT_DAY": "12:00"},
    },
    "DROP_SHIP": {
        "working_days": _WEEK[:5], "opens": "08:00", "closes": "17:00", "holiday_calendars": ["US-FEDERAL"],
        "processing_days": 2, "cutoffs": {"GROUND": "12:00"},
    },
    "STORE": {
        "working_days": _WEEK, "opens": "10:00", "closes": "21:00", "holiday_calendars": ["STORE"],
        "processing_days": 0, "cutoffs": {"GROUND": "15:00", "TWO_DAY": "14:00"}, "pickup_ready_minutes": 120,
    },
}  # fmt: skip


def node_schedule(node_type: str, time_zone: str, ships: bool) -> dict[str, Any]:
    """A node's schedule fields: its city's time zone (IANA) and its type's calendar and cut-offs."""
    fields = dict(_SCHEDULES[node_type])
    cutoffs = fields.pop("cutoffs") if ships else {}
    fields["cutoffs"] = [{"carrier_service": service, "time": time} for service, time in cutoffs.items()]
    fields["time_zone"] = time_zone
    return fields


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Monday 0) of a month; n = -1 for the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A fixed-date federal holiday on a Saturday is observed the Friday before, on a Sunday the Monday after."""
    return day + timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


def _federal_holidays(year: int) -> Iterator[tuple[str, date]]:
    """The eleven US federal holidays of a year (5 U.S.C. 6103), as observed."""
    yield "new_year", _observed(date(year, 1, 1))
    yield "mlk", _nth_weekday(year, 1, 0, 3)
    yield "washington", _nth_weekday(year, 2, 0, 3)
    yield "memorial", _nth_weekday(year, 5, 0, -1)
    yield "juneteenth", _observed(date(year, 6, 19))
    yield "independence", _observed(date(year, 7, 4))
    yield "labor", _nth_weekday(year, 9, 0, 1)
    yield "columbus", _nth_weekday(year, 10, 0, 2)
    yield "veterans", _observed(date(year, 11, 11))
    yield "thanksgiving", _nth_weekday(year, 11, 3, 4)
    yield "christmas", _observed(date(year, 12, 25))


# Parcel carriers close on six of them; stores only on Thanksgiving and Christmas Day itself.
_CARRIER_HOLIDAYS = frozenset({"new_year", "memorial", "independence", "labor", "thanksgiving", "christmas"})


def holiday_calendars(years: Sequence[int] = PROMISE_YEARS) -> list[dict[str, Any]]:
    """The sample's holiday calendars for ``years``: US-FEDERAL (observed dates, including a New
    Year's Day observed on the 31st of December before), CARRIER and STORE."""
    federal = [(name, day) for year in (*years, years[-1] + 1) for name, day in _federal_holidays(year)]
    federal = [(name, day) for name, day in federal if day.year in years]
    stores = [d for year in years for d in (_nth_weekday(year, 11, 3, 4), date(year, 12, 25))]
    dates = {
        "CARRIER": [day for name, day in federal if name in _CARRIER_HOLIDAYS],
        "STORE": stores,
        "US-FEDERAL": [day for _, day in federal],
    }
    return [{"id": key, "dates": [d.isoformat() for d in sorted(days)]} for key, days in sorted(dates.items())]


# Three-digit ZIP prefixes of sparse rural areas a next-day air carrier charges extra for (a sample list).
_REMOTE_ZIP3 = ("576", "586", "587", "588", "592", "593", "595", "693", "822", "823", "824", "825", "828", "831", "893")


_GROUND_TRANSIT = (1, 1, 2, 2, 3, 4, 4, 5)  # business days by distance zone (up to 50, 150, ... 1,800 miles, beyond)


def _zones(
    table: RateTable, transit: Sequence[int], alaska: tuple[int, str, str], hawaii: tuple[int, str, str]
) -> list[dict[str, Any]]:
    """A zone chart on ``table``'s distance bands and rates, then Alaska and Hawaii zones (days, base, per lb)."""
    rows: list[dict[str, Any]] = []
    for z, (base, per_lb) in enumerate(zip(table.base, table.per_lb, strict=True)):
        row: dict[str, Any] = {
            "zone": z + 1,
            "transit_days": transit[z],
            "base": f"{base:.2f}",
            "per_lb": f"{per_lb:.2f}",
        }
        if z < len(table.zone_limits_miles):
            row["up_to_miles"] = table.zone_limits_miles[z]
        rows.append(row)
    for label, (days, offshore_base, offshore_per_lb) in (("AK", alaska), ("HI", hawaii)):
        rows.append({"zone": label, "transit_days": days, "base": offshore_base, "per_lb": offshore_per_lb})
    return rows


def carrier_services() -> list[dict[str, Any]]:
    """GROUND and TWO_DAY price exactly as the default STANDARD and EXPRESS tables (which serve the
    same levels), with neither dimensional weight nor surcharges, so orders of those levels cost
    what they always have; NEXT_DAY is a new level, priced about 1.9 times EXPRESS by actual or
    dimensional weight, with residential, non-contiguous and remote-area surcharges."""
    next_day = RateTable(
        "NEXT_DAY",
        STANDARD_RATES.zone_limits_miles,
        tuple(round(b * 1.9, 2) for b in EXPRESS_RATES.base),
        tuple(round(p * 1.8, 2) for p in EXPRESS_RATES.per_lb),
    )
    weekdays = _WEEK[:5]
    common = {"pickup_days": weekdays, "delivery_days": weekdays, "holiday_calendars": ["CARRIER"]}
    return [
        {
            "id": "GROUND", "carrier": "Northstar Parcel", "service_level": "STANDARD", **common,
            "zones": _zones(STANDARD_RATES, _GROUND_TRANSIT, (6, "22.50", "2.10"), (8, "25.00", "2.40")),
        },
        {
            "id": "NEXT_DAY", "carrier": "Skyline Air", "service_level": "NEXT_DAY", **common,
            "zones": _zones(next_day, [1] * 8, (2, "64.00", "5.90"), (2, "68.00", "6.30")),
            "dim_divisor": 139, "residential_surcharge": "5.25", "non_contiguous_surcharge": "45.00",
            "remote_area_surcharge": "3.80", "remote_area_zip3": list(_REMOTE_ZIP3),
        },
        {
            "id": "TWO_DAY", "carrier": "Northstar Parcel", "service_level": "EXPRESS", **common,
            "zones": _zones(EXPRESS_RATES, [2] * 8, (3, "38.00", "3.10"), (3, "42.00", "3.40")),
        },
    ]  # fmt: skip
